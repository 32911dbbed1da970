/**
 * Per-client limits of the SMTP listener (R8): open connections per client
 * address, and messages queued per client address in a sliding minute.
 * A limit of 0 (or less, or Infinity) means no limit.
 */

const limited = (n: number) => Number.isFinite(n) && n > 0;

export class ConnectionCounter {
  private readonly open = new Map<string, number>();

  constructor(private readonly max: number) {}

  /** Count a new connection; false (and not counted) when the client is at its limit. */
  acquire(client: string): boolean {
    const n = this.open.get(client) ?? 0;
    if (limited(this.max) && n >= this.max) return false;
    this.open.set(client, n + 1);
    return true;
  }

  release(client: string): void {
    const n = (this.open.get(client) ?? 0) - 1;
    if (n > 0) this.open.set(client, n);
    else this.open.delete(client);
  }

  count(client: string): number {
    return this.open.get(client) ?? 0;
  }
}

export const RATE_WINDOW_MS = 60_000;

export class RateWindow {
  private readonly times = new Map<string, number[]>();

  constructor(
    private readonly max: number,
    private readonly windowMs = RATE_WINDOW_MS,
  ) {}

  private recent(client: string, now: number): number[] {
    const list = this.times.get(client);
    if (!list) return [];
    let i = 0;
    while (i < list.length && list[i]! <= now - this.windowMs) i++;
    if (i > 0) list.splice(0, i);
    if (list.length === 0) this.times.delete(client);
    return list;
  }

  /** How many messages the client queued within the window; `exceeded` when another one is not allowed. */
  check(client: string, now: number): { count: number; exceeded: boolean } {
    const count = this.recent(client, now).length;
    return { count, exceeded: limited(this.max) && count >= this.max };
  }

  record(client: string, now: number): void {
    if (!limited(this.max)) return;
    const list = this.recent(client, now);
    list.push(now);
    this.times.set(client, list);
  }
}

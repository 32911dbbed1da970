/**
 * The worker drains the queue: claim due recipients with a lease, deliver each
 * message once to all its claimed recipients over a reused connection, record
 * every outcome in one transaction per message, and write the mail log.
 *
 * Only recipients that are not yet delivered are ever claimed, so a retry
 * sends to exactly the ones still waiting. A relay that cannot be reached
 * defers everything claimed in this round without another connection, and a
 * throttling reply pauses the worker instead of burning attempts.
 */
import { hostname } from 'node:os';
import { SendwellError } from '../errors.js';
import type { Transport } from '../transport/types.js';
import { buildDsn } from './dsn.js';
import { bucketsFor, type Limits } from './limits.js';
import type { MailLog } from './maillog.js';
import { fromError, fromRecipient, isThrottle, type ClassifyContext } from './outcome.js';
import { postfixSchedule, type Schedule } from './schedule.js';
import type { Completion, Outcome, QueueStore, RecipientRow } from './store.js';

/** A lease long enough for one SMTP transaction; renewed every HEARTBEAT_MS while it runs. */
export const LEASE_MS = 2 * 60_000;
const HEARTBEAT_MS = 30_000;
/** After a connection failure, wait at least this long before trying the relay again. */
const RELAY_DOWN_MS = 60_000;
/** First pause after a throttling reply; doubles up to THROTTLE_MAX_MS. */
const THROTTLE_MIN_MS = 30_000;
const THROTTLE_MAX_MS = 15 * 60_000;
/** Recipients claimed per round, per unit of concurrency. */
const CLAIM_PER_SLOT = 16;

export interface WorkerOptions {
  store: QueueStore;
  /** One transport per concurrent slot; each keeps its connection open between messages. */
  transport: () => Transport;
  /** How the relay is named in logs, e.g. `smtp://127.0.0.1:25`. */
  relay: string;
  log: MailLog;
  concurrency?: number;
  schedule?: Schedule;
  limits?: Limits;
  clock?: () => number;
  /** Lease owner; default `host/pid` so a restarted process can recognise dead owners on this host. */
  owner?: string;
  /** Send RFC 3464 notifications to senders of failed mail (default true). */
  notify?: boolean;
}

export interface DrainResult {
  attempted: number;
  delivered: number;
  deferred: number;
  bounced: number;
  /** Earliest time there will be more to do, or null. */
  nextDue: number | null;
}

const ownerPrefix = () => `${hostname()}/`;

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export class Worker {
  readonly owner: string;
  private readonly store: QueueStore;
  private readonly opts: WorkerOptions;
  private readonly schedule: Schedule;
  private readonly clock: () => number;
  private readonly slots: Transport[] = [];
  private pausedUntil = 0;
  private relayVerified = false;
  private throttleMs = 0;

  constructor(opts: WorkerOptions) {
    this.opts = opts;
    this.store = opts.store;
    this.schedule = opts.schedule ?? postfixSchedule();
    this.clock = opts.clock ?? Date.now;
    this.owner = opts.owner ?? `${ownerPrefix()}${process.pid}`;
  }

  /**
   * Startup recovery: active rows of dead processes on this host go back to
   * the queue at once; other expired leases are reaped.
   */
  recover(): number {
    const now = this.clock();
    let n = this.store.recoverOwn(this.owner, now);
    for (const o of this.store.activeOwners()) {
      const pid = Number(o.slice(ownerPrefix().length));
      if (o !== this.owner && o.startsWith(ownerPrefix()) && Number.isInteger(pid) && pid > 0 && !pidAlive(pid)) n += this.store.recoverOwn(o, now);
    }
    return n + this.store.reapExpired(now);
  }

  /** Deliver everything that is due now; returns when nothing due is left (or the relay is down). */
  async drain(signal?: AbortSignal): Promise<DrainResult> {
    const total: DrainResult = { attempted: 0, delivered: 0, deferred: 0, bounced: 0, nextDue: null };
    const concurrency = Math.max(1, this.opts.concurrency ?? 4);
    while (!signal?.aborted && this.clock() >= this.pausedUntil) {
      const claimed = this.store.claim({ owner: this.owner, now: this.clock(), leaseMs: LEASE_MS, limit: concurrency * CLAIM_PER_SLOT });
      if (claimed.length === 0) break;
      const groups = new Map<string, RecipientRow[]>();
      for (const r of claimed) groups.set(r.queueId, [...(groups.get(r.queueId) ?? []), r]);
      const queue = [...groups.values()];
      // Until the relay has answered once, probe it with one message: if it is down,
      // everything else is deferred without a connection each.
      if (!this.relayVerified) {
        const first = queue.shift()!;
        const c = await this.deliverGroup(0, first);
        total.attempted += first.length;
        total.delivered += c.delivered;
        total.deferred += c.deferred;
        total.bounced += c.bounced;
      }
      await Promise.all(
        Array.from({ length: Math.min(concurrency, queue.length) }, async (_, slot) => {
          for (let group = queue.shift(); group; group = queue.shift()) {
            const counts = await this.deliverGroup(slot, group);
            total.attempted += group.length;
            total.delivered += counts.delivered;
            total.deferred += counts.deferred;
            total.bounced += counts.bounced;
          }
        }),
      );
      if (this.opts.notify !== false) this.sendNotifications();
    }
    total.nextDue = Math.max(this.store.nextDue() ?? Number.POSITIVE_INFINITY, this.pausedUntil);
    if (!Number.isFinite(total.nextDue)) total.nextDue = null;
    return total;
  }

  /**
   * The immediate attempt after submission: this message's due recipients only.
   * Returns the recipients' rows afterwards.
   */
  async deliverMessage(queueId: string): Promise<RecipientRow[]> {
    const rows = this.store.claim({ owner: this.owner, now: this.clock(), leaseMs: LEASE_MS, limit: 10_000, queueId });
    if (rows.length > 0) await this.deliverGroup(0, rows);
    if (this.opts.notify !== false) {
      // A notice about this message goes out at once too.
      for (const dsnId of this.sendNotifications()) {
        const dsnRows = this.store.claim({ owner: this.owner, now: this.clock(), leaseMs: LEASE_MS, limit: 10, queueId: dsnId });
        if (dsnRows.length > 0) await this.deliverGroup(0, dsnRows);
      }
    }
    return this.store.recipients(queueId);
  }

  /** Run until aborted: drain, sleep until the next due time (or `pollMs`), repeat. */
  async run(signal: AbortSignal, pollMs = 1000): Promise<void> {
    this.recover();
    let lastReap = this.clock();
    while (!signal.aborted) {
      const r = await this.drain(signal);
      if (this.clock() - lastReap > 60_000) {
        this.store.reapExpired(this.clock());
        lastReap = this.clock();
      }
      const wait = Math.max(0, Math.min(pollMs, (r.nextDue ?? Number.POSITIVE_INFINITY) - this.clock()));
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, wait);
        signal.addEventListener('abort', () => (clearTimeout(t), resolve()), { once: true });
      });
    }
  }

  async close(): Promise<void> {
    await Promise.all(this.slots.map((t) => t.close().catch(() => {})));
    this.slots.length = 0;
  }

  private transport(slot: number): Transport {
    this.slots[slot] ??= this.opts.transport();
    return this.slots[slot]!;
  }

  private async deliverGroup(slot: number, rows: RecipientRow[]): Promise<{ delivered: number; deferred: number; bounced: number }> {
    const queueId = rows[0]!.queueId;
    const message = this.store.message(queueId);
    const raw = this.store.body(queueId);
    const started = this.clock();
    const completions: Completion[] = [];
    const ctx = (r: RecipientRow): ClassifyContext => ({
      now: this.clock(),
      createdAt: message?.createdAt ?? started,
      attempts: r.attempts,
      relay: this.opts.relay,
      schedule: this.schedule,
    });

    if (!message || !raw) {
      // Cannot happen unless someone edited the database; keep the rows visible rather than lose them.
      for (const r of rows) completions.push({ recipientId: r.id, outcome: { kind: 'deferred', countAttempt: false, nextAttemptAt: started + RELAY_DOWN_MS, reply: 'message body missing from the queue', relay: this.opts.relay } });
      return this.record(queueId, rows, completions, started);
    }

    // Relay known to be down, or we were told to slow down: defer without connecting.
    if (started < this.pausedUntil) {
      for (const r of rows) {
        completions.push({ recipientId: r.id, outcome: { kind: 'deferred', countAttempt: false, nextAttemptAt: this.pausedUntil, reply: this.pauseReason, relay: this.opts.relay } });
      }
      return this.record(queueId, rows, completions, started);
    }

    // Rate limits: each recipient takes a token from every bucket it falls in, or waits.
    const sendable: RecipientRow[] = [];
    for (const r of rows) {
      const buckets = bucketsFor(this.opts.limits ?? {}, r.address, message.submitter);
      const { waitMs, key } = this.store.takeTokens(buckets, started);
      if (waitMs === 0) sendable.push(r);
      else {
        const label = buckets.find((b) => b.key === key)?.label ?? key;
        completions.push({
          recipientId: r.id,
          outcome: { kind: 'deferred', countAttempt: false, nextAttemptAt: started + waitMs, reply: `rate limited by ${label}; next try in ${Math.ceil(waitMs / 1000)}s (R8)`, relay: 'none', dsn: '4.7.0' },
        });
      }
    }

    if (sendable.length > 0) {
      const heartbeat = setInterval(() => this.store.heartbeat(this.owner, this.clock() + LEASE_MS, sendable.map((r) => r.id)), HEARTBEAT_MS);
      try {
        const result = await this.transport(slot).send({ from: message.envelopeFrom, to: sendable.map((r) => r.address) }, raw);
        const byAddress = new Map(result.recipients.map((o) => [o.address.toLowerCase(), o]));
        for (const r of sendable) {
          const o = byAddress.get(r.address.toLowerCase()) ?? { address: r.address, status: 'rejected' as const, temporary: true, response: 'the relay gave no answer for this recipient' };
          const outcome = fromRecipient(o, ctx(r), { ...(result.response !== undefined ? { response: result.response } : {}), ...(result.relayQueueId !== undefined ? { relayQueueId: result.relayQueueId } : {}) });
          if (o.status === 'rejected' && o.temporary && isThrottle(o)) this.pause('throttle', o.response ?? 'throttled');
          completions.push({ recipientId: r.id, outcome });
        }
        this.throttleMs = 0;
        this.relayVerified = true;
      } catch (err) {
        this.relayVerified = false;
        for (const r of sendable) completions.push({ recipientId: r.id, outcome: fromError(err, ctx(r)) });
        if (err instanceof SendwellError && err.temporary) {
          if (err.phase === 'connect' || err.code === 'ECONNECTION' || err.code === 'EDNS' || err.code === 'ETIMEDOUT') this.pause('down', err.message);
          else if (isThrottle(err)) this.pause('throttle', err.response ?? err.message);
        }
        // A failed session may be unusable: start the next one fresh.
        await this.slots[slot]?.close().catch(() => {});
        delete this.slots[slot];
      } finally {
        clearInterval(heartbeat);
      }
    }
    return this.record(queueId, rows, completions, started);
  }

  private pauseReason = '';

  private pause(kind: 'down' | 'throttle', why: string): void {
    const now = this.clock();
    if (kind === 'down') {
      this.pausedUntil = Math.max(this.pausedUntil, now + RELAY_DOWN_MS);
      this.pauseReason = `relay ${this.opts.relay} unreachable: ${why}`;
    } else {
      this.throttleMs = Math.min(THROTTLE_MAX_MS, this.throttleMs ? this.throttleMs * 2 : THROTTLE_MIN_MS);
      this.pausedUntil = Math.max(this.pausedUntil, now + this.throttleMs);
      this.pauseReason = `relay ${this.opts.relay} asked us to slow down: ${why}`;
    }
    this.opts.log.write({ event: 'notice', time: now, level: 'warning', text: `${this.pauseReason}; pausing delivery for ${Math.round((this.pausedUntil - now) / 1000)}s` });
  }

  /** One transaction for the message's outcomes, then the log lines. */
  private record(queueId: string, rows: RecipientRow[], completions: Completion[], started: number) {
    const now = this.clock();
    const applied = this.store.complete(this.owner, now, completions);
    const counts = { delivered: 0, deferred: 0, bounced: 0 };
    const created = this.store.message(queueId)?.createdAt ?? started;
    const byId = new Map(rows.map((r) => [r.id, r]));
    for (const { recipientId, outcome } of completions) {
      const r = byId.get(recipientId)!;
      if (outcome.kind === 'delivered') counts.delivered++;
      else if (outcome.kind === 'deferred') counts.deferred++;
      else counts.bounced++;
      this.opts.log.write({
        event: 'attempt',
        time: now,
        queueId,
        to: r.address,
        relay: outcome.relay,
        delay: (now - created) / 1000,
        delays: [(started - created) / 1000, 0, 0, (now - started) / 1000],
        dsn: outcome.dsn ?? (outcome.kind === 'delivered' ? '2.0.0' : outcome.kind === 'deferred' ? '4.0.0' : '5.0.0'),
        status: statusWord(outcome),
        reply: outcome.reply ?? '',
        ...(outcome.kind === 'delivered' && outcome.relayQueueId ? { relayQueueId: outcome.relayQueueId } : {}),
      });
    }
    if (applied < completions.length) {
      this.opts.log.write({ event: 'notice', time: now, queueId, level: 'warning', text: `${completions.length - applied} outcome(s) not recorded: the lease was lost to another worker` });
    }
    return counts;
  }

  /** One RFC 3464 notification per finished message with failed recipients (never for a null sender). */
  private sendNotifications(): string[] {
    const created: string[] = [];
    for (const m of this.store.needingDsn()) {
      const failed = this.store.recipients(m.id).filter((r) => r.state === 'bounced' || r.state === 'expired');
      const now = this.clock();
      const dsn = buildDsn({ message: m, failed, raw: this.store.body(m.id), reportingHost: hostname(), now: new Date(now) });
      if (dsn) {
        // The key makes this idempotent: a crash between enqueue and mark sends no second notice.
        const { id } = this.store.enqueue({ raw: dsn.raw, messageId: dsn.messageId, envelopeFrom: '', recipients: [dsn.to], submitter: 'sendwell-dsn', idempotencyKey: `dsn:${m.id}` }, now);
        this.opts.log.write({ event: 'dsn', time: now, queueId: m.id, to: dsn.to, dsnQueueId: id, failed: failed.map((r) => r.address) });
        created.push(id);
      }
      this.store.markDsnSent(m.id);
    }
    return created;
  }
}

function statusWord(o: Outcome): string {
  switch (o.kind) {
    case 'delivered':
      return 'sent';
    case 'deferred':
      return 'deferred';
    case 'bounced':
      return 'bounced';
    case 'expired':
      return 'expired';
    default: {
      const never: never = o;
      return String(never);
    }
  }
}

/**
 * The suppression list (R1, R2): addresses that must not be mailed again,
 * because they bounced hard, complained, or bounced softly too often. Kept in
 * the state database so every process on the host honours it.
 *
 * Scope: by default per sending domain (a dead address for one sender is
 * usually dead for all, but a complaint about a newsletter should not stop
 * password resets of another domain); `scope = "global"` uses one list.
 */
import type { Database, Statement } from 'better-sqlite3';
import { SendwellError } from '../errors.js';
import { openDatabase } from '../queue/sqlite/index.js';

export interface Suppression {
  address: string;
  scope: string;
  reason: string;
  source: 'bounce' | 'complaint' | 'manual' | 'import';
  createdAt: number;
  expiresAt: number | null;
}

export interface SuppressionPolicy {
  /** 'domain': per sending domain (default); 'global': one list. */
  scope: 'domain' | 'global';
  /** Soft bounces (heuristic parses, full mailboxes) within `softWindowMs` before the address is suppressed. */
  softThreshold: number;
  softWindowMs: number;
  /** Suppressions expire after this long; null: never. */
  expireMs: number | null;
}

export const DEFAULT_SUPPRESSION: SuppressionPolicy = { scope: 'domain', softThreshold: 3, softWindowMs: 7 * 86_400_000, expireMs: null };

const norm = (a: string) => {
  const at = a.lastIndexOf('@');
  return at < 0 ? a.toLowerCase() : `${a.slice(0, at)}@${a.slice(at + 1).toLowerCase()}`;
};

type SuppressionRow = { address: string; scope: string; reason: string; source: Suppression['source']; created_at: number; expires_at: number | null };

export class SuppressionList {
  private readonly db: Database;
  private checkStmt: Statement<[string, string, number], SuppressionRow> | undefined;
  /** Opened here (from a state directory), so close() closes it; a connection passed in belongs to the caller. */
  private readonly owned: boolean;

  constructor(
    stateDirOrDb: string | Database,
    readonly policy: SuppressionPolicy = DEFAULT_SUPPRESSION,
  ) {
    this.owned = typeof stateDirOrDb === 'string';
    this.db = typeof stateDirOrDb === 'string' ? openDatabase(stateDirOrDb) : stateDirOrDb;
  }

  /** The scope key for mail from this envelope sender. */
  scopeFor(sender: string): string {
    if (this.policy.scope === 'global' || !sender.includes('@')) return '*';
    return sender.slice(sender.lastIndexOf('@') + 1).toLowerCase();
  }

  /** Which of `addresses` are suppressed for mail from `sender`, with the reason. */
  check(addresses: string[], sender: string, now = Date.now()): Map<string, Suppression> {
    const scope = this.scopeFor(sender);
    // Prepared once: every submission checks its recipients.
    const stmt = (this.checkStmt ??= this.db.prepare<[string, string, number], SuppressionRow>(
      `SELECT address, scope, reason, source, created_at, expires_at FROM suppression
        WHERE address = ? AND scope IN (?, '*') AND (expires_at IS NULL OR expires_at > ?)`,
    ));
    const out = new Map<string, Suppression>();
    for (const a of addresses) {
      const row = stmt.get(norm(a), scope, now);
      if (row) out.set(a, { address: row.address, scope: row.scope, reason: row.reason, source: row.source, createdAt: row.created_at, expiresAt: row.expires_at });
    }
    return out;
  }

  add(address: string, scope: string, reason: string, source: Suppression['source'], now = Date.now(), expiresAt?: number | null): void {
    if (!address.includes('@') || /[\s\r\n\0]/.test(address)) {
      throw new SendwellError('EADDRESS', `${JSON.stringify(address)} is not an address`, { hint: 'give local@domain' });
    }
    const exp = expiresAt !== undefined ? expiresAt : this.policy.expireMs === null ? null : now + this.policy.expireMs;
    this.db
      .prepare(
        `INSERT INTO suppression (address, scope, reason, source, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?)
         ON CONFLICT(address, scope) DO UPDATE SET reason = excluded.reason, source = excluded.source, created_at = excluded.created_at, expires_at = excluded.expires_at`,
      )
      .run(norm(address), scope, reason, source, now, exp);
  }

  remove(address: string, scope?: string): number {
    return scope
      ? this.db.prepare('DELETE FROM suppression WHERE address = ? AND scope = ?').run(norm(address), scope).changes
      : this.db.prepare('DELETE FROM suppression WHERE address = ?').run(norm(address)).changes;
  }

  list(): Suppression[] {
    return this.db
      .prepare<[], { address: string; scope: string; reason: string; source: Suppression['source']; created_at: number; expires_at: number | null }>(
        'SELECT address, scope, reason, source, created_at, expires_at FROM suppression ORDER BY created_at, address',
      )
      .all()
      .map((r) => ({ address: r.address, scope: r.scope, reason: r.reason, source: r.source, createdAt: r.created_at, expiresAt: r.expires_at }));
  }

  /**
   * Count a soft bounce; suppresses the address once the threshold is reached
   * within the window. Returns whether it is now suppressed.
   */
  softBounce(address: string, scope: string, reason: string, now = Date.now()): boolean {
    const run = this.db.transaction(() => {
      this.db.prepare('INSERT INTO soft_bounce (address, scope, at, reason) VALUES (?, ?, ?, ?)').run(norm(address), scope, now, reason);
      const n = this.db.prepare<[string, string, number], { n: number }>('SELECT COUNT(*) AS n FROM soft_bounce WHERE address = ? AND scope = ? AND at > ?').get(norm(address), scope, now - this.policy.softWindowMs)!.n;
      if (n >= this.policy.softThreshold) {
        this.add(address, scope, `${n} soft bounces within ${Math.round(this.policy.softWindowMs / 86_400_000)} days; last: ${reason}`, 'bounce', now);
        return true;
      }
      return false;
    });
    return run.immediate();
  }

  close(): void {
    if (this.owned) this.db.close();
  }
}

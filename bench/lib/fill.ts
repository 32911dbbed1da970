/**
 * Fill a state directory with a backlog through the store's own enqueue code
 * (src/queue/sqlite/enqueue.ts), fast: a private connection with
 * synchronous=OFF and 1,000 messages per transaction. This is set-up, not a
 * measurement; the measured durable enqueue is in bench/enqueue.ts.
 */
import Sqlite from 'better-sqlite3';
import { join } from 'node:path';
import { openSqliteStore, DB_FILE } from '../../src/queue/sqlite/index.js';
import { enqueueOp } from '../../src/queue/sqlite/enqueue.js';
import { benchMessage, BENCH_FROM, BENCH_TO } from './message.mjs';

export interface FillOptions {
  bodyBytes?: number;
  tag?: string;
  /** Recipients per message (default 1): rcpt0@…, rcpt1@… when more than one. */
  recipients?: (i: number) => string[];
  now?: number;
}

export function fillQueue(stateDir: string, n: number, o: FillOptions = {}): void {
  // Create and migrate exactly as sendwell does.
  openSqliteStore(stateDir).close();
  const db = new Sqlite(join(stateDir, DB_FILE), { timeout: 15_000 });
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = OFF');
  const enqueue = enqueueOp(db);
  const now = o.now ?? Date.now();
  const batch = db.transaction((from: number, to: number) => {
    for (let i = from; i < to; i++) {
      const { raw, messageId } = benchMessage(i, o.bodyBytes ?? 1024, o.tag ?? 'bench');
      // Ten messages per millisecond, all in the past (so all due): queue IDs are
      // 8 characters of time plus 6 random ones, which collide if thousands share one ms.
      enqueue({ raw, messageId, envelopeFrom: BENCH_FROM, recipients: o.recipients?.(i) ?? [BENCH_TO], submitter: 'bench' }, now - Math.ceil((n - i) / 10));
    }
  });
  for (let i = 0; i < n; i += 1000) batch(i, Math.min(n, i + 1000));
  db.pragma('wal_checkpoint(TRUNCATE)');
  db.close();
}

/** Count recipient rows by state (read-only). */
export function stateCounts(stateDir: string): Record<string, number> {
  const db = new Sqlite(join(stateDir, DB_FILE), { readonly: true, timeout: 15_000 });
  try {
    const out: Record<string, number> = {};
    for (const r of db.prepare('SELECT state, COUNT(*) AS n FROM recipient GROUP BY state').all() as Array<{ state: string; n: number }>) out[r.state] = r.n;
    return out;
  } finally {
    db.close();
  }
}

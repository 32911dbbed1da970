import type { Database } from 'better-sqlite3';
import type { QueuedMessage } from '../store.js';
import { MESSAGE_COLUMNS, toMessage, type MessageDbRow } from './rows.js';

/** A bounce after the relay accepted the mail: delivered → bounced, in its own transaction. */
export function amendBouncedOp(db: Database) {
  const stmt = db.prepare(
    `UPDATE recipient SET state = 'bounced', last_reason = ?, last_dsn = ?, updated_at = ?
      WHERE queue_id = ? AND address = ? AND state = 'delivered'`,
  );
  const log = db.prepare(
    `INSERT INTO attempt (recipient_id, queue_id, at, status, code, dsn, reply, relay, relay_queue_id, delay_ms)
     SELECT r.id, r.queue_id, ?, 'bounced', NULL, ?, ?, 'bounce', NULL, ? - m.created_at
       FROM recipient r JOIN message m ON m.id = r.queue_id WHERE r.queue_id = ? AND r.address = ?`,
  );
  const run = db.transaction((queueId: string, address: string, reason: string, dsn: string | null, now: number) => {
    if (stmt.run(reason, dsn, now, queueId, address).changes === 0) return false;
    log.run(now, dsn, reason, now, queueId, address);
    return true;
  });
  return (queueId: string, address: string, reason: string, dsn: string | null, now: number) => run.immediate(queueId, address, reason, dsn, now);
}

/** Messages that are finished, have a failed recipient and no DSN yet. */
export function dsnOps(db: Database) {
  const needing = db.prepare<[], MessageDbRow>(
    `SELECT ${MESSAGE_COLUMNS} FROM message m
      WHERE m.id IN (SELECT queue_id FROM recipient WHERE state IN ('bounced','expired')) -- index recipient_failed
        AND dsn_sent = 0
        AND NOT EXISTS (SELECT 1 FROM recipient r WHERE r.queue_id = m.id AND r.state IN ('queued','active','deferred','held'))
      ORDER BY created_at`,
  );
  const mark = db.prepare('UPDATE message SET dsn_sent = 1 WHERE id = ?');
  return {
    needingDsn: (): QueuedMessage[] => needing.all().map(toMessage),
    markDsnSent: (id: string) => void mark.run(id),
  };
}

/** Forget bodies of messages whose recipients are all delivered and older than `before`. */
export function purgeBodiesOp(db: Database) {
  const stmt = db.prepare(
    `UPDATE message SET raw = NULL
      WHERE raw IS NOT NULL AND created_at < ?
        AND NOT EXISTS (SELECT 1 FROM recipient r WHERE r.queue_id = message.id AND r.state <> 'delivered')`,
  );
  // Bulk detection looks back a day by default; a month of who-got-what is plenty.
  const forget = db.prepare('DELETE FROM content_recipient WHERE last_at < ?');
  return (before: number) => {
    forget.run(Math.min(before, Date.now() - 30 * 86_400_000));
    return stmt.run(before).changes;
  };
}

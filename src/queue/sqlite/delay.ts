import type { Database } from 'better-sqlite3';
import type { QueuedMessage, RecipientRow } from '../store.js';
import { MESSAGE_COLUMNS, RECIPIENT_COLUMNS, toMessage, toRecipient, type MessageDbRow, type RecipientDbRow } from './rows.js';

/**
 * Delay warnings ([queue] delay_warning): messages queued long enough ago that
 * still have recipients waiting, with a sender to tell, not warned yet. The
 * candidates come from the waiting recipients (the partial index recipient_due
 * holds only those), so the cost follows the backlog, not the queue's history.
 */
export function delayOps(db: Database) {
  const candidates = db.prepare<[number, number], MessageDbRow>(
    `SELECT ${MESSAGE_COLUMNS} FROM message
      WHERE id IN (SELECT queue_id FROM recipient WHERE state IN ('queued','deferred'))
        AND delay_warned = 0 AND envelope_from <> '' AND created_at <= ?
      ORDER BY created_at, id LIMIT ?`,
  );
  const waiting = db.prepare<[string], RecipientDbRow>(`SELECT ${RECIPIENT_COLUMNS} FROM recipient WHERE queue_id = ? AND state IN ('queued','deferred') ORDER BY id`);
  const mark = db.prepare<[string]>('UPDATE message SET delay_warned = 1 WHERE id = ?');
  return {
    needingDelayWarning: (queuedBefore: number, limit: number): Array<{ message: QueuedMessage; waiting: RecipientRow[] }> =>
      candidates.all(queuedBefore, limit).map((m) => ({ message: toMessage(m), waiting: waiting.all(m.id).map(toRecipient) })),
    markDelayWarned: (queueId: string): void => void mark.run(queueId),
  };
}

/** Messages whose submitter gave this ENVID (index message_dsn_envid). */
export function findByEnvidOp(db: Database): (envid: string) => QueuedMessage[] {
  const stmt = db.prepare<[string], MessageDbRow>(`SELECT ${MESSAGE_COLUMNS} FROM message WHERE dsn_envid = ? ORDER BY created_at, id`);
  return (envid) => stmt.all(envid).map(toMessage);
}

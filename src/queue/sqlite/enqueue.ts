import type { Database } from 'better-sqlite3';
import type { EnqueueResult, NewMessage, SubmissionHolds } from '../store.js';
import { newQueueId } from '../ids.js';
import { formatNotify } from '../dsn-params.js';

/** Insert a message and one row per recipient, or return the message an idempotency key already names. */
export function enqueueOp(db: Database): (msg: NewMessage, now: number, decide?: () => SubmissionHolds) => EnqueueResult {
  const byKey = db.prepare<[string], { id: string }>('SELECT id FROM message WHERE idempotency_key = ?');
  const idTaken = db.prepare<[string], { id: string }>('SELECT id FROM message WHERE id = ?');
  const insertMessage = db.prepare(
    `INSERT INTO message (id, message_id, envelope_from, raw, size, created_at, submitter, idempotency_key, content_hash, dsn_envid, dsn_notify, dsn_ret, list)
     VALUES (@id, @messageId, @envelopeFrom, @raw, @size, @now, @submitter, @idempotencyKey, @contentHash, @dsnEnvid, @dsnNotify, @dsnRet, @list)`,
  );
  const insertRecipient = db.prepare(
    `INSERT INTO recipient (queue_id, address, domain, state, next_attempt_at, last_reason, updated_at)
     VALUES (?, ?, ?, ?, ?, ?, ?)`,
  );
  const seen = db.prepare<[string, string, number]>(
    `INSERT INTO content_recipient (content_hash, address, last_at) VALUES (?, ?, ?)
     ON CONFLICT (content_hash, address) DO UPDATE SET last_at = excluded.last_at`,
  );
  const run = db.transaction((msg: NewMessage, now: number, decide?: () => SubmissionHolds): EnqueueResult => {
    if (msg.idempotencyKey) {
      const found = byKey.get(msg.idempotencyKey);
      if (found) return { id: found.id, existing: true };
    }
    // The policy checks' holds, decided under this transaction's write lock.
    const holds = decide?.();
    const holdReason = holds?.holdReason ?? msg.holdReason;
    const initialStates = holds?.initialStates ?? msg.initialStates;
    // 30 random bits per millisecond: a clash is rare but possible in a burst, so draw again.
    let id = newQueueId(now);
    while (idTaken.get(id)) id = newQueueId(now);
    insertMessage.run({
      id,
      messageId: msg.messageId,
      envelopeFrom: msg.envelopeFrom,
      raw: msg.raw,
      size: msg.raw.length,
      now,
      submitter: msg.submitter,
      idempotencyKey: msg.idempotencyKey ?? null,
      contentHash: msg.contentHash ?? null,
      dsnEnvid: msg.dsnEnvid ?? null,
      dsnNotify: msg.dsnNotify ? formatNotify(msg.dsnNotify) : null,
      dsnRet: msg.dsnRet ?? null,
      list: msg.list ?? null,
    });
    for (const address of new Set(msg.recipients)) {
      const initial = initialStates?.[address];
      const state = initial?.state ?? (holdReason ? 'held' : 'queued');
      const reason = initial?.reason ?? holdReason ?? null;
      insertRecipient.run(id, address, address.slice(address.lastIndexOf('@') + 1).toLowerCase(), state, now, reason, now);
      // List mail has consent; suppressed addresses are not sent to: neither counts as mass mail.
      if (msg.contentHash && !msg.list && state !== 'suppressed') seen.run(msg.contentHash, address, now);
    }
    return { id, existing: false };
  });
  // IMMEDIATE: read (idempotency key) then write without a BUSY upgrade failure.
  return (msg, now, decide) => run.immediate(msg, now, decide);
}

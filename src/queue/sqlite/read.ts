import type { Database } from 'better-sqlite3';
import type { AttemptRow, DeliveryInfo, QueuedMessage, RecipientRow } from '../store.js';
import { RECIPIENT_STATES, type RecipientState } from '../states.js';
import { parseNotify, type DsnRet } from '../dsn-params.js';
import {
  MESSAGE_COLUMNS,
  RECIPIENT_COLUMNS,
  toAttempt,
  toMessage,
  toRecipient,
  type AttemptDbRow,
  type MessageDbRow,
  type RecipientDbRow,
} from './rows.js';

interface DeliveryDbRow {
  envelope_from: string;
  created_at: number;
  submitter: string;
  size: number;
  raw: Buffer | null;
  dsn_envid: string | null;
  dsn_notify: string | null;
  dsn_ret: DsnRet | null;
}

export function readOps(db: Database) {
  const body = db.prepare<[string], { raw: Buffer | null }>('SELECT raw FROM message WHERE id = ?');
  // The body only up to a size: a claimed round's bodies are read ahead, and large ones when their turn comes.
  const delivery = db.prepare<[number, string], DeliveryDbRow>(
    'SELECT envelope_from, created_at, submitter, size, CASE WHEN size <= ? THEN raw END AS raw, dsn_envid, dsn_notify, dsn_ret FROM message WHERE id = ?',
  );
  const toDelivery = (m: DeliveryDbRow, maxBody: number): DeliveryInfo => ({
    envelopeFrom: m.envelope_from,
    createdAt: m.created_at,
    submitter: m.submitter,
    raw: m.raw,
    bodyLater: m.raw === null && m.size > maxBody,
    dsnEnvid: m.dsn_envid,
    dsnNotify: m.dsn_notify === null ? null : (parseNotify(m.dsn_notify) ?? null),
    dsnRet: m.dsn_ret,
  });
  // One read transaction for the lot: each statement on its own would take (and drop) the WAL read lock.
  const deliveryMany = db.transaction((ids: string[], maxBody: number) => {
    const out = new Map<string, DeliveryInfo>();
    for (const id of ids) {
      const m = delivery.get(maxBody, id);
      if (m) out.set(id, toDelivery(m, maxBody));
    }
    return out;
  });
  const message = db.prepare<[string], MessageDbRow>(`SELECT ${MESSAGE_COLUMNS} FROM message WHERE id = ?`);
  const recipients = db.prepare<[string], RecipientDbRow>(`SELECT ${RECIPIENT_COLUMNS} FROM recipient WHERE queue_id = ? ORDER BY id`);
  const attempts = db.prepare<[string], AttemptDbRow>(
    `SELECT a.recipient_id, a.queue_id, r.address, a.at, a.status, a.code, a.dsn, a.reply, a.relay, a.relay_queue_id, a.delay_ms
       FROM attempt a JOIN recipient r ON r.id = a.recipient_id WHERE a.queue_id = ? ORDER BY a.at, a.id`,
  );
  const pendingMessages = db.prepare<[], MessageDbRow>(
    `SELECT ${MESSAGE_COLUMNS} FROM message
      WHERE id IN (SELECT queue_id FROM recipient WHERE state IN ('queued','active','deferred','held'))
      ORDER BY created_at, id`,
  );
  // Counting stops at the flood limit: the cost stays flat however much one submitter sends.
  const submitted = db.prepare<[string, number, number], { n: number }>('SELECT COUNT(*) AS n FROM (SELECT 1 FROM message WHERE submitter = ? AND created_at >= ? LIMIT ?)');
  // EXISTS, not COUNT: one address may have got the same mail thousands of times.
  const dup = db.prepare<[string, number, string], { n: number }>(
    `SELECT EXISTS (SELECT 1 FROM recipient r JOIN message m ON m.id = r.queue_id
      WHERE m.content_hash = ? AND m.created_at >= ? AND r.address = ? AND r.state NOT IN ('cancelled','suppressed')) AS n`,
  );
  const byState = db.prepare<[], { state: RecipientState; n: number }>('SELECT state, COUNT(*) AS n FROM recipient GROUP BY state');
  const byId = db.prepare<[number], RecipientDbRow>(`SELECT ${RECIPIENT_COLUMNS} FROM recipient WHERE id = ?`);
  const byMessageId = db.prepare<[string], MessageDbRow>(`SELECT ${MESSAGE_COLUMNS} FROM message WHERE message_id = ? ORDER BY created_at`);
  const owners = db.prepare<[], { o: string }>(`SELECT DISTINCT lease_owner AS o FROM recipient WHERE state = 'active' AND lease_owner IS NOT NULL`);
  const nextDue = db.prepare<[], { t: number | null }>(`SELECT MIN(next_attempt_at) AS t FROM recipient WHERE state IN ('queued','deferred')`);
  return {
    body: (id: string): Buffer | null => body.get(id)?.raw ?? null,
    forDeliveryMany: (ids: string[], maxBodyBytes: number): Map<string, DeliveryInfo> => deliveryMany.deferred(ids, maxBodyBytes),
    message: (id: string): QueuedMessage | null => {
      const m = message.get(id);
      return m ? toMessage(m) : null;
    },
    recipients: (id: string): RecipientRow[] => recipients.all(id).map(toRecipient),
    attempts: (id: string): AttemptRow[] => attempts.all(id).map(toAttempt),
    pending: () =>
      pendingMessages.all().map((m) => ({ message: toMessage(m), recipients: recipients.all(m.id).map(toRecipient) })),
    countSubmitted: (submitter: string, since: number, atMost = Number.MAX_SAFE_INTEGER): number => submitted.get(submitter, since, atMost)?.n ?? 0,
    recentDuplicates: (hash: string, addresses: string[], since: number): string[] => addresses.filter((a) => (dup.get(hash, since, a)?.n ?? 0) > 0),
    recipientById: (id: number): RecipientRow | null => {
      const r = byId.get(id);
      return r ? toRecipient(r) : null;
    },
    findByMessageId: (messageId: string): QueuedMessage[] => byMessageId.all(messageId).map(toMessage),
    countByState: (): Record<RecipientState, number> => {
      const out = Object.fromEntries(RECIPIENT_STATES.map((st) => [st, 0])) as Record<RecipientState, number>;
      for (const r of byState.all()) out[r.state] = r.n;
      return out;
    },
    activeOwners: (): string[] => owners.all().map((r) => r.o),
    nextDue: (): number | null => nextDue.get()?.t ?? null,
  };
}

import type { AttemptRow, QueuedMessage, RecipientRow } from '../store.js';
import type { RecipientState } from '../states.js';
import { parseNotify, type DsnRet } from '../dsn-params.js';

export const RECIPIENT_COLUMNS =
  'id, queue_id, address, domain, state, attempts, next_attempt_at, lease_owner, lease_until, last_code, last_dsn, last_reason, relay_queue_id, updated_at';

export interface RecipientDbRow {
  id: number;
  queue_id: string;
  address: string;
  domain: string;
  state: RecipientState;
  attempts: number;
  next_attempt_at: number;
  lease_owner: string | null;
  lease_until: number | null;
  last_code: number | null;
  last_dsn: string | null;
  last_reason: string | null;
  relay_queue_id: string | null;
  updated_at: number;
}

export function toRecipient(r: RecipientDbRow): RecipientRow {
  return {
    id: r.id,
    queueId: r.queue_id,
    address: r.address,
    domain: r.domain,
    state: r.state,
    attempts: r.attempts,
    nextAttemptAt: r.next_attempt_at,
    leaseOwner: r.lease_owner,
    leaseUntil: r.lease_until,
    lastCode: r.last_code,
    lastDsn: r.last_dsn,
    lastReason: r.last_reason,
    relayQueueId: r.relay_queue_id,
    updatedAt: r.updated_at,
  };
}

export const MESSAGE_COLUMNS =
  'id, message_id, envelope_from, size, created_at, submitter, idempotency_key, raw IS NOT NULL AS has_body, dsn_sent, list, dsn_envid, dsn_notify, dsn_ret, delay_warned';

export interface MessageDbRow {
  id: string;
  message_id: string;
  envelope_from: string;
  size: number;
  created_at: number;
  submitter: string;
  idempotency_key: string | null;
  has_body: number;
  dsn_sent: number;
  list: string | null;
  dsn_envid: string | null;
  dsn_notify: string | null;
  dsn_ret: DsnRet | null;
  delay_warned: number;
}

export function toMessage(m: MessageDbRow): QueuedMessage {
  return {
    id: m.id,
    messageId: m.message_id,
    envelopeFrom: m.envelope_from,
    size: m.size,
    createdAt: m.created_at,
    submitter: m.submitter,
    idempotencyKey: m.idempotency_key,
    hasBody: m.has_body === 1,
    dsnSent: m.dsn_sent === 1,
    list: m.list,
    dsnEnvid: m.dsn_envid,
    dsnNotify: m.dsn_notify === null ? null : (parseNotify(m.dsn_notify) ?? null),
    dsnRet: m.dsn_ret,
    delayWarned: m.delay_warned === 1,
  };
}

export interface AttemptDbRow {
  recipient_id: number;
  queue_id: string;
  address: string;
  at: number;
  status: string;
  code: number | null;
  dsn: string | null;
  reply: string | null;
  relay: string | null;
  relay_queue_id: string | null;
  delay_ms: number;
}

export function toAttempt(a: AttemptDbRow): AttemptRow {
  return {
    recipientId: a.recipient_id,
    queueId: a.queue_id,
    address: a.address,
    at: a.at,
    status: a.status,
    code: a.code,
    dsn: a.dsn,
    reply: a.reply,
    relay: a.relay,
    relayQueueId: a.relay_queue_id,
    delayMs: a.delay_ms,
  };
}

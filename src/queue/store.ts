/**
 * The queue store contract. SQLite implements it today; a PostgreSQL
 * implementation must pass the same contract tests (queue/store.contract.ts).
 * Times are epoch milliseconds, passed in by the caller (injectable clock).
 */
import type { RecipientState } from './states.js';
import type { DsnNotify, DsnRet } from './dsn-params.js';

export interface NewMessage {
  /** RFC 5322 bytes, stored once per message. */
  raw: Buffer;
  messageId: string;
  envelopeFrom: string;
  recipients: string[];
  /** Who submitted it (user, API token, SMTP client): the flood brake and per-sender limits count by it. */
  submitter: string;
  /** Optional: a repeat with the same key returns the existing message. */
  idempotencyKey?: string;
  /** Hash of subject and body, to hold repeated identical mails to the same recipient. */
  contentHash?: string;
  /**
   * DSN parameters (RFC 3461) the submitter gave for this message (`sendmail
   * -V/-N/-R`, `MAIL FROM … ENVID= RET=`, `RCPT TO … NOTIFY=`, the library's
   * `send(mail, { dsn })`), kept for every retry. Without them the queue ID is
   * the ENVID and `[dsn]` of the config applies.
   */
  dsnEnvid?: string;
  dsnNotify?: DsnNotify;
  dsnRet?: DsnRet;
  /** Bulk mail: the list it is sent under (consent checked before). */
  list?: string;
  /** Start held (flood brake). */
  holdReason?: string;
  /** Recipients that start in a terminal state (e.g. suppressed), with the reason. */
  initialStates?: Record<string, { state: 'suppressed' | 'held'; reason: string }>;
}

export interface QueuedMessage {
  id: string;
  messageId: string;
  envelopeFrom: string;
  size: number;
  createdAt: number;
  submitter: string;
  idempotencyKey: string | null;
  /** Null once purged after delivery. */
  hasBody: boolean;
  dsnSent: boolean;
  /** Bulk mail: its list (R1); null for transactional mail. */
  list: string | null;
  /** The submitter's own DSN parameters; null: not given (queue ID as ENVID, `[dsn]` of the config). */
  dsnEnvid: string | null;
  dsnNotify: DsnNotify | null;
  dsnRet: DsnRet | null;
  /** The delay warning was sent (or was decided against); never a second one. */
  delayWarned: boolean;
}

export interface RecipientRow {
  id: number;
  queueId: string;
  address: string;
  domain: string;
  state: RecipientState;
  attempts: number;
  nextAttemptAt: number;
  leaseOwner: string | null;
  leaseUntil: number | null;
  lastCode: number | null;
  lastDsn: string | null;
  lastReason: string | null;
  relayQueueId: string | null;
  updatedAt: number;
}

export interface AttemptRow {
  recipientId: number;
  queueId: string;
  address: string;
  at: number;
  status: string;
  code: number | null;
  dsn: string | null;
  reply: string | null;
  relay: string | null;
  relayQueueId: string | null;
  delayMs: number;
}

/** One finished attempt for one claimed recipient. */
export type Outcome =
  | { kind: 'delivered'; code?: number; dsn?: string; reply?: string; relay: string; relayQueueId?: string }
  | { kind: 'deferred'; nextAttemptAt: number; countAttempt: boolean; code?: number; dsn?: string; reply: string; relay: string }
  | { kind: 'bounced'; code?: number; dsn?: string; reply: string; relay: string }
  | { kind: 'expired'; code?: number; dsn?: string; reply: string; relay: string };

export interface Completion {
  recipientId: number;
  outcome: Outcome;
  /** The message's queue ID and arrival, when the caller knows them (saves a read per outcome). */
  queueId?: string;
  createdAt?: number;
}

export interface EnqueueResult {
  id: string;
  /** True when an idempotency key matched an existing message. */
  existing: boolean;
}

export interface DeliveryInfo {
  envelopeFrom: string;
  createdAt: number;
  submitter: string;
  /** Null when purged, or (bodyLater) not read yet because it is large. */
  raw: Buffer | null;
  bodyLater: boolean;
  /** The submitter's own DSN parameters; null: not given (queue ID as ENVID, `[dsn]` of the config). */
  dsnEnvid: string | null;
  dsnNotify: DsnNotify | null;
  dsnRet: DsnRet | null;
}

export interface ClaimOptions {
  owner: string;
  now: number;
  leaseMs: number;
  limit: number;
  /** Only this message's recipients (the immediate attempt after submission). */
  queueId?: string;
}

/** The holds a submission's policy checks decide (flood brake, suppression, bulk, duplicates). */
export type SubmissionHolds = Pick<NewMessage, 'holdReason' | 'initialStates'>;

export interface QueueStore {
  /**
   * Insert (in a write transaction of its own, or as a savepoint of the caller's).
   * `decide`, when given, runs in that transaction after the idempotency lookup and
   * before the insert (not for a repeat): the policy reads see what the insert will
   * be committed with, under the same write lock, and its holds are applied.
   */
  enqueue(msg: NewMessage, now: number, decide?: () => SubmissionHolds): EnqueueResult;
  /** Run `fn` in one write transaction (group commit: one fsync for many enqueues). */
  batch<T>(fn: () => T): T;
  /** Lease due recipients (queued, or deferred and due); counts the attempt. */
  claim(opts: ClaimOptions): RecipientRow[];
  /** Record outcomes; each is fenced on `owner`. Returns how many were applied. */
  complete(owner: string, now: number, completions: Completion[]): number;
  /** Extend the lease of rows still held by `owner`. */
  heartbeat(owner: string, until: number, recipientIds: number[]): void;
  /** Return this owner's active rows to the queue (startup after a crash). */
  recoverOwn(owner: string, now: number): number;
  /** Messages this submitter queued since `since` (the flood brake counts them). */
  countSubmitted(submitter: string, since: number, atMost?: number): number;
  /**
   * Whether this submitter queued at least `limit` messages since `since`, i.e.
   * countSubmitted(submitter, since, limit) >= limit, answered without counting
   * when that is cheaper (optional; the flood brake asks it for every submission).
   */
  floodReached?(submitter: string, since: number, limit: number): boolean;
  /** Which of `addresses` got a message with this content hash since `since` (repeated identical mail). */
  recentDuplicates(contentHash: string, addresses: string[], since: number): string[];
  /**
   * Distinct recipients of mail with this content since `since`, not sent to a
   * list (bulk detection, R1); counting stops after `atMost`.
   */
  contentRecipients(contentHash: string, since: number, atMost: number): string[];
  /** How many recipients are in each state (for metrics and health). */
  countByState(): Record<RecipientState, number>;
  /** Lease owners that hold active rows (to find dead processes on this host). */
  activeOwners(): string[];
  /** Return active rows with an expired lease (any owner) to the queue. */
  reapExpired(now: number): number;
  body(queueId: string): Buffer | null;
  /** One recipient row (a VERP address names it). */
  recipientById(id: number): RecipientRow | null;
  /** Messages with this Message-ID header (to match a bounce that quotes it). */
  findByMessageId(messageId: string): QueuedMessage[];
  /** Messages whose submitter gave this ENVID (sent on unchanged; a bounce quotes it), oldest first. */
  findByEnvid(envid: string): QueuedMessage[];
  /**
   * What delivering a claimed round needs, in one read transaction (hot path); bodies
   * larger than `maxBodyBytes` are left out (`bodyLater`) to bound memory.
   */
  forDeliveryMany(queueIds: string[], maxBodyBytes: number): Map<string, DeliveryInfo>;
  message(queueId: string): QueuedMessage | null;
  recipients(queueId: string): RecipientRow[];
  attempts(queueId: string): AttemptRow[];
  /** Every message that still has a non-terminal recipient, oldest first. */
  pending(): Array<{ message: QueuedMessage; recipients: RecipientRow[] }>;
  /** Admin transitions; `ids` undefined means all. Returns recipients changed. */
  hold(queueIds: string[] | undefined, reason: string, now: number): number;
  release(queueIds: string[] | undefined, now: number): number;
  retry(queueIds: string[] | undefined, now: number): number;
  cancel(queueIds: string[] | undefined, now: number): number;
  /** Release every held recipient whose reason starts with `reasonPrefix` (the flood brake's holds). */
  releaseHeld(reasonPrefix: string, now: number): number;
  /** A bounce after the relay accepted: delivered → bounced, in its own transaction. */
  amendBounced(queueId: string, address: string, reason: string, dsn: string | null, now: number): boolean;
  /** Messages whose recipients are all terminal and at least one failed, without a DSN sent yet. */
  needingDsn(): QueuedMessage[];
  markDsnSent(queueId: string): void;
  /**
   * Delay warnings: messages queued at or before `queuedBefore`, with a sender
   * (not `<>`), not warned yet, that still have queued or deferred recipients;
   * with those recipients. Oldest first, at most `limit`.
   */
  needingDelayWarning(queuedBefore: number, limit: number): Array<{ message: QueuedMessage; waiting: RecipientRow[] }>;
  markDelayWarned(queueId: string): void;
  /** Drop bodies of fully delivered messages older than `before`. */
  purgeBodies(before: number): number;
  /** Earliest next_attempt_at of a due-able recipient, or null if none. */
  nextDue(): number | null;
  /**
   * Token buckets shared by every process. For each request (in order, one
   * transaction): take one token from each of its buckets, all or nothing.
   * `waitMs` 0 when taken, else how long until the scarcest bucket (`key`)
   * has a token again.
   */
  takeTokens(requests: Array<Array<{ key: string; capacity: number; refillPerMs: number }>>, now: number): Array<{ waitMs: number; key?: string }>;
  close(): void;
}

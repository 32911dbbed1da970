/**
 * The decision and the durable write of one submission (flood brake,
 * suppression, duplicate hold, insert), shared by QueueService.submit and the
 * submission thread (submit-thread.ts). Holds no clock and writes no log: the
 * caller passes `now` and writes the events returned, after the commit.
 */
import { SendwellError } from '../errors.js';
import type { SuppressionList } from '../bounce/suppression.js';
import type { LogEvent } from './maillog.js';
import type { NewMessage, QueueStore, SubmissionHolds } from './store.js';

export interface FloodOptions {
  /** More than this many messages from one submitter within `windowMs` are held. */
  messages: number;
  windowMs: number;
  /** An identical mail to the same recipient within this window is held. */
  duplicateWindowMs: number;
}

export const DEFAULT_FLOOD: FloodOptions = { messages: 500, windowMs: 5 * 60_000, duplicateWindowMs: 3_600_000 };

/** The reason text of flood-brake holds; `sendwell queue resume` releases exactly these. */
export const FLOOD_REASON_PREFIX = 'flood brake';

/** Bulk detection (R1): the same content to more than `recipients` addresses within `windowMs`, not sent to a list, is held. 0: off. */
export interface BulkDetection {
  recipients: number;
  windowMs: number;
}

export const DEFAULT_BULK_DETECTION: BulkDetection = { recipients: 20, windowMs: 86_400_000 };

/** The reason text of bulk-detection holds. */
export const BULK_REASON_PREFIX = 'bulk mail without consent';

/** What a caller submits: a message for the store, without the holds the service decides. */
export type Submission = Omit<NewMessage, 'holdReason' | 'initialStates'>;

export interface SubmitResult {
  queueId: string;
  existing: boolean;
  /** Why (some of) the message is held instead of queued. */
  held: string[];
}

/** A submission's result and what to log about it once it is committed. */
export interface Decided extends SubmitResult {
  holdReason?: string;
  /** Recipients not sent to: address → reason. */
  suppressed: Array<[string, string]>;
}

export interface SubmitDeps {
  store: QueueStore;
  suppression?: SuppressionList | undefined;
  flood: FloodOptions;
  bulk: BulkDetection;
  /** For the error text: where the queue is. */
  stateDir: string;
}

/**
 * Decide the holds and insert, in one write transaction (the store's own, or
 * a savepoint of the caller's group): the policy reads run under the write
 * lock, after the idempotency lookup (a repeat reads nothing), so no other
 * process can insert between the flood count and the insert. `recentBy`
 * carries a group's flood counts for a store that can only count
 * (countSubmitted); one with floodReached() sees the group's inserts itself.
 */
export function submitOne(deps: SubmitDeps, s: Submission, now: number, recentBy?: Map<string, number>): Decided {
  const { store, flood } = deps;
  const held: string[] = [];
  let holdReason: string | undefined;
  let recent: number | undefined;
  const initialStates: Record<string, { state: 'held' | 'suppressed'; reason: string }> = {};
  const decide = (): SubmissionHolds => {
    const since = now - flood.windowMs;
    let reached: boolean;
    if (store.floodReached) reached = store.floodReached(s.submitter, since, flood.messages);
    else {
      recent = Math.min(recentBy?.get(s.submitter) ?? store.countSubmitted(s.submitter, since, flood.messages), flood.messages);
      reached = recent >= flood.messages;
    }
    if (reached) {
      holdReason = `${FLOOD_REASON_PREFIX}: ${s.submitter} queued ${flood.messages} messages within ${Math.round(flood.windowMs / 60_000)} min (limits.flood.messages = ${flood.messages}); release with \`sendwell queue resume\` (R8)`;
      held.push(holdReason);
    }
    // Suppressed addresses are not sent to; the queue and the log say why (R1, R2).
    for (const [addr, sup] of deps.suppression?.check(s.recipients, s.envelopeFrom, now) ?? []) {
      initialStates[addr] = { state: 'suppressed', reason: `suppressed since ${new Date(sup.createdAt).toISOString().slice(0, 10)}: ${sup.reason} (sendwell suppress remove ${addr} to undo)` };
    }
    if (s.contentHash && !s.list && !holdReason) {
      const reason = bulkHold(store, deps.bulk, s, now);
      if (reason) {
        for (const addr of s.recipients) initialStates[addr] ??= { state: 'held', reason };
        held.push(reason);
      }
    }
    // A window of 0 turns the duplicate hold off (messages committed in one group share `now`).
    if (s.contentHash && !holdReason && flood.duplicateWindowMs > 0) {
      for (const addr of store.recentDuplicates(s.contentHash, s.recipients, now - flood.duplicateWindowMs)) {
        if (initialStates[addr]) continue;
        const reason = `identical message to <${addr}> already queued within ${Math.round(flood.duplicateWindowMs / 60_000)} min (limits.flood.duplicate_window); release with \`sendwell queue release ID\` if intended (R8)`;
        initialStates[addr] = { state: 'held', reason };
        held.push(reason);
      }
    }
    return { ...(holdReason ? { holdReason } : {}), ...(Object.keys(initialStates).length ? { initialStates } : {}) };
  };
  let res;
  try {
    // One shape, no spreads; empty optional fields are left out (stored as NULL) as before.
    const msg: NewMessage = {
      raw: s.raw,
      messageId: s.messageId,
      envelopeFrom: s.envelopeFrom,
      recipients: s.recipients,
      submitter: s.submitter,
      idempotencyKey: s.idempotencyKey || undefined,
      contentHash: s.contentHash || undefined,
      dsnEnvid: s.dsnEnvid || undefined,
      dsnNotify: s.dsnNotify || undefined,
      dsnRet: s.dsnRet || undefined,
      list: s.list || undefined,
    };
    res = store.enqueue(msg, now, decide);
  } catch (err) {
    throw notQueued(deps, err);
  }
  if (res.existing) return { queueId: res.id, existing: true, held: [], suppressed: [] };
  if (recent !== undefined) recentBy?.set(s.submitter, recent + 1);
  const suppressed: Array<[string, string]> = [];
  for (const addr in initialStates) if (initialStates[addr]!.state === 'suppressed') suppressed.push([addr, initialStates[addr]!.reason]);
  return { queueId: res.id, existing: false, held, ...(holdReason ? { holdReason } : {}), suppressed };
}

/** A store failure as the caller sees it: nothing was saved, so trying again is safe (75). */
export function notQueued(deps: Pick<SubmitDeps, 'stateDir'>, err: unknown): SendwellError {
  if (err instanceof SendwellError) return err;
  return new SendwellError('ECONFIG', `the message could not be queued in ${deps.stateDir}: ${(err as Error).message}`, {
    temporary: true,
    hint: 'check free disk space and that the state directory is writable; nothing was queued, so it is safe to try again',
    cause: err,
  });
}

/**
 * A loop of single sends is mass mail all the same: the same content to more
 * than `bulk.recipients` addresses within the window, without a list, is held
 * (R1: bulk mail needs recorded consent).
 */
function bulkHold(store: QueueStore, bulk: BulkDetection, s: Submission, now: number): string | null {
  if (!bulk.recipients || !s.contentHash) return null;
  const seen = new Set(store.contentRecipients(s.contentHash, now - bulk.windowMs, bulk.recipients + 1));
  for (const r of s.recipients) seen.add(r);
  if (seen.size <= bulk.recipients) return null;
  const hours = Math.round(bulk.windowMs / 3_600_000);
  return `${BULK_REASON_PREFIX}: the same content went to more than ${bulk.recipients} recipients within ${hours} h without a list (bulk.detect_recipients); bulk mail needs each recipient's recorded consent (R1): send it with \`sendwell send --list NAME\`, or release with \`sendwell queue release ID\` if every recipient asked for this mail`;
}

/** The mail log events of a committed submission (none for an idempotent repeat). */
export function submissionEvents(s: Submission, d: Decided, now: number): LogEvent[] {
  if (d.existing) return [];
  const events: LogEvent[] = [
    { event: 'enqueued', time: now, queueId: d.queueId, messageId: s.messageId, from: s.envelopeFrom, size: s.raw.length, nrcpt: s.recipients.length, submitter: s.submitter },
  ];
  for (const reason of d.held) events.push({ event: 'notice', time: now, queueId: d.queueId, level: 'warning', text: `held: ${reason}` });
  for (const [addr, reason] of d.suppressed) events.push({ event: 'status', time: now, queueId: d.queueId, to: addr, status: 'suppressed', reason });
  return events;
}

/** A SendwellError as plain data (for postMessage) and back. */
export interface ErrorData {
  sendwell: boolean;
  code?: string;
  message: string;
  hint?: string;
  temporary?: boolean;
}

export function errorToData(err: unknown): ErrorData {
  if (err instanceof SendwellError) return { sendwell: true, code: err.code, message: err.message, hint: err.hint, temporary: err.temporary };
  return { sendwell: false, message: err instanceof Error ? err.message : String(err) };
}

export function errorFromData(d: ErrorData): Error {
  if (d.sendwell) return new SendwellError(d.code as ConstructorParameters<typeof SendwellError>[0], d.message, { hint: d.hint ?? '', temporary: d.temporary ?? false });
  return new Error(d.message);
}

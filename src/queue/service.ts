/**
 * The queue as the mailer, the CLI and the worker use it: durable submission
 * with the flood brake and duplicate hold, the immediate attempt, and the
 * worker that drains the rest.
 */
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { SendwellError } from '../errors.js';
import { SuppressionList } from '../bounce/suppression.js';
import { loadVerpSecret, verpAddress, type Verp } from '../bounce/verp.js';
import { classify } from '../bounce/classify.js';
import { relayOptionsFromConfig, type ResolvedConfig } from '../config/resolve.js';
import type { RelayOptions } from '../transport/index.js';
import { redactUrl } from '../transport/url.js';
import type { Envelope, RelayInfo, Transport, TransportResult } from '../transport/types.js';
import { DEFAULT_LIMITS, type Limits } from './limits.js';
import { fileMailLog, type MailLog } from './maillog.js';
import { postfixSchedule, tableSchedule, type Schedule } from './schedule.js';
import { openDatabase, openSqliteStore } from './sqlite/index.js';
import type { NewMessage, Outcome, QueueStore, RecipientRow } from './store.js';
import { Worker } from './worker.js';

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

export interface QueueServiceOptions {
  stateDir: string;
  /** The store, when opened already (default: openSqliteStore(stateDir)). */
  store?: QueueStore;
  relay: RelayOptions;
  /** Build transports yourself (tests, custom transports); default: from `relay`. */
  transport?: () => Transport;
  concurrency?: number;
  schedule?: Schedule;
  limits?: Limits;
  flood?: FloodOptions;
  clock?: () => number;
  logStderr?: boolean;
  log?: MailLog;
  retentionMs?: number;
  /** Recipients on this list are not sent to (state `suppressed`, with the reason). */
  suppression?: SuppressionList;
  /** VERP: per-recipient envelope senders so bounces name their recipient. */
  verp?: Verp;
  /** Bulk detection (R1): the same content to more than `recipients` addresses within `windowMs`, not sent to a list, is held. 0: off. */
  bulk?: BulkDetection;
}

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

/** Hash of subject and bodies, independent of Date, Message-ID and MIME boundaries. */
export function contentHash(parts: Array<string | undefined>): string {
  const h = createHash('sha256');
  for (const p of parts) h.update(p ?? '').update('\0');
  return h.digest('hex').slice(0, 32);
}

export function scheduleFrom(q: { lifetimeMs: number; minBackoffMs: number; maxBackoffMs: number; retrySchedule?: string }): Schedule {
  return q.retrySchedule ? tableSchedule(q.retrySchedule, q.lifetimeMs) : postfixSchedule({ minMs: q.minBackoffMs, maxMs: q.maxBackoffMs, lifetimeMs: q.lifetimeMs });
}

/**
 * A transport that loads the SMTP client on first use: queueing (`send
 * --queue-only`, `sendmail -odq`) never pays for it.
 */
function lazyTransport(relay: RelayOptions): Transport {
  let real: Promise<Transport> | undefined;
  const get = () => (real ??= import('../transport/index.js').then((m) => m.createTransport(relay)));
  return {
    name: 'lazy',
    send: async (envelope: Envelope, raw: Buffer): Promise<TransportResult> => (await get()).send(envelope, raw),
    probe: async (): Promise<RelayInfo> => {
      const t = await get();
      if (!t.probe) throw new SendwellError('EUSAGE', `the relay ${relay.url} cannot be probed`, { hint: 'only SMTP relays can' });
      return t.probe();
    },
    close: async () => {
      if (real) await (await real).close();
    },
  };
}

export class QueueService {
  readonly store: QueueStore;
  readonly log: MailLog;
  readonly stateDir: string;
  private readonly opts: QueueServiceOptions;
  private readonly clock: () => number;
  private workerInstance: Worker | undefined;

  /** The queue as the config describes it ([queue], [limits], [log]); `overrides` for the relay and tests. */
  static fromConfig(config: ResolvedConfig, stateDir: string, overrides: Partial<QueueServiceOptions> = {}): QueueService {
    const b = config.bounces;
    const verp = b.address && b.verp ? { address: b.address, secret: loadVerpSecret(b.secretFile ?? join(stateDir, 'bounce.key')) } : undefined;
    // One connection for the queue and the suppression list (the store closes it).
    const db = openDatabase(stateDir);
    return new QueueService({
      store: openSqliteStore(stateDir, db),
      suppression: new SuppressionList(db, b.suppression),
      ...(verp ? { verp } : {}),
      stateDir,
      relay: relayOptionsFromConfig(config),
      concurrency: config.queue.concurrency,
      schedule: scheduleFrom(config.queue),
      limits: config.limits,
      flood: config.flood,
      logStderr: config.logStderr,
      retentionMs: config.queue.retentionMs,
      bulk: { recipients: config.bulk.detectRecipients, windowMs: config.bulk.detectWindowMs },
      ...overrides,
    });
  }

  constructor(opts: QueueServiceOptions) {
    this.opts = opts;
    this.stateDir = opts.stateDir;
    this.clock = opts.clock ?? Date.now;
    this.store = opts.store ?? openSqliteStore(opts.stateDir);
    this.log = opts.log ?? fileMailLog(opts.stateDir, { stderr: opts.logStderr ?? false });
  }

  /** The relay as logs name it (credentials never appear). */
  get relayName(): string {
    return redactUrl(this.opts.relay.url);
  }

  get worker(): Worker {
    this.workerInstance ??= new Worker({
      store: this.store,
      transport: this.opts.transport ?? (() => lazyTransport(this.opts.relay)),
      relay: this.relayName,
      log: this.log,
      concurrency: this.opts.concurrency ?? 4,
      schedule: this.opts.schedule ?? postfixSchedule(),
      limits: this.opts.limits ?? DEFAULT_LIMITS,
      clock: this.clock,
      ...(this.opts.retentionMs !== undefined ? { retentionMs: this.opts.retentionMs } : {}),
      ...(this.opts.verp ? { envelopeSender: (row: RecipientRow) => verpAddress(this.opts.verp!, row.id) } : {}),
      ...(this.opts.suppression ? { onRefused: (row: RecipientRow, outcome: Outcome) => this.refused(row, outcome) } : {}),
    });
    return this.workerInstance;
  }

  /** Durably queue a message. Returns after the commit (WAL, synchronous=FULL). */
  submit(s: Submission): SubmitResult {
    const now = this.clock();
    const flood = this.opts.flood ?? DEFAULT_FLOOD;
    const held: string[] = [];
    let holdReason: string | undefined;
    const recent = this.store.countSubmitted(s.submitter, now - flood.windowMs, flood.messages);
    if (recent >= flood.messages) {
      holdReason = `${FLOOD_REASON_PREFIX}: ${s.submitter} queued ${recent} messages within ${Math.round(flood.windowMs / 60_000)} min (limits.flood.messages = ${flood.messages}); release with \`sendwell queue resume\` (R8)`;
      held.push(holdReason);
    }
    const initialStates: Record<string, { state: 'held' | 'suppressed'; reason: string }> = {};
    // Suppressed addresses are not sent to; the queue and the log say why (R1, R2).
    for (const [addr, sup] of this.opts.suppression?.check(s.recipients, s.envelopeFrom, now) ?? []) {
      initialStates[addr] = { state: 'suppressed', reason: `suppressed since ${new Date(sup.createdAt).toISOString().slice(0, 10)}: ${sup.reason} (sendwell suppress remove ${addr} to undo)` };
    }
    if (s.contentHash && !s.list && !holdReason) {
      const reason = this.bulkHold(s, now);
      if (reason) {
        for (const addr of s.recipients) initialStates[addr] ??= { state: 'held', reason };
        held.push(reason);
      }
    }
    if (s.contentHash && !holdReason) {
      for (const addr of this.store.recentDuplicates(s.contentHash, s.recipients, now - flood.duplicateWindowMs)) {
        if (initialStates[addr]) continue;
        const reason = `identical message to <${addr}> already queued within ${Math.round(flood.duplicateWindowMs / 60_000)} min (limits.flood.duplicate_window); release with \`sendwell queue release ID\` if intended (R8)`;
        initialStates[addr] = { state: 'held', reason };
        held.push(reason);
      }
    }
    let res;
    try {
      res = this.store.enqueue(
        {
          raw: s.raw,
          messageId: s.messageId,
          envelopeFrom: s.envelopeFrom,
          recipients: s.recipients,
          submitter: s.submitter,
          ...(s.idempotencyKey ? { idempotencyKey: s.idempotencyKey } : {}),
          ...(s.contentHash ? { contentHash: s.contentHash } : {}),
          ...(s.dsnEnvid ? { dsnEnvid: s.dsnEnvid } : {}),
          ...(s.list ? { list: s.list } : {}),
          ...(holdReason ? { holdReason } : {}),
          ...(Object.keys(initialStates).length ? { initialStates } : {}),
        },
        now,
      );
    } catch (err) {
      if (err instanceof SendwellError) throw err;
      // Nothing was saved: the caller may try again (75).
      throw new SendwellError('ECONFIG', `the message could not be queued in ${this.stateDir}: ${(err as Error).message}`, {
        temporary: true,
        hint: 'check free disk space and that the state directory is writable; nothing was queued, so it is safe to try again',
        cause: err,
      });
    }
    if (!res.existing) {
      this.log.write({ event: 'enqueued', time: now, queueId: res.id, messageId: s.messageId, from: s.envelopeFrom, size: s.raw.length, nrcpt: s.recipients.length, submitter: s.submitter });
      for (const reason of held) this.log.write({ event: 'notice', time: now, queueId: res.id, level: 'warning', text: `held: ${reason}` });
      for (const [addr, st] of Object.entries(initialStates)) {
        if (st.state === 'suppressed') this.log.write({ event: 'status', time: now, queueId: res.id, to: addr, status: 'suppressed', reason: st.reason });
      }
      if (holdReason) process.stderr.write(`sendwell: warning: ${res.id} held by the ${holdReason}\n`);
    }
    return { queueId: res.id, existing: res.existing, held: res.existing ? [] : held };
  }

  /**
   * A loop of single sends is mass mail all the same: the same content to more
   * than `bulk.recipients` addresses within the window, without a list, is held
   * (R1: bulk mail needs recorded consent).
   */
  private bulkHold(s: Submission, now: number): string | null {
    const bulk = this.opts.bulk ?? DEFAULT_BULK_DETECTION;
    if (!bulk.recipients || !s.contentHash) return null;
    const seen = new Set(this.store.contentRecipients(s.contentHash, now - bulk.windowMs, bulk.recipients + 1));
    for (const r of s.recipients) seen.add(r);
    if (seen.size <= bulk.recipients) return null;
    const hours = Math.round(bulk.windowMs / 3_600_000);
    return `${BULK_REASON_PREFIX}: the same content went to more than ${bulk.recipients} recipients within ${hours} h without a list (bulk.detect_recipients); bulk mail needs each recipient's recorded consent (R1): send it with \`sendwell send --list NAME\`, or release with \`sendwell queue release ID\` if every recipient asked for this mail`;
  }

  /**
   * A synchronous refusal (RCPT/DATA) is judged like a returned bounce: a
   * confident 5.1.1 suppresses the address, a policy block does not (R2).
   */
  private refused(row: RecipientRow, outcome: Outcome): void {
    if (!this.opts.suppression || outcome.kind !== 'bounced') return;
    const c = classify({ confident: true, ...(outcome.dsn ? { status: outcome.dsn } : {}), ...(outcome.code !== undefined ? { code: outcome.code } : {}), diagnostic: outcome.reply });
    const sender = this.store.message(row.queueId)?.envelopeFrom ?? '';
    const scope = this.opts.suppression.scopeFor(sender);
    if (c.suppress === 'now') this.opts.suppression.add(row.address, scope, `${c.reason}: ${outcome.reply}`.slice(0, 500), 'bounce', this.clock());
    else if (c.suppress === 'count') this.opts.suppression.softBounce(row.address, scope, outcome.reply.slice(0, 500), this.clock());
    else return;
    this.log.write({ event: 'notice', time: this.clock(), queueId: row.queueId, level: 'info', text: `<${row.address}> refused at delivery (${c.rule}, ${c.category}): ${c.suppress === 'now' ? 'suppressed' : 'counted towards suppression'}` });
  }

  private grouped: Array<{ s: Submission; resolve: (r: SubmitResult) => void; reject: (e: unknown) => void }> = [];

  /**
   * Like submit(), but submissions that arrive in the same event-loop turn
   * share one transaction: one fsync for all, each acknowledged only after it.
   * The SMTP listener uses this (measured with smtp-source, 8 sessions).
   */
  submitGrouped(s: Submission): Promise<SubmitResult> {
    return new Promise((resolve, reject) => {
      this.grouped.push({ s, resolve, reject });
      if (this.grouped.length === 1) setImmediate(() => this.flushGrouped());
    });
  }

  private flushGrouped(): void {
    const batch = this.grouped;
    this.grouped = [];
    const results: Array<{ ok: true; r: SubmitResult } | { ok: false; e: unknown }> = [];
    try {
      this.store.batch(() => {
        for (const { s } of batch) {
          try {
            results.push({ ok: true, r: this.submit(s) });
          } catch (e) {
            results.push({ ok: false, e });
          }
        }
      });
    } catch (e) {
      // The commit itself failed: nothing in the batch was saved.
      for (const b of batch) b.reject(e);
      return;
    }
    batch.forEach((b, i) => {
      const res = results[i]!;
      if (res.ok) b.resolve(res.r);
      else b.reject(res.e);
    });
  }

  /** The immediate attempt for one message. */
  deliverNow(queueId: string): Promise<RecipientRow[]> {
    return this.worker.deliverMessage(queueId);
  }

  /** Release what the flood brake held (`sendwell queue resume`). */
  resume(): number {
    return this.store.releaseHeld(FLOOD_REASON_PREFIX, this.clock());
  }

  async close(): Promise<void> {
    await this.workerInstance?.close();
    this.store.close();
    this.opts.suppression?.close();
    this.log.close?.();
  }
}

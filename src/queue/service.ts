/**
 * The queue as the mailer, the CLI and the worker use it: durable submission
 * with the flood brake and duplicate hold, the immediate attempt, and the
 * worker that drains the rest.
 */
import { join } from 'node:path';
import { SendwellError } from '../errors.js';
import { sha256 } from '../random.js';
import { SuppressionList } from '../bounce/suppression.js';
import { loadVerpSecret, verpAddress, type Verp } from '../bounce/verp.js';
import { alertDue, alertMail, alertText } from '../bounce/alert.js';
import { classify } from '../bounce/classify.js';
import { relayOptionsFromConfig, type ResolvedConfig } from '../config/resolve.js';
import type { RelayOptions } from '../transport/index.js';
import { redactUrl } from '../transport/url.js';
import type { Envelope, RelayInfo, Transport, TransportResult } from '../transport/types.js';
import { DEFAULT_LIMITS, type Limits } from './limits.js';
import { fileMailLog, writeEvents, type MailLog } from './maillog.js';
import type { SyslogOptions } from './syslog.js';
import { postfixSchedule, tableSchedule, type Schedule } from './schedule.js';
import { openDatabase, openSqliteStore } from './sqlite/index.js';
import type { NewMessage, Outcome, QueueStore, RecipientRow } from './store.js';
import { DEFAULT_BULK_DETECTION, DEFAULT_FLOOD, errorFromData, FLOOD_REASON_PREFIX, submissionEvents, submitOne, type BulkDetection, type Decided, type FloodOptions, type Submission, type SubmitDeps, type SubmitResult } from './submit-core.js';
import type { SubmitThread } from './submit-client.js';
import type { ThreadInit } from './submit-thread.js';
import { Worker } from './worker.js';
import { threadIo } from './delivery-io.js';

export { BULK_REASON_PREFIX, DEFAULT_BULK_DETECTION, DEFAULT_FLOOD, FLOOD_REASON_PREFIX, type BulkDetection, type FloodOptions, type Submission, type SubmitResult } from './submit-core.js';

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
  /** Also send the mail log to syslog (`[log] syslog = true`). */
  logSyslog?: SyslogOptions;
  log?: MailLog;
  retentionMs?: number;
  /** Recipients on this list are not sent to (state `suppressed`, with the reason). */
  suppression?: SuppressionList;
  /** VERP: per-recipient envelope senders so bounces name their recipient. */
  verp?: Verp;
  /** `[bounces] operator`: refusals that blame our own setup are also mailed there (from `from`). */
  operator?: { to: string; from: string };
  /** Bulk detection (R1): the same content to more than `recipients` addresses within `windowMs`, not sent to a list, is held. 0: off. */
  bulk?: BulkDetection;
  /**
   * A worker that meets a backlog moves its claims and commits to a thread of
   * its own (`sendwell flush`, `sendwell worker`, `sendwell serve`), so SQLite and SMTP use two
   * cores. Off for one-off sends: starting the thread costs more than it saves.
   */
  backlogThread?: boolean;
  /** `[queue] delay_warning`: senders are warned once about mail still waiting this long (0 or absent: off). */
  delayWarningMs?: number;
}

/** Hash of subject and bodies, independent of Date, Message-ID and MIME boundaries. */
export function contentHash(parts: Array<string | undefined>): string {
  // The bytes of update(part).update('\0') for each part (a '\0' never pairs with a surrogate).
  return sha256(parts.map((p) => `${p ?? ''}\0`).join('')).toString('hex').slice(0, 32);
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

/** A group member's submission and decision, when it was committed. */
const committed = (s: Submission, r: { ok: true; d: Decided } | { ok: false }): Array<{ s: Submission; d: Decided }> => (r.ok ? [{ s, d: r.d }] : []);

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
      ...(config.logSyslog ? { logSyslog: config.logSyslog } : {}),
      retentionMs: config.queue.retentionMs,
      delayWarningMs: config.queue.delayWarningMs,
      bulk: { recipients: config.bulk.detectRecipients, windowMs: config.bulk.detectWindowMs },
      ...(b.operator && config.sender.from ? { operator: { to: b.operator, from: config.sender.from } } : {}),
      ...overrides,
    });
  }

  constructor(opts: QueueServiceOptions) {
    this.opts = opts;
    this.stateDir = opts.stateDir;
    this.clock = opts.clock ?? Date.now;
    this.store = opts.store ?? openSqliteStore(opts.stateDir);
    this.log = opts.log ?? fileMailLog(opts.stateDir, { stderr: opts.logStderr ?? false, ...(opts.logSyslog ? { syslog: opts.logSyslog } : {}) });
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
      // The same NOTIFY default the relay gets ([dsn] notify) decides sendwell's own notices.
      ...(this.opts.relay.dsn?.notify ? { dsnNotify: this.opts.relay.dsn.notify } : {}),
      ...(this.opts.delayWarningMs ? { delayWarningMs: this.opts.delayWarningMs } : {}),
      ...(this.opts.verp ? { envelopeSender: (row: RecipientRow) => verpAddress(this.opts.verp!, row.id) } : {}),
      ...(this.opts.suppression ? { onRefused: (row: RecipientRow, outcome: Outcome) => this.refused(row, outcome) } : {}),
      // Outcome commits wait for the submission thread's commit in flight, if any.
      writeGate: (commit: () => void) => (this.thread ? this.thread.whenIdle(commit) : commit()),
      ...(this.opts.backlogThread ? { backlogIo: () => threadIo(this.stateDir) } : {}),
    });
    return this.workerInstance;
  }

  /** Durably queue a message. Returns after the commit (WAL, synchronous=FULL). */
  submit(s: Submission): SubmitResult {
    const now = this.clock();
    // The policy reads (flood count, suppression, bulk, duplicates) run in the insert's
    // IMMEDIATE transaction (submitOne): one snapshot and one lock for all.
    const d = submitOne(this.submitDeps, s, now);
    this.logSubmission(s, d, now);
    return { queueId: d.queueId, existing: d.existing, held: d.held };
  }

  private deps: SubmitDeps | undefined;
  private get submitDeps(): SubmitDeps {
    return (this.deps ??= { store: this.store, suppression: this.opts.suppression, flood: this.opts.flood ?? DEFAULT_FLOOD, bulk: this.opts.bulk ?? DEFAULT_BULK_DETECTION, stateDir: this.stateDir });
  }

  private logSubmission(s: Submission, d: Decided, now: number): void {
    writeEvents(this.log, submissionEvents(s, d, now));
    if (d.holdReason && !d.existing) process.stderr.write(`sendwell: warning: ${d.queueId} held by the ${d.holdReason}\n`);
  }

  /** The mail log lines of committed submissions (a group's in one write). */
  private logSubmissions(done: Array<{ s: Submission; d: Decided }>, now: number): void {
    writeEvents(this.log, done.flatMap(({ s, d }) => submissionEvents(s, d, now)));
    for (const { d } of done) if (d.holdReason && !d.existing) process.stderr.write(`sendwell: warning: ${d.queueId} held by the ${d.holdReason}\n`);
  }

  /**
   * A synchronous refusal (RCPT/DATA) is judged like a returned bounce: a
   * confident 5.1.1 suppresses the address, a policy block does not (R2).
   */
  private refused(row: RecipientRow, outcome: Outcome): void {
    if (!this.opts.suppression || outcome.kind !== 'bounced') return;
    const c = classify({ confident: true, ...(outcome.dsn ? { status: outcome.dsn } : {}), ...(outcome.code !== undefined ? { code: outcome.code } : {}), diagnostic: outcome.reply });
    if (c.blame === 'sender-setup') return this.alertOperator(row, c.rule, outcome.reply);
    const sender = this.store.message(row.queueId)?.envelopeFrom ?? '';
    const scope = this.opts.suppression.scopeFor(sender);
    if (c.suppress === 'now') this.opts.suppression.add(row.address, scope, `${c.reason}: ${outcome.reply}`.slice(0, 500), 'bounce', this.clock());
    else if (c.suppress === 'count') this.opts.suppression.softBounce(row.address, scope, outcome.reply.slice(0, 500), this.clock());
    else return;
    this.log.write({ event: 'notice', time: this.clock(), queueId: row.queueId, level: 'info', text: `<${row.address}> refused at delivery (${c.rule}, ${c.category}): ${c.suppress === 'now' ? 'suppressed' : 'counted towards suppression'}` });
  }

  /**
   * A refusal that blames our own setup (block list, SPF/DKIM): the operator
   * is told in the log and, with `[bounces] operator`, by mail; once an hour
   * per cause, as for returned bounces (bounce/ingest.ts).
   */
  private alertOperator(row: RecipientRow, rule: string, reply: string): void {
    const now = this.clock();
    if (!alertDue(this.store, rule, now)) return;
    const text = alertText(row.address, rule, reply);
    this.log.write({ event: 'notice', time: now, queueId: row.queueId, level: 'warning', text: `OPERATOR: ${text}` });
    const op = this.opts.operator;
    if (!op) return;
    const p = (async () => {
      const { composeMail } = await import('../message/compose.js');
      const m = await composeMail({ from: op.from, to: op.to, ...alertMail(rule, text, [`Queue ID: ${row.queueId}`]) });
      this.submit({ raw: m.raw, messageId: m.messageId, envelopeFrom: m.envelope.from, recipients: m.envelope.to, submitter: 'sendwell:alerts' });
      this.workerInstance?.wake();
    })().catch((err: unknown) => this.log.write({ event: 'notice', time: now, level: 'warning', text: `operator alert mail not queued: ${(err as Error).message}` }));
    // close() waits for it: a CLI run must not exit with the alert half queued.
    this.alerts.add(p);
    void p.finally(() => this.alerts.delete(p));
  }

  private readonly alerts = new Set<Promise<void>>();

  private grouped: Array<{ s: Submission; resolve: (r: SubmitResult) => void; reject: (e: unknown) => void }> = [];
  private thread: SubmitThread | undefined;

  /**
   * Commit submitGrouped()'s groups on a thread of their own (`sendwell serve`):
   * the event loop keeps serving the other SMTP clients while a commit waits for
   * the disk, and whatever arrived meanwhile becomes the next group. Returns once
   * the thread has opened the queue; without it, groups commit on this thread.
   */
  async startSubmitThread(): Promise<void> {
    if (this.thread) return;
    const init: ThreadInit = { stateDir: this.stateDir, flood: this.opts.flood ?? DEFAULT_FLOOD, bulk: this.opts.bulk ?? DEFAULT_BULK_DETECTION, ...(this.opts.suppression ? { suppression: this.opts.suppression.policy } : {}) };
    // Loaded here: only `sendwell serve` runs the thread (the drop-in's bundle must not carry it).
    const { SubmitThread } = await import('./submit-client.js');
    const t = new SubmitThread(init, (why) => {
      if (this.thread === t) this.thread = undefined;
      process.stderr.write(`sendwell: warning: the submission thread stopped (${why}); submissions commit on the main thread\n`);
      if (this.grouped.length) setImmediate(() => this.flushGrouped());
    });
    try {
      await t.ready;
    } catch {
      // Already reported by the callback above; groups keep committing on this thread.
      return;
    }
    this.thread = t;
  }

  /**
   * Like submit(), but submissions that arrive together share one transaction:
   * one fsync for all, each acknowledged only after it. Without the submission
   * thread, "together" is one event-loop turn; with it, everything that arrived
   * while the previous group was being committed. The SMTP listener uses this
   * (measured with smtp-source, 8 sessions: bench/ingest.ts).
   */
  submitGrouped(s: Submission): Promise<SubmitResult> {
    return new Promise((resolve, reject) => {
      this.grouped.push({ s, resolve, reject });
      if (this.thread) {
        if (!this.thread.busy) this.sendGroup(this.thread);
      } else if (this.grouped.length === 1) setImmediate(() => this.flushGrouped());
    });
  }

  private sendGroup(t: SubmitThread): void {
    const batch = this.grouped;
    this.grouped = [];
    const now = this.clock();
    // A small Buffer is a view into Node's shared 8 KiB pool, which postMessage would
    // copy whole: send each body in an array of its own size.
    const subs = batch.map((b) => (b.s.raw.byteLength === b.s.raw.buffer.byteLength ? b.s : { ...b.s, raw: new Uint8Array(b.s.raw) as Buffer }));
    t.commit(now, subs).then(
      (results) => {
        this.logSubmissions(batch.flatMap((b, i) => committed(b.s, results[i]!)), now);
        batch.forEach((b, i) => {
          const res = results[i]!;
          if (!res.ok) return b.reject(errorFromData(res.e));
          b.resolve({ queueId: res.d.queueId, existing: res.d.existing, held: res.d.held });
        });
      },
      (e: unknown) => {
        for (const b of batch) b.reject(e);
      },
    ).finally(() => {
      // Whatever arrived during that commit is the next group.
      if (this.grouped.length === 0) return;
      if (this.thread && !this.thread.busy) this.sendGroup(this.thread);
      else if (!this.thread) setImmediate(() => this.flushGrouped());
    });
  }

  private flushGrouped(): void {
    const batch = this.grouped;
    this.grouped = [];
    if (batch.length === 0) return;
    const results: Array<{ ok: true; d: Decided } | { ok: false; e: unknown }> = [];
    // One clock reading for the group: its messages are committed together.
    const now = this.clock();
    try {
      this.store.batch(() => {
        const recentBy = new Map<string, number>();
        for (const { s } of batch) {
          try {
            results.push({ ok: true, d: submitOne(this.submitDeps, s, now, recentBy) });
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
    this.logSubmissions(batch.flatMap((b, i) => committed(b.s, results[i]!)), now);
    batch.forEach((b, i) => {
      const res = results[i]!;
      if (!res.ok) return b.reject(res.e);
      b.resolve({ queueId: res.d.queueId, existing: res.d.existing, held: res.d.held });
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
    await Promise.allSettled([...this.alerts]);
    const t = this.thread;
    this.thread = undefined;
    await t?.close();
    await this.workerInstance?.close();
    this.store.close();
    this.opts.suppression?.close();
    // Last: the lines written while closing reach syslog too.
    await this.log.close?.();
  }
}

/**
 * The worker drains the queue: claim due recipients with a lease, deliver each
 * message once to all its claimed recipients over a reused connection, record
 * every outcome in one transaction per message, and write the mail log.
 *
 * Only recipients that are not yet delivered are ever claimed, so a retry
 * sends to exactly the ones still waiting. A relay that cannot be reached
 * defers everything claimed in this round without another connection, and a
 * throttling reply pauses the worker instead of burning attempts.
 */
import { hostname } from 'node:os';
import { SendwellError } from '../errors.js';
import type { Transport } from '../transport/types.js';
import { buildDsn } from './dsn.js';
import { type ClaimedMessage, type ClaimRound } from './claim-round.js';
import { directIo, type DeliveryIo } from './delivery-io.js';
import { DelayWarnings } from './delay.js';
import { envelopeDsn, type DsnNotify } from './dsn-params.js';
import type { Limits } from './limits.js';
import { writeEvents, type LogEvent, type MailLog } from './maillog.js';
import { fromError, fromRecipient, isThrottle, type ClassifyContext } from './outcome.js';
import { postfixSchedule, type Schedule } from './schedule.js';
import type { Outcome, QueueStore, RecipientRow } from './store.js';
import { pidAlive } from './pid.js';

/** A lease long enough for one SMTP transaction; renewed every HEARTBEAT_MS while it runs. */
export const LEASE_MS = 2 * 60_000;
const HEARTBEAT_MS = 30_000;
/** After a connection failure, wait at least this long before trying the relay again. */
const RELAY_DOWN_MS = 60_000;
/** First pause after a throttling reply; doubles up to THROTTLE_MAX_MS. */
const THROTTLE_MIN_MS = 30_000;
const THROTTLE_MAX_MS = 15 * 60_000;
/**
 * Outcomes are committed together within this window: one fsync for many
 * messages. Measured on 2 cores, 5,000 messages, 8 connections to smtp-sink:
 * setImmediate 1,236 commits 2,469 msg/s; 2 ms 0 commits … (see bench/RESULTS.md).
 */
const GROUP_COMMIT_MS = Number(process.env.SENDWELL_GROUP_COMMIT_MS ?? 2);
const REAP_EVERY_MS = 60_000;
/** Bodies of delivered mail are kept this long for `sendwell queue show`. */
export const DEFAULT_RETENTION_MS = 7 * 86_400_000;
/**
 * Messages handed to one connection at a time. Measured on 2 cores, 8 connections
 * to smtp-sink, transport alone: 1 → 6,649 msg/s, 2 → 7,294, 4 → 8,237.
 */
const IN_FLIGHT_PER_CONNECTION = 4;
/** Recipients claimed per round, per unit of concurrency. */
const CLAIM_PER_SLOT = 16;

export interface WorkerOptions {
  /**
   * Runs the outcome commit (and lets a claim go ahead) now, or as soon as another writer in this process
   * (the submission thread of `serve`) is between commits: a transaction that
   * waits for the write lock blocks the event loop in SQLite's busy handler.
   */
  writeGate?: (commit: () => void) => void;
  store: QueueStore;
  /** One transport per concurrent slot; each keeps its connection open between messages. */
  transport: () => Transport;
  /** How the relay is named in logs, e.g. `smtp://127.0.0.1:25`. */
  relay: string;
  log: MailLog;
  concurrency?: number;
  schedule?: Schedule;
  limits?: Limits;
  clock?: () => number;
  /** Lease owner; default `host/pid` so a restarted process can recognise dead owners on this host. */
  owner?: string;
  /** Send RFC 3464 notifications to senders of failed (and delayed) mail (default true). */
  notify?: boolean;
  /** `[dsn] notify`: what senders get notices about when a message has no NOTIFY of its own. */
  dsnNotify?: DsnNotify;
  /** `[queue] delay_warning`: warn senders once about mail still waiting this long (0 or absent: never). */
  delayWarningMs?: number;
  /** How long bodies of delivered mail are kept (default 7 days). */
  retentionMs?: number;
  /**
   * Per-recipient envelope sender (VERP): each recipient then gets its own
   * transaction. Not used for the null sender.
   */
  envelopeSender?: (row: RecipientRow, envelopeFrom: string) => string;
  /** A recipient failed for good at RCPT/DATA: the bounce handling classifies it like a returned bounce. */
  onRefused?: (row: RecipientRow, outcome: Outcome) => void;
  /**
   * For a backlog (a claim round comes back full), claims and commits move
   * to this, typically a thread of their own (delivery-io.ts threadIo).
   */
  backlogIo?: () => DeliveryIo;
  /** How often leases of messages being sent are renewed (default 30 s; tests shorten it). */
  heartbeatMs?: number;
}

export interface DrainResult {
  attempted: number;
  delivered: number;
  deferred: number;
  bounced: number;
  /** Earliest time there will be more to do, or null. */
  nextDue: number | null;
}

const ownerPrefix = () => `${hostname()}/`;

interface PendingOutcome {
  row: RecipientRow;
  outcome: Outcome;
  started: number;
  createdAt?: number;
}


/** Counters since the worker started (for `/metrics`). */
export interface WorkerMetrics {
  attempts: number;
  delivered: number;
  deferred: number;
  bounced: number;
  rateLimitWaits: number;
  relayErrors: number;
  throttled: number;
}

export class Worker {
  readonly owner: string;
  readonly metrics: WorkerMetrics = { attempts: 0, delivered: 0, deferred: 0, bounced: 0, rateLimitWaits: 0, relayErrors: 0, throttled: 0 };
  private readonly store: QueueStore;
  private readonly opts: WorkerOptions;
  private readonly schedule: Schedule;
  private readonly clock: () => number;
  private readonly slots: Transport[] = [];
  private pausedUntil = 0;
  private relayVerified = false;
  private io: DeliveryIo;
  private ioIsBacklog = false;
  private startingIo: DeliveryIo | undefined;
  private throttleMs = 0;
  private readonly delayWarnings: DelayWarnings | undefined;

  constructor(opts: WorkerOptions) {
    this.opts = opts;
    this.store = opts.store;
    this.schedule = opts.schedule ?? postfixSchedule();
    this.clock = opts.clock ?? Date.now;
    this.owner = opts.owner ?? `${ownerPrefix()}${process.pid}`;
    this.io = directIo(opts.store, opts.writeGate);
    if (opts.delayWarningMs) {
      this.delayWarnings = new DelayWarnings({ store: this.store, log: opts.log, afterMs: opts.delayWarningMs, lifetimeMs: this.schedule.lifetimeMs, ...(opts.dsnNotify ? { defaultNotify: opts.dsnNotify } : {}) });
    }
  }

  /** One claim round through the current I/O; logs what a rate limit deferred. */
  private async claimRound(limit: number, queueId?: string): Promise<ClaimRound> {
    const now = this.clock();
    const round = await this.io.claim({ owner: this.owner, now, leaseMs: LEASE_MS, limit, limits: this.opts.limits ?? {}, ...(queueId !== undefined ? { queueId } : {}) });
    if (round.limited.length) {
      this.metrics.rateLimitWaits += round.limited.length;
      this.recordCommitted(round.limited.map(({ row, outcome }) => ({ row, outcome, started: now })), round.limitedApplied, now);
    }
    if (queueId === undefined && round.claimed >= limit && !this.ioIsBacklog && this.opts.backlogIo) this.moveIo(this.opts.backlogIo);
    return round;
  }

  /**
   * A backlog: the store work moves beside the event loop. It stays here until
   * the new I/O is ready (a thread takes ~30 ms to start; sending meanwhile
   * beats waiting), and for good if it cannot start.
   */
  private moveIo(start: () => DeliveryIo): void {
    this.ioIsBacklog = true;
    const stayHere = (err: unknown) =>
      this.opts.log.write({ event: 'notice', time: this.clock(), level: 'warning', text: `queue I/O thread did not start (${err instanceof Error ? err.message : String(err)}); the store work stays on the main thread` });
    let io: DeliveryIo;
    try {
      io = start();
    } catch (err) {
      // The round just claimed is still ours to send: only the move is given up.
      stayHere(err);
      return;
    }
    if (!io.ready) {
      this.io = io;
      return;
    }
    this.startingIo = io;
    io.ready.then(
      () => {
        if (this.startingIo !== io) return;
        this.startingIo = undefined;
        this.io = io;
      },
      (err: unknown) => {
        if (this.startingIo !== io) return;
        this.startingIo = undefined;
        stayHere(err);
        io.close().catch(() => {});
      },
    );
  }

  /**
   * Startup recovery: active rows of dead processes on this host go back to
   * the queue at once; other expired leases are reaped.
   */
  recover(): number {
    const now = this.clock();
    let n = this.store.recoverOwn(this.owner, now);
    for (const o of this.store.activeOwners()) {
      const pid = Number(o.slice(ownerPrefix().length));
      if (o !== this.owner && o.startsWith(ownerPrefix()) && Number.isInteger(pid) && pid > 0 && !pidAlive(pid)) n += this.store.recoverOwn(o, now);
    }
    return n + this.store.reapExpired(now);
  }

  /** Deliver everything that is due now; returns when nothing due is left (or the relay is down). */
  async drain(signal?: AbortSignal): Promise<DrainResult> {
    const total: DrainResult = { attempted: 0, delivered: 0, deferred: 0, bounced: 0, nextDue: null };
    const concurrency = Math.max(1, this.opts.concurrency ?? 4);
    // Slots pull messages from a shared list that is refilled by claiming as it runs low:
    // no slot waits for the slowest message of a round, and (with the I/O on its own
    // thread) the next round is claimed while this one is still being sent.
    const queue: ClaimedMessage[] = [];
    const lowWater = concurrency * IN_FLIGHT_PER_CONNECTION;
    let exhausted = false;
    let refillError: unknown;
    let refilling: Promise<void> | undefined;
    const claimMore = async (): Promise<void> => {
      try {
        if (exhausted || signal?.aborted || this.clock() < this.pausedUntil) {
          exhausted = true;
          return;
        }
        const round = await this.claimRound(concurrency * CLAIM_PER_SLOT);
        if (round.claimed === 0) exhausted = true;
        else queue.push(...round.messages);
      } catch (err) {
        refillError ??= err;
        exhausted = true;
      }
    };
    // One claim at a time; cleared only after it settled (claimMore may finish synchronously).
    const refill = (): Promise<void> => (refilling ??= claimMore().finally(() => (refilling = undefined)));
    // Until the relay has answered once, probe it with one message: if it is down,
    // everything else is deferred without a connection each.
    if (!this.relayVerified) {
      await refill();
      if (queue.length > 0) await this.deliverRows(0, queue.shift()!);
    }
    await Promise.all(
      Array.from({ length: concurrency }, async (_, slot) => {
        // Several messages in flight per connection: the transport pipelines the next
        // transaction behind the current message's data (RFC 2920). A finished one
        // wakes the loop (a counter, not a Promise.race over the set per message).
        let active = 0;
        const failure: { err?: unknown; failed?: true } = {};
        let wake: (() => void) | undefined;
        const finished = () => {
          active--;
          const w = wake;
          wake = undefined;
          w?.();
        };
        const oneFinished = () => new Promise<void>((resolve) => (wake = resolve));
        for (;;) {
          if (failure.failed) throw failure.err;
          if (queue.length < lowWater && !exhausted) {
            const r = refill();
            if (queue.length === 0) await r;
          }
          const group = queue.shift();
          if (!group) {
            if (exhausted && !refilling) break;
            if (refilling) await refilling;
            continue; // everything claimed was rate limited; claim again
          }
          active++;
          this.deliverRows(slot, group).then(finished, (err: unknown) => {
            if (!failure.failed) Object.assign(failure, { failed: true, err });
            finished();
          });
          if (active >= IN_FLIGHT_PER_CONNECTION) await oneFinished();
        }
        while (active > 0) await oneFinished();
        if (failure.failed) throw failure.err;
      }),
    );
    await this.flush();
    if (refillError !== undefined) throw refillError;
    const notices = this.opts.notify === false ? [] : [...(this.failedSinceNotify ? this.sendNotifications() : []), ...(this.delayWarnings?.run(this.clock()) ?? [])];
    if (notices.length > 0 && !signal?.aborted) {
      // Notices were queued: deliver them in the same run.
      const more = await this.drain(signal);
      this.counts.delivered += more.delivered;
      this.counts.deferred += more.deferred;
      this.counts.bounced += more.bounced;
    }
    await this.flush();
    total.attempted = this.counts.delivered + this.counts.deferred + this.counts.bounced;
    Object.assign(total, this.counts);
    this.counts = { delivered: 0, deferred: 0, bounced: 0 };
    total.nextDue = Math.max(this.store.nextDue() ?? Number.POSITIVE_INFINITY, this.pausedUntil);
    if (!Number.isFinite(total.nextDue)) total.nextDue = null;
    return total;
  }

  /**
   * The immediate attempt after submission: this message's due recipients only.
   * Returns the recipients' rows afterwards.
   */
  async deliverMessage(queueId: string): Promise<RecipientRow[]> {
    const attempt = async (id: string) => {
      const round = await this.claimRound(10_000, id);
      for (const m of round.messages) await this.deliverRows(0, m);
      await this.flush();
    };
    await attempt(queueId);
    // A notice about this message goes out at once too.
    if (this.opts.notify !== false && this.failedSinceNotify) for (const dsnId of this.sendNotifications()) await attempt(dsnId);
    this.counts = { delivered: 0, deferred: 0, bounced: 0 };
    return this.store.recipients(queueId);
  }

  /** Run until aborted: drain, sleep until the next due time (or `pollMs`), repeat. */
  async run(signal: AbortSignal, pollMs = 1000): Promise<void> {
    this.recover();
    let lastReap = this.clock();
    while (!signal.aborted) {
      const r = await this.drain(signal);
      // Housekeeping once a minute: leases of vanished workers, bodies past their retention.
      if (this.clock() - lastReap > REAP_EVERY_MS) {
        this.store.reapExpired(this.clock());
        this.purge();
        lastReap = this.clock();
      }
      const wait = Math.max(0, Math.min(pollMs, (r.nextDue ?? Number.POSITIVE_INFINITY) - this.clock()));
      await new Promise<void>((resolve) => {
        const done = () => {
          clearTimeout(t);
          this.wakeUp = undefined;
          // One listener per sleep, removed when the sleep ends: every wake-up
          // (one per queued message in `serve`) would otherwise leave one behind,
          // and the signal's listener list grows (and is walked) without bound.
          signal.removeEventListener('abort', done);
          resolve();
        };
        const t = setTimeout(done, wait);
        this.wakeUp = done;
        signal.addEventListener('abort', done, { once: true });
      });
    }
  }

  private wakeUp: (() => void) | undefined;

  /** New mail was queued: stop sleeping and drain now (the poll is only the backstop). */
  wake(): void {
    this.wakeUp?.();
  }

  /** Drop bodies of fully delivered mail older than the retention (`queue.retention`). */
  purge(): number {
    return this.store.purgeBodies(this.clock() - (this.opts.retentionMs ?? DEFAULT_RETENTION_MS));
  }

  async close(): Promise<void> {
    await Promise.all(this.slots.map((t) => t.close().catch(() => {})));
    this.slots.length = 0;
    if (this.ioIsBacklog) {
      const ios = [this.io, this.startingIo];
      this.io = directIo(this.store, this.opts.writeGate);
      this.startingIo = undefined;
      this.ioIsBacklog = false;
      await Promise.all(ios.map((io) => io?.close()));
    }
  }

  private transport(slot: number): Transport {
    this.slots[slot] ??= this.opts.transport();
    return this.slots[slot]!;
  }

  /** With VERP each recipient is its own transaction (pipelined on the same connection). */
  private deliverRows(slot: number, m: ClaimedMessage): Promise<void> {
    if (!this.opts.envelopeSender || m.rows.length === 1) return this.deliverGroup(slot, m, m.rows);
    return Promise.all(m.rows.map((r) => this.deliverGroup(slot, m, [r]))).then(() => undefined);
  }

  /** Deliver one message to its claimed (and admitted) recipients; outcomes go to the commit buffer. */
  private async deliverGroup(slot: number, claimed: ClaimedMessage, rows: RecipientRow[]): Promise<void> {
    const queueId = claimed.queueId;
    const message = claimed.message;
    // A large body is read when its turn comes, not with the claim.
    const raw = message?.bodyLater ? this.store.body(queueId) : message?.raw;
    const started = this.clock();
    const ctx = (r: RecipientRow): ClassifyContext => ({
      now: this.clock(),
      createdAt: message?.createdAt ?? started,
      attempts: r.attempts,
      relay: this.opts.relay,
      schedule: this.schedule,
    });
    const defer = (reply: string, until: number) => {
      for (const r of rows) this.enqueueCompletion(r, { kind: 'deferred', countAttempt: false, nextAttemptAt: until, reply, relay: this.opts.relay }, started, message?.createdAt);
    };
    // Cannot happen unless someone edited the database; keep the rows visible rather than lose them.
    if (!message || !raw) return defer('message body missing from the queue', started + RELAY_DOWN_MS);
    // Relay known to be down, or we were told to slow down: defer without connecting.
    if (started < this.pausedUntil) return defer(this.pauseReason, this.pausedUntil);

    const ids = rows.map((r) => r.id);
    // Claimed a while ago (a slow relay works through a round): renew the lease before sending.
    if (started - claimed.claimedAt > LEASE_MS / 2) this.store.heartbeat(this.owner, started + LEASE_MS, ids);
    this.sending.add(ids);
    this.heartbeat ??= setInterval(() => this.renewLeases(), this.opts.heartbeatMs ?? HEARTBEAT_MS).unref();
    try {
      // ENVID = the submitter's, else the queue ID, so a DSN from further down the line names the message (RFC 3461).
      const from = this.opts.envelopeSender && message.envelopeFrom !== '' ? this.opts.envelopeSender(rows[0]!, message.envelopeFrom) : message.envelopeFrom;
      const result = await this.transport(slot).send({ from, to: rows.map((r) => r.address), dsn: envelopeDsn(message, queueId) }, raw);
      const byAddress = new Map(result.recipients.map((o) => [o.address.toLowerCase(), o]));
      const final = { ...(result.response !== undefined ? { response: result.response } : {}), ...(result.relayQueueId !== undefined ? { relayQueueId: result.relayQueueId } : {}) };
      for (const r of rows) {
        const o = byAddress.get(r.address.toLowerCase()) ?? { address: r.address, status: 'rejected' as const, temporary: true, response: 'the relay gave no answer for this recipient' };
        if (o.status === 'rejected' && o.temporary && isThrottle(o)) this.pause('throttle', o.response ?? 'throttled');
        this.enqueueCompletion(r, fromRecipient(o, ctx(r), final), started, message.createdAt);
      }
      this.throttleMs = 0;
      this.relayVerified = true;
    } catch (err) {
      this.relayVerified = false;
      this.metrics.relayErrors++;
      for (const r of rows) this.enqueueCompletion(r, fromError(err, ctx(r)), started, message.createdAt);
      if (err instanceof SendwellError && err.temporary) {
        if (err.phase === 'connect' || err.code === 'ECONNECTION' || err.code === 'EDNS' || err.code === 'ETIMEDOUT') this.pause('down', err.message);
        else if (isThrottle(err)) this.pause('throttle', err.response ?? err.message);
      }
      // The transport drops a broken connection itself and opens a new one for the next message.
    } finally {
      this.sending.delete(ids);
    }
  }

  /** Rows being sent right now; one timer renews all their leases (not a timer per message). */
  private readonly sending = new Set<number[]>();
  private heartbeat: NodeJS.Timeout | undefined;

  private renewLeases(): void {
    if (this.sending.size === 0) {
      clearInterval(this.heartbeat);
      this.heartbeat = undefined;
      return;
    }
    this.store.heartbeat(this.owner, this.clock() + LEASE_MS, [...this.sending].flat());
  }

  /**
   * Group commit: outcomes that finish within GROUP_COMMIT_MS share one
   * transaction. The window is short, so a crash re-sends at most what was in
   * flight, as with a commit per message. Log lines and counters follow the
   * commit, so the log never shows an outcome the queue does not have.
   */
  private pending: PendingOutcome[] = [];
  commits = 0;
  private timer: Promise<void> | undefined;
  private readonly commitsInFlight = new Set<Promise<void>>();
  private counts = { delivered: 0, deferred: 0, bounced: 0 };
  /** A recipient failed for good since the last look for needed notices (late bounces are found at startup). */
  private failedSinceNotify = true;

  private enqueueCompletion(row: RecipientRow, outcome: Outcome, started: number, createdAt?: number): void {
    this.pending.push({ row, outcome, started, ...(createdAt !== undefined ? { createdAt } : {}) });
    this.timer ??= new Promise<void>((resolve) =>
      setTimeout(() => {
        this.timer = undefined;
        this.commitPending();
        resolve();
      }, GROUP_COMMIT_MS),
    );
  }

  private commitError: unknown;

  /** Wait until every outcome so far is committed (or failed). */
  private async flush(): Promise<void> {
    while (this.timer || this.commitsInFlight.size > 0) {
      if (this.timer) await this.timer;
      await Promise.all(this.commitsInFlight);
    }
    if (this.pending.length) {
      this.commitPending();
      await Promise.all(this.commitsInFlight);
    }
    if (this.commitError !== undefined) {
      const err = this.commitError;
      this.commitError = undefined;
      throw err;
    }
  }

  private commitPending(): void {
    const batch = this.pending;
    this.pending = [];
    if (batch.length === 0) return;
    const now = this.clock();
    const p = this.io
      .complete(
        this.owner,
        now,
        batch.map((b) => ({ recipientId: b.row.id, outcome: b.outcome, queueId: b.row.queueId, ...(b.createdAt !== undefined ? { createdAt: b.createdAt } : {}) })),
      )
      .then(
        (applied) => {
          this.commits++;
          this.recordCommitted(batch, applied, now);
        },
        (err: unknown) => {
          // Not recorded: the leases expire and the rows are retried (a possible duplicate, never a loss).
          this.commitError ??= err;
        },
      )
      .finally(() => this.commitsInFlight.delete(p));
    this.commitsInFlight.add(p);
  }

  /** After a commit: counters, refusal handling, and the group's log lines in one write per log file. */
  private recordCommitted(batch: PendingOutcome[], applied: number, now: number): void {
    const events: LogEvent[] = [];
    for (const { row, outcome, started, createdAt } of batch) {
      this.metrics.attempts++;
      if (outcome.kind === 'delivered') {
        this.counts.delivered++;
        this.metrics.delivered++;
      } else if (outcome.kind === 'deferred') {
        this.counts.deferred++;
        this.metrics.deferred++;
      } else {
        this.metrics.bounced++;
        if (outcome.kind === 'bounced' && outcome.code !== undefined) this.opts.onRefused?.(row, outcome);
        this.counts.bounced++;
        this.failedSinceNotify = true;
      }
      const c = createdAt ?? started;
      events.push({
        event: 'attempt',
        time: now,
        queueId: row.queueId,
        to: row.address,
        relay: outcome.relay,
        delay: (now - c) / 1000,
        delays: [(started - c) / 1000, 0, 0, (now - started) / 1000],
        dsn: outcome.dsn ?? (outcome.kind === 'delivered' ? '2.0.0' : outcome.kind === 'deferred' ? '4.0.0' : '5.0.0'),
        status: statusWord(outcome),
        reply: outcome.reply ?? '',
        ...(outcome.kind === 'delivered' && outcome.relayQueueId ? { relayQueueId: outcome.relayQueueId } : {}),
      });
    }
    if (applied < batch.length) {
      events.push({ event: 'notice', time: now, level: 'warning', text: `${batch.length - applied} outcome(s) not recorded: the lease was lost to another worker` });
    }
    writeEvents(this.opts.log, events);
  }

  private pauseReason = '';

  private pause(kind: 'down' | 'throttle', why: string): void {
    const now = this.clock();
    if (kind === 'down') {
      this.pausedUntil = Math.max(this.pausedUntil, now + RELAY_DOWN_MS);
      this.pauseReason = `relay ${this.opts.relay} unreachable: ${why}`;
    } else {
      this.metrics.throttled++;
      this.throttleMs = Math.min(THROTTLE_MAX_MS, this.throttleMs ? this.throttleMs * 2 : THROTTLE_MIN_MS);
      this.pausedUntil = Math.max(this.pausedUntil, now + this.throttleMs);
      this.pauseReason = `relay ${this.opts.relay} asked us to slow down: ${why}`;
    }
    this.opts.log.write({ event: 'notice', time: now, level: 'warning', text: `${this.pauseReason}; pausing delivery for ${Math.round((this.pausedUntil - now) / 1000)}s` });
  }

  /** One RFC 3464 notification per finished message with failed recipients (never for a null sender, nor against its NOTIFY). */
  private sendNotifications(): string[] {
    this.failedSinceNotify = false;
    const created: string[] = [];
    for (const m of this.store.needingDsn()) {
      const failed = this.store.recipients(m.id).filter((r) => r.state === 'bounced' || r.state === 'expired');
      const now = this.clock();
      const dsn = buildDsn({ message: m, failed, raw: this.store.body(m.id), reportingHost: hostname(), now: new Date(now), ...(this.opts.dsnNotify ? { defaultNotify: this.opts.dsnNotify } : {}) });
      if (dsn) {
        // The key makes this idempotent: a crash between enqueue and mark sends no second notice.
        const { id } = this.store.enqueue({ raw: dsn.raw, messageId: dsn.messageId, envelopeFrom: '', recipients: [dsn.to], submitter: 'sendwell-dsn', idempotencyKey: `dsn:${m.id}` }, now);
        this.opts.log.write({ event: 'dsn', time: now, queueId: m.id, to: dsn.to, dsnQueueId: id, failed: failed.map((r) => r.address) });
        created.push(id);
      }
      this.store.markDsnSent(m.id);
    }
    return created;
  }
}

function statusWord(o: Outcome): string {
  switch (o.kind) {
    case 'delivered':
      return 'sent';
    case 'deferred':
      return 'deferred';
    case 'bounced':
      return 'bounced';
    case 'expired':
      return 'expired';
    default: {
      const never: never = o;
      return String(never);
    }
  }
}

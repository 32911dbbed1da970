/**
 * Delay warnings (`[queue] delay_warning`, like Postfix's delay_warning_time;
 * off by default): when a message still has recipients waiting (queued or
 * deferred) that long after it was queued, its sender gets one RFC 3464
 * notice with `Action: delayed` for them, saying that the mail is not lost and
 * is retried until the queue lifetime. Sent with the null sender `<>` to the
 * original envelope sender (never to a VERP address: that is made per attempt
 * and never stored), never about mail from `<>`, never when the message's
 * NOTIFY (else `[dsn] notify`) leaves out DELAY, and never twice: the message
 * is marked in the same transaction that queues the notice, whose idempotency
 * key `delay:<queue ID>` holds even if the mark were lost.
 */
import { hostname } from 'node:os';
import { buildDsn } from './dsn.js';
import type { DsnNotify } from './dsn-params.js';
import type { MailLog } from './maillog.js';
import type { QueueStore } from './store.js';

/** How often the worker looks for mail to warn about: the warning is about hours, a minute late is nothing. */
export const DELAY_CHECK_MS = 60_000;
/** Messages warned about per look; the rest follow a minute later. */
const PER_CHECK = 100;

export interface DelayWarningOptions {
  store: QueueStore;
  log: MailLog;
  /** Warn about recipients still waiting this long after the message was queued (> 0). */
  afterMs: number;
  /** The queue lifetime: the notice says delivery is retried until then. */
  lifetimeMs: number;
  /** `[dsn] notify`, for messages without a NOTIFY of their own. */
  defaultNotify?: DsnNotify;
  reportingHost?: string;
}

export class DelayWarnings {
  private lastCheck = Number.NEGATIVE_INFINITY;

  constructor(private readonly o: DelayWarningOptions) {}

  /** Queue the warnings that are due at `now` (one look per DELAY_CHECK_MS); returns the notices' queue IDs. */
  run(now: number): string[] {
    if (now - this.lastCheck < DELAY_CHECK_MS) return [];
    this.lastCheck = now;
    const { store, log } = this.o;
    const created: string[] = [];
    for (const { message, waiting } of store.needingDelayWarning(now - this.o.afterMs, PER_CHECK)) {
      const dsn = buildDsn({
        message,
        delayed: waiting,
        lifetimeMs: this.o.lifetimeMs,
        raw: store.body(message.id),
        reportingHost: this.o.reportingHost ?? hostname(),
        now: new Date(now),
        ...(this.o.defaultNotify ? { defaultNotify: this.o.defaultNotify } : {}),
      });
      // Queued and marked together: a crash leaves either both or neither.
      const id = store.batch(() => {
        const queued = dsn
          ? store.enqueue({ raw: dsn.raw, messageId: dsn.messageId, envelopeFrom: '', recipients: [dsn.to], submitter: 'sendwell-dsn', idempotencyKey: `delay:${message.id}` }, now).id
          : undefined;
        store.markDelayWarned(message.id);
        return queued;
      });
      if (dsn && id) {
        log.write({ event: 'delay', time: now, queueId: message.id, to: dsn.to, dsnQueueId: id, delayed: waiting.map((r) => r.address) });
        created.push(id);
      }
    }
    return created;
  }
}

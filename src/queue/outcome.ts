/**
 * From what the transport said to what happens to each recipient. Throttling
 * replies slow the worker down instead of burning attempts.
 */
import { SendwellError, type RecipientOutcome } from '../errors.js';
import type { Outcome } from './store.js';
import type { Schedule } from './schedule.js';

/** A temporary reply that means "you are sending too fast", not "this recipient has a problem". */
export function isThrottle(r: { responseCode?: number; enhancedStatus?: string; response?: string }): boolean {
  if (r.responseCode === 421) return true;
  if (r.enhancedStatus?.startsWith('4.7.')) return /rate|too many|throttl|slow down|exceed|limit|try again later/i.test(r.response ?? '');
  return r.responseCode !== undefined && r.responseCode >= 400 && r.responseCode < 500 && /rate limit|too many (messages|connections|recipients)|throttl/i.test(r.response ?? '');
}

export interface ClassifyContext {
  now: number;
  createdAt: number;
  attempts: number;
  relay: string;
  schedule: Schedule;
}

function replyText(r: { responseCode?: number; enhancedStatus?: string; response?: string }, fallback: string): string {
  return r.response ?? (r.responseCode ? `${r.responseCode}${r.enhancedStatus ? ` ${r.enhancedStatus}` : ''}` : fallback);
}

function failure(r: { responseCode?: number; enhancedStatus?: string; response?: string; temporary?: boolean }, ctx: ClassifyContext, fallback: string): Outcome {
  const base = {
    relay: ctx.relay,
    reply: replyText(r, fallback),
    ...(r.responseCode !== undefined ? { code: r.responseCode } : {}),
    ...(r.enhancedStatus !== undefined ? { dsn: r.enhancedStatus } : {}),
  };
  if (!r.temporary) return { kind: 'bounced', ...base, dsn: base.dsn ?? '5.0.0' };
  if (ctx.now - ctx.createdAt >= ctx.schedule.lifetimeMs) return { kind: 'expired', ...base, dsn: base.dsn ?? '4.4.7' };
  const throttled = isThrottle(r);
  return {
    kind: 'deferred',
    ...base,
    dsn: base.dsn ?? '4.0.0',
    countAttempt: !throttled,
    nextAttemptAt: ctx.now + ctx.schedule.delay(ctx.now - ctx.createdAt, ctx.attempts),
  };
}

/**
 * Outcome for one recipient the relay answered individually. For accepted
 * recipients the final reply to the message (`250 … queued as X`) is what the
 * log shows, as in Postfix.
 */
export function fromRecipient(r: RecipientOutcome, ctx: ClassifyContext, final?: { response?: string; relayQueueId?: string }): Outcome {
  if (r.status === 'accepted') {
    const reply = final?.response ?? r.response;
    const code = reply ? Number(/^(\d{3})/.exec(reply)?.[1] ?? r.responseCode) : r.responseCode;
    const dsn = (reply && /^\d{3}[ -](\d\.\d{1,3}\.\d{1,3})\b/.exec(reply)?.[1]) ?? r.enhancedStatus ?? '2.0.0';
    return {
      kind: 'delivered',
      relay: ctx.relay,
      ...(code !== undefined && !Number.isNaN(code) ? { code } : {}),
      dsn,
      ...(reply !== undefined ? { reply } : {}),
      ...(final?.relayQueueId !== undefined ? { relayQueueId: final.relayQueueId } : {}),
    };
  }
  return failure(r, ctx, 'refused');
}

/**
 * Problems of our own setup (configuration, secrets, TLS trust, login) keep the
 * mail queued until an administrator fixes them: they say nothing about the
 * recipient, so bouncing would lose mail for no reason.
 */
const OWN_SETUP: ReadonlySet<string> = new Set(['ECONFIG', 'ESECRET', 'EAUTH', 'ETLS']);

/** Outcome for every recipient when the whole attempt failed (connection, TLS, MAIL or DATA). */
export function fromError(err: unknown, ctx: ClassifyContext): Outcome {
  if (err instanceof SendwellError) {
    const text = err.response ?? `${err.message}${err.hint ? ` (${err.hint.split('\n')[0]})` : ''}`;
    const temporary = err.temporary || (OWN_SETUP.has(err.code) && err.responseCode === undefined) || err.code === 'EAUTH';
    return failure({ ...err, response: text, temporary }, ctx, err.message);
  }
  // An unexpected bug must not lose mail: keep it and retry.
  return failure({ temporary: true, response: `internal error: ${String(err)}` }, ctx, String(err));
}

/**
 * When to try again. Default like Postfix: wait as long as the message has
 * been queued, at least 5 minutes and at most 4000 s (~67 min), ±10% jitter so
 * a burst of deferrals does not come back as a burst. Young mail is retried
 * often, old mail rarely, and no attempt counter needs tuning.
 */
import { SendwellError } from '../errors.js';
import { parseDuration } from '../config/units.js';

export const MIN_BACKOFF_MS = 5 * 60_000; // Postfix minimal_backoff_time
export const MAX_BACKOFF_MS = 4000 * 1000; // Postfix maximal_backoff_time
export const QUEUE_LIFETIME_MS = 5 * 86_400_000; // Postfix maximal_queue_lifetime
const JITTER = 0.1;

export interface Schedule {
  /** Delay before the next attempt, given the message age and the attempts made so far. */
  delay(ageMs: number, attempts: number, random?: () => number): number;
  lifetimeMs: number;
}

export function postfixSchedule(opts: { minMs?: number; maxMs?: number; lifetimeMs?: number } = {}): Schedule {
  const min = opts.minMs ?? MIN_BACKOFF_MS;
  const max = opts.maxMs ?? MAX_BACKOFF_MS;
  return {
    lifetimeMs: opts.lifetimeMs ?? QUEUE_LIFETIME_MS,
    delay(ageMs, _attempts, random = Math.random) {
      const base = Math.min(max, Math.max(min, ageMs));
      return Math.round(base * (1 - JITTER + 2 * JITTER * random()));
    },
  };
}

/**
 * An explicit table, e.g. "1m, 5m, 10m*2, 1h*3": the n-th retry waits the
 * n-th entry; after the table ends, the last entry repeats.
 */
export function tableSchedule(spec: string, lifetimeMs = QUEUE_LIFETIME_MS): Schedule {
  const steps: number[] = [];
  for (const part of spec.split(',').map((s) => s.trim()).filter(Boolean)) {
    const m = /^([^*]+)(?:\*(\d+))?$/.exec(part);
    const ms = m ? parseDuration(m[1]!.trim()) : null;
    if (!m || ms === null || ms <= 0) {
      throw new SendwellError('ECONFIG', `queue.retry_schedule entry ${JSON.stringify(part)} is not a duration`, {
        hint: 'write e.g. "1m, 5m, 10m*2, 1h*3" (a duration, optionally *count)',
      });
    }
    for (let i = 0; i < Number(m[2] ?? 1); i++) steps.push(ms);
  }
  if (steps.length === 0) throw new SendwellError('ECONFIG', 'queue.retry_schedule is empty', { hint: 'give at least one duration, or remove it for the default' });
  return {
    lifetimeMs,
    delay(_age, attempts) {
      return steps[Math.min(Math.max(attempts - 1, 0), steps.length - 1)]!;
    },
  };
}

/**
 * One claim round of the worker, as one unit that can run wherever the store
 * is (the worker's thread, or the I/O thread of a long drain): lease due
 * recipients, take rate-limit tokens, defer the ones over a limit, and read
 * what delivering the rest needs (bodies included, up to a size).
 */
import { bucketsFor, type Limits } from './limits.js';
import type { ClaimOptions, Completion, DeliveryInfo, Outcome, QueueStore, RecipientRow } from './store.js';

/** Bodies up to this size are read with the claim; larger ones when their turn comes (memory stays bounded). */
export const PREFETCH_BODY_BYTES = 256 * 1024;

export interface ClaimRoundOptions extends ClaimOptions {
  limits: Limits;
}

/** A message with its claimed, admitted recipients. */
export interface ClaimedMessage {
  queueId: string;
  /** Null if the message row is gone (someone edited the database). */
  message: DeliveryInfo | null;
  rows: RecipientRow[];
  claimedAt: number;
}

export interface ClaimRound {
  /** Rows leased this round (admitted or not). */
  claimed: number;
  messages: ClaimedMessage[];
  /** Rows a rate limit deferred, already committed. */
  limited: Array<{ row: RecipientRow; outcome: Outcome }>;
  /** How many of `limited` were applied (fenced on the lease). */
  limitedApplied: number;
}

export function claimRound(store: QueueStore, o: ClaimRoundOptions): ClaimRound {
  const rows = store.claim(o);
  if (rows.length === 0) return { claimed: 0, messages: [], limited: [], limitedApplied: 0 };
  const ids = [...new Set(rows.map((r) => r.queueId))];
  const info = store.forDeliveryMany(ids, PREFETCH_BODY_BYTES);
  // Each recipient takes a token from every bucket it falls in, or waits until there is one.
  const bucketSets = rows.map((r) => bucketsFor(o.limits, r.address, info.get(r.queueId)?.submitter ?? 'unknown'));
  const verdicts = store.takeTokens(bucketSets, o.now);
  const byMessage = new Map<string, ClaimedMessage>();
  const limited: ClaimRound['limited'] = [];
  rows.forEach((r, i) => {
    const { waitMs, key } = verdicts[i]!;
    if (waitMs === 0) {
      let m = byMessage.get(r.queueId);
      if (!m) byMessage.set(r.queueId, (m = { queueId: r.queueId, message: info.get(r.queueId) ?? null, rows: [], claimedAt: o.now }));
      m.rows.push(r);
      return;
    }
    const label = bucketSets[i]!.find((b) => b.key === key)?.label ?? key;
    limited.push({
      row: r,
      outcome: {
        kind: 'deferred',
        countAttempt: false,
        nextAttemptAt: o.now + waitMs,
        reply: `rate limited by ${label}; next try in ${Math.ceil(waitMs / 1000)}s (R8)`,
        relay: 'none',
        dsn: '4.7.0',
      },
    });
  });
  const completions: Completion[] = limited.map(({ row, outcome }) => ({
    recipientId: row.id,
    outcome,
    queueId: row.queueId,
    ...(info.get(row.queueId) ? { createdAt: info.get(row.queueId)!.createdAt } : {}),
  }));
  const limitedApplied = completions.length ? store.complete(o.owner, o.now, completions) : 0;
  return { claimed: rows.length, messages: [...byMessage.values()], limited, limitedApplied };
}

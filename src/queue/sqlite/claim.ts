import type { Database } from 'better-sqlite3';
import type { ClaimOptions, RecipientRow } from '../store.js';
import { withNormalSync } from './complete.js';
import { RECIPIENT_COLUMNS, toRecipient, type RecipientDbRow } from './rows.js';

/** Lease due recipients: state active, owner and expiry set, attempt counted at claim time. */
export function claimOp(db: Database): (opts: ClaimOptions) => RecipientRow[] {
  const stmt = db.prepare<[string, number, number, number, number], RecipientDbRow>(
    `UPDATE recipient
        SET state = 'active', lease_owner = ?, lease_until = ?, attempts = attempts + 1, updated_at = ?
      WHERE id IN (SELECT id FROM recipient
                    WHERE state IN ('queued','deferred') AND next_attempt_at <= ?
                    ORDER BY next_attempt_at, id LIMIT ?)
      RETURNING ${RECIPIENT_COLUMNS}`,
  );
  const one = db.prepare<[string, number, number, string, number, number], RecipientDbRow>(
    `UPDATE recipient
        SET state = 'active', lease_owner = ?, lease_until = ?, attempts = attempts + 1, updated_at = ?
      WHERE id IN (SELECT id FROM recipient
                    WHERE queue_id = ? AND state IN ('queued','deferred') AND next_attempt_at <= ?
                    ORDER BY id LIMIT ?)
      RETURNING ${RECIPIENT_COLUMNS}`,
  );
  const run = db.transaction((o: ClaimOptions) =>
    (o.queueId === undefined
      ? stmt.all(o.owner, o.now + o.leaseMs, o.now, o.now, o.limit)
      : one.all(o.owner, o.now + o.leaseMs, o.now, o.queueId, o.now, o.limit)
    ).map(toRecipient),
  );
  // A claim lost to a power loss only returns its rows to the queue (see withNormalSync).
  const relaxed = withNormalSync(db);
  return (o) => relaxed(() => run.immediate(o));
}

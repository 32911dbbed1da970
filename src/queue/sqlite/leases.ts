import type { Database } from 'better-sqlite3';

/** Extend the leases this owner still holds (a heartbeat during a long SMTP session). */
export function heartbeatOp(db: Database): (owner: string, until: number, ids: number[]) => void {
  const stmt = db.prepare(`UPDATE recipient SET lease_until = ? WHERE id = ? AND lease_owner = ? AND state = 'active'`);
  const run = db.transaction((owner: string, until: number, ids: number[]) => {
    for (const id of ids) stmt.run(until, id, owner);
  });
  return (owner, until, ids) => run.immediate(owner, until, ids);
}

/**
 * Startup recovery (Postfix's trick): rows this owner left active when it
 * died go back to queued. The attempt stays counted.
 */
export function recoverOwnOp(db: Database): (owner: string, now: number) => number {
  const stmt = db.prepare(
    `UPDATE recipient SET state = 'queued', lease_owner = NULL, lease_until = NULL, next_attempt_at = ?, updated_at = ?,
            last_reason = 'returned to the queue after the worker stopped'
      WHERE state = 'active' AND lease_owner = ?`,
  );
  return (owner, now) => stmt.run(now, now, owner).changes;
}

/** Reap active rows whose lease expired, whoever held them. */
export function reapExpiredOp(db: Database): (now: number) => number {
  const stmt = db.prepare(
    `UPDATE recipient SET state = 'queued', lease_owner = NULL, lease_until = NULL, next_attempt_at = ?, updated_at = ?,
            last_reason = 'lease expired: the worker holding it stopped answering'
      WHERE state = 'active' AND lease_until < ?`,
  );
  return (now) => stmt.run(now, now, now).changes;
}

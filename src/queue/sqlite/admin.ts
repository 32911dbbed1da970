import type { Database } from 'better-sqlite3';
import { TRANSITIONS, type Transition } from '../states.js';

/**
 * Admin transitions (hold, release, retry, cancel) over some messages or all.
 * The allowed source states come from the one transition table.
 */
export function adminOp(db: Database, transition: Extract<Transition, 'hold' | 'release' | 'retry' | 'cancel'>) {
  const t = TRANSITIONS[transition];
  const from = t.from.map((s) => `'${s}'`).join(',');
  const setReason = transition === 'hold' ? ', last_reason = @reason' : transition === 'cancel' ? `, last_reason = 'deleted by the administrator'` : '';
  const due = transition === 'release' || transition === 'retry' ? ', next_attempt_at = @now' : '';
  const one = db.prepare(`UPDATE recipient SET state = '${t.to}', updated_at = @now${due}${setReason} WHERE queue_id = @id AND state IN (${from})`);
  const all = db.prepare(`UPDATE recipient SET state = '${t.to}', updated_at = @now${due}${setReason} WHERE state IN (${from})`);
  const run = db.transaction((ids: string[] | undefined, now: number, reason: string) => {
    const params = (id?: string) => ({ now, ...(id ? { id } : {}), ...(transition === 'hold' ? { reason } : {}) });
    if (!ids) return all.run(params()).changes;
    let n = 0;
    for (const id of ids) n += one.run(params(id)).changes;
    return n;
  });
  return (ids: string[] | undefined, now: number, reason = '') => run.immediate(ids, now, reason);
}

/** Release held rows by the start of their reason (`sendwell queue resume` releases the flood brake's holds). */
export function releaseHeldOp(db: Database) {
  const stmt = db.prepare(`UPDATE recipient SET state = 'queued', next_attempt_at = ?, updated_at = ? WHERE state = 'held' AND substr(last_reason, 1, ?) = ?`);
  return (prefix: string, now: number) => stmt.run(now, now, prefix.length, prefix).changes;
}

import type { Database } from 'better-sqlite3';

/**
 * The flood brake's reads at a cost that does not grow with the window.
 * Counting the submitter's messages in the window is an index scan of up to
 * `atMost` entries per submission (with `limits.flood.messages` set high, of
 * every message in the window: a 3 s enqueue benchmark spent more time
 * counting than committing). Instead the connection keeps, per submitter
 * asked about, the creation times of its newest `atMost` messages since the
 * window start, and reads only the message rows added since its last look
 * (rowid above the highest one seen: its own inserts and other processes'
 * alike), in the snapshot of the caller's transaction, or in a read
 * transaction of its own. floodReached() does not even read those while
 * they could not reach the limit.
 *
 * This relies on message rows being added, never deleted or renumbered (the
 * code deletes none: purging clears `raw`), and checks what it cheaply can:
 * the highest row seen must still be the same message, else (an insert seen
 * by a transaction that was then rolled back, VACUUM) everything is counted
 * afresh. The answers equal those of read.ts's SQL count in every case;
 * flood.test.ts compares them.
 */
export function floodOps(db: Database): {
  countSubmitted: (submitter: string, since: number, atMost?: number) => number;
  floodReached: (submitter: string, since: number, limit: number) => boolean;
} {
  // LIMIT takes a literal or CAST(? AS INTEGER): with a bare `LIMIT ?` SQLite (3.5x) plans with
  // the bound value and prepares the statement again on every run (4-15 µs each here).
  const PAGE = 1000;
  // Rows as arrays [rowid, id, submitter, created_at], cheaper than objects: with several
  // processes submitting, each reads every other one's rows.
  type Row = [number, string, string, number];
  const newRows = db
    .prepare<[number], Row>(`SELECT rowid, id, submitter, created_at FROM message WHERE rowid >= ? ORDER BY rowid LIMIT ${PAGE}`)
    .raw(true) as unknown as { all(from: number): Row[] };
  const last = db.prepare<[], { r: number; id: string; submitter: string; created_at: number }>(
    'SELECT rowid AS r, id, submitter, created_at FROM message ORDER BY rowid DESC LIMIT 1',
  );
  const newest = db.prepare<[string, number, number], { created_at: number }>(
    'SELECT created_at FROM message WHERE submitter = ? AND created_at >= ? ORDER BY created_at DESC LIMIT CAST(? AS INTEGER)',
  );

  interface Recent {
    /** Ascending creation times from `head` on: the submitter's newest `cap` messages created at or after `since`. */
    times: number[];
    head: number;
    cap: number;
    since: number;
  }
  let seen: { r: number; id: string; submitter: string; createdAt: number } | undefined;
  let recent = new Map<string, Recent>();

  const add = (rec: Recent, t: number): void => {
    if (t < rec.since) return;
    const { times } = rec;
    if (times.length === rec.head || t >= times[times.length - 1]!) times.push(t);
    else {
      // Another process's clock read a little earlier: keep the order.
      let lo = rec.head;
      let hi = times.length;
      while (lo < hi) {
        const mid = (lo + hi) >>> 1;
        if (times[mid]! <= t) lo = mid + 1;
        else hi = mid;
      }
      times.splice(lo, 0, t);
    }
    if (times.length - rec.head > rec.cap) rec.head++;
  };

  const trim = (rec: Recent, since: number): void => {
    const { times } = rec;
    while (rec.head < times.length && times[rec.head]! < since) rec.head++;
    rec.since = since;
    if (rec.head > 1024 && rec.head * 2 > times.length) {
      rec.times = times.slice(rec.head);
      rec.head = 0;
    }
  };

  /** Bring the cache up to the snapshot being read: the rows added since the last look, or everything afresh. */
  const catchUp = (): void => {
    if (seen) {
      // The first row must be the highest one seen before (none seen: the table was empty).
      const rows = newRows.all(Math.max(seen.r, 1));
      const first = rows[0];
      const ok = seen.r === 0 || (first !== undefined && first[0] === seen.r && first[1] === seen.id && first[2] === seen.submitter && first[3] === seen.createdAt);
      for (let page = rows, from = seen.r === 0 ? 0 : 1; ok; ) {
        for (let i = from; i < page.length; i++) {
          const rec = recent.get(page[i]![2]);
          if (rec) add(rec, page[i]![3]);
        }
        const top = page[page.length - 1];
        if (top) seen = { r: top[0], id: top[1], submitter: top[2], createdAt: top[3] };
        if (page.length < PAGE) return;
        // More than a page was added since (another process was busy): the next page, from after this one.
        page = newRows.all(seen.r + 1);
        from = 0;
      }
    }
    // First call, or the highest row seen is gone or another: count afresh.
    recent = new Map();
    const top = last.get();
    seen = top ? { r: top.r, id: top.id, submitter: top.submitter, createdAt: top.created_at } : { r: 0, id: '', submitter: '', createdAt: 0 };
  };

  const count = (submitter: string, since: number, atMost: number): number => {
    catchUp();
    let rec = recent.get(submitter);
    if (rec && (since < rec.since || atMost > rec.cap)) rec = undefined;
    if (!rec) {
      if (recent.size >= 1024) recent.clear();
      const times = newest.all(submitter, since, Math.min(atMost, Number.MAX_SAFE_INTEGER)).map((row) => row.created_at).reverse();
      rec = { times, head: 0, cap: atMost, since };
      recent.set(submitter, rec);
    } else trim(rec, since);
    return Math.min(rec.times.length - rec.head, atMost);
  };

  /**
   * count() >= limit, without reading the rows added since the last look while
   * they cannot reach the limit: the submitter's messages up to the highest row
   * seen, plus as many as rows were added since (at most the highest rowid now
   * minus the one seen), is at least the count. With 8 processes submitting,
   * each would otherwise read the other 7's rows for every submission of its own.
   */
  const quick = db
    .prepare<[number], [string, string, number, number]>('SELECT id, submitter, created_at, (SELECT max(rowid) FROM message) FROM message WHERE rowid = ?')
    .raw(true) as unknown as { get(r: number): [string, string, number, number] | undefined };
  const reached = (submitter: string, since: number, limit: number): boolean => {
    const rec = seen && seen.r > 0 ? recent.get(submitter) : undefined;
    if (rec && seen && since >= rec.since && limit <= rec.cap) {
      const row = quick.get(seen.r);
      // The highest row seen is still there, the same message: the cache is good up to it.
      if (row && row[0] === seen.id && row[1] === seen.submitter && row[2] === seen.createdAt) {
        trim(rec, since);
        if (rec.times.length - rec.head + (row[3] - seen.r) < limit) return false;
      }
    }
    return count(submitter, since, limit) >= limit;
  };

  // The reads need one snapshot: the caller's transaction, or a read transaction of their own.
  // A failure leaves the cache unsure of what it has seen: it starts afresh next time.
  const countInRead = db.transaction(count);
  const reachedInRead = db.transaction(reached);
  const guard = <R>(fn: () => R): R => {
    try {
      return fn();
    } catch (err) {
      seen = undefined;
      throw err;
    }
  };
  return {
    countSubmitted: (submitter, since, atMost = Number.MAX_SAFE_INTEGER) =>
      guard(() => (db.inTransaction ? count(submitter, since, atMost) : countInRead(submitter, since, atMost))),
    floodReached: (submitter, since, limit) => guard(() => (db.inTransaction ? reached(submitter, since, limit) : reachedInRead(submitter, since, limit))),
  };
}

import type { Database } from 'better-sqlite3';

interface Bucket {
  key: string;
  capacity: number;
  refillPerMs: number;
}

/**
 * Token buckets in the database, so every process on the host shares them.
 * Each request takes one token from every bucket it names, all or nothing
 * (the wait is for the scarcest one). A whole claim round is one transaction:
 * one fsync, however many recipients. A bucket starts full (burst = capacity).
 */
export function takeTokensOp(db: Database): (requests: Bucket[][], now: number) => Array<{ waitMs: number; key?: string }> {
  const get = db.prepare<[string], { tokens: number; updated_at: number }>('SELECT tokens, updated_at FROM bucket WHERE key = ?');
  const put = db.prepare('INSERT INTO bucket (key, tokens, updated_at) VALUES (?, ?, ?) ON CONFLICT(key) DO UPDATE SET tokens = excluded.tokens, updated_at = excluded.updated_at');
  const run = db.transaction((requests: Bucket[][], now: number) => {
    const level = new Map<string, number>();
    const tokensOf = (b: Bucket): number => {
      let t = level.get(b.key);
      if (t === undefined) {
        const row = get.get(b.key);
        t = row ? Math.min(b.capacity, row.tokens + (now - row.updated_at) * b.refillPerMs) : b.capacity;
        level.set(b.key, t);
      }
      return t;
    };
    const out = requests.map((buckets) => {
      let waitMs = 0;
      let key: string | undefined;
      for (const b of buckets) {
        const t = tokensOf(b);
        const w = t < 1 ? Math.ceil((1 - t) / b.refillPerMs - 1e-6) : 0;
        if (w > waitMs) [waitMs, key] = [w, b.key];
      }
      if (key !== undefined) return { waitMs, key };
      for (const b of buckets) level.set(b.key, tokensOf(b) - 1);
      return { waitMs: 0 };
    });
    for (const [key, tokens] of level) put.run(key, tokens, now);
    return out;
  });
  return (requests, now) => (requests.every((r) => r.length === 0) ? requests.map(() => ({ waitMs: 0 })) : run.immediate(requests, now));
}

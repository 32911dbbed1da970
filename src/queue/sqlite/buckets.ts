import type { Database } from 'better-sqlite3';

interface Bucket {
  key: string;
  capacity: number;
  refillPerMs: number;
}

/**
 * Token buckets in the database, so every process on the host shares them.
 * All-or-nothing: one token from every bucket, or none and the wait for the
 * scarcest. A bucket starts full (burst = capacity).
 */
export function takeTokensOp(db: Database): (buckets: Bucket[], now: number) => { waitMs: number; key?: string } {
  const get = db.prepare<[string], { tokens: number; updated_at: number }>('SELECT tokens, updated_at FROM bucket WHERE key = ?');
  const put = db.prepare('INSERT INTO bucket (key, tokens, updated_at) VALUES (?, ?, ?) ON CONFLICT(key) DO UPDATE SET tokens = excluded.tokens, updated_at = excluded.updated_at');
  const run = db.transaction((buckets: Bucket[], now: number) => {
    const levels = buckets.map((b) => {
      const row = get.get(b.key);
      const tokens = row ? Math.min(b.capacity, row.tokens + (now - row.updated_at) * b.refillPerMs) : b.capacity;
      return { b, tokens };
    });
    let waitMs = 0;
    let key: string | undefined;
    for (const { b, tokens } of levels) {
      const w = tokens < 1 ? Math.ceil((1 - tokens) / b.refillPerMs - 1e-6) : 0;
      if (w > waitMs) [waitMs, key] = [w, b.key];
    }
    if (key !== undefined) return { waitMs, key };
    for (const { b, tokens } of levels) put.run(b.key, tokens - 1, now);
    return { waitMs: 0 };
  });
  return (buckets, now) => (buckets.length === 0 ? { waitMs: 0 } : run.immediate(buckets, now));
}

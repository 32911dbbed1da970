import type { Database } from 'better-sqlite3';

/**
 * contentRecipients() for bulk detection (R1), read on every submission with
 * a content hash. As read.ts's, but `LIMIT CAST(? AS INTEGER)`: with a bare
 * `LIMIT ?` SQLite plans with the bound value and prepares the statement again
 * on every run (~10 µs of a ~300 µs submission here).
 */
export function contentRecipientsOp(db: Database): (contentHash: string, since: number, atMost: number) => string[] {
  const stmt = db.prepare<[string, number, number], { address: string }>(
    'SELECT address FROM content_recipient WHERE content_hash = ? AND last_at >= ? LIMIT CAST(? AS INTEGER)',
  );
  return (hash, since, atMost) => stmt.all(hash, since, atMost).map((r) => r.address);
}

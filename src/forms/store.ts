/**
 * The forms' own tables in the state database (queue.db): every submission
 * with its verdict (the review list), rate-limit counters, and the replay
 * store of spent tokens and proof-of-work challenges. Created here with
 * IF NOT EXISTS, apart from the queue's numbered migrations.
 */
import { randomBytes } from 'node:crypto';
import type Sqlite from 'better-sqlite3';
import { openDatabase } from '../queue/sqlite/index.js';

export type Verdict = 'accepted' | 'refused' | 'quarantined';

export interface SubmissionRow {
  id: string;
  form: string;
  receivedAt: number;
  ip: string;
  userAgent: string | null;
  verdict: Verdict;
  score: number;
  reasons: string[];
  fields: Record<string, string>;
  queueId: string | null;
  receipt: string | null;
}


interface Row {
  id: string;
  form: string;
  received_at: number;
  ip: string;
  user_agent: string | null;
  verdict: Verdict;
  score: number;
  reasons: string;
  fields: string;
  queue_id: string | null;
  receipt: string | null;
}

const fromRow = (r: Row): SubmissionRow => ({
  id: r.id,
  form: r.form,
  receivedAt: r.received_at,
  ip: r.ip,
  userAgent: r.user_agent,
  verdict: r.verdict,
  score: r.score,
  reasons: JSON.parse(r.reasons) as string[],
  fields: JSON.parse(r.fields) as Record<string, string>,
  queueId: r.queue_id,
  receipt: r.receipt,
});

export class FormStore {
  private readonly db: Sqlite.Database;
  private lastPrune = 0;

  constructor(stateDir: string) {
    // Tables: migration 5 (queue/sqlite/schema.ts).
    this.db = openDatabase(stateDir);
  }

  /** Count one event under `key` in a fixed window; returns the count including this one and when the window ends. */
  hit(key: string, windowMs: number, now: number): { count: number; resetAt: number } {
    return this.db
      .transaction(() => {
        const row = this.db.prepare('SELECT window_start, count FROM form_rate WHERE key = ?').get(key) as { window_start: number; count: number } | undefined;
        if (!row || now - row.window_start >= windowMs) {
          this.db.prepare('INSERT OR REPLACE INTO form_rate (key, window_start, count) VALUES (?, ?, 1)').run(key, now);
          return { count: 1, resetAt: now + windowMs };
        }
        this.db.prepare('UPDATE form_rate SET count = count + 1 WHERE key = ?').run(key);
        return { count: row.count + 1, resetAt: row.window_start + windowMs };
      })
      .immediate();
  }

  /** Mark a token or challenge as used; false when it was used before (a replay). */
  spend(id: string, expiresAt: number): boolean {
    return this.db.prepare('INSERT OR IGNORE INTO form_spent (id, expires_at) VALUES (?, ?)').run(id, expiresAt).changes === 1;
  }

  record(s: Omit<SubmissionRow, 'id' | 'queueId' | 'receipt'>): string {
    const id = `${s.receivedAt.toString(36)}${randomBytes(6).toString('hex')}`;
    this.db
      .prepare('INSERT INTO form_submission (id, form, received_at, ip, user_agent, verdict, score, reasons, fields) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)')
      .run(id, s.form, s.receivedAt, s.ip, s.userAgent, s.verdict, s.score, JSON.stringify(s.reasons), JSON.stringify(s.fields));
    return id;
  }

  setQueueId(id: string, queueId: string): void {
    this.db.prepare('UPDATE form_submission SET queue_id = ? WHERE id = ?').run(queueId, id);
  }

  setReceipt(id: string, state: string): void {
    this.db.prepare('UPDATE form_submission SET receipt = ? WHERE id = ?').run(state, id);
  }

  get(id: string): SubmissionRow | null {
    const r = this.db.prepare('SELECT * FROM form_submission WHERE id = ?').get(id) as Row | undefined;
    return r ? fromRow(r) : null;
  }

  list(form: string, opts: { verdict?: Verdict; limit?: number } = {}): SubmissionRow[] {
    const rows = opts.verdict
      ? this.db.prepare('SELECT * FROM form_submission WHERE form = ? AND verdict = ? ORDER BY received_at DESC, id DESC LIMIT ?').all(form, opts.verdict, opts.limit ?? 1000)
      : this.db.prepare('SELECT * FROM form_submission WHERE form = ? ORDER BY received_at DESC, id DESC LIMIT ?').all(form, opts.limit ?? 1000);
    return (rows as Row[]).map(fromRow);
  }

  /** Drop expired replay entries and counters, and submissions past their form's retention; at most once a minute. */
  prune(now: number, retentionMs: Record<string, number>): void {
    if (now - this.lastPrune < 60_000) return;
    this.lastPrune = now;
    this.db.prepare('DELETE FROM form_spent WHERE expires_at < ?').run(now);
    this.db.prepare('DELETE FROM form_rate WHERE window_start < ?').run(now - 2 * 86_400_000);
    for (const [form, ms] of Object.entries(retentionMs)) this.db.prepare('DELETE FROM form_submission WHERE form = ? AND received_at < ?').run(form, now - ms);
  }

  close(): void {
    this.db.close();
  }
}

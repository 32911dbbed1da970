import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import Sqlite from 'better-sqlite3';
import fc from 'fast-check';
import type { QueueStore } from '../store.js';
import { DB_FILE, openSqliteStore } from './index.js';

const T0 = Date.UTC(2026, 11, 4, 12, 0, 0);

/** The count as read.ts's SQL has it, on a connection of its own. */
function sqlCount(dir: string): (submitter: string, since: number, atMost: number) => number {
  const db = new Sqlite(join(dir, DB_FILE), { readonly: true });
  const stmt = db.prepare<[string, number, number], { n: number }>('SELECT COUNT(*) AS n FROM (SELECT 1 FROM message WHERE submitter = ? AND created_at >= ? LIMIT ?)');
  return (submitter, since, atMost) => stmt.get(submitter, since, atMost)!.n;
}

const enqueue = (s: QueueStore, submitter: string, at: number) =>
  s.enqueue({ raw: Buffer.from(`Subject: ${at}\r\n\r\nx\r\n`), messageId: `<${at}@example.test>`, envelopeFrom: 'a@example.test', recipients: ['b@example.test'], submitter }, at);

type Op =
  | { kind: 'enqueue'; store: 0 | 1; submitter: string; dt: number }
  | { kind: 'count'; store: 0 | 1; submitter: string; back: number; atMost: number }
  | { kind: 'reached'; store: 0 | 1; submitter: string; limit: number }
  | { kind: 'rolled-back'; store: 0 | 1; submitter: string; dt: number; countFor: string };

const submitters = ['cron', 'web', 'smtp:127.0.0.1'];
const op: fc.Arbitrary<Op> = fc.oneof(
  { weight: 5, arbitrary: fc.record({ kind: fc.constant('enqueue' as const), store: fc.constantFrom(0 as const, 1 as const), submitter: fc.constantFrom(...submitters), dt: fc.integer({ min: -3, max: 10 }) }) },
  {
    weight: 4,
    arbitrary: fc.record({
      kind: fc.constant('count' as const),
      store: fc.constantFrom(0 as const, 1 as const),
      submitter: fc.constantFrom(...submitters),
      back: fc.integer({ min: 0, max: 40 }),
      atMost: fc.oneof(fc.integer({ min: 1, max: 8 }), fc.constant(Number.MAX_SAFE_INTEGER)),
    }),
  },
  {
    weight: 4,
    arbitrary: fc.record({
      kind: fc.constant('reached' as const),
      store: fc.constantFrom(0 as const, 1 as const),
      submitter: fc.constantFrom(...submitters),
      limit: fc.oneof({ weight: 4, arbitrary: fc.integer({ min: 2, max: 6 }) }, fc.constantFrom(0, 1, 1_000_000_000)),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({ kind: fc.constant('rolled-back' as const), store: fc.constantFrom(0 as const, 1 as const), submitter: fc.constantFrom(...submitters), dt: fc.integer({ min: 0, max: 5 }), countFor: fc.constantFrom(...submitters) }),
  },
);

describe('the flood brake count (flood.ts)', () => {
  it('countSubmitted and floodReached answer as the SQL count, whoever inserts (two connections), out of order, after rolled-back inserts, with any window and limit', () => {
    fc.assert(
      // The flood brake asks with one window (since = now - window), as here; counts with any.
      fc.property(fc.array(op, { maxLength: 80 }), fc.integer({ min: 0, max: 40 }), (ops, window) => {
        const dir = mkdtempSync(join(tmpdir(), 'sendwell-flood-'));
        const stores = [openSqliteStore(dir), openSqliteStore(dir)] as const;
        const expected = sqlCount(dir);
        let now = T0;
        try {
          for (const o of ops) {
            const s = stores[o.store];
            if (o.kind === 'enqueue') {
              now += Math.max(o.dt, 0);
              enqueue(s, o.submitter, now + Math.min(o.dt, 0));
            } else if (o.kind === 'count') {
              const since = now - o.back;
              assert.equal(s.countSubmitted(o.submitter, since, o.atMost), expected(o.submitter, since, o.atMost));
            } else if (o.kind === 'reached') {
              const since = now - window;
              const want = expected(o.submitter, since, o.limit) >= o.limit;
              assert.equal(s.floodReached!(o.submitter, since, o.limit), want);
              // And inside a write transaction, as a submission asks it.
              assert.equal(s.batch(() => s.floodReached!(o.submitter, since, o.limit)), want);
            } else {
              // An insert, then a count that sees it, then the transaction is rolled back.
              assert.throws(() =>
                s.batch(() => {
                  enqueue(s, o.submitter, now + o.dt);
                  s.countSubmitted(o.countFor, now - 20);
                  s.floodReached!(o.submitter, now - 20, 3);
                  throw new Error('rollback');
                }),
              );
            }
          }
          for (const s of stores) for (const sub of submitters) for (const back of [0, 5, 40]) assert.equal(s.countSubmitted(sub, now - back), expected(sub, now - back, Number.MAX_SAFE_INTEGER));
        } finally {
          for (const s of stores) s.close();
        }
      }),
      { numRuns: 100 },
    );
  });

  it('floodReached reads no rows while the ones added since cannot reach the limit, and counts them when they can', () => {
    const dir = mkdtempSync(join(tmpdir(), 'sendwell-flood-'));
    const [a, b] = [openSqliteStore(dir), openSqliteStore(dir)];
    enqueue(b, 'x', T0);
    assert.equal(a.floodReached!('x', T0, 3), false);
    enqueue(b, 'x', T0 + 1);
    assert.equal(a.floodReached!('x', T0, 3), false);
    enqueue(b, 'x', T0 + 2);
    assert.equal(a.floodReached!('x', T0, 3), true);
    assert.equal(a.floodReached!('x', T0 + 1, 3), false);
    enqueue(b, 'y', T0 + 3);
    enqueue(b, 'x', T0 + 3);
    assert.equal(a.floodReached!('x', T0 + 1, 3), true);
    assert.equal(a.batch(() => a.floodReached!('x', T0 + 2, 3)), false);
    a.close();
    b.close();
  });

  it('floodReached notices when the highest row it saw was rolled back and its rowid taken by another message', () => {
    const dir = mkdtempSync(join(tmpdir(), 'sendwell-flood-'));
    const [a, b] = [openSqliteStore(dir), openSqliteStore(dir)];
    enqueue(b, 'z', T0);
    assert.equal(a.floodReached!('z', T0, 2), false);
    assert.throws(() =>
      a.batch(() => {
        enqueue(a, 'x', T0);
        a.floodReached!('z', T0, 2); // sees the insert above, which is then rolled back
        throw new Error('rollback');
      }),
    );
    enqueue(b, 'z', T0); // the same rowid as the rolled-back message
    assert.equal(a.floodReached!('z', T0, 2), true);
    a.close();
    b.close();
  });

  it('keeps counting right over a long history and many submitters', () => {
    const dir = mkdtempSync(join(tmpdir(), 'sendwell-flood-'));
    const [a, b] = [openSqliteStore(dir), openSqliteStore(dir)];
    for (let i = 0; i < 2000; i += 100) {
      for (const [k, s] of [a, b].entries()) {
        s.batch(() => {
          for (let j = k; j < 100; j += 2) enqueue(s, 'bench', T0 + i + j);
        });
      }
    }
    assert.equal(a.countSubmitted('bench', T0, 1e9), 2000);
    assert.equal(a.countSubmitted('bench', T0, 500), 500);
    // More than a page (1,000 rows) added by another connection between two looks.
    b.batch(() => {
      for (let i = 0; i < 2500; i++) enqueue(b, i % 2 ? 'bench' : 'other', T0 + 2000 + i);
    });
    assert.equal(a.countSubmitted('bench', T0, 1e9), 3250);
    b.batch(() => {
      for (let i = 0; i < 1100; i++) enqueue(b, `user${i}`, T0 + 3000);
    });
    for (let i = 0; i < 1100; i++) assert.equal(a.countSubmitted(`user${i}`, T0), 1);
    enqueue(b, 'bench', T0 + 5000);
    assert.equal(a.countSubmitted('bench', T0 + 1000, 1e9), 1000 + 1250 + 1);
    assert.equal(a.countSubmitted('bench', T0 + 4500, 3), 1);
    assert.equal(a.countSubmitted('bench', T0 + 4499, 3), 2);
    assert.equal(a.countSubmitted('bench', T0 + 4495, 3), 3);
    a.close();
    b.close();
  });
});

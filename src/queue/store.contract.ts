/**
 * The contract every QueueStore implementation must pass (SQLite now,
 * PostgreSQL later). `open` must return a store on fresh, empty storage;
 * `reopen` a second handle on the same storage (another process's view).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { NewMessage, QueueStore } from './store.js';
import { QUEUE_ID } from './ids.js';

const T0 = Date.UTC(2026, 11, 4, 12, 0, 0);

function msg(over: Partial<NewMessage> = {}): NewMessage {
  return {
    raw: Buffer.from('Subject: x\r\n\r\nbody\r\n'),
    messageId: '<m1@example.test>',
    envelopeFrom: 'jane@example.test',
    recipients: ['a@example.test', 'b@example.test'],
    submitter: 'test',
    ...over,
  };
}

export function storeContract(name: string, fresh: () => { open: () => QueueStore; reopen: () => QueueStore }): void {
  describe(`QueueStore contract: ${name}`, () => {
    it('stores the body once and one row per recipient, all queued and due', () => {
      const s = fresh().open();
      const { id, existing } = s.enqueue(msg(), T0);
      assert.match(id, QUEUE_ID);
      assert.equal(existing, false);
      assert.equal(s.body(id)?.toString(), 'Subject: x\r\n\r\nbody\r\n');
      const m = s.message(id)!;
      assert.equal(m.size, 20);
      assert.equal(m.messageId, '<m1@example.test>');
      assert.deepEqual(s.recipients(id).map((r) => [r.address, r.domain, r.state, r.attempts]), [
        ['a@example.test', 'example.test', 'queued', 0],
        ['b@example.test', 'example.test', 'queued', 0],
      ]);
      assert.equal(s.nextDue(), T0);
      const first = s.recipients(id)[0]!;
      assert.deepEqual(s.recipientById(first.id), first);
      assert.equal(s.recipientById(999_999), null);
      assert.deepEqual(s.findByMessageId('<m1@example.test>').map((x) => x.id), [id]);
      assert.deepEqual(s.countByState(), { queued: 2, active: 0, deferred: 0, held: 0, delivered: 0, bounced: 0, expired: 0, cancelled: 0, suppressed: 0 });
      s.close();
    });

    it('returns the existing message for a repeated idempotency key', () => {
      const s = fresh().open();
      const a = s.enqueue(msg({ idempotencyKey: 'order-42' }), T0);
      const b = s.enqueue(msg({ idempotencyKey: 'order-42', messageId: '<other@example.test>' }), T0 + 1);
      assert.equal(b.id, a.id);
      assert.equal(b.existing, true);
      assert.equal(s.pending().length, 1);
      s.close();
    });

    it('claims with a lease, counts the attempt, and fences completions on the owner', () => {
      const s = fresh().open();
      const { id } = s.enqueue(msg(), T0);
      const claimed = s.claim({ owner: 'w1', now: T0, leaseMs: 60_000, limit: 10 });
      assert.equal(claimed.length, 2);
      assert.ok(claimed.every((r) => r.state === 'active' && r.leaseOwner === 'w1' && r.attempts === 1 && r.leaseUntil === T0 + 60_000));
      assert.equal(s.claim({ owner: 'w2', now: T0, leaseMs: 60_000, limit: 10 }).length, 0, 'leased rows are not claimed twice');
      const wrong = s.complete('w2', T0 + 1, [{ recipientId: claimed[0]!.id, outcome: { kind: 'delivered', relay: 'r', code: 250 } }]);
      assert.equal(wrong, 0, 'another owner cannot complete');
      const ok = s.complete('w1', T0 + 5, [
        { recipientId: claimed[0]!.id, outcome: { kind: 'delivered', relay: 'relay.example.test[127.0.0.1]:25', code: 250, dsn: '2.0.0', reply: '250 2.0.0 Ok: queued as ABC', relayQueueId: 'ABC' } },
        { recipientId: claimed[1]!.id, outcome: { kind: 'bounced', relay: 'relay.example.test[127.0.0.1]:25', code: 550, dsn: '5.1.1', reply: '550 5.1.1 user unknown' } },
      ]);
      assert.equal(ok, 2);
      const rows = s.recipients(id);
      assert.deepEqual(rows.map((r) => [r.state, r.relayQueueId, r.lastDsn]), [['delivered', 'ABC', '2.0.0'], ['bounced', null, '5.1.1']]);
      assert.ok(rows.every((r) => r.leaseOwner === null));
      const attempts = s.attempts(id);
      assert.deepEqual(attempts.map((a) => [a.address, a.status, a.dsn, a.delayMs]), [['a@example.test', 'sent', '2.0.0', 5], ['b@example.test', 'bounced', '5.1.1', 5]]);
      // Completing again (a stale worker) changes nothing.
      assert.equal(s.complete('w1', T0 + 6, [{ recipientId: claimed[0]!.id, outcome: { kind: 'bounced', relay: 'r', reply: 'x' } }]), 0);
      s.close();
    });

    it('claims one message on its own for the immediate attempt', () => {
      const s = fresh().open();
      const a = s.enqueue(msg(), T0);
      const b = s.enqueue(msg({ messageId: '<m2@example.test>' }), T0);
      const rows = s.claim({ owner: 'w', now: T0, leaseMs: 1000, limit: 10, queueId: b.id });
      assert.deepEqual([...new Set(rows.map((r) => r.queueId))], [b.id]);
      assert.equal(rows.length, 2);
      assert.equal(s.claim({ owner: 'w', now: T0, leaseMs: 1000, limit: 10 }).every((r) => r.queueId === a.id), true);
      s.close();
    });

    it('runs the policy decision inside the insert, applies its holds, and skips it for a repeat', () => {
      const s = fresh().open();
      let calls = 0;
      let before = 0;
      const decide = () => {
        calls++;
        // The decision reads in the insert's transaction: everything committed before it, not itself.
        assert.equal(s.countSubmitted('test', T0), before);
        return { holdReason: 'flood brake: test', initialStates: { 'b@example.test': { state: 'suppressed' as const, reason: 'bounced' } } };
      };
      const first = s.enqueue(msg({ idempotencyKey: 'k1' }), T0, decide);
      assert.deepEqual(s.recipients(first.id).map((r) => [r.address, r.state, r.lastReason]), [
        ['a@example.test', 'held', 'flood brake: test'],
        ['b@example.test', 'suppressed', 'bounced'],
      ]);
      assert.deepEqual(s.enqueue(msg({ idempotencyKey: 'k1' }), T0, decide), { id: first.id, existing: true });
      assert.equal(calls, 1);
      assert.equal(s.recipients(s.enqueue(msg(), T0, () => ({})).id)[0]!.state, 'queued');
      before = 2;
      assert.equal(s.recipients(s.enqueue(msg(), T0, decide).id)[0]!.state, 'held');
      assert.equal(calls, 2);
      s.close();
    });

    it('counts recent submissions and finds repeated identical mail', () => {
      const s = fresh().open();
      s.enqueue(msg({ submitter: 'cron', contentHash: 'h1', recipients: ['a@example.test'] }), T0);
      s.enqueue(msg({ submitter: 'cron', contentHash: 'h1', recipients: ['b@example.test'] }), T0 + 1000);
      s.enqueue(msg({ submitter: 'web', contentHash: 'h2', recipients: ['a@example.test'] }), T0 + 2000);
      assert.equal(s.countSubmitted('cron', T0), 2);
      assert.equal(s.countSubmitted('cron', T0 + 500), 1);
      assert.deepEqual(s.recentDuplicates('h1', ['a@example.test', 'c@example.test'], T0), ['a@example.test']);
      assert.deepEqual(s.recentDuplicates('h1', ['a@example.test'], T0 + 1), []);
      s.close();
    });

    it('counts distinct recipients of the same content, leaving out list mail (bulk detection)', () => {
      const s = fresh().open();
      s.enqueue(msg({ contentHash: 'h1', recipients: ['a@example.test', 'b@example.test'] }), T0);
      s.enqueue(msg({ contentHash: 'h1', recipients: ['b@example.test', 'c@example.test'] }), T0 + 1000);
      s.enqueue(msg({ contentHash: 'h1', list: 'newsletter', recipients: ['d@example.test'] }), T0 + 1000);
      s.enqueue(msg({ contentHash: 'h2', recipients: ['e@example.test'] }), T0 + 1000);
      assert.deepEqual(s.contentRecipients('h1', T0, 10).sort(), ['a@example.test', 'b@example.test', 'c@example.test']);
      assert.deepEqual(s.contentRecipients('h1', T0 + 1, 10).sort(), ['b@example.test', 'c@example.test']);
      assert.equal(s.contentRecipients('h1', T0, 2).length, 2);
      s.close();
    });

    it('defers until the next attempt is due; throttling does not burn an attempt', () => {
      const s = fresh().open();
      const { id } = s.enqueue(msg({ recipients: ['a@example.test'] }), T0);
      const [r] = s.claim({ owner: 'w', now: T0, leaseMs: 1000, limit: 1 });
      s.complete('w', T0, [{ recipientId: r!.id, outcome: { kind: 'deferred', nextAttemptAt: T0 + 300_000, countAttempt: true, code: 451, dsn: '4.3.0', reply: '451 4.3.0 try later', relay: 'x' } }]);
      assert.equal(s.recipients(id)[0]!.state, 'deferred');
      assert.equal(s.claim({ owner: 'w', now: T0 + 299_999, leaseMs: 1000, limit: 1 }).length, 0);
      assert.equal(s.nextDue(), T0 + 300_000);
      const [again] = s.claim({ owner: 'w', now: T0 + 300_000, leaseMs: 1000, limit: 1 });
      assert.equal(again!.attempts, 2);
      s.complete('w', T0 + 300_000, [{ recipientId: again!.id, outcome: { kind: 'deferred', nextAttemptAt: T0 + 400_000, countAttempt: false, code: 421, reply: '421 4.7.0 slow down', relay: 'x' } }]);
      assert.equal(s.recipients(id)[0]!.attempts, 1, 'a throttled try is not counted');
      s.close();
    });

    it('recovers its own active rows on startup and reaps expired leases of others', () => {
      const h = fresh();
      const s = h.open();
      s.enqueue(msg(), T0);
      const mine = s.claim({ owner: 'me', now: T0, leaseMs: 600_000, limit: 1 });
      const theirs = s.claim({ owner: 'other', now: T0, leaseMs: 1000, limit: 1 });
      assert.equal(mine.length + theirs.length, 2);
      assert.equal(s.recoverOwn('me', T0 + 10), 1);
      assert.equal(s.reapExpired(T0 + 500), 0, 'an unexpired lease is left alone');
      const other = h.reopen();
      assert.equal(other.reapExpired(T0 + 1001), 1);
      const states = s.recipients(mine[0]!.queueId).map((r) => r.state);
      assert.deepEqual(states, ['queued', 'queued']);
      // The reaped owner's late completion is fenced off.
      assert.equal(s.complete('other', T0 + 2000, [{ recipientId: theirs[0]!.id, outcome: { kind: 'delivered', relay: 'x' } }]), 0);
      other.close();
      s.close();
    });

    it('holds, releases, retries and cancels', () => {
      const s = fresh().open();
      const { id } = s.enqueue(msg(), T0);
      assert.equal(s.hold([id], 'held by the administrator', T0), 2);
      assert.equal(s.claim({ owner: 'w', now: T0, leaseMs: 1000, limit: 10 }).length, 0, 'held mail is not claimed');
      assert.equal(s.recipients(id)[0]!.lastReason, 'held by the administrator');
      const flood = s.enqueue(msg({ messageId: '<f@example.test>', holdReason: 'flood brake: cron' }), T0);
      assert.equal(s.releaseHeld('flood brake', T0 + 1), 2, 'only the flood-brake holds');
      assert.deepEqual(s.recipients(flood.id).map((r) => r.state), ['queued', 'queued']);
      assert.equal(s.release(undefined, T0 + 1), 2);
      assert.equal(s.cancel([id, flood.id], T0 + 2), 4);
      assert.deepEqual(s.recipients(id).map((r) => r.state), ['cancelled', 'cancelled']);
      assert.equal(s.pending().length, 0);
      const b = s.enqueue(msg({ messageId: '<m2@example.test>' }), T0);
      const [r] = s.claim({ owner: 'w', now: T0, leaseMs: 1000, limit: 1 });
      s.complete('w', T0, [{ recipientId: r!.id, outcome: { kind: 'deferred', nextAttemptAt: T0 + 3_600_000, countAttempt: true, reply: 'x', relay: 'x' } }]);
      assert.equal(s.retry([b.id], T0 + 10), 1);
      assert.equal(s.claim({ owner: 'w', now: T0 + 10, leaseMs: 1000, limit: 5 }).length, 2);
      s.close();
    });

    it('starts recipients suppressed or held when told, and holds whole messages', () => {
      const s = fresh().open();
      const { id } = s.enqueue(msg({ initialStates: { 'b@example.test': { state: 'suppressed', reason: 'hard bounce on 2026-11-30' } } }), T0);
      assert.deepEqual(s.recipients(id).map((r) => r.state), ['queued', 'suppressed']);
      const h = s.enqueue(msg({ messageId: '<h@example.test>', holdReason: 'flood' }), T0);
      assert.deepEqual(s.recipients(h.id).map((r) => r.state), ['held', 'held']);
      s.close();
    });

    it('amends a delivered recipient to bounced and asks for one DSN per message', () => {
      const s = fresh().open();
      const { id } = s.enqueue(msg(), T0);
      const rows = s.claim({ owner: 'w', now: T0, leaseMs: 1000, limit: 10 });
      s.complete('w', T0, rows.map((r) => ({ recipientId: r.id, outcome: { kind: 'delivered' as const, relay: 'x', code: 250 } })));
      assert.equal(s.needingDsn().length, 0);
      assert.equal(s.amendBounced(id, 'b@example.test', '550 5.1.1 mailbox unknown', '5.1.1', T0 + 60_000), true);
      assert.equal(s.amendBounced(id, 'b@example.test', 'again', '5.1.1', T0 + 60_001), false, 'only a delivered recipient is amended');
      assert.deepEqual(s.recipients(id).map((r) => r.state), ['delivered', 'bounced']);
      assert.deepEqual(s.needingDsn().map((m) => m.id), [id]);
      s.markDsnSent(id);
      assert.equal(s.needingDsn().length, 0);
      assert.equal(s.attempts(id).at(-1)!.status, 'bounced');
    });

    it('keeps the submitter\'s DSN parameters with the message (null when not given) and finds messages by their ENVID', () => {
      const s = fresh().open();
      const own = s.enqueue(msg({ dsnNotify: ['SUCCESS', 'DELAY'], dsnRet: 'HDRS', dsnEnvid: 'order-42' }), T0);
      const plain = s.enqueue(msg({ messageId: '<p@example.test>' }), T0 + 1);
      const m = s.message(own.id)!;
      assert.deepEqual([m.dsnNotify, m.dsnRet, m.dsnEnvid, m.delayWarned], [['SUCCESS', 'DELAY'], 'HDRS', 'order-42', false]);
      const d = s.forDeliveryMany([own.id], Number.MAX_SAFE_INTEGER).get(own.id)!;
      assert.deepEqual([d.dsnNotify, d.dsnRet, d.dsnEnvid], [['SUCCESS', 'DELAY'], 'HDRS', 'order-42']);
      const p = s.message(plain.id)!;
      assert.deepEqual([p.dsnNotify, p.dsnRet, p.dsnEnvid], [null, null, null]);
      assert.deepEqual(s.forDeliveryMany([plain.id], Number.MAX_SAFE_INTEGER).get(plain.id)!.dsnNotify, null);
      assert.deepEqual(s.message(s.enqueue(msg({ messageId: '<n@example.test>', dsnNotify: ['NEVER'] }), T0).id)!.dsnNotify, ['NEVER']);
      const again = s.enqueue(msg({ messageId: '<a@example.test>', dsnEnvid: 'order-42' }), T0 + 2);
      assert.deepEqual(s.findByEnvid('order-42').map((x) => x.id), [own.id, again.id], 'oldest first');
      assert.deepEqual(s.findByEnvid(plain.id), [], 'a queue ID is not a submitter\'s ENVID');
      s.close();
    });

    it('finds messages for a delay warning: old enough, a sender, recipients still waiting, not warned yet', () => {
      const s = fresh().open();
      const old = s.enqueue(msg(), T0);
      const nullSender = s.enqueue(msg({ messageId: '<n@example.test>', envelopeFrom: '' }), T0);
      const young = s.enqueue(msg({ messageId: '<y@example.test>' }), T0 + 3_600_000);
      const done = s.enqueue(msg({ messageId: '<d@example.test>', recipients: ['d@example.test'] }), T0);
      const held = s.enqueue(msg({ messageId: '<h@example.test>', holdReason: 'flood' }), T0);
      // `old`: one recipient delivered, one deferred; `done`: delivered.
      const rows = s.claim({ owner: 'w', now: T0, leaseMs: 1000, limit: 100 }).filter((r) => r.queueId === old.id || r.queueId === done.id);
      s.complete('w', T0, rows.map((r) => ({
        recipientId: r.id,
        outcome: r.address === 'b@example.test' ? { kind: 'deferred' as const, nextAttemptAt: T0 + 300_000, countAttempt: true, reply: '451 4.3.0 try later', relay: 'x', dsn: '4.3.0' } : { kind: 'delivered' as const, relay: 'x' },
      })));
      s.reapExpired(T0 + 10_000);
      const due = s.needingDelayWarning(T0 + 1, 10);
      assert.deepEqual(due.map((d) => d.message.id), [old.id], 'not the null sender, the young, the delivered or the held one');
      assert.deepEqual(due[0]!.waiting.map((r) => [r.address, r.state]), [['b@example.test', 'deferred']]);
      assert.deepEqual(s.needingDelayWarning(T0 + 3_600_000, 10).map((d) => d.message.id).sort(), [old.id, young.id].sort());
      assert.equal(s.needingDelayWarning(T0 + 3_600_000, 1).length, 1, 'limit');
      s.markDelayWarned(old.id);
      assert.equal(s.message(old.id)!.delayWarned, true);
      assert.deepEqual(s.needingDelayWarning(T0 + 3_600_000, 10).map((d) => d.message.id), [young.id], 'never twice');
      assert.ok(nullSender.id && held.id);
      s.close();
    });

    it('purges bodies of fully delivered messages after the retention', () => {
      const s = fresh().open();
      const done = s.enqueue(msg({ recipients: ['a@example.test'] }), T0);
      const open = s.enqueue(msg({ recipients: ['a@example.test'], messageId: '<o@example.test>' }), T0);
      const [r] = s.claim({ owner: 'w', now: T0, leaseMs: 1000, limit: 1 });
      assert.equal(r!.queueId, done.id);
      s.complete('w', T0, [{ recipientId: r!.id, outcome: { kind: 'delivered', relay: 'x' } }]);
      assert.equal(s.purgeBodies(T0), 0, 'not older than the cut-off yet');
      assert.equal(s.purgeBodies(T0 + 1), 1);
      assert.equal(s.body(done.id), null);
      assert.ok(s.body(open.id));
      s.close();
    });

    it('shares token buckets between handles, all or nothing', () => {
      const h = fresh();
      const a = h.open();
      const b = h.reopen();
      const perHour = { key: 'rcpt:bob@example.test', capacity: 2, refillPerMs: 2 / 3_600_000 };
      const global = { key: 'global:minute', capacity: 100, refillPerMs: 100 / 60_000 };
      assert.deepEqual(a.takeTokens([[perHour, global]], T0), [{ waitMs: 0 }]);
      assert.deepEqual(b.takeTokens([[perHour, global]], T0), [{ waitMs: 0 }]);
      const refused = a.takeTokens([[perHour, global]], T0);
      assert.deepEqual(refused, [{ waitMs: 1_800_000, key: 'rcpt:bob@example.test' }], 'the third mail to one address within the hour waits half an hour');
      const many = b.takeTokens(Array.from({ length: 99 }, () => [global]), T0);
      assert.equal(many.filter((r) => r.waitMs === 0).length, 98, 'a refused take consumed nothing from the other bucket: 98 of 100 left');
      assert.ok(many[98]!.waitMs > 0, 'the global bucket is empty after 100');
      assert.deepEqual(b.takeTokens([[perHour]], T0 + 1_800_000), [{ waitMs: 0 }]);
      assert.deepEqual(b.takeTokens([[], []], T0), [{ waitMs: 0 }, { waitMs: 0 }], 'no buckets, no limit');
      a.close();
      b.close();
    });
  });
}

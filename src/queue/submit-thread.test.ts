import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { SuppressionList } from '../bounce/suppression.js';
import { SendwellError } from '../errors.js';
import { readEvents } from './maillog.js';
import { QueueService, type Submission } from './service.js';

const T0 = Date.UTC(2026, 11, 4, 12, 0, 0);

function service(flood = { messages: 3, windowMs: 60_000, duplicateWindowMs: 3_600_000 }) {
  const dir = mkdtempSync(join(tmpdir(), 'sendwell-submit-thread-'));
  const suppression = new SuppressionList(dir);
  suppression.add('gone@example.test', 'example.test', '550 5.1.1 no such user', 'bounce', T0);
  const svc = new QueueService({ stateDir: dir, relay: { url: 'smtp://127.0.0.1:9' }, clock: () => T0, flood, suppression });
  return { dir, svc };
}

const sub = (i: number, over: Partial<Submission> = {}): Submission => ({
  raw: Buffer.from(`From: jane@example.test\r\nTo: bob@example.test\r\nSubject: m${i}\r\n\r\nbody ${i}\r\n`),
  messageId: `<m${i}@example.test>`,
  envelopeFrom: 'jane@example.test',
  recipients: ['bob@example.test'],
  submitter: 'smtp:127.0.0.1',
  contentHash: `hash-${i}`,
  ...over,
});

describe('QueueService.submitGrouped on the submission thread', () => {
  for (const threaded of [false, true]) {
    it(`${threaded ? 'thread' : 'event loop'}: every submission is committed, with the flood brake, duplicate hold and suppression as submit() applies them`, async () => {
      const { dir, svc } = service();
      if (threaded) await svc.startSubmitThread();
      try {
        const results = await Promise.all([
          svc.submitGrouped(sub(1)),
          svc.submitGrouped(sub(2, { recipients: ['gone@example.test', 'carol@example.test'] })),
          svc.submitGrouped(sub(3, { submitter: 'other' })),
          svc.submitGrouped(sub(4)),
          // The fourth from smtp:127.0.0.1 within the window: the flood brake holds it.
          svc.submitGrouped(sub(5)),
        ]);
        assert.equal(new Set(results.map((r) => r.queueId)).size, 5);
        assert.deepEqual(results.map((r) => r.held.length), [0, 0, 0, 0, 1]);
        assert.match(results[4]!.held[0]!, /^flood brake: smtp:127\.0\.0\.1 queued 3 messages/);
        const states = (id: string) => Object.fromEntries(svc.store.recipients(id).map((r) => [r.address, r.state]));
        assert.deepEqual(states(results[1]!.queueId), { 'gone@example.test': 'suppressed', 'carol@example.test': 'queued' });
        assert.deepEqual(states(results[4]!.queueId), { 'bob@example.test': 'held' });
        // The same content again to the same recipient: held as a duplicate.
        const dup = await svc.submitGrouped(sub(3, { submitter: 'other' }));
        assert.equal(dup.held.length, 1);
        assert.match(dup.held[0]!, /^identical message to <bob@example\.test>/);
        // An idempotent repeat returns the first message.
        const a = await svc.submitGrouped(sub(6, { submitter: 'k', idempotencyKey: 'key-1' }));
        const b = await svc.submitGrouped(sub(6, { submitter: 'k', idempotencyKey: 'key-1' }));
        assert.deepEqual([b.queueId, b.existing, a.existing], [a.queueId, true, false]);
        // The submitter's DSN parameters cross to the thread and into the queue.
        const d = await svc.submitGrouped(sub(7, { dsnNotify: ['SUCCESS', 'DELAY'], dsnRet: 'HDRS', dsnEnvid: 'env-7' }));
        const dm = svc.store.message(d.queueId)!;
        assert.deepEqual([dm.dsnNotify, dm.dsnRet, dm.dsnEnvid], [['SUCCESS', 'DELAY'], 'HDRS', 'env-7']);
        // The mail log has each new message once, after its commit.
        const events = readEvents(dir);
        assert.equal(events.filter((e) => e.event === 'enqueued').length, 8);
        assert.ok(events.some((e) => e.event === 'status' && e.to === 'gone@example.test' && e.status === 'suppressed'));
      } finally {
        await svc.close();
      }
    });
  }

  it('a failed submission is refused alone; the rest of its group is committed', async () => {
    const { svc } = service({ messages: 100, windowMs: 60_000, duplicateWindowMs: 0 });
    await svc.startSubmitThread();
    try {
      const [ok, bad] = await Promise.allSettled([svc.submitGrouped(sub(1)), svc.submitGrouped(sub(2, { messageId: null as unknown as string }))]);
      assert.equal(ok.status, 'fulfilled');
      assert.equal(bad.status, 'rejected');
      assert.ok((bad as PromiseRejectedResult).reason instanceof SendwellError);
      assert.equal(((bad as PromiseRejectedResult).reason as SendwellError).temporary, true);
      assert.equal(svc.store.recipients((ok as PromiseFulfilledResult<{ queueId: string }>).value.queueId).length, 1);
    } finally {
      await svc.close();
    }
  });

  it('if the thread dies, submissions commit on the main thread again', async () => {
    const { svc } = service({ messages: 100, windowMs: 60_000, duplicateWindowMs: 0 });
    await svc.startSubmitThread();
    const warnings: string[] = [];
    const write = process.stderr.write.bind(process.stderr);
    process.stderr.write = ((chunk: string) => (warnings.push(String(chunk)), true)) as typeof process.stderr.write;
    try {
      const first = await svc.submitGrouped(sub(1));
      await (svc as unknown as { thread: { worker: { terminate(): Promise<number> } } }).thread.worker.terminate();
      const second = await svc.submitGrouped(sub(2));
      assert.notEqual(second.queueId, first.queueId);
      assert.equal(svc.store.recipients(second.queueId).length, 1);
      assert.ok(warnings.some((w) => w.includes('the submission thread stopped')));
    } finally {
      process.stderr.write = write;
      await svc.close();
    }
  });

  it("the worker's writes wait for the group commit in flight, and go before the next group", async () => {
    const { svc } = service({ messages: 100, windowMs: 60_000, duplicateWindowMs: 0 });
    await svc.startSubmitThread();
    try {
      const thread = (svc as unknown as { thread: { whenIdle(fn: () => void): void; busy: boolean } }).thread;
      const order: string[] = [];
      thread.whenIdle(() => order.push('idle: at once'));
      const first = svc.submitGrouped(sub(1)).then(() => order.push('first acknowledged'));
      assert.equal(thread.busy, true);
      thread.whenIdle(() => order.push(`gate (busy: ${thread.busy})`));
      await first;
      assert.deepEqual(order, ['idle: at once', 'gate (busy: false)', 'first acknowledged']);
    } finally {
      await svc.close();
    }
  });

  it('a duplicate window of 0 holds nothing, even within one group', async () => {
    const { svc } = service({ messages: 100, windowMs: 60_000, duplicateWindowMs: 0 });
    await svc.startSubmitThread();
    try {
      const rs = await Promise.all([1, 2, 3].map(() => svc.submitGrouped(sub(1))));
      assert.deepEqual(rs.map((r) => r.held.length), [0, 0, 0]);
    } finally {
      await svc.close();
    }
  });
});

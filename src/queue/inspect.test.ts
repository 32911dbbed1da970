import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { formatMailq, formatShow, mailqJson } from './inspect.js';
import { formatLine, type LogEvent } from './maillog.js';
import type { AttemptRow, QueuedMessage, RecipientRow } from './store.js';

process.env.TZ = 'Europe/Berlin';
const GOLDEN = new URL('../../test/fixtures/golden/', import.meta.url);
const T0 = Date.UTC(2026, 11, 4, 16, 0, 0);

function golden(name: string, text: string): void {
  const file = new URL(name, GOLDEN);
  if (process.env.UPDATE_GOLDEN || !existsSync(file)) writeFileSync(file, text);
  assert.equal(text, readFileSync(file, 'utf8'), `${name} differs (UPDATE_GOLDEN=1 to rewrite after review)`);
}

const message: QueuedMessage = { id: '204Z57kPnYQ6WY', messageId: '<a1@example.test>', envelopeFrom: 'jane@example.test', size: 2311, createdAt: T0, submitter: 'user:jane', idempotencyKey: null, hasBody: true, dsnSent: false, list: null, dsnEnvid: null, dsnNotify: null, dsnRet: null, delayWarned: false };
const row = (over: Partial<RecipientRow>): RecipientRow => ({
  id: 1, queueId: message.id, address: 'bob@example.test', domain: 'example.test', state: 'queued', attempts: 0, nextAttemptAt: T0,
  leaseOwner: null, leaseUntil: null, lastCode: null, lastDsn: null, lastReason: null, relayQueueId: null, updatedAt: T0, ...over,
});

describe('mailq layout (T1)', () => {
  it('matches the golden file: reasons grouped, held and active marks, totals', () => {
    const entries = [
      {
        message,
        recipients: [
          row({ id: 1, address: 'bob@example.test', state: 'deferred', attempts: 2, nextAttemptAt: T0 + 20 * 60_000, lastReason: '451 4.3.0 mailbox busy' }),
          row({ id: 2, address: 'carol@example.test', state: 'deferred', attempts: 2, nextAttemptAt: T0 + 20 * 60_000, lastReason: '451 4.3.0 mailbox busy' }),
          row({ id: 3, address: 'dave@example.test', state: 'delivered' }),
        ],
      },
      { message: { ...message, id: '204Z58Kcj3m8n9', envelopeFrom: '', size: 900, createdAt: T0 + 1000 }, recipients: [row({ id: 4, state: 'held', lastReason: 'flood brake: user:jane queued 500 messages within 5 min' })] },
      { message: { ...message, id: '204Z59Qb7xT2kd', size: 100, createdAt: T0 + 2000 }, recipients: [row({ id: 5, state: 'active' })] },
    ];
    golden('mailq.txt', formatMailq(entries, T0));
    golden('mailq.jsonl', mailqJson(entries, T0));
    assert.equal(formatMailq([], T0), 'Mail queue is empty\n');
  });

  it('queue show lists recipients and every attempt', () => {
    const attempts: AttemptRow[] = [
      { recipientId: 1, queueId: message.id, address: 'bob@example.test', at: T0 + 1000, status: 'deferred', code: 451, dsn: '4.3.0', reply: '451 4.3.0 mailbox busy', relay: 'smtp://127.0.0.1:25', relayQueueId: null, delayMs: 1000 },
      { recipientId: 1, queueId: message.id, address: 'bob@example.test', at: T0 + 301_000, status: 'sent', code: 250, dsn: '2.0.0', reply: '250 2.0.0 Ok: queued as 4XkQ1', relay: 'smtp://127.0.0.1:25', relayQueueId: '4XkQ1', delayMs: 301_000 },
    ];
    const raw = Buffer.from('From: Jane <jane@example.test>\r\nSubject: Report\r\n\r\nbody\r\n');
    golden('queue-show.txt', formatShow(message, [row({ state: 'delivered', attempts: 2, lastDsn: '2.0.0', relayQueueId: '4XkQ1', lastReason: '250 2.0.0 Ok: queued as 4XkQ1' })], attempts, raw, T0));
  });

  it("queue show names the submitter's own DSN parameters, and only those", () => {
    const own = formatShow({ ...message, dsnNotify: ['SUCCESS', 'DELAY'], dsnRet: 'HDRS', dsnEnvid: 'order-42' }, [row({})], [], null, T0);
    assert.match(own, /^Category: {4}transactional\nDSN: {9}NOTIFY=SUCCESS,DELAY RET=HDRS ENVID=order-42\n/m);
    assert.doesNotMatch(formatShow({ ...message, dsnRet: 'FULL' }, [row({})], [], null, T0), /NOTIFY=|ENVID=/);
    assert.doesNotMatch(formatShow(message, [row({})], [], null, T0), /^DSN:/m);
  });
});

describe('mail log layout (T2)', () => {
  it('matches the golden file, one Postfix-shaped line per event', () => {
    const events: LogEvent[] = [
      { event: 'enqueued', time: T0, queueId: message.id, messageId: '<a1@example.test>', from: 'jane@example.test', size: 2311, nrcpt: 2, submitter: 'user:jane' },
      { event: 'attempt', time: T0 + 420, queueId: message.id, to: 'bob@example.test', relay: 'smtp://127.0.0.1:25', delay: 0.42, delays: [0.01, 0, 0, 0.41], dsn: '2.0.0', status: 'sent', reply: '250 2.0.0 Ok: queued as 4XkQ1', relayQueueId: '4XkQ1' },
      { event: 'attempt', time: T0 + 430, queueId: message.id, to: 'carol@example.test', relay: 'smtp://127.0.0.1:25', delay: 0.43, delays: [0.01, 0, 0, 0.42], dsn: '5.1.1', status: 'bounced', reply: '550 5.1.1 <carol@example.test>: user unknown' },
      { event: 'dsn', time: T0 + 440, queueId: message.id, to: 'jane@example.test', dsnQueueId: '204Z58Kcj3m8n9', failed: ['carol@example.test'] },
      { event: 'notice', time: T0 + 500, level: 'warning', text: 'relay smtp://127.0.0.1:25 asked us to slow down: 421 4.7.0 too many messages; pausing delivery for 30s' },
      { event: 'status', time: T0 + 600, queueId: message.id, status: 'hold', reason: 'sendwell queue hold' },
    ];
    golden('mail.log', events.map((e) => `${formatLine(e, 'mailhost', 4242)}\n`).join(''));
  });

  it('a delay warning is logged like Postfix logs it: sender delay notification', () => {
    const e: LogEvent = { event: 'delay', time: T0, queueId: message.id, to: 'jane@example.test', dsnQueueId: '204Z58Kcj3m8n9', delayed: ['bob@example.test', 'carol@example.test'] };
    assert.equal(formatLine(e, 'mailhost', 4242), 'Dec  4 17:00:00 mailhost sendwell/qmgr[4242]: 204Z57kPnYQ6WY: sender delay notification: 204Z58Kcj3m8n9 to=<jane@example.test> for <bob@example.test>, <carol@example.test>');
  });
});

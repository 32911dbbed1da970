import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { nullMailLog, type LogEvent, type MailLog } from '../queue/maillog.js';
import { openSqliteStore } from '../queue/sqlite/index.js';
import type { QueueStore } from '../queue/store.js';
import { ingestBounce } from './ingest.js';
import { SuppressionList } from './suppression.js';
import { verpAddress, type Verp } from './verp.js';

const T0 = Date.UTC(2026, 11, 4, 12, 0, 0);
const verp: Verp = { address: 'bounces@bounces.example.test', secret: Buffer.alloc(32, 3) };

function setup() {
  const dir = mkdtempSync(join(tmpdir(), 'sendwell-ingest-'));
  const store = openSqliteStore(dir);
  const suppression = new SuppressionList(dir);
  const events: LogEvent[] = [];
  const log: MailLog = { write: (e) => events.push(e) };
  return { store, suppression, events, log };
}

function deliver(store: QueueStore, to: string[], messageId = '<orig-1@example.test>', dsnEnvid?: string) {
  const raw = Buffer.from(`From: Jane <jane@example.test>\r\nTo: ${to.join(', ')}\r\nSubject: report\r\nMessage-ID: ${messageId}\r\n\r\nbody\r\n`);
  const { id } = store.enqueue({ raw, messageId, envelopeFrom: 'jane@example.test', recipients: to, submitter: 'test', ...(dsnEnvid ? { dsnEnvid } : {}) }, T0);
  const rows = store.claim({ owner: 'w', now: T0, leaseMs: 1000, limit: 10, queueId: id });
  store.complete('w', T0, rows.map((r) => ({ recipientId: r.id, outcome: { kind: 'delivered' as const, relay: 'x', code: 250 } })));
  return { id, rows };
}

function dsn(opts: { to: string; envid?: string; recipient: string; status: string; diagnostic: string; messageId?: string; action?: string }): Buffer {
  const b = 'dsn-boundary';
  return Buffer.from(
    [
      'From: Mail Delivery System <MAILER-DAEMON@relay.example.test>',
      `To: ${opts.to}`,
      'Subject: Undelivered Mail Returned to Sender',
      'Date: Fri, 04 Dec 2026 13:00:00 +0000',
      'Message-ID: <dsn-1@relay.example.test>',
      'Auto-Submitted: auto-replied',
      'MIME-Version: 1.0',
      `Content-Type: multipart/report; report-type=delivery-status; boundary="${b}"`,
      '',
      `--${b}`,
      'Content-Type: text/plain; charset=us-ascii',
      '',
      'Your message could not be delivered.',
      '',
      `--${b}`,
      'Content-Type: message/delivery-status',
      '',
      'Reporting-MTA: dns; relay.example.test',
      ...(opts.envid ? [`Original-Envelope-Id: ${opts.envid}`] : []),
      '',
      `Final-Recipient: rfc822; ${opts.recipient}`,
      `Action: ${opts.action ?? 'failed'}`,
      `Status: ${opts.status}`,
      `Diagnostic-Code: smtp; ${opts.diagnostic}`,
      '',
      `--${b}`,
      'Content-Type: text/rfc822-headers',
      '',
      'From: Jane <jane@example.test>',
      `Message-ID: ${opts.messageId ?? '<unrelated@example.test>'}`,
      'Subject: report',
      '',
      `--${b}--`,
      '',
    ].join('\r\n'),
  );
}

describe('bounce ingest', () => {
  it('matches by VERP, amends delivered to bounced and suppresses a confident hard bounce', async () => {
    const { store, suppression, events, log } = setup();
    const { id, rows } = deliver(store, ['gone@example.test', 'ok@example.test']);
    const to = verpAddress(verp, rows[0]!.id);
    const r = await ingestBounce(dsn({ to, recipient: 'gone@example.test', status: '5.1.1', diagnostic: '550 5.1.1 <gone@example.test>: user unknown' }), { store, suppression, verp, log, now: () => T0 + 60_000 });
    assert.equal(r.kind, 'bounce');
    assert.equal(r.recipients[0]!.queueId, id);
    assert.equal(r.recipients[0]!.action, 'suppressed');
    assert.equal(r.recipients[0]!.amended, true);
    assert.deepEqual(store.recipients(id).map((x) => x.state), ['bounced', 'delivered']);
    assert.equal(suppression.check(['gone@example.test'], 'jane@example.test').size, 1);
    assert.ok(events.some((e) => e.event === 'status' && e.status === 'bounced'));
  });

  it('matches by ENVID (= queue ID) and by the quoted Message-ID', async () => {
    const { store, suppression, log } = setup();
    const a = deliver(store, ['a@example.test'], '<m-a@example.test>');
    const b = deliver(store, ['b@example.test'], '<m-b@example.test>');
    const byEnvid = await ingestBounce(dsn({ to: 'jane@example.test', envid: a.id, recipient: 'a@example.test', status: '5.1.1', diagnostic: '550 5.1.1 no such user' }), { store, suppression, log, now: () => T0 });
    assert.equal(byEnvid.recipients[0]!.queueId, a.id);
    const byMid = await ingestBounce(dsn({ to: 'jane@example.test', recipient: 'b@example.test', status: '5.1.1', diagnostic: '550 5.1.1 no such user', messageId: '<m-b@example.test>' }), { store, suppression, log, now: () => T0 });
    assert.equal(byMid.recipients[0]!.queueId, b.id);
  });

  it("matches the submitter's own ENVID (sent on instead of the queue ID) before a queue ID", async () => {
    const { store, suppression, log } = setup();
    const own = deliver(store, ['a@example.test'], '<m-own@example.test>', 'order-42');
    const r = await ingestBounce(dsn({ to: 'jane@example.test', envid: 'order-42', recipient: 'a@example.test', status: '5.1.1', diagnostic: '550 5.1.1 no such user' }), { store, suppression, log, now: () => T0 });
    assert.equal(r.recipients[0]!.queueId, own.id);
    // An ENVID that is some message's own and another's queue ID: the own one wins.
    const first = deliver(store, ['b@example.test'], '<m-first@example.test>');
    const second = deliver(store, ['b@example.test'], '<m-second@example.test>', first.id);
    const both = await ingestBounce(dsn({ to: 'jane@example.test', envid: first.id, recipient: 'b@example.test', status: '5.1.1', diagnostic: '550 5.1.1 no such user' }), { store, suppression, log, now: () => T0 });
    assert.equal(both.recipients[0]!.queueId, second.id);
  });

  it('a policy block is our problem: operator alert once, no suppression', async () => {
    const { store, suppression, events, log } = setup();
    deliver(store, ['x@example.test'], '<m-x@example.test>');
    const mails: Array<{ subject: string; text: string }> = [];
    const alertOperator = async (subject: string, text: string) => void mails.push({ subject, text });
    for (let i = 0; i < 3; i++) {
      const r = await ingestBounce(dsn({ to: 'jane@example.test', recipient: 'x@example.test', status: '5.7.1', diagnostic: '550 5.7.1 Service unavailable; client host blocked using a block list', messageId: '<m-x@example.test>' }), { store, suppression, log, alertOperator, now: () => T0 + i });
      assert.equal(r.recipients[0]!.action, 'operator-alert');
    }
    assert.equal(suppression.check(['x@example.test'], 'jane@example.test').size, 0);
    assert.equal(events.filter((e) => e.event === 'notice' && /OPERATOR/.test(e.text)).length, 1, 'rate-limited to one alert per hour');
    assert.equal(mails.length, 1, 'one alert mail per cause and hour, like the log line');
    assert.match(mails[0]!.subject, /^sendwell: mail refused because of our own setup \(/);
    assert.match(mails[0]!.text, /<x@example\.test> was refused because of our own setup.*block list/);
  });

  it('delays are not final; soft bounces count towards the threshold', async () => {
    const { store, suppression, log } = setup();
    deliver(store, ['full@example.test'], '<m-f@example.test>');
    const delay = await ingestBounce(dsn({ to: 'jane@example.test', recipient: 'full@example.test', status: '4.4.1', diagnostic: '451 4.4.1 no answer', action: 'delayed', messageId: '<m-f@example.test>' }), { store, suppression, log: nullMailLog, now: () => T0 });
    assert.equal(delay.kind, 'delay');
    assert.equal(delay.recipients[0]!.action, 'noted');
    const actions: string[] = [];
    for (let i = 0; i < 3; i++) {
      const r = await ingestBounce(dsn({ to: 'jane@example.test', recipient: 'full@example.test', status: '5.2.2', diagnostic: '552 5.2.2 mailbox full', messageId: '<m-f@example.test>' }), { store, suppression, log: nullMailLog, now: () => T0 + i * 86_400_000 });
      actions.push(r.recipients[0]!.action);
    }
    assert.deepEqual(actions, ['counted', 'counted', 'suppressed']);
  });

  it('ignores auto-replies and forged VERP addresses', async () => {
    const { store, suppression, log } = setup();
    const auto = Buffer.from('From: bob@example.test\r\nTo: jane@example.test\r\nSubject: Out of office\r\nAuto-Submitted: auto-replied\r\n\r\nI am away until Monday.\r\n');
    assert.equal((await ingestBounce(auto, { store, suppression, verp, log })).ignored, 'an auto-reply (RFC 3834), not a bounce');
    const { rows } = deliver(store, ['v@example.test']);
    const forged = verpAddress({ ...verp, secret: Buffer.alloc(32, 9) }, rows[0]!.id);
    const r = await ingestBounce(dsn({ to: forged, recipient: 'someone-else@example.test', status: '5.1.1', diagnostic: '550 5.1.1 unknown' }), { store, suppression, verp, log, now: () => T0 });
    assert.equal(r.recipients[0]!.queueId, undefined, 'a forged VERP address matches nothing');
    assert.deepEqual(store.recipients(rows[0]!.queueId).map((x) => x.state), ['delivered']);
  });
});

import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { simpleParser } from 'mailparser';
import { freePort, smtpReply, startSmtpServer, type TestServer } from '../../test/helpers/smtp-server.js';
import { createTransport } from '../transport/index.js';
import { fileMailLog, readEvents } from './maillog.js';
import { postfixSchedule, tableSchedule } from './schedule.js';
import { openSqliteStore } from './sqlite/index.js';
import type { QueueStore } from './store.js';
import { Worker } from './worker.js';

const T0 = Date.UTC(2026, 11, 4, 12, 0, 0);
const servers: TestServer[] = [];
after(async () => Promise.all(servers.map((s) => s.close())));

function setup(url: string, extra: Partial<ConstructorParameters<typeof Worker>[0]> = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'sendwell-worker-'));
  const store = openSqliteStore(dir);
  let now = T0;
  const clock = { now: () => now, advance: (ms: number) => (now += ms) };
  const worker = new Worker({
    store,
    transport: () => createTransport({ url, timeouts: { connectMs: 2000, greetingMs: 2000 } }),
    relay: url,
    log: fileMailLog(dir),
    clock: clock.now,
    schedule: postfixSchedule(),
    ...extra,
  });
  return { dir, store, worker, clock };
}

function enqueue(store: QueueStore, to: string[], over: Partial<Parameters<QueueStore['enqueue']>[0]> = {}, now = T0) {
  const raw = Buffer.from(`From: jane@example.test\r\nTo: ${to.join(', ')}\r\nSubject: t\r\nMessage-ID: <m@example.test>\r\nDate: Fri, 04 Dec 2026 12:00:00 +0000\r\n\r\nbody\r\n`);
  return store.enqueue({ raw, messageId: '<m@example.test>', envelopeFrom: 'jane@example.test', recipients: to, submitter: 'test', ...over }, now).id;
}

describe('Worker', () => {
  it('delivers, records the relay queue ID and logs Postfix-style lines (T2)', async () => {
    const srv = await startSmtpServer({ queuedText: (id) => `Ok: queued as ${id}` });
    servers.push(srv);
    const { dir, store, worker } = setup(srv.url('smtp', 'tls=never'));
    const id = enqueue(store, ['a@example.test', 'b@example.test']);
    const r = await worker.drain();
    await worker.close();
    assert.deepEqual([r.attempted, r.delivered], [2, 2]);
    assert.equal(srv.messages.length, 1, 'one SMTP transaction for both recipients');
    assert.deepEqual(srv.messages[0]!.to, ['a@example.test', 'b@example.test']);
    const rows = store.recipients(id);
    assert.ok(rows.every((x) => x.state === 'delivered' && x.relayQueueId === srv.lastQueueId));
    const log = readFileSync(join(dir, 'mail.log'), 'utf8');
    assert.match(log, new RegExp(`sendwell/smtp\\[\\d+\\]: ${id}: to=<a@example\\.test>, relay=smtp://127\\.0\\.0\\.1:\\d+\\?tls=never, delay=0, delays=0/0/0/0, dsn=2\\.0\\.0, status=sent \\(250 .*queued as ${srv.lastQueueId}\\)`));
    assert.equal(readEvents(dir, id).filter((e) => e.event === 'attempt').length, 2);
  });

  it('retries only the recipients that were deferred, on the Postfix schedule', async () => {
    let busy = true;
    const srv = await startSmtpServer({ onRcptTo: (a) => (a.address.startsWith('slow') && busy ? smtpReply(450, '4.2.1 mailbox busy') : undefined) });
    servers.push(srv);
    const { store, worker, clock } = setup(srv.url('smtp', 'tls=never'), { schedule: postfixSchedule() });
    const id = enqueue(store, ['fast@example.test', 'slow@example.test']);
    await worker.drain();
    const [fast, slow] = store.recipients(id);
    assert.equal(fast!.state, 'delivered');
    assert.equal(slow!.state, 'deferred');
    assert.equal(slow!.lastDsn, '4.2.1');
    // Young mail: the minimum backoff of 5 minutes, ±10% jitter.
    assert.ok(slow!.nextAttemptAt >= T0 + 270_000 && slow!.nextAttemptAt <= T0 + 330_000, String(slow!.nextAttemptAt - T0));
    clock.advance(60_000);
    assert.equal((await worker.drain()).attempted, 0, 'not due yet');
    busy = false;
    clock.advance(300_000);
    const r = await worker.drain();
    await worker.close();
    assert.equal(r.delivered, 1);
    assert.deepEqual(srv.messages.map((m) => m.to), [['fast@example.test'], ['slow@example.test']], 'the retry goes to the deferred recipient only');
    assert.equal(store.recipients(id)[1]!.attempts, 2);
  });

  it('bounces permanent refusals and sends one RFC 3464 notice with the null sender', async () => {
    const srv = await startSmtpServer({ onRcptTo: (a) => (a.address.startsWith('gone') ? smtpReply(550, '5.1.1 <' + a.address + '>: user unknown') : undefined) });
    servers.push(srv);
    const { store, worker } = setup(srv.url('smtp', 'tls=never'));
    const id = enqueue(store, ['ok@example.test', 'gone@example.test']);
    await worker.drain();
    await worker.close();
    assert.deepEqual(store.recipients(id).map((r) => r.state), ['delivered', 'bounced']);
    assert.equal(srv.messages.length, 2, 'the message, then the notification');
    const dsn = srv.messages[1]!;
    assert.equal(dsn.from, '', 'sent with <>');
    assert.deepEqual(dsn.to, ['jane@example.test']);
    const parsed = await simpleParser(dsn.raw);
    assert.match(String(parsed.headers.get('content-type') && (parsed.headers.get('content-type') as { value: string }).value), /multipart\/report/);
    const text = dsn.raw.toString();
    assert.match(text, /report-type=delivery-status/);
    assert.match(text, /Final-Recipient: rfc822; gone@example\.test\r\nOriginal-Recipient: rfc822; gone@example\.test\r\nAction: failed\r\nStatus: 5\.1\.1/);
    assert.match(text, /Diagnostic-Code: smtp; 550 5\.1\.1/);
    assert.doesNotMatch(text, /Final-Recipient: rfc822; ok@/);
    assert.equal(store.needingDsn().length, 0);
  });

  it('never sends a notice about a message whose own sender is null (no double bounces)', async () => {
    const srv = await startSmtpServer({ onRcptTo: () => smtpReply(550, '5.1.1 user unknown') });
    servers.push(srv);
    const { store, worker } = setup(srv.url('smtp', 'tls=never'));
    enqueue(store, ['gone@example.test'], { envelopeFrom: '' });
    await worker.drain();
    await worker.close();
    assert.equal(srv.messages.length, 0);
    assert.equal(store.pending().length, 0);
    assert.equal(store.needingDsn().length, 0);
  });

  it('defers everything without a connection per recipient when the relay is down', async () => {
    const port = await freePort();
    const { store, worker, clock } = setup(`smtp://127.0.0.1:${port}?tls=never`);
    for (let i = 0; i < 5; i++) enqueue(store, [`r${i}@example.test`]);
    const r = await worker.drain();
    assert.equal(r.deferred, 5);
    const rows = store.pending().flatMap((p) => p.recipients);
    assert.ok(rows.every((x) => x.state === 'deferred'));
    const probed = rows.filter((x) => x.attempts === 1);
    assert.equal(probed.length, 1, 'one message probed the relay');
    assert.match(probed[0]!.lastReason ?? '', /connection refused/);
    const others = rows.filter((x) => x.attempts === 0);
    assert.equal(others.length, 4, 'deferring without connecting costs no attempt');
    assert.ok(others.every((x) => /unreachable/.test(x.lastReason ?? '')), 'the others were deferred without connecting');
    assert.ok((r.nextDue ?? 0) >= clock.now() + 60_000);
    await worker.close();
  });

  it('slows down on throttling replies without burning attempts', async () => {
    const srv = await startSmtpServer({ onMailFrom: () => smtpReply(421, '4.7.0 Too many messages, slow down') });
    servers.push(srv);
    const { store, worker } = setup(srv.url('smtp', 'tls=never'));
    const id = enqueue(store, ['a@example.test']);
    await worker.drain();
    await worker.close();
    const [r] = store.recipients(id);
    assert.equal(r!.state, 'deferred');
    assert.equal(r!.attempts, 0, 'a throttled try is not counted');
  });

  it('expires mail still failing after the queue lifetime', async () => {
    const srv = await startSmtpServer({ onRcptTo: (a) => (a.address === 'a@example.test' ? smtpReply(451, '4.3.0 temporary') : undefined) });
    servers.push(srv);
    const { store, worker, clock } = setup(srv.url('smtp', 'tls=never'), { schedule: tableSchedule('1h', 3 * 3_600_000) });
    const id = enqueue(store, ['a@example.test']);
    for (let i = 0; i < 4; i++) {
      await worker.drain();
      clock.advance(3_600_000);
    }
    await worker.close();
    const [r] = store.recipients(id);
    assert.equal(r!.state, 'expired');
    assert.equal(r!.attempts, 4);
    assert.equal(srv.messages.length, 1, 'the expiry notice went out');
    assert.match(srv.messages[0]!.raw.toString(), /Status: 4\.3\.0/);
  });

  it('holds the line on rate limits: the eleventh mail to one address waits (R8)', async () => {
    const srv = await startSmtpServer();
    servers.push(srv);
    const { store, worker } = setup(srv.url('smtp', 'tls=never'), { limits: { perRecipientPerHour: 10 } });
    for (let i = 0; i < 12; i++) enqueue(store, ['bob@example.test'], { messageId: `<m${i}@example.test>` });
    const r = await worker.drain();
    await worker.close();
    assert.equal(r.delivered, 10);
    assert.equal(srv.messages.length, 10);
    const waiting = store.pending().flatMap((p) => p.recipients);
    assert.equal(waiting.length, 2);
    assert.match(waiting[0]!.lastReason ?? '', /rate limited by limits\.per_recipient_per_hour = 10 for <bob@example\.test>/);
    assert.equal(waiting[0]!.attempts, 0);
  });

  it('sends ENVID = queue ID with the configured RET and NOTIFY when the relay offers DSN', async () => {
    const srv = await startSmtpServer({ hideDSN: false });
    servers.push(srv);
    const url = srv.url('smtp', 'tls=never');
    const { store, worker } = setup(url, { transport: () => createTransport({ url, dsn: { ret: 'HDRS', notify: ['FAILURE', 'DELAY'] } }) });
    const id = enqueue(store, ['a@example.test']);
    await worker.drain();
    await worker.close();
    const m = srv.messages[0]!;
    assert.equal(m.mailArgs.ENVID, id);
    assert.equal(m.mailArgs.RET, 'HDRS');
    assert.equal(m.rcptArgs[0]!.NOTIFY, 'FAILURE,DELAY');
    assert.equal(m.rcptArgs[0]!.ORCPT, 'rfc822;a@example.test');
  });

  it('recovers rows leased by a dead process on this host at startup', async () => {
    const srv = await startSmtpServer();
    servers.push(srv);
    const { store, worker } = setup(srv.url('smtp', 'tls=never'));
    enqueue(store, ['a@example.test']);
    // A process that no longer exists (pid 2^22 + 1 is above Linux's pid_max default).
    const dead = `${worker.owner.slice(0, worker.owner.lastIndexOf('/'))}/4194305`;
    assert.equal(store.claim({ owner: dead, now: T0, leaseMs: 600_000, limit: 5 }).length, 1);
    assert.equal(worker.recover(), 1);
    assert.equal((await worker.drain()).delivered, 1);
    await worker.close();
  });
});

import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { simpleParser } from 'mailparser';
import { freePort, smtpReply, startSmtpServer, type TestServer } from '../../test/helpers/smtp-server.js';
import { createTransport } from '../transport/index.js';
import { threadIo } from './delivery-io.js';
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

  it('renews the leases of messages still being sent, and only while they are', async () => {
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    let dataSeen!: () => void;
    const inData = new Promise<void>((r) => (dataSeen = r));
    const srv = await startSmtpServer({ onData: async () => { dataSeen(); await held; return undefined; } });
    servers.push(srv);
    const { store, worker, clock } = setup(srv.url('smtp', 'tls=never'), { heartbeatMs: 10 });
    const slow = enqueue(store, ['slow@example.test']);
    const draining = worker.drain();
    await inData;
    const first = store.recipients(slow)[0]!.leaseUntil!;
    clock.advance(60_000);
    const deadline = Date.now() + 5000;
    while (store.recipients(slow)[0]!.leaseUntil === first && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
    assert.equal(store.recipients(slow)[0]!.leaseUntil, T0 + 60_000 + 120_000, 'renewed to now + the lease');
    release();
    await draining;
    assert.equal(store.recipients(slow)[0]!.state, 'delivered');
    assert.equal(store.recipients(slow)[0]!.leaseUntil, null, 'no lease after the outcome');
    await worker.close();
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

describe('Worker: per-message DSN parameters (sendmail -N/-R/-V)', () => {
  it("sends the message's own NOTIFY, RET and ENVID over [dsn]; a message without them gets [dsn] and ENVID = queue ID", async () => {
    const srv = await startSmtpServer({ hideDSN: false });
    servers.push(srv);
    const url = srv.url('smtp', 'tls=never');
    const { store, worker } = setup(url, { transport: () => createTransport({ url, dsn: { ret: 'FULL', notify: ['FAILURE'] } }) });
    const own = enqueue(store, ['a@example.test'], { dsnNotify: ['SUCCESS'], dsnRet: 'HDRS', dsnEnvid: 'X' });
    const plain = enqueue(store, ['b@example.test'], { messageId: '<p@example.test>' });
    await worker.drain();
    await worker.close();
    const byRcpt = (a: string) => srv.messages.find((m) => m.to.includes(a))!;
    assert.deepEqual([byRcpt('a@example.test').mailArgs.RET, byRcpt('a@example.test').mailArgs.ENVID, byRcpt('a@example.test').rcptArgs[0]!.NOTIFY], ['HDRS', 'X', 'SUCCESS']);
    assert.deepEqual([byRcpt('b@example.test').mailArgs.RET, byRcpt('b@example.test').mailArgs.ENVID, byRcpt('b@example.test').rcptArgs[0]!.NOTIFY], ['FULL', plain, 'FAILURE']);
    assert.notEqual(own, plain);
  });

  it('no failure notice when the message asked NOTIFY without FAILURE (RFC 3461 §5.2.6); its ENVID comes back in the notice otherwise', async () => {
    const srv = await startSmtpServer({ onRcptTo: (a) => (a.address.startsWith('gone') ? smtpReply(550, '5.1.1 user unknown') : undefined) });
    servers.push(srv);
    const { store, worker } = setup(srv.url('smtp', 'tls=never'));
    enqueue(store, ['gone1@example.test'], { dsnNotify: ['NEVER'] });
    enqueue(store, ['gone2@example.test'], { messageId: '<s@example.test>', dsnNotify: ['SUCCESS', 'DELAY'] });
    enqueue(store, ['gone3@example.test'], { messageId: '<e@example.test>', dsnEnvid: 'order-42' });
    await worker.drain();
    await worker.close();
    assert.equal(srv.messages.length, 1, 'one notice: for the message without a NOTIFY of its own');
    const text = srv.messages[0]!.raw.toString();
    assert.match(text, /Original-Envelope-Id: order-42\r\n/);
    assert.match(text, /Final-Recipient: rfc822; gone3@example\.test/);
    assert.equal(store.needingDsn().length, 0, 'the others count as handled');
  });

  it('[dsn] notify without FAILURE stops failure notices for messages without a NOTIFY of their own', async () => {
    const srv = await startSmtpServer({ onRcptTo: (a) => (a.address.startsWith('gone') ? smtpReply(550, '5.1.1 user unknown') : undefined) });
    servers.push(srv);
    const { store, worker } = setup(srv.url('smtp', 'tls=never'), { dsnNotify: ['DELAY'] });
    enqueue(store, ['gone@example.test']);
    enqueue(store, ['gone@example.test'], { messageId: '<f@example.test>', dsnNotify: ['FAILURE'] });
    await worker.drain();
    await worker.close();
    assert.equal(srv.messages.length, 1, 'only the message that asked for FAILURE itself');
  });
});

describe('Worker: delay warnings ([queue] delay_warning)', () => {
  const HOUR = 3_600_000;
  /** A relay that keeps answering 451 for slow@… and accepts everyone else (the sender's mailbox included). */
  async function slowRelay() {
    const srv = await startSmtpServer({ onRcptTo: (a) => (a.address.startsWith('slow') ? smtpReply(451, '4.3.0 mailbox busy, try later') : undefined) });
    servers.push(srv);
    return srv;
  }
  const warnings = (srv: TestServer) => srv.messages.filter((m) => m.from === '' && /Action: delayed/.test(m.raw.toString()));

  it('warns the sender once, after the threshold and not before, about the recipients still waiting; the mail is not lost', async () => {
    const srv = await slowRelay();
    const { dir, store, worker, clock } = setup(srv.url('smtp', 'tls=never'), { delayWarningMs: 4 * HOUR });
    const id = enqueue(store, ['ok@example.test', 'slow@example.test']);
    await worker.drain();
    clock.advance(3 * HOUR);
    await worker.drain();
    assert.equal(warnings(srv).length, 0, 'not before the threshold');
    clock.advance(HOUR + 60_000);
    await worker.drain();
    assert.equal(warnings(srv).length, 1, 'after the threshold');
    const w = warnings(srv)[0]!;
    assert.deepEqual(w.to, ['jane@example.test'], 'to the envelope sender, with the null sender');
    const text = w.raw.toString();
    assert.match(text, /^Subject: Delayed Mail \(not lost, still being retried\)\r$/m);
    assert.match(text, /YOUR MESSAGE IS NOT LOST/);
    assert.match(text, /<slow@example\.test>: 451 4\.3\.0 mailbox busy, try later/, 'the last reply of the relay');
    assert.match(text, /delivery will be retried until\r\n[^\r]+ \(the queue lifetime of 5d\)/);
    assert.match(text, /\(the queue lifetime of 5d\)/);
    assert.match(text, /Content-Type: multipart\/report; report-type=delivery-status/);
    assert.match(text, /Final-Recipient: rfc822; slow@example\.test\r\nOriginal-Recipient: rfc822; slow@example\.test\r\nAction: delayed\r\nStatus: 4\.3\.0\r\nDiagnostic-Code: smtp; 451 4\.3\.0 mailbox busy, try later\r\nLast-Attempt-Date: [^\r]+\r\nWill-Retry-Until: [^\r]+\r\n/);
    assert.doesNotMatch(text, /Final-Recipient: rfc822; ok@/, 'only the waiting recipients');
    assert.match(text, /Content-Type: text\/rfc822-headers/);
    assert.equal(store.message(id)!.delayWarned, true);
    assert.match(readFileSync(join(dir, 'mail.log'), 'utf8'), new RegExp(`${id}: sender delay notification: \\w{14} to=<jane@example\\.test> for <slow@example\\.test>`));
    for (let i = 0; i < 5; i++) {
      clock.advance(HOUR);
      await worker.drain();
    }
    assert.equal(warnings(srv).length, 1, 'never twice');
    assert.equal(store.recipients(id)[1]!.state, 'deferred', 'still retried');
    await worker.close();
    // A restarted worker on the same queue does not warn again either.
    const again = new Worker({ store, transport: () => createTransport({ url: srv.url('smtp', 'tls=never') }), relay: 'x', log: fileMailLog(dir), clock: clock.now, delayWarningMs: 4 * HOUR });
    clock.advance(HOUR);
    await again.drain();
    await again.close();
    assert.equal(warnings(srv).length, 1, 'not twice across restarts');
  });

  it('never for a message whose own sender is <>, nor when its NOTIFY (else [dsn] notify) leaves out DELAY', async () => {
    const srv = await slowRelay();
    const { store, worker, clock } = setup(srv.url('smtp', 'tls=never'), { delayWarningMs: HOUR, dsnNotify: ['FAILURE'] });
    const nullSender = enqueue(store, ['slow1@example.test'], { envelopeFrom: '' });
    const noDelay = enqueue(store, ['slow2@example.test'], { messageId: '<n@example.test>', dsnNotify: ['SUCCESS', 'FAILURE'] });
    const byConfig = enqueue(store, ['slow3@example.test'], { messageId: '<c@example.test>' });
    const asked = enqueue(store, ['slow4@example.test'], { messageId: '<a@example.test>', dsnNotify: ['DELAY'] });
    await worker.drain();
    clock.advance(2 * HOUR);
    await worker.drain();
    await worker.close();
    const sent = warnings(srv);
    assert.equal(sent.length, 1, 'only for the message that asked for DELAY itself');
    assert.match(sent[0]!.raw.toString(), /Final-Recipient: rfc822; slow4@example\.test/);
    assert.ok([nullSender, noDelay, byConfig].every((id) => store.recipients(id)[0]!.state === 'deferred'));
    assert.equal(store.message(asked)!.delayWarned, true);
  });

  it('with VERP the warning goes to the original sender, not to the VERP address', async () => {
    const srv = await slowRelay();
    const { store, worker, clock } = setup(srv.url('smtp', 'tls=never'), { delayWarningMs: HOUR, envelopeSender: (row) => `bounces+${row.id}@bounces.example.test` });
    enqueue(store, ['slow@example.test']);
    await worker.drain();
    clock.advance(2 * HOUR);
    await worker.drain();
    await worker.close();
    const [w] = warnings(srv);
    assert.ok(w);
    assert.deepEqual(w.to, ['jane@example.test']);
    assert.match(w.raw.toString(), /^To: <jane@example\.test>\r$/m);
  });

  it('off by default: no warning however long the mail waits', async () => {
    const srv = await slowRelay();
    const { store, worker, clock } = setup(srv.url('smtp', 'tls=never'));
    enqueue(store, ['slow@example.test']);
    for (let i = 0; i < 4; i++) {
      await worker.drain();
      clock.advance(12 * HOUR);
    }
    await worker.close();
    assert.equal(warnings(srv).length, 0);
  });
});

describe('Worker: the backlog I/O thread', () => {
  it('moves claims and commits to the thread once it is ready; until then they stay on the event loop', async () => {
    // The switch is held until the relay has 30 messages, and the relay holds the 31st until the thread is up:
    // the switch falls mid-drain however fast or loaded the machine is.
    let received = 0;
    let opened: () => void = () => {};
    const gate = new Promise<void>((resolve) => (opened = resolve));
    let threadUp: Promise<unknown> = gate;
    const srv = await startSmtpServer({
      onData: async () => {
        if (++received === 30) opened();
        if (received > 30) await threadUp;
        return undefined;
      },
    });
    servers.push(srv);
    let ready = false;
    let threadCalls = 0;
    let early = 0;
    const { dir, store, worker } = setup(srv.url('smtp', 'tls=never'), {
      concurrency: 1, // claim rounds of 16: the first full one starts the thread
      backlogIo: () => {
        const io = threadIo(dir);
        threadUp = io.ready!;
        const count = () => (threadCalls++, ready ? undefined : early++);
        return {
          ready: Promise.all([io.ready, gate]).then(() => void (ready = true)),
          claim: (o) => (count(), io.claim(o)),
          complete: (owner, now, c) => (count(), io.complete(owner, now, c)),
          close: () => io.close(),
        };
      },
    });
    const ids = Array.from({ length: 120 }, (_, i) => enqueue(store, [`r${i}@example.test`]));
    const r = await worker.drain();
    await worker.close();
    assert.equal(r.delivered, 120);
    assert.equal(srv.messages.length, 120);
    assert.ok(ids.every((id) => store.recipients(id)[0]!.state === 'delivered'));
    assert.ok(ready, 'the thread started');
    assert.ok(threadCalls > 0, 'the thread served claims and commits');
    assert.equal(early, 0, 'nothing was sent to the thread before it was ready');
  });

  it('an I/O thread that cannot start leaves the store work on the event loop, with a warning', async () => {
    const srv = await startSmtpServer();
    servers.push(srv);
    let used = 0;
    const { dir, store, worker } = setup(srv.url('smtp', 'tls=never'), {
      concurrency: 1,
      backlogIo: () => ({
        ready: Promise.reject(new Error('no threads here')),
        claim: () => (used++, Promise.reject(new Error('unused'))),
        complete: () => (used++, Promise.reject(new Error('unused'))),
        close: async () => {},
      }),
    });
    for (let i = 0; i < 40; i++) enqueue(store, [`r${i}@example.test`]);
    const r = await worker.drain();
    await worker.close();
    assert.equal(r.delivered, 40);
    assert.equal(used, 0);
    assert.ok(readEvents(dir).some((e) => e.event === 'notice' && e.level === 'warning' && e.text.includes('queue I/O thread did not start (no threads here)')));
  });

  it('nor does one that throws when started: the round already claimed is still sent', async () => {
    const srv = await startSmtpServer();
    servers.push(srv);
    const { dir, store, worker } = setup(srv.url('smtp', 'tls=never'), {
      concurrency: 1,
      backlogIo: () => {
        throw new Error('ERR_WORKER_INIT_FAILED');
      },
    });
    const ids = Array.from({ length: 40 }, (_, i) => enqueue(store, [`r${i}@example.test`]));
    const r = await worker.drain();
    await worker.close();
    assert.equal(r.delivered, 40);
    assert.ok(ids.every((id) => store.recipients(id)[0]!.state === 'delivered'));
    assert.ok(readEvents(dir).some((e) => e.event === 'notice' && e.level === 'warning' && e.text.includes('queue I/O thread did not start (ERR_WORKER_INIT_FAILED)')));
  });
});

/**
 * The SMTP listener of `sendwell serve` against real clients on real sockets
 * (127.0.0.x only): the guide's Python sample, nodemailer, and a byte-level
 * client for pipelining and exact replies. A real SQLite state directory and a
 * QueueService whose relay is `capture:DIR` (nothing is sent).
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { createTransport } from 'nodemailer';
import { DEFAULT_POLICY } from '../../../src/policy/defaults.js';
import { QueueService, type QueueServiceOptions } from '../../../src/queue/service.js';
import { openSqliteStore } from '../../../src/queue/sqlite/index.js';
import type { QueueStore } from '../../../src/queue/store.js';
import { Credentials } from '../../../src/server/credentials.js';
import { createSmtpListener, type SmtpListener, type SmtpListenerOptions } from '../../../src/server/smtp/index.js';
import { testPki } from '../../helpers/tls.js';
import { message, RawSmtp } from './client.js';

const PASSWORD = 'correct horse battery staple';
const OUTSIDER = '127.0.0.2';
const cleanups: Array<() => Promise<void> | void> = [];
after(async () => {
  for (const c of cleanups.reverse()) await c();
});

interface Harness {
  listener: SmtpListener;
  port: number;
  tlsPort?: number;
  service: QueueService;
  store: QueueStore;
  dir: string;
  logs: string[];
  queued: string[];
  /** A second handle on the same database: sees only what was committed. */
  other: () => QueueStore;
  raw: (id: string) => string;
}

async function start(over: Partial<SmtpListenerOptions> = {}, service: Partial<QueueServiceOptions> = {}): Promise<Harness> {
  const dir = mkdtempSync(join(tmpdir(), 'sendwell-smtp-'));
  const svc = new QueueService({ stateDir: dir, relay: { url: `capture:${join(dir, 'captured')}` }, ...service });
  const credentials = new Credentials(dir);
  await credentials.addUser('wiki', PASSWORD);
  const logs: string[] = [];
  const queued: string[] = [];
  const listener = createSmtpListener({
    listen: ['127.0.0.1:0'],
    allowNetworks: ['127.0.0.1/32'],
    requireAuth: false,
    maxMessageBytes: 1024 * 1024,
    maxConnectionsPerClient: 10,
    messagesPerClientPerMinute: 100,
    service: svc,
    credentials,
    policy: DEFAULT_POLICY,
    hostname: 'relay.example.test',
    log: (l) => logs.push(l),
    onQueued: (id) => queued.push(id),
    ...over,
  });
  const addrs = await listener.listen();
  let otherStore: QueueStore | undefined;
  cleanups.push(async () => {
    await listener.close(100);
    otherStore?.close();
    credentials.close();
    await svc.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const tlsPort = addrs.find((a) => a.tls)?.port;
  return {
    listener,
    port: addrs.find((a) => !a.tls)!.port,
    ...(tlsPort !== undefined ? { tlsPort } : {}),
    service: svc,
    store: svc.store,
    dir,
    logs,
    queued,
    other: () => (otherStore ??= openSqliteStore(dir)),
    // Unfolded, so header assertions need not care where a long header was folded.
    raw: (id) => svc.store.body(id)!.toString('latin1').replace(/\r\n[ \t]+/g, ' '),
  };
}

const QUEUED = /^250 2\.0\.0 queued as ([0-9A-Za-z]{14})$/;

/** EHLO, then MAIL/RCPT/DATA one command at a time; returns the final reply. */
async function sendRaw(c: RawSmtp, from: string, to: string[], body: string): Promise<{ mail: string; rcpt: string[]; data: string }> {
  const mail = await c.cmd(`MAIL FROM:<${from}>`);
  if (mail.code !== 250) return { mail: mail.text, rcpt: [], data: '' };
  const rcpt: string[] = [];
  for (const t of to) rcpt.push((await c.cmd(`RCPT TO:<${t}>`)).text);
  if (!rcpt.some((r) => r.startsWith('250'))) return { mail: mail.text, rcpt, data: '' };
  const go = await c.cmd('DATA');
  assert.equal(go.code, 354, go.text);
  return { mail: mail.text, rcpt, data: (await c.data(body)).text };
}

async function session(h: Harness, opts: { localAddress?: string; helo?: string } = {}): Promise<RawSmtp> {
  const c = await RawSmtp.connect(h.port, opts.localAddress ? { localAddress: opts.localAddress } : {});
  cleanups.push(() => c.close());
  assert.match((await c.reply()).text, /^220 relay\.example\.test ESMTP sendwell/);
  const ehlo = await c.cmd(`EHLO ${opts.helo ?? 'client.example.test'}`);
  assert.equal(ehlo.code, 250, ehlo.text);
  return c;
}

describe('SMTP listener: the guide sample and nodemailer', () => {
  it("the guide's Python sample (smtplib, UTF-8 QP, explicit envelope sender) works unchanged except host and port", async () => {
    const h = await start();
    const script = new URL('./guide-sample.py', import.meta.url).pathname;
    const { stdout, stderr } = await new Promise<{ stdout: string; stderr: string }>((resolve, reject) =>
      execFile('python3', [script, '127.0.0.1', String(h.port)], { timeout: 20_000 }, (err, stdout, stderr) => (err ? reject(err) : resolve({ stdout, stderr }))),
    );
    assert.equal(stdout, '', `the sample reported an SMTP error: ${stdout}${stderr}`);
    assert.equal(h.queued.length, 1, h.logs.join('\n'));
    const id = h.queued[0]!;
    const m = h.store.message(id)!;
    assert.equal(m.envelopeFrom, 'vorname.nachname@example.org');
    assert.deepEqual(h.store.recipients(id).map((r) => r.address), ['empfaenger@example.org']);
    assert.equal(m.submitter, 'smtp:127.0.0.1');
    const raw = h.raw(id);
    assert.match(raw, /^Received: from \S+ \(\[127\.0\.0\.1\]\) by relay\.example\.test \(sendwell\) with ESMTP id \S+;/);
    assert.match(raw, /^From: Vorname Nachname <vorname\.nachname@example\.org>$/m);
    assert.match(raw, /^Content-Transfer-Encoding: quoted-printable$/m);
    assert.match(raw, /Dies w=C3=A4re eine Test-Message/);
    assert.match(raw, /^Subject: =\?utf-8\?q\?Blo=C3=9F_ein_Test\?=$/im);
    assert.match(h.logs.join('\n'), /smtp: 127\.0\.0\.1 queued \w{14} from=<vorname\.nachname@example\.org> nrcpt=1 size=\d+/);
  });

  it('nodemailer from an allowed network: 250 2.0.0 queued as <ID>, the message and the envelope in the queue', async () => {
    const h = await start();
    const t = createTransport({ host: '127.0.0.1', port: h.port, secure: false, ignoreTLS: true });
    const info = await t.sendMail({
      from: 'Jane Doe <jane@example.test>',
      to: ['bob@example.org', 'carol@example.org'],
      subject: 'Grüße',
      text: 'Zwei Empfänger, eine Nachricht.',
      envelope: { from: 'bounces@example.test', to: ['bob@example.org', 'carol@example.org'] },
    });
    t.close();
    const m = QUEUED.exec(info.response);
    assert.ok(m, info.response);
    const id = m[1]!;
    assert.deepEqual(h.queued, [id]);
    assert.equal(h.store.message(id)!.envelopeFrom, 'bounces@example.test');
    assert.deepEqual(h.store.recipients(id).map((r) => r.address).sort(), ['bob@example.org', 'carol@example.org']);
    assert.match(h.logs.join('\n'), new RegExp(`smtp: 127\\.0\\.0\\.1 queued ${id} from=<bounces@example\\.test> nrcpt=2 size=\\d+`));
  });

  it('implicit TLS listener with nodemailer (secure: true)', async () => {
    const pki = testPki();
    const h = await start({ tls: { cert: Buffer.from(pki.good.cert), key: Buffer.from(pki.good.key) }, tlsListen: ['127.0.0.1:0'] });
    assert.ok(h.tlsPort);
    const t = createTransport({ host: '127.0.0.1', port: h.tlsPort, secure: true, tls: { ca: pki.ca, servername: 'localhost' } });
    const info = await t.sendMail({ from: 'Jane Doe <jane@example.test>', to: 'bob@example.org', subject: 'Over TLS', text: 'hello' });
    t.close();
    const id = QUEUED.exec(info.response)![1]!;
    assert.match(h.raw(id), /with\s+ESMTPS id/);
  });
});

describe('SMTP listener: DSN parameters (RFC 3461) are kept per message', () => {
  it('offers DSN; RET, ENVID (xtext-decoded) and NOTIFY are queued with the message and passed on; another NOTIFY in the same transaction gets 452 4.5.3', async () => {
    const h = await start();
    const c = await session(h);
    c.write('EHLO client.example.test\r\n');
    assert.match((await c.reply()).text, /^250-DSN$/m);
    assert.match((await c.cmd('MAIL FROM:<jane@example.test> RET=HDRS ENVID=order+2B42')).text, /^250 /);
    assert.match((await c.cmd('RCPT TO:<bob@example.org> NOTIFY=SUCCESS,DELAY ORCPT=rfc822;bob@example.org')).text, /^250 /);
    assert.match((await c.cmd('RCPT TO:<carol@example.org> NOTIFY=FAILURE')).text, /^452 4\.5\.3 NOTIFY=FAILURE differs from this message's NOTIFY=SUCCESS,DELAY; send this recipient in a new transaction$/);
    assert.match((await c.cmd('RCPT TO:<dave@example.org> NOTIFY=DELAY,SUCCESS')).text, /^250 /, 'the same NOTIFY in another order');
    assert.equal((await c.cmd('DATA')).code, 354);
    const id = QUEUED.exec((await c.data(message())).text)![1]!;
    const m = h.store.message(id)!;
    assert.deepEqual([m.dsnRet, m.dsnEnvid, m.dsnNotify], ['HDRS', 'order+42', ['SUCCESS', 'DELAY']]);
    assert.deepEqual(h.store.recipients(id).map((r) => r.address), ['bob@example.org', 'dave@example.org']);
    // Without parameters: nothing of its own, [dsn] of the config applies later.
    assert.match((await c.cmd('MAIL FROM:<jane@example.test>')).text, /^250 /);
    assert.match((await c.cmd('RCPT TO:<carol@example.org>')).text, /^250 /);
    assert.equal((await c.cmd('DATA')).code, 354);
    const plain = QUEUED.exec((await c.data(message({ to: 'carol@example.org' }))).text)![1]!;
    const p = h.store.message(plain)!;
    assert.deepEqual([p.dsnRet, p.dsnEnvid, p.dsnNotify], [null, null, null]);
    // The worker hands them to the transport (capture: the envelope is in the .json).
    await h.service.worker.drain();
    const captured = readdirSync(join(h.dir, 'captured')).filter((f) => f.endsWith('.json')).map((f) => JSON.parse(readFileSync(join(h.dir, 'captured', f), 'utf8')) as { to: string[]; dsn?: unknown });
    assert.deepEqual(captured.find((e) => e.to.includes('bob@example.org'))!.dsn, { envid: 'order+42', notify: ['SUCCESS', 'DELAY'], ret: 'HDRS' });
    assert.deepEqual(captured.find((e) => e.to.includes('carol@example.org'))!.dsn, { envid: plain });
  });

  it('refuses an ENVID that is not 1 to 100 printable characters (501 5.5.4)', async () => {
    const h = await start();
    const c = await session(h);
    assert.match((await c.cmd(`MAIL FROM:<jane@example.test> ENVID=${'x'.repeat(101)}`)).text, /^501 5\.5\.4 ENVID must be 1 to 100 printable ASCII characters/);
    assert.match((await c.cmd('MAIL FROM:<jane@example.test> RET=BODY')).text, /^501 /);
    assert.match((await c.cmd('MAIL FROM:<jane@example.test> ENVID=ok')).text, /^250 /);
  });

  it("nodemailer's dsn option arrives with the message", async () => {
    const h = await start();
    const t = createTransport({ host: '127.0.0.1', port: h.port, secure: false, ignoreTLS: true });
    const info = await t.sendMail({
      from: 'Jane Doe <jane@example.test>',
      to: 'bob@example.org',
      subject: 'With DSN',
      text: 'hello',
      dsn: { id: 'nm-1', return: 'headers', notify: ['failure', 'delay'], recipient: 'jane@example.test' },
    });
    t.close();
    const id = QUEUED.exec(info.response)![1]!;
    const m = h.store.message(id)!;
    assert.deepEqual([m.dsnRet, m.dsnEnvid, m.dsnNotify], ['HDRS', 'nm-1', ['FAILURE', 'DELAY']]);
  });
});

describe('SMTP listener: never an open relay', () => {
  it('refuses relaying from 127.0.0.2 when only 127.0.0.1/32 is allowed: 554 5.7.1 relay access denied (nodemailer)', async () => {
    const h = await start({ allowNetworks: ['127.0.0.1/32'] });
    const t = createTransport({ host: '127.0.0.1', port: h.port, secure: false, ignoreTLS: true, localAddress: OUTSIDER });
    await assert.rejects(
      t.sendMail({ from: 'Jane Doe <jane@example.test>', to: 'victim@example.org', subject: 'spam', text: 'spam' }),
      (err: Error & { responseCode?: number; response?: string }) => {
        assert.equal(err.responseCode, 554);
        assert.match(err.response ?? '', /^554 5\.7\.1 relay access denied: 127\.0\.0\.2 may not relay without AUTH/);
        return true;
      },
    );
    t.close();
    assert.equal(h.store.pending().length, 0);
    assert.match(h.logs.join('\n'), /smtp: 127\.0\.0\.2 refused rcpt=<victim@example\.org> from=<jane@example\.test>: relay access denied/);
  });

  it('the same client is allowed when its network is listed (CIDR)', async () => {
    const h = await start({ allowNetworks: ['127.0.0.0/30'] });
    const c = await session(h, { localAddress: OUTSIDER });
    const r = await sendRaw(c, 'jane@example.test', ['bob@example.org'], message());
    assert.match(r.data, QUEUED);
  });

  it('an empty allow list relays for nobody without AUTH', async () => {
    const h = await start({ allowNetworks: [] });
    const c = await session(h);
    const r = await sendRaw(c, 'jane@example.test', ['bob@example.org'], message());
    assert.match(r.rcpt[0]!, /^554 5\.7\.1 relay access denied/);
  });

  it('bounces (MAIL FROM:<>) for the bounce domain are accepted from anywhere, nothing else', async () => {
    const h = await start({ bounceDomain: 'bounces.example.test' });
    const c = await session(h, { localAddress: OUTSIDER, helo: 'mx.remote.example' });
    const dsn = 'From: Mail Delivery System <MAILER-DAEMON@mx.remote.example>\r\nTo: bounce+204Z@bounces.example.test\r\nSubject: Undelivered Mail Returned to Sender\r\n\r\nThe mail could not be delivered.\r\n';
    const r = await sendRaw(c, '', ['bounce+204Z@bounces.example.test', 'someone@example.org'], dsn);
    assert.equal(r.mail, '250 2.1.0 Accepted');
    assert.equal(r.rcpt[0], '250 2.1.5 Accepted');
    assert.match(r.rcpt[1]!, /^554 5\.7\.1 relay access denied/);
    const id = QUEUED.exec(r.data)![1]!;
    assert.equal(h.store.message(id)!.envelopeFrom, '');
    assert.deepEqual(h.store.recipients(id).map((x) => x.address), ['bounce+204Z@bounces.example.test']);
    // With a real sender the bounce domain is not an open door.
    const again = await sendRaw(c, 'jane@example.test', ['bounce+204Z@bounces.example.test'], dsn);
    assert.match(again.rcpt[0]!, /^554 5\.7\.1 relay access denied/);
  });

  it('requireAuth: AUTH is needed even from allowed networks (530 5.7.0)', async () => {
    const h = await start({ requireAuth: true });
    const c = await session(h);
    assert.match((await c.cmd('MAIL FROM:<jane@example.test>')).text, /^530 5\.7\.0 authentication required/);
    const plain = Buffer.from(`\0wiki\0${PASSWORD}`).toString('base64');
    assert.match((await c.cmd(`AUTH PLAIN ${plain}`)).text, /^235 2\.7\.0 /);
    const r = await sendRaw(c, 'jane@example.test', ['bob@example.org'], message());
    const id = QUEUED.exec(r.data)![1]!;
    assert.equal(h.store.message(id)!.submitter, 'smtp:wiki');
    assert.match(h.raw(id), /with\s+ESMTPA id/);
  });
});

describe('SMTP listener: AUTH', () => {
  it('AUTH in clear text from a non-loopback address is neither offered nor accepted (538 5.7.11)', async () => {
    const pki = testPki();
    const h = await start({ tls: { cert: Buffer.from(pki.good.cert), key: Buffer.from(pki.good.key) } });
    const c = await RawSmtp.connect(h.port, { localAddress: OUTSIDER });
    cleanups.push(() => c.close());
    await c.reply();
    const ehlo = await c.cmd('EHLO client.example.test');
    assert.doesNotMatch(ehlo.text, /AUTH/);
    assert.match(ehlo.text, /250-STARTTLS/);
    const plain = Buffer.from(`\0wiki\0${PASSWORD}`).toString('base64');
    assert.match((await c.cmd(`AUTH PLAIN ${plain}`)).text, /^538 5\.7\.11 encryption required/);
    assert.match((await c.cmd('AUTH LOGIN')).text, /^538 5\.7\.11 /);
  });

  it('nodemailer AUTH over plain text from 127.0.0.2 fails; over STARTTLS (test CA) it works', async () => {
    const pki = testPki();
    const h = await start({ tls: { cert: Buffer.from(pki.good.cert), key: Buffer.from(pki.good.key) } });
    const plainText = createTransport({ host: '127.0.0.1', port: h.port, secure: false, ignoreTLS: true, localAddress: OUTSIDER, auth: { user: 'wiki', pass: PASSWORD } });
    await assert.rejects(plainText.sendMail({ from: 'Jane Doe <jane@example.test>', to: 'bob@example.org', subject: 'x', text: 'x' }));
    plainText.close();
    const t = createTransport({ host: '127.0.0.1', port: h.port, secure: false, requireTLS: true, localAddress: OUTSIDER, tls: { ca: pki.ca, servername: 'localhost' }, auth: { user: 'wiki', pass: PASSWORD } });
    const info = await t.sendMail({ from: 'Wiki <wiki@example.test>', to: 'bob@example.org', subject: 'Page changed', text: 'A page you watch was changed.' });
    t.close();
    const id = QUEUED.exec(info.response)![1]!;
    assert.equal(h.store.message(id)!.submitter, 'smtp:wiki');
    assert.match(h.raw(id), /^Received: from \S+ \(\[127\.0\.0\.2\]\) by relay\.example\.test \(sendwell\)\s+with\s+ESMTPSA id /);
    assert.match(h.logs.join('\n'), /smtp: 127\.0\.0\.2 auth ok user=wiki method=PLAIN/);
  });

  it('AUTH over STARTTLS with the byte-level client, LOGIN', async () => {
    const pki = testPki();
    const h = await start({ tls: { cert: Buffer.from(pki.good.cert), key: Buffer.from(pki.good.key) } });
    const c = await session(h, { localAddress: OUTSIDER });
    await c.starttls(pki.ca);
    const ehlo = await c.cmd('EHLO client.example.test');
    assert.match(ehlo.text, /250-AUTH PLAIN LOGIN/);
    assert.doesNotMatch(ehlo.text, /STARTTLS/);
    assert.equal((await c.cmd('AUTH LOGIN')).code, 334);
    assert.equal((await c.cmd(Buffer.from('wiki').toString('base64'))).code, 334);
    assert.match((await c.cmd(Buffer.from(PASSWORD).toString('base64'))).text, /^235 /);
    const r = await sendRaw(c, 'wiki@example.test', ['bob@example.org'], message({ from: 'Wiki <wiki@example.test>' }));
    assert.match(r.data, QUEUED);
  });

  it('a wrong password gets 535 5.7.8 (nodemailer from loopback)', async () => {
    const h = await start();
    const t = createTransport({ host: '127.0.0.1', port: h.port, secure: false, ignoreTLS: true, auth: { user: 'wiki', pass: 'not the password at all' } });
    await assert.rejects(t.sendMail({ from: 'Jane Doe <jane@example.test>', to: 'bob@example.org', subject: 'x', text: 'x' }), (err: Error & { responseCode?: number; response?: string }) => {
      assert.equal(err.responseCode, 535);
      assert.equal(err.response, '535 5.7.8 authentication failed: wrong user name or password');
      return true;
    });
    t.close();
    const c = await session(h);
    const plain = Buffer.from(`\0nobody\0${PASSWORD}`).toString('base64');
    assert.equal((await c.cmd(`AUTH PLAIN ${plain}`)).text, '535 5.7.8 authentication failed: wrong user name or password');
    assert.match(h.logs.join('\n'), /smtp: 127\.0\.0\.1 auth failed user=nobody method=PLAIN/);
    // Guessing: the third failure in a session ends it.
    assert.equal((await c.cmd(`AUTH PLAIN ${plain}`)).code, 535);
    assert.equal((await c.cmd(`AUTH PLAIN ${plain}`)).text, '421 4.7.0 too many failed logins; closing the connection');
    await c.closed();
  });
});

describe('SMTP listener: policy, headers, size, 8-bit', () => {
  it('refuses an error-level rule at end of DATA with the rule and the fix (550 5.7.1)', async () => {
    const h = await start();
    const c = await session(h);
    const r = await sendRaw(c, 'noreply@example.test', ['bob@example.org'], message({ from: 'Shop <noreply@example.test>' }));
    const lines = r.data.split('\r\n');
    assert.equal(lines.length, 2, r.data);
    assert.match(lines[0]!, /^550-5\.7\.1 /);
    assert.match(lines[1]!, /^550 5\.7\.1 /);
    const texts = lines.map((l) => l.slice(10)).sort();
    assert.match(texts[0]!, /^From noreply@example\.test refused \(R2\.noreply-sender\): Sender is a no-reply address\. Send from a real, monitored mailbox/);
    assert.match(texts[1]!, /^sender noreply@example\.test refused \(R2\.noreply-sender\): /);
    assert.equal(h.store.pending().length, 0);
    assert.match(h.logs.join('\n'), /smtp: 127\.0\.0\.1 from=<noreply@example\.test> nrcpt=1 size=\d+ refused: policy R2\.noreply-sender,R2\.noreply-sender/);
    // The session goes on: the next, good message is queued.
    assert.match((await sendRaw(c, 'jane@example.test', ['bob@example.org'], message())).data, QUEUED);
  });

  it('adds a missing Date and Message-ID (on the From domain) before linting, logs it; adds Received on top', async () => {
    const h = await start();
    const c = await session(h, { helo: 'wiki.example.test' });
    const r = await sendRaw(c, 'jane@example.test', ['bob@example.org'], message({ date: false, messageId: false }));
    const id = QUEUED.exec(r.data)![1]!;
    const raw = h.raw(id);
    const head = raw.slice(0, raw.indexOf('\r\n\r\n'));
    assert.match(head, /^Received: from wiki\.example\.test \(\[127\.0\.0\.1\]\) by relay\.example\.test\s+\(sendwell\) with ESMTP id \S+;\s+\w{3}, \d\d \w{3} \d{4} \d\d:\d\d:\d\d [+-]\d{4}/);
    assert.match(head, /^Date: \w{3}, \d\d \w{3} \d{4} \d\d:\d\d:\d\d [+-]\d{4}$/m);
    assert.match(head, /^Message-ID: <[^@\s]+@example\.test>$/m);
    assert.equal(h.store.message(id)!.messageId, /^Message-ID: (.*)$/m.exec(head)![1]);
    assert.match(h.logs.join('\n'), new RegExp(`queued ${id} .*added=Date,Message-ID`));
    const notices = (await import('../../../src/queue/maillog.js')).readEvents(h.dir, id);
    assert.ok(notices.some((e) => e.event === 'notice' && /added Date and Message-ID/.test(e.text)), JSON.stringify(notices));
  });

  it('SIZE is min(max_message_size, upstream SIZE); MAIL SIZE= and DATA above it get 552 5.3.4', async () => {
    let upstreamSize = 4000;
    const h = await start({ maxMessageBytes: 5000, upstream: () => ({ maxSize: upstreamSize, eightBitMime: true, smtputf8: true }) });
    const c = await session(h);
    const ehlo = await c.cmd('EHLO client.example.test');
    assert.match(ehlo.text, /^250 SIZE 4000$/m);
    assert.equal((await c.cmd('MAIL FROM:<jane@example.test> SIZE=4001')).text, '552 5.3.4 message too big (R9: send a link instead); the limit is 4000 bytes');
    const big = message({ body: 'x'.repeat(70) + '\r\n'.repeat(1) + ('y'.repeat(76) + '\r\n').repeat(60) });
    const r = await sendRaw(c, 'jane@example.test', ['bob@example.org'], big);
    assert.equal(r.data, '552 5.3.4 message too big (R9: send a link instead); the limit is 4000 bytes');
    assert.equal(h.store.pending().length, 0);
    upstreamSize = 0; // unknown again: our own limit
    const c2 = await session(h);
    assert.match((await c2.cmd('EHLO client.example.test')).text, /^250 SIZE 5000$/m);
    assert.match((await sendRaw(c2, 'jane@example.test', ['bob@example.org'], big)).data, QUEUED);
  });

  it('8-bit content is converted to quoted-printable when the upstream lacks 8BITMIME', async () => {
    const h = await start({ upstream: () => ({ eightBitMime: false }) });
    const c = await session(h);
    const body = 'MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit';
    assert.equal((await c.cmd('MAIL FROM:<jane@example.test> BODY=8BITMIME')).code, 250);
    assert.equal((await c.cmd('RCPT TO:<bob@example.org>')).code, 250);
    assert.equal((await c.cmd('DATA')).code, 354);
    const r = { data: (await c.data(Buffer.from(message({ extra: body, body: 'Grüße aus München' })))).text };
    const id = QUEUED.exec(r.data)![1]!;
    const raw = h.store.body(id)!;
    assert.ok(raw.every((b) => b < 0x80), 'the queued message is 7-bit');
    assert.match(raw.toString('latin1'), /Content-Transfer-Encoding: quoted-printable/);
    assert.match(raw.toString('latin1'), /Gr=C3=BC=C3=9Fe aus M=C3=BCnchen/);
    assert.match(h.logs.join('\n'), /converted=7bit/);
  });

  it('SMTPUTF8 with an upstream that lacks it is refused at MAIL/RCPT (553 5.6.7); accepted when the upstream has it', async () => {
    let smtputf8 = false;
    const h = await start({ upstream: () => ({ smtputf8, eightBitMime: true }) });
    const c = await session(h);
    assert.match((await c.cmd('MAIL FROM:<jörg@example.test> SMTPUTF8')).text, /^553 5\.6\.7 SMTPUTF8 not available upstream/);
    assert.equal((await c.cmd('MAIL FROM:<jane@example.test>')).code, 250);
    assert.match((await c.cmd('RCPT TO:<jörg@example.org>')).text, /^553 5\.6\.7 SMTPUTF8 not available upstream/);
    assert.equal((await c.cmd('RSET')).code, 250);
    smtputf8 = true;
    const mail = await c.cmd('MAIL FROM:<jörg@example.test> SMTPUTF8');
    assert.equal(mail.code, 250, mail.text);
    assert.equal((await c.cmd('RCPT TO:<bob@example.org>')).code, 250);
    assert.equal((await c.cmd('DATA')).code, 354);
    const r = await c.data(Buffer.from(message({ from: 'Jörg <jörg@example.test>', extra: 'MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit', body: 'Grüße' })));
    assert.match(r.text, QUEUED);
  });
});

describe('SMTP listener: durability, pipelining, limits', () => {
  it('250 only after the durable commit: a second database handle sees the message when the client reads 250', async () => {
    const h = await start();
    const c = await session(h);
    const seen: Array<boolean> = [];
    c.onReply = (r) => {
      const m = QUEUED.exec(r.text);
      if (m) seen.push(h.other().message(m[1]!) !== undefined);
    };
    for (let i = 0; i < 3; i++) assert.match((await sendRaw(c, 'jane@example.test', ['bob@example.org'], message({ subject: `n${i}` }))).data, QUEUED);
    assert.deepEqual(seen, [true, true, true]);
  });

  it('a pipelined client: several commands and two messages in single writes', async () => {
    const h = await start();
    const c = await session(h);
    assert.match((await c.cmd('EHLO pipe.example.test')).text, /^250-PIPELINING$/m);
    const body = (s: string) => message({ subject: s }).replace(/^\./gm, '..');
    c.write(`MAIL FROM:<jane@example.test>\r\nRCPT TO:<bob@example.org>\r\nRCPT TO:<carol@example.org>\r\nDATA\r\n`);
    const first = [await c.reply(), await c.reply(), await c.reply(), await c.reply()].map((r) => r.text);
    assert.deepEqual(first, ['250 2.1.0 Accepted', '250 2.1.5 Accepted', '250 2.1.5 Accepted', '354 End data with <CR><LF>.<CR><LF>']);
    c.write(`${body('one')}.\r\nMAIL FROM:<jane@example.test>\r\nRCPT TO:<dave@example.org>\r\nDATA\r\n`);
    const second = [await c.reply(), await c.reply(), await c.reply(), await c.reply()].map((r) => r.text);
    assert.match(second[0]!, QUEUED);
    assert.deepEqual(second.slice(1), ['250 2.1.0 Accepted', '250 2.1.5 Accepted', '354 End data with <CR><LF>.<CR><LF>']);
    c.write(`${body('two')}.\r\nQUIT\r\n`);
    assert.match((await c.reply()).text, QUEUED);
    assert.match((await c.reply()).text, /^221 /);
    assert.equal(h.queued.length, 2);
    assert.deepEqual(h.store.recipients(h.queued[0]!).map((r) => r.address).sort(), ['bob@example.org', 'carol@example.org']);
  });

  it('per-client connection limit: 421 4.7.0 too many connections from your address', async () => {
    const h = await start({ maxConnectionsPerClient: 2 });
    const a = await session(h);
    const b = await session(h);
    const c = await RawSmtp.connect(h.port);
    cleanups.push(() => c.close());
    assert.equal((await c.reply()).text, '421 4.7.0 too many connections from your address (limit 2); try again later');
    await c.closed();
    // Another address has its own count.
    const other = await session(h, { localAddress: OUTSIDER });
    assert.equal((await other.cmd('NOOP')).code, 250);
    a.write('QUIT\r\n');
    await a.closed();
    await sleep(50);
    const d = await session(h);
    assert.equal((await d.cmd('NOOP')).code, 250);
    assert.equal((await b.cmd('NOOP')).code, 250);
    assert.match(h.logs.join('\n'), /smtp: 127\.0\.0\.1 refused connection: 2 open, limit 2 \(R8\)/);
  });

  it('per-client message rate: 451 4.7.1 rate limit … (R8), free again after a minute', async () => {
    let now = Date.now();
    const h = await start({ messagesPerClientPerMinute: 2, clock: () => now });
    const c = await session(h);
    for (let i = 0; i < 2; i++) assert.match((await sendRaw(c, 'jane@example.test', ['bob@example.org'], message({ subject: `r${i}` }))).data, QUEUED);
    assert.equal((await c.cmd('MAIL FROM:<jane@example.test>')).text, '451 4.7.1 rate limit: 127.0.0.1 queued 2 messages in the last minute (limit 2); try again later (R8)');
    now += 61_000;
    assert.match((await sendRaw(c, 'jane@example.test', ['bob@example.org'], message({ subject: 'later' }))).data, QUEUED);
  });

  it('flood-brake holds from the queue still get 250 (queued, held)', async () => {
    const h = await start({}, { flood: { messages: 1, windowMs: 60_000, duplicateWindowMs: 60_000 } });
    const c = await session(h);
    assert.match((await sendRaw(c, 'jane@example.test', ['bob@example.org'], message({ subject: 'a' }))).data, QUEUED);
    const r = await sendRaw(c, 'jane@example.test', ['bob@example.org'], message({ subject: 'b' }));
    const id = QUEUED.exec(r.data)![1]!;
    assert.equal(h.store.recipients(id)[0]!.state, 'held');
    assert.match(h.logs.join('\n'), new RegExp(`queued ${id} .*held=1`));
  });

  it('bulk detection sees through random MIME boundaries (R1)', async () => {
    const h = await start({}, { bulk: { recipients: 2, windowMs: 86_400_000 } });
    const t = createTransport({ host: '127.0.0.1', port: h.port, secure: false, ignoreTLS: true });
    cleanups.push(() => t.close());
    const states: string[] = [];
    // nodemailer, PHPMailer and Python make a new boundary per message: the same mail must still count as the same content.
    for (const who of ['p1', 'p2', 'p3']) {
      const info = await t.sendMail({ from: 'jane@example.test', to: `${who}@example.org`, subject: 'Offer', text: 'Buy our things.', html: '<p>Buy our things.</p>' });
      const id = /queued as ([0-9A-Za-z]{14})/.exec(info.response)![1]!;
      states.push(h.store.recipients(id)[0]!.state);
    }
    assert.deepEqual(states, ['queued', 'queued', 'held']);
  });

  it('listens on IPv6 loopback and matches ::1/128', async () => {
    const h = await start({ listen: ['[::1]:0'], allowNetworks: ['::1/128'] });
    const c = await RawSmtp.connect(h.port, { host: '::1' });
    cleanups.push(() => c.close());
    await c.reply();
    await c.cmd('EHLO v6.example.test');
    const r = await sendRaw(c, 'jane@example.test', ['bob@example.org'], message());
    const id = QUEUED.exec(r.data)![1]!;
    assert.match(h.raw(id), /\(\[IPv6:::1\]\)/);
    assert.equal(h.store.message(id)!.submitter, 'smtp:::1');
  });

  it('close(): idle sessions get 421 at once, a message in DATA is still queued', async () => {
    const h = await start();
    const idle = await session(h);
    const busy = await session(h);
    assert.equal((await busy.cmd('MAIL FROM:<jane@example.test>')).code, 250);
    assert.equal((await busy.cmd('RCPT TO:<bob@example.org>')).code, 250);
    assert.equal((await busy.cmd('DATA')).code, 354);
    const text = message({ subject: 'in flight' });
    busy.write(text.slice(0, 40));
    await sleep(50);
    const closing = h.listener.close(5_000);
    assert.match((await idle.reply()).text, /^421 4\.3\.2 sendwell is shutting down/);
    busy.write(`${text.slice(40)}.\r\n`);
    assert.match((await busy.reply()).text, QUEUED);
    await closing;
    assert.equal(h.queued.length, 1);
    // New connections are refused.
    await assert.rejects(RawSmtp.connect(h.port));
  });
});

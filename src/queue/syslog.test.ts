/**
 * The mail log in syslog (T2): the real logger(1) from util-linux sends to a
 * syslog receiver in this test (UDP or TCP on 127.0.0.1), after a real
 * delivery through the worker to an in-process SMTP server.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import dgram from 'node:dgram';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { freePort, startSmtpServer, type TestServer } from '../../test/helpers/smtp-server.js';
import { createTransport } from '../transport/index.js';
import { fileMailLog, type MailLog } from './maillog.js';
import { postfixSchedule } from './schedule.js';
import { openSqliteStore } from './sqlite/index.js';
import type { QueueStore } from './store.js';
import { loggerArgs, syslogTarget, type SyslogOptions } from './syslog.js';
import { Worker } from './worker.js';

const servers: TestServer[] = [];
after(async () => Promise.all(servers.map((s) => s.close())));

/** A syslog receiver: every datagram (UDP) or newline-framed message (TCP) as a string. */
interface Receiver {
  url: string;
  messages: string[];
  waitFor(n: number, ms?: number): Promise<string[]>;
  close(): Promise<void>;
}

async function waitUntil(messages: string[], n: number, ms: number): Promise<string[]> {
  const end = Date.now() + ms;
  while (messages.length < n && Date.now() < end) await sleep(20);
  return messages;
}

async function udpReceiver(): Promise<Receiver> {
  const s = dgram.createSocket('udp4');
  const messages: string[] = [];
  s.on('message', (m) => messages.push(m.toString('utf8')));
  await new Promise<void>((resolve) => s.bind(0, '127.0.0.1', resolve));
  return {
    url: `udp://127.0.0.1:${s.address().port}`,
    messages,
    waitFor: (n, ms = 5000) => waitUntil(messages, n, ms),
    close: () => new Promise<void>((resolve) => s.close(() => resolve())),
  };
}

async function tcpReceiver(): Promise<Receiver> {
  const messages: string[] = [];
  const sockets = new Set<net.Socket>();
  const s = net.createServer((c) => {
    sockets.add(c);
    let buf = '';
    c.setEncoding('utf8');
    c.on('data', (d: string) => {
      buf += d;
      let i: number;
      while ((i = buf.indexOf('\n')) >= 0) {
        messages.push(buf.slice(0, i));
        buf = buf.slice(i + 1);
      }
    });
  });
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
  return {
    url: `tcp://127.0.0.1:${(s.address() as net.AddressInfo).port}`,
    messages,
    waitFor: (n, ms = 5000) => waitUntil(messages, n, ms),
    close: () => {
      for (const c of sockets) c.destroy();
      return new Promise<void>((resolve) => s.close(() => resolve()));
    },
  };
}

/** A syslog message as logger sends it to a remote host (RFC 5424): PRI, tag, PID, text. */
function parse5424(m: string): { pri: number; tag: string; pid: string; text: string } {
  const r = /^<(\d+)>1 \S+ \S+ (\S+) (\S+) - (?:\[[^\]]*\] )?(.*)$/s.exec(m);
  assert.ok(r, `not an RFC 5424 message: ${m}`);
  return { pri: Number(r[1]), tag: r[2]!, pid: r[3]!, text: r[4]! };
}

function setup(url: string, log: (dir: string) => MailLog) {
  const dir = mkdtempSync(join(tmpdir(), 'sendwell-syslog-'));
  const store = openSqliteStore(dir);
  const mailLog = log(dir);
  const worker = new Worker({
    store,
    transport: () => createTransport({ url, timeouts: { connectMs: 2000, greetingMs: 2000 } }),
    relay: url,
    log: mailLog,
    schedule: postfixSchedule(),
  });
  return { dir, store, worker, log: mailLog };
}

let n = 0;
function enqueue(store: QueueStore, to: string[]): string {
  const mid = `<m${++n}@example.test>`;
  const raw = Buffer.from(`From: jane@example.test\r\nTo: ${to.join(', ')}\r\nSubject: t\r\nMessage-ID: ${mid}\r\nDate: Fri, 04 Dec 2026 12:00:00 +0000\r\n\r\nbody\r\n`);
  return store.enqueue({ raw, messageId: mid, envelopeFrom: 'jane@example.test', recipients: to, submitter: 'test' }, Date.now()).id;
}

/** mail.log's lines without syslog's prefix (time, host, program[pid]). */
function fileTexts(dir: string): string[] {
  return readFileSync(join(dir, 'mail.log'), 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => l.replace(/^\w{3} [ \d]\d \d\d:\d\d:\d\d \S+ sendwell\/\w+\[\d+\]: /, ''));
}

describe('mail log in syslog (logger(1))', () => {
  it('logger arguments: tag, our PID, facility, priority prefix, target', () => {
    assert.deepEqual(loggerArgs({ facility: 'mail', tag: 'sendwell' }, 1234), [
      '--tag', 'sendwell', '--id=1234', '--priority', 'mail.info', '--prio-prefix', '--size', '8192', '--socket', '/dev/log', '--socket-errors=off',
    ]);
    assert.deepEqual(loggerArgs({ facility: 'local3', tag: 'sw', server: 'tcp://[2001:db8::1]:6514' }, 1).slice(8), ['--server', '2001:db8::1', '--port', '6514', '--tcp']);
    assert.deepEqual(syslogTarget('udp://loghost.example.org'), { kind: 'udp', host: 'loghost.example.org', port: 514 });
    assert.deepEqual(syslogTarget('unix:/run/systemd/journal/syslog'), { kind: 'unix', path: '/run/systemd/journal/syslog' });
  });

  it('a real delivery reaches a syslog receiver as mail.info, tagged sendwell[PID], with the mail.log text; warnings as mail.warning', async () => {
    const rx = await udpReceiver();
    const srv = await startSmtpServer({ queuedText: (id) => `Ok: queued as ${id}` });
    servers.push(srv);
    const warnings: string[] = [];
    const syslog: SyslogOptions = { facility: 'mail', tag: 'sendwell', server: rx.url, warn: (t) => warnings.push(t) };
    const { dir, store, worker, log } = setup(srv.url('smtp', 'tls=never'), (d) => fileMailLog(d, { syslog }));
    const id = enqueue(store, ['a@example.test', 'b@example.test']);
    const r = await worker.drain();
    await worker.close();
    assert.equal(r.delivered, 2);
    log.write({ event: 'notice', time: Date.now(), level: 'warning', text: 'relay says slow down' });
    await log.close?.();
    const got = (await rx.waitFor(3)).map(parse5424);
    await rx.close();
    store.close();
    assert.deepEqual(warnings, []);
    assert.equal(got.length, 3, JSON.stringify(rx.messages));
    for (const m of got) {
      assert.equal(m.tag, 'sendwell');
      assert.equal(m.pid, String(process.pid));
    }
    // mail = 2: 2 * 8 + 6 (info), 2 * 8 + 4 (warning).
    assert.deepEqual(got.map((m) => m.pri), [22, 22, 20]);
    assert.match(got[0]!.text, new RegExp(`^${id}: to=<a@example\\.test>, relay=smtp://127\\.0\\.0\\.1:\\d+\\?tls=never, delay=[\\d.]+, delays=[\\d.]+/0/0/[\\d.]+, dsn=2\\.0\\.0, status=sent \\(250 .*Ok: queued as ${srv.lastQueueId}\\)$`));
    assert.match(got[1]!.text, new RegExp(`^${id}: to=<b@example\\.test>, .*status=sent`));
    assert.equal(got[2]!.text, 'warning: relay says slow down');
    // The same text as mail.log, minus syslog's own prefix.
    assert.deepEqual(got.map((m) => m.text), fileTexts(dir));
  });

  it('another facility and tag over TCP (a central log host)', async () => {
    const rx = await tcpReceiver();
    const dir = mkdtempSync(join(tmpdir(), 'sendwell-syslog-'));
    const warnings: string[] = [];
    const log = fileMailLog(dir, { syslog: { facility: 'local3', tag: 'sendwell-web', server: rx.url, warn: (t) => warnings.push(t) } });
    const t = Date.now();
    log.writeMany!([
      { event: 'status', time: t, queueId: '204Z57kPnYQ6WY', to: 'x@example.test', status: 'held', reason: 'flood brake\nsecond line' },
      { event: 'notice', time: t, level: 'info', text: 'started' },
    ]);
    await log.close?.();
    const got = (await rx.waitFor(2)).map(parse5424);
    await rx.close();
    assert.deepEqual(warnings, []);
    assert.deepEqual(got.map((m) => [m.pri, m.tag, m.pid]), [[19 * 8 + 6, 'sendwell-web', String(process.pid)], [19 * 8 + 6, 'sendwell-web', String(process.pid)]]);
    // One event stays one syslog message.
    assert.equal(got[0]!.text, '204Z57kPnYQ6WY: to=<x@example.test>, status=held (flood brake second line)');
    assert.equal(got[1]!.text, 'info: started');
  });

  it('without the logger program: one warning, the mail log file is written and delivery goes on', async () => {
    const srv = await startSmtpServer({});
    servers.push(srv);
    const warnings: string[] = [];
    const { dir, store, worker, log } = setup(srv.url('smtp', 'tls=never'), (d) =>
      fileMailLog(d, { syslog: { facility: 'mail', tag: 'sendwell', server: 'udp://127.0.0.1:9', program: '/nonexistent/bin/logger', warn: (t) => warnings.push(t) } }),
    );
    enqueue(store, ['a@example.test']);
    assert.equal((await worker.drain()).delivered, 1);
    await sleep(50); // the spawn error arrives
    enqueue(store, ['b@example.test']);
    assert.equal((await worker.drain()).delivered, 1);
    await worker.close();
    await log.close?.();
    store.close();
    assert.equal(srv.messages.length, 2);
    assert.equal(fileTexts(dir).filter((l) => l.includes('status=sent')).length, 2);
    assert.equal(warnings.length, 1, warnings.join(''));
    assert.match(warnings[0]!, /^sendwell: warning: syslog output \(\[log\] syslog = true\) is off: the \/nonexistent\/bin\/logger program was not found .*apt-get install bsdutils.*set \[log\] syslog = false\. The mail log file in the state directory is still written\.\n$/);
  });

  it('nothing listening on the syslog socket: one warning, no logger started', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sendwell-syslog-'));
    const warnings: string[] = [];
    const log = fileMailLog(dir, { syslog: { facility: 'mail', tag: 'sendwell', server: `unix:${join(dir, 'no-such-socket')}`, warn: (t) => warnings.push(t) } });
    for (let i = 0; i < 3; i++) log.write({ event: 'notice', time: Date.now(), level: 'info', text: `line ${i}` });
    await log.close?.();
    assert.equal(fileTexts(dir).length, 3);
    assert.equal(warnings.length, 1);
    assert.match(warnings[0]!, /is off: no syslog daemon listens on .*no-such-socket; start the syslog daemon/);
  });

  it('a logger that dies (the log host refuses TCP): one warning naming logger\'s reason', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sendwell-syslog-'));
    const port = await freePort();
    const warnings: string[] = [];
    const log = fileMailLog(dir, { syslog: { facility: 'mail', tag: 'sendwell', server: `tcp://127.0.0.1:${port}`, warn: (t) => warnings.push(t) } });
    log.write({ event: 'notice', time: Date.now(), level: 'info', text: 'one' });
    await sleep(300); // logger gives up connecting
    log.write({ event: 'notice', time: Date.now(), level: 'info', text: 'two' });
    await log.close?.();
    assert.equal(fileTexts(dir).length, 2);
    assert.equal(warnings.length, 1, warnings.join(''));
    assert.match(warnings[0]!, new RegExp(`is off: logger exited with status 1 \\(logger: failed to connect to 127\\.0\\.0\\.1 port ${port}\\) while logging to tcp://127\\.0\\.0\\.1:${port}; check that`));
  });

  it('does not keep the process alive, and lines written just before exit still arrive', async () => {
    const rx = await udpReceiver();
    const dir = mkdtempSync(join(tmpdir(), 'sendwell-syslog-'));
    const script = join(dir, 'writer.ts');
    const maillog = new URL('./maillog.ts', import.meta.url).pathname;
    writeFileSync(
      script,
      `import { fileMailLog } from ${JSON.stringify(maillog)};
const log = fileMailLog(${JSON.stringify(dir)}, { syslog: { facility: 'mail', tag: 'sendwell', server: ${JSON.stringify(rx.url)} } });
const t = Date.now();
log.writeMany!(Array.from({ length: 200 }, (_, i) => ({ event: 'notice' as const, time: t, level: 'info' as const, text: 'line ' + i })));
// no close(): a script that just ends
`,
    );
    const started = Date.now();
    const code = await new Promise<number | null>((resolve, reject) => {
      const c = spawn(process.execPath, ['--import', 'tsx', script], { stdio: ['ignore', 'inherit', 'inherit'] });
      const t = setTimeout(() => {
        c.kill('SIGKILL');
        reject(new Error('the process did not exit: logger kept it alive'));
      }, 20_000);
      c.on('exit', (code) => {
        clearTimeout(t);
        resolve(code);
      });
    });
    assert.equal(code, 0);
    assert.ok(Date.now() - started < 20_000);
    const got = await rx.waitFor(200);
    await rx.close();
    assert.equal(got.length, 200);
    assert.equal(parse5424(got[199]!).text, 'info: line 199');
  });
});

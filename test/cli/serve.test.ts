/**
 * `sendwell serve` as a user runs it: a child process with a config file, real
 * SMTP and HTTP clients, delivery through the queue to a real SMTP server.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { connect } from 'node:net';
import nodemailer from 'nodemailer';
import { startSmtpServer, type TestServer } from '../helpers/smtp-server.js';
import { BIN, runCli } from '../helpers/cli.js';

const work = mkdtempSync(join(tmpdir(), 'sendwell-serve-'));
// Other local users (the maildrop test runs a client as `nobody`) must reach the configs.
chmodSync(work, 0o755);
const servers: TestServer[] = [];
const children: ChildProcess[] = [];
after(async () => {
  for (const c of children) c.kill('SIGKILL');
  await Promise.all(servers.map((s) => s.close()));
});

interface Running {
  child: ChildProcess;
  smtpPort: number;
  httpPort: number;
  log: () => string;
  exit: Promise<number | null>;
}

async function serve(args: string[], env: Record<string, string> = {}): Promise<Running> {
  const child = spawn(process.execPath, [BIN, 'serve', ...args], { cwd: work, env: { PATH: process.env.PATH ?? '', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  let out = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (out += d));
  const exit = new Promise<number | null>((resolve) => child.on('close', resolve));
  const deadline = Date.now() + 30_000;
  for (;;) {
    const smtp = /smtp: listening on 127\.0\.0\.1:(\d+)/.exec(out);
    const http = /http: listening on 127\.0\.0\.1:(\d+)/.exec(out);
    // The worker line is the last of the start-up; the signal handlers are in place after it.
    if (smtp && http && /worker: delivering via/.test(out)) return { child, smtpPort: Number(smtp[1]), httpPort: Number(http[1]), log: () => out, exit };
    if (child.exitCode !== null || Date.now() > deadline) throw new Error(`serve did not start:\n${out}`);
    await sleep(50);
  }
}

function config(name: string, body: string): string {
  const file = join(work, name);
  writeFileSync(file, `[smtp]\nlisten = ["127.0.0.1:0"]\n[http]\nlisten = "127.0.0.1:0"\n${body}`);
  return file;
}

const run = (args: string[]) => runCli(args, { cwd: work, env: { PATH: process.env.PATH ?? '' } });

const stop = async (r: Running) => {
  r.child.kill('SIGTERM');
  return r.exit;
};

describe('sendwell serve', () => {
  it('without a relay: captures mail, says so loudly, and /healthz tells', async () => {
    const state = join(work, 'capture-state');
    const r = await serve(['--config', config('none.toml', ''), '--state-dir', state]);
    assert.match(r.log(), /NO RELAY CONFIGURED: outgoing mail is CAPTURED/);
    const t = nodemailer.createTransport({ host: '127.0.0.1', port: r.smtpPort, secure: false, ignoreTLS: true });
    await t.sendMail({ from: 'Jane Doe <jane@example.test>', to: 'bob@example.test', subject: 'captured', text: 'hello' });
    const health = (await (await fetch(`http://127.0.0.1:${r.httpPort}/healthz`)).json()) as { capture: boolean };
    assert.equal(health.capture, true);
    const deadline = Date.now() + 30_000;
    while (Date.now() < deadline && !readdirSync(join(state, 'captured'), { withFileTypes: true }).some((f) => f.name.endsWith('.eml'))) await sleep(100);
    assert.ok(readdirSync(join(state, 'captured')).some((f) => f.endsWith('.eml')));
    assert.equal(await stop(r), 0);
  });

  it('--require-relay refuses capture mode with 78', async () => {
    const r = await run(['serve', '--config', config('none2.toml', ''), '--state-dir', join(work, 'rr'), '--require-relay']);
    assert.equal(r.code, 78);
    assert.match(r.stderr, /no relay is configured/);
  });

  it('delivers mail submitted over SMTP and over HTTP through the queue to the relay', async () => {
    const relay = await startSmtpServer();
    servers.push(relay);
    const state = join(work, 'relay-state');
    const cfg = config('relay.toml', `[relay]\nurl = "${relay.url('smtp', 'tls=never')}"\n`);
    const token = (await run(['tokens', 'create', 'wiki', '--state-dir', state, '--config', cfg])).stdout.trim();
    assert.match(token, /^sw_/);
    const r = await serve(['--config', cfg, '--state-dir', state]);
    const t = nodemailer.createTransport({ host: '127.0.0.1', port: r.smtpPort, secure: false, ignoreTLS: true });
    const info = await t.sendMail({ from: 'Jane Doe <jane@example.test>', to: 'bob@example.test', subject: 'over smtp', text: 'hello' });
    assert.match(info.response, /^250 2\.0\.0 queued as [0-9A-Za-z]{14}/);
    const res = await fetch(`http://127.0.0.1:${r.httpPort}/api/v1/messages`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ from: 'Jane Doe <jane@example.test>', to: ['carol@example.test'], subject: 'over http', text: 'hello' }),
    });
    assert.equal(res.status, 202);
    const deadline = Date.now() + 30_000;
    while (relay.messages.length < 2 && Date.now() < deadline) await sleep(100);
    assert.deepEqual(relay.messages.map((m) => m.to[0]).sort(), ['bob@example.test', 'carol@example.test']);
    assert.equal(await stop(r), 0);
  });

  it('SIGTERM in the middle of a burst loses nothing: every acknowledged mail is delivered after a restart', async () => {
    const relay = await startSmtpServer();
    servers.push(relay);
    const state = join(work, 'burst-state');
    const cfg = config('burst.toml', `[relay]\nurl = "${relay.url('smtp', 'tls=never')}"\n[limits]\nper_minute = 0\nper_hour = 0\nper_day = 0\nper_recipient_per_hour = 0\nper_domain_per_minute = 0\n[smtp]\n`.replace('[smtp]\n', '') + '');
    const r = await serve(['--config', cfg, '--state-dir', state]);
    const acked: string[] = [];
    const t = nodemailer.createTransport({ host: '127.0.0.1', port: r.smtpPort, secure: false, ignoreTLS: true, pool: true, maxConnections: 4 });
    const sends = Array.from({ length: 120 }, (_, i) =>
      t
        .sendMail({ from: 'Jane Doe <jane@example.test>', to: `r${i}@example.test`, subject: `burst ${i}`, text: `mail ${i}`, messageId: `<burst-${i}@example.test>` })
        .then(() => acked.push(`<burst-${i}@example.test>`))
        .catch(() => undefined),
    );
    // Stop in the middle: after the first acknowledgement, with the rest still in flight.
    const first = Date.now() + 30_000;
    while (acked.length === 0 && Date.now() < first) await sleep(5);
    r.child.kill('SIGTERM');
    await Promise.all(sends);
    t.close();
    assert.equal(await r.exit, 0);
    assert.ok(acked.length > 0, 'some mail was acknowledged before the stop');
    const again = await serve(['--config', cfg, '--state-dir', state]);
    const deadline = Date.now() + 30_000;
    const delivered = () => new Set(relay.messages.map((m) => /^Message-ID: (<[^>]+>)/im.exec(m.raw.toString())?.[1]));
    while (Date.now() < deadline && !acked.every((id) => delivered().has(id))) await sleep(200);
    const missing = acked.filter((id) => !delivered().has(id));
    assert.deepEqual(missing, [], `acknowledged but never delivered (${acked.length} acknowledged)`);
    assert.equal(await stop(again), 0);
  });

  it('local users hand mail to the running daemon through its maildrop, recorded under their own name', async () => {
    const relay = await startSmtpServer();
    servers.push(relay);
    const state = join(work, 'drop-state');
    const cfg = config('drop.toml', `[relay]\nurl = "${relay.url('smtp', 'tls=never')}"\n`);
    const r = await serve(['--config', cfg, '--state-dir', state]);
    const sent = await run(['send', '--config', cfg, '--state-dir', state, '--from', 'Jane Doe <jane@example.test>', '--to', 'bob@example.test', '--subject', 'via the daemon', '--text', 'hi']);
    assert.equal(sent.code, 0, sent.stderr);
    assert.match(sent.stdout, /^queued as ([0-9A-Za-z]{14}): <[^>]+>: handed to sendwell serve, which delivers it$/m);
    // The same path for another local user, when the system has runuser and a `nobody` account
    // who can read this checkout (a clone in a 0700 directory such as mktemp -d's is out of reach).
    const reachable = spawnSync('runuser', ['-u', 'nobody', '--', process.execPath, '-e', `require('fs').accessSync(${JSON.stringify(BIN)})`]).status === 0;
    const asNobody = !reachable ? { code: -1, out: 'nobody cannot run this checkout' } : await new Promise<{ code: number | null; out: string }>((resolve) => {
      const c = spawn('runuser', ['-u', 'nobody', '--', process.execPath, BIN, 'sendmail', '-t', '-i'], { env: { PATH: process.env.PATH ?? '', SENDWELL_STATE_DIR: state, SENDWELL_CONFIG: cfg }, stdio: ['pipe', 'pipe', 'pipe'] });
      let out = '';
      c.stdout.on('data', (d) => (out += d));
      c.stderr.on('data', (d) => (out += d));
      c.on('error', () => resolve({ code: -1, out: 'no runuser' }));
      c.on('close', (code) => resolve({ code, out }));
      c.stdin.end('From: Jane Doe <jane@example.test>\nTo: carol@example.test\nSubject: from nobody\n\nhi\n');
    });
    const deadline = Date.now() + 30_000;
    const want = asNobody.code === 0 ? 2 : 1;
    while (relay.messages.length < want && Date.now() < deadline) await sleep(100);
    assert.equal(relay.messages.length, want, r.log());
    assert.match(r.log(), /maildrop: queued [0-9A-Za-z]{14} from root \(uid 0\)/);
    if (asNobody.code === 0) assert.match(r.log(), /maildrop: queued [0-9A-Za-z]{14} from nobody \(uid \d+\)/);
    else assert.ok(process.getuid?.() !== 0 || asNobody.code === -1, `runuser failed: ${asNobody.out}`);
    assert.equal(await stop(r), 0);
  });

  it("the drop-in's -N, -R, -V reach the relay through the maildrop (checked again by the daemon)", async () => {
    const relay = await startSmtpServer({ hideDSN: false });
    servers.push(relay);
    const state = join(work, 'drop-dsn-state');
    const cfg = config('drop-dsn.toml', `[relay]\nurl = "${relay.url('smtp', 'tls=never')}"\n[sender]\nfrom = "Jane Doe <jane@example.test>"\n[dsn]\nret = "FULL"\nnotify = ["FAILURE"]\n`);
    const r = await serve(['--config', cfg, '--state-dir', state]);
    const sent = await runCli(['sendmail', '-N', 'success,delay', '-R', 'hdrs', '-V', 'drop-1', '-i', 'bob@example.test'], {
      cwd: work,
      env: { PATH: process.env.PATH ?? '', SENDWELL_STATE_DIR: state, SENDWELL_CONFIG: cfg },
      stdin: 'From: Jane Doe <jane@example.test>\nTo: bob@example.test\nSubject: via the maildrop with DSN flags\n\nhi\n',
    });
    assert.equal(sent.code, 0, sent.stderr);
    const deadline = Date.now() + 30_000;
    while (relay.messages.length < 1 && Date.now() < deadline) await sleep(100);
    assert.equal(relay.messages.length, 1, r.log());
    const m = relay.messages[0]!;
    assert.deepEqual([m.mailArgs.RET, m.mailArgs.ENVID, m.rcptArgs[0]!.NOTIFY], ['HDRS', 'drop-1', 'SUCCESS,DELAY']);
    assert.match(r.log(), /maildrop: queued [0-9A-Za-z]{14} from /);
    assert.equal(await stop(r), 0);
  });

  it('takes bounces for the bounce domain from any relay (valid VERP only) and ingests them (R2)', async () => {
    const relay = await startSmtpServer();
    servers.push(relay);
    const state = join(work, 'inbound-bounce-state');
    const cfg = join(work, 'inbound.toml');
    writeFileSync(cfg, `[smtp]\nlisten = ["127.0.0.1:0"]\nallow_networks = ["127.0.0.1/32"]\n[http]\nlisten = "127.0.0.1:0"\n[relay]\nurl = "${relay.url('smtp', 'tls=never')}"\n[bounces]\naddress = "bounces@bounces.example.test"\n`);
    const r = await serve(['--config', cfg, '--state-dir', state]);
    const sent = await run(['send', '--config', cfg, '--state-dir', state, '--from', 'Jane Doe <jane@example.test>', '--to', 'gone@example.test', '--subject', 'will bounce', '--text', 'x']);
    assert.equal(sent.code, 0, sent.stderr);
    const deadline = Date.now() + 30_000;
    while (relay.messages.length === 0 && Date.now() < deadline) await sleep(50);
    const verpFrom = relay.messages[0]!.from;
    assert.match(verpFrom, /^bounces\+/);
    // A relay on another address (127.0.0.2, not in allow_networks) returns the bounce.
    const dialogue = async (rcpt: string, body: string) => {
      const sock = connect({ host: '127.0.0.1', port: r.smtpPort, localAddress: '127.0.0.2' });
      let got = '';
      sock.on('data', (d) => (got += d));
      const waitFor = async (re: RegExp) => {
        const until = Date.now() + 15_000;
        while (!re.test(got) && Date.now() < until) await sleep(20);
      };
      await waitFor(/^220 /m);
      for (const [cmd, re] of [['EHLO mx.example.test', /^250 /m], ['MAIL FROM:<>', /250 2\.1\.0|^250 [^\n]*\n[^]*250 /m]] as const) {
        got = '';
        sock.write(`${cmd}\r\n`);
        await waitFor(re);
      }
      got = '';
      sock.write(`RCPT TO:<${rcpt}>\r\n`);
      await waitFor(/^\d{3} /m);
      const rcptReply = got;
      let dataReply = '';
      if (/^250/.test(rcptReply)) {
        got = '';
        sock.write('DATA\r\n');
        await waitFor(/^354/m);
        got = '';
        sock.write(`${body.replace(/\n/g, '\r\n')}\r\n.\r\n`);
        await waitFor(/^\d{3} /m);
        dataReply = got;
      }
      sock.end('QUIT\r\n');
      return { rcptReply, dataReply };
    };
    const forged = await dialogue(verpFrom.replace(/\.[a-z2-7]{10}@/, '.aaaaaaaaaa@'), 'x');
    assert.match(forged.rcptReply, /^550 5\.1\.1 /);
    const dsn = ['From: MAILER-DAEMON@mx.example.test', `To: ${verpFrom}`, 'Subject: Undelivered Mail Returned to Sender', 'MIME-Version: 1.0', 'Content-Type: multipart/report; report-type=delivery-status; boundary="b"', '', '--b', 'Content-Type: message/delivery-status', '', 'Reporting-MTA: dns; mx.example.test', '', 'Final-Recipient: rfc822; gone@example.test', 'Action: failed', 'Status: 5.1.1', 'Diagnostic-Code: smtp; 550 5.1.1 user unknown', '', '--b--'].join('\n');
    const ok = await dialogue(verpFrom, dsn);
    assert.match(ok.rcptReply, /^250 /);
    assert.match(ok.dataReply, /^250 2\.0\.0 bounce received/);
    const list = JSON.parse((await run(['suppress', 'list', '--config', cfg, '--state-dir', state, '--json'])).stdout) as Array<{ address: string }>;
    assert.deepEqual(list.map((x) => x.address), ['gone@example.test']);
    assert.equal(await stop(r), 0);
  });

  it('SIGHUP reloads; a broken config keeps the running one', async () => {
    const state = join(work, 'hup-state');
    const cfg = config('hup.toml', '');
    const r = await serve(['--config', cfg, '--state-dir', state]);
    writeFileSync(cfg, '[relay\nbroken');
    r.child.kill('SIGHUP');
    const deadline = Date.now() + 30_000;
    while (!/reload refused/.test(r.log()) && Date.now() < deadline) await sleep(50);
    assert.match(r.log(), /reload refused, keeping the running configuration/);
    assert.equal((await fetch(`http://127.0.0.1:${r.httpPort}/healthz`)).status, 200);
    writeFileSync(cfg, '[smtp]\nlisten = ["127.0.0.1:0"]\n[http]\nlisten = "127.0.0.1:0"\n');
    r.child.kill('SIGHUP');
    while (!/reloaded/.test(r.log()) && Date.now() < deadline + 10_000) await sleep(50);
    assert.match(r.log(), /reloaded/);
    assert.equal(await stop(r), 0);
  });
});

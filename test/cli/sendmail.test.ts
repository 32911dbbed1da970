/**
 * The sendmail drop-in as its real callers run it: the built `sendmail` executable
 * (dist/cli/sendmail-bin.cjs; npm test builds first) as a child process, with the
 * argument lists of cron, PHP's mail(), mailutils and BSD mail, git send-email,
 * logwatch and smartd, an SMTP dialogue on stdin/stdout (-bs), the queue (-bp, -q),
 * and an in-process SMTP server on 127.0.0.1 as the relay.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { freePort, startSmtpServer, type TestServer } from '../helpers/smtp-server.js';
import { runCli } from '../helpers/cli.js';

/** The package's `sendmail` bin (sendmail-bin.js, its ES-module twin, runs under `sendwell sendmail`). */
const SENDMAIL = new URL('../../dist/cli/sendmail-bin.cjs', import.meta.url).pathname;
const SENDWELL = new URL('../../dist/cli/bin.cjs', import.meta.url).pathname;
/** Its ES-module twin (links made to it before). */
const SENDWELL_ESM = new URL('../../dist/cli/bin.js', import.meta.url).pathname;
const root = mkdtempSync(join(tmpdir(), 'sendwell-sendmail-'));
// An empty cwd: the drop-in must neither read ./sendwell.toml nor create ./.sendwell there.
const cwd = join(root, 'cwd');
mkdirSync(cwd);

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

const run = (args: string[], opts: { stdin?: string | Buffer; env?: Record<string, string>; bin?: string[] } = {}): Promise<Run> =>
  runCli(args, { cwd, script: opts.bin?.[0] ?? SENDMAIL, ...(opts.env ? { env: opts.env } : {}), ...(opts.stdin !== undefined ? { stdin: opts.stdin } : {}) });

let n = 0;
/** A fresh config, queue and HOME per test, so duplicate holds and rate limits never mix. */
function setup(srv: TestServer, extra = '', opts: { relay?: string; sender?: boolean } = {}) {
  const dir = join(root, `t${++n}`);
  mkdirSync(dir);
  const cfg = join(dir, 'sendwell.toml');
  writeFileSync(
    cfg,
    `[relay]\nurl = "${opts.relay ?? srv.url('smtp', 'tls=never')}"\n` +
      (opts.sender === false ? '' : '[sender]\nfrom = "Ops Team <ops@example.test>"\n') +
      `[aliases]\nroot = "admin@example.test"\nuser = "jane.doe@example.test"\n${extra}`,
  );
  const state = join(dir, 'state');
  return { dir, cfg, state, env: { SENDWELL_CONFIG: cfg, SENDWELL_STATE_DIR: state, HOME: dir } };
}

function rfcDate(d = new Date()): string {
  return d.toUTCString().replace('GMT', '+0000');
}

const text = (b: Buffer) => b.toString('utf8');
const header = (raw: Buffer, name: string) => new RegExp(`^${name}: (.*(?:\\r\\n[ \\t].*)*)\\r$`, 'mi').exec(text(raw))?.[1]?.replace(/\r\n[ \t]/g, ' ');
const noBareLf = (raw: Buffer) => !/[^\r]\n/.test(text(raw)) && !/\r(?!\n)/.test(text(raw));

describe('sendmail drop-in: the real callers', () => {
  let srv: TestServer;
  before(async () => {
    srv = await startSmtpServer();
  });
  after(async () => {
    await srv.close();
  });

  it('cron: -FCronDaemon -i -B8BITMIME -oem user (From root masqueraded, alias, 8-bit body kept)', async () => {
    const t = setup(srv);
    const before = srv.messages.length;
    const mail = [
      'From: root (Cron Daemon)',
      'To: user',
      'Subject: Cron <user@web1> /usr/local/bin/backup',
      'MIME-Version: 1.0',
      'Content-Type: text/plain; charset=UTF-8',
      'Content-Transfer-Encoding: 8bit',
      'X-Cron-Env: <SHELL=/bin/sh>',
      'X-Cron-Env: <HOME=/home/user>',
      'X-Cron-Env: <LOGNAME=user>',
      '',
      'backup: 12 volumes OK, Größe 3 GB',
      '',
    ].join('\n');
    const r = await run(['-FCronDaemon', '-i', '-B8BITMIME', '-oem', 'user'], { stdin: mail, env: t.env });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, '');
    assert.equal(r.stderr, '');
    const got = srv.messages[before]!;
    assert.equal(got.from, 'ops@example.test');
    assert.deepEqual(got.to, ['jane.doe@example.test']);
    assert.equal(header(got.raw, 'From'), 'Cron Daemon <ops@example.test>');
    assert.equal(header(got.raw, 'To'), 'jane.doe@example.test');
    assert.match(header(got.raw, 'X-Sendwell-Original-Sender')!, /^root \((login, )?From\)/);
    assert.match(text(got.raw), /^Received: from local \(uid \d+\) by \S+ \(sendwell\) id [0-9A-F]{12};/);
    assert.match(header(got.raw, 'Message-ID')!, /^<[^@>]+@example\.test>$/);
    assert.ok(header(got.raw, 'Date'));
    assert.equal(header(got.raw, 'X-Cron-Env'), '<SHELL=/bin/sh>');
    assert.ok(got.raw.includes(Buffer.from('Größe 3 GB\r\n', 'utf8')), 'the 8-bit body arrives as it was');
    assert.ok(noBareLf(got.raw));
    // The notice says what was added or changed (mail log, T2).
    const log = readFileSync(join(t.state, 'mail.log'), 'utf8');
    assert.match(log, /sendmail submission: envelope sender .* → ops@example\.test; From root → ops@example\.test; qualified To; added Date; added Message-ID; Received id [0-9A-F]{12}/);
    assert.match(log, /status=sent/);
  });

  it("PHP's mail(): -t -i, mixed line endings, Bcc delivered but removed, the From kept", async () => {
    const t = setup(srv);
    const before = srv.messages.length;
    // PHP writes To and Subject with LF, the additional headers with CRLF.
    const mail = 'To: bob@example.test\nSubject: Order 42\nFrom: Shop <shop@example.test>\r\nReply-To: orders@example.test\r\nBcc: audit@example.test\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=UTF-8\r\n\nThanks for your order.\n';
    const r = await run(['-t', '-i'], { stdin: mail, env: t.env });
    assert.equal(r.code, 0, r.stderr);
    const got = srv.messages[before]!;
    assert.equal(got.from, 'ops@example.test', 'the web server account becomes the configured bounce address');
    assert.deepEqual(got.to.sort(), ['audit@example.test', 'bob@example.test']);
    assert.equal(header(got.raw, 'From'), 'Shop <shop@example.test>');
    assert.equal(header(got.raw, 'Bcc'), undefined);
    assert.doesNotMatch(text(got.raw), /audit@/);
    assert.ok(noBareLf(got.raw));
  });

  it('mailutils mail: -oi -t (a lone dot does not end the message)', async () => {
    const t = setup(srv);
    const before = srv.messages.length;
    const r = await run(['-oi', '-t'], { stdin: 'To: root\nSubject: disk usage\nX-Mailer: mail (GNU Mailutils 3.17)\n\n/dev/sda1 91%\n.\nstill the message\n', env: t.env });
    assert.equal(r.code, 0, r.stderr);
    const got = srv.messages[before]!;
    assert.deepEqual(got.to, ['admin@example.test']);
    assert.match(text(got.raw), /\r\n\/dev\/sda1 91%\r\n\.\r\nstill the message\r\n$/);
    assert.equal(header(got.raw, 'From'), 'Ops Team <ops@example.test>');
  });

  it('BSD mail: -i -- rcpt', async () => {
    const t = setup(srv);
    const before = srv.messages.length;
    const r = await run(['-i', '--', 'jane.doe@example.test'], { stdin: 'To: jane.doe@example.test\nSubject: hello\n\nfrom bsd-mailx\n', env: t.env });
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(srv.messages[before]!.to, ['jane.doe@example.test']);
  });

  it('unlabelled 8-bit text (old mail, busybox cron) and lines over 998 octets are labelled and encoded, not refused', async () => {
    const t = setup(srv);
    const before = srv.messages.length;
    const r = await run(['-i', 'root'], { stdin: `Subject: disk report\n\nGröße: 3 GB\n${'#'.repeat(1500)}\nend\n`, env: t.env });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stderr, '');
    const got = srv.messages[before]!;
    assert.equal(header(got.raw, 'Content-Type'), 'text/plain; charset=utf-8');
    assert.equal(header(got.raw, 'Content-Transfer-Encoding'), 'quoted-printable');
    assert.match(text(got.raw), /\r\nGr=C3=B6=C3=9Fe: 3 GB\r\n#{75}=\r\n/);
    for (const line of text(got.raw).split('\r\n')) assert.ok(line.length <= 998);
  });

  it('git send-email: -i -f from rcpt1 rcpt2 keeps the message byte for byte under a Received header; -i -t reads To and Cc', async () => {
    const t = setup(srv);
    const before = srv.messages.length;
    const patch = [
      'From: A U Thor <author@example.test>',
      'To: rcpt1@example.test',
      'Cc: rcpt2@example.test',
      'Subject: [PATCH] fix the frobnicator',
      `Date: ${rfcDate()}`,
      'Message-ID: <20261204170000.1-1-author@example.test>',
      'X-Mailer: git-send-email 2.43.0',
      'MIME-Version: 1.0',
      'Content-Transfer-Encoding: 8bit',
      '',
      '---',
      ' frob.c | 2 +-',
      '',
    ].join('\r\n');
    const r = await run(['-i', '-f', 'author@example.test', 'rcpt1@example.test', 'rcpt2@example.test'], { stdin: patch, env: t.env });
    assert.equal(r.code, 0, r.stderr);
    const got = srv.messages[before]!;
    assert.equal(got.from, 'author@example.test');
    assert.deepEqual(got.to, ['rcpt1@example.test', 'rcpt2@example.test']);
    assert.equal(text(got.raw).replace(/^Received: .*\r\n(?:[ \t].*\r\n)*/, ''), patch);
    const t2 = setup(srv);
    const r2 = await run(['-i', '-t'], { stdin: patch.replace('fix the', 'fix again the'), env: t2.env });
    assert.equal(r2.code, 0, r2.stderr);
    assert.deepEqual(srv.messages[before + 1]!.to, ['rcpt1@example.test', 'rcpt2@example.test']);
    assert.equal(srv.messages[before + 1]!.from, 'ops@example.test');
  });

  it('logwatch: -t without -i, a lone dot ends the message; From "Logwatch" masqueraded', async () => {
    const t = setup(srv);
    const before = srv.messages.length;
    const report = [
      'To: root',
      'From: Logwatch',
      'Subject: Logwatch for web1 (Linux)',
      'Auto-Submitted: auto-generated',
      'MIME-Version: 1.0',
      'Content-Transfer-Encoding: 7bit',
      'Content-Type: text/plain; charset="iso-8859-1"',
      '',
      ' ################### Logwatch 7.7 (01/22/22) ####################',
      '        Processing Initiated: Fri Dec  4 06:25:01 2026',
      '.',
      'this line comes after the dot and is not part of the message',
      '',
    ].join('\n');
    const r = await run(['-t'], { stdin: report, env: t.env });
    assert.equal(r.code, 0, r.stderr);
    const got = srv.messages[before]!;
    assert.deepEqual(got.to, ['admin@example.test']);
    assert.equal(header(got.raw, 'From'), 'Ops Team <ops@example.test>');
    assert.match(header(got.raw, 'X-Sendwell-Original-Sender')!, /Logwatch \(From\)/);
    assert.match(text(got.raw), /Processing Initiated: Fri Dec {2}4 06:25:01 2026\r\n$/);
    assert.doesNotMatch(text(got.raw), /after the dot/);
  });

  it('smartd: -i root with only a Subject header (To: undisclosed-recipients:; added)', async () => {
    const t = setup(srv);
    const before = srv.messages.length;
    const mail = 'Subject: SMART error (FailedReadSmartData) detected on host: web1\n\nThis message was generated by the smartd daemon running on:\n\n   host name:  web1\n\nThe following warning/error was logged by the smartd daemon:\n\nDevice: /dev/sda [SAT], failed to read SMART Attribute Data\n';
    const r = await run(['-i', 'root'], { stdin: mail, env: t.env });
    assert.equal(r.code, 0, r.stderr);
    const got = srv.messages[before]!;
    assert.deepEqual(got.to, ['admin@example.test']);
    assert.equal(header(got.raw, 'To'), 'undisclosed-recipients:;');
    assert.equal(header(got.raw, 'From'), 'Ops Team <ops@example.test>');
  });

  it('-bs: a scripted SMTP dialogue on stdin/stdout; 250 with the queue ID after the commit; a policy refusal keeps the session', async () => {
    const t = setup(srv);
    const before = srv.messages.length;
    const s = smtpChild(['-bs'], t.env);
    assert.match((await s.reply())[0]!, /^220 \S+ ESMTP sendwell/);
    s.send('EHLO client.example.test');
    const ehlo = await s.reply();
    assert.ok(ehlo.includes('250-ENHANCEDSTATUSCODES') && ehlo.includes('250-8BITMIME') && ehlo.at(-1) === '250 HELP', ehlo.join('\n'));
    s.send('MAIL FROM:<root>');
    assert.deepEqual(await s.reply(), ['250 2.1.0 Ok']);
    s.send('RCPT TO:<root>');
    assert.deepEqual(await s.reply(), ['250 2.1.5 Ok']);
    s.send('RCPT TO:<nosuchuser>');
    assert.match((await s.reply()).at(-1)!, /^550 5\.1\.1 /);
    s.send('DATA');
    assert.deepEqual(await s.reply(), ['354 End data with <CR><LF>.<CR><LF>']);
    s.send('Subject: via -bs\r\nFrom: Jane Doe <jane.doe@example.test>\r\n\r\n..a line that starts with a dot\r\nend\r\n.');
    const queued = await s.reply();
    assert.match(queued[0]!, /^250 2\.0\.0 Ok: queued as [0-9A-Za-z]{14}$/);
    // Pipelined: a second transaction that the policy refuses (R2), then QUIT.
    s.send('MAIL FROM:<noreply@example.test>\r\nRCPT TO:<jane.doe@example.test>\r\nDATA');
    assert.deepEqual(await s.reply(), ['250 2.1.0 Ok']);
    assert.deepEqual(await s.reply(), ['250 2.1.5 Ok']);
    assert.deepEqual(await s.reply(), ['354 End data with <CR><LF>.<CR><LF>']);
    s.send('From: noreply@example.test\r\nSubject: x\r\n\r\nx\r\n.');
    const refused = await s.reply();
    assert.match(refused[0]!, /^550-5\.7\.1 refused by policy: R2\.noreply-sender/);
    assert.match(refused.at(-1)!, /^550 5\.7\.1 /);
    s.send('QUIT');
    assert.match((await s.reply())[0]!, /^221 2\.0\.0 /);
    assert.equal(await s.exit, 0);
    const got = srv.messages[before]!;
    assert.equal(srv.messages.length, before + 1);
    assert.equal(got.from, 'ops@example.test');
    assert.deepEqual(got.to, ['admin@example.test']);
    assert.match(text(got.raw), /^Received: from local \(uid \d+\) by \S+ \(sendwell\) with ESMTP id /);
    assert.match(text(got.raw), /\r\n\.a line that starts with a dot\r\nend\r\n$/);
    assert.equal(header(got.raw, 'From'), 'Jane Doe <jane.doe@example.test>');
  });

  it('-odq queues only; -bp prints the queue (mailq layout); -q runs it; mailq via a symlink', async () => {
    const t = setup(srv);
    const before = srv.messages.length;
    const q = await run(['-odq', '-i', 'root'], { stdin: 'Subject: queued for later\n\nx\n', env: t.env });
    assert.equal(q.code, 0, q.stderr);
    assert.equal(srv.messages.length, before, 'nothing delivered yet');
    const bp = await run(['-bp'], { env: t.env });
    assert.equal(bp.code, 0, bp.stderr);
    const lines = bp.stdout.split('\n');
    assert.equal(lines[0], '-Queue ID-      --Size-- ----Arrival Time---- -Sender/Recipient-------');
    assert.match(lines[1]!, /^[0-9A-Za-z]{14}  +\d+ (Sun|Mon|Tue|Wed|Thu|Fri|Sat) [A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d {2}ops@example\.test$/);
    assert.ok(lines.some((l) => /^ {44}admin@example\.test$/.test(l)), bp.stdout);
    assert.match(bp.stdout, /^-- \d+ Kbytes in 1 Request\.$/m);
    const link = join(t.dir, 'mailq');
    symlinkSync(SENDMAIL, link);
    const mailq = await run([], { env: t.env, bin: [link] });
    assert.equal(mailq.stdout, bp.stdout);
    const flush = await run(['-q'], { env: t.env });
    assert.equal(flush.code, 0, flush.stderr);
    assert.match(flush.stdout, /1 delivered/);
    assert.deepEqual(srv.messages[before]!.to, ['admin@example.test']);
    assert.equal((await run(['-bp'], { env: t.env })).stdout, 'Mail queue is empty\n');
  });

  it('sendwell sendmail … is the same entry point; -v prints the queue ID and the outcome', async () => {
    const t = setup(srv);
    const before = srv.messages.length;
    const r = await run(['sendmail', '-v', '-i', 'root'], { stdin: 'Subject: via sendwell sendmail\n\nx\n', env: t.env, bin: [SENDWELL] });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^queued as [0-9A-Za-z]{14}\n {2}delivered +admin@example\.test +250 /);
    assert.equal(srv.messages.length, before + 1);
    const help = await run(['--help'], { bin: [SENDWELL] });
    assert.match(help.stdout, /sendmail/);
    const own = await run(['sendmail', '--help'], { bin: [SENDWELL] });
    assert.match(own.stdout, /^usage: sendmail \[flags\]/);
    // The ES-module twin (dist/cli/bin.js) does the same.
    const esm = await run(['sendmail', '-v', '-i', 'root'], { stdin: 'Subject: via bin.js\n\nx\n', env: t.env, bin: [SENDWELL_ESM] });
    assert.equal(esm.code, 0, esm.stderr);
    assert.match(esm.stdout, /^queued as [0-9A-Za-z]{14}\n {2}delivered +admin@example\.test +250 /);
    assert.equal(srv.messages.length, before + 2);
    assert.equal((await run(['--help'], { bin: [SENDWELL_ESM] })).stdout, help.stdout);
    assert.equal((await run(['sendmail', '--help'], { bin: [SENDWELL_ESM] })).stdout, own.stdout);
  });

  it('without SENDWELL_STATE_DIR the queue is under ~/.local/state/sendwell (or $XDG_STATE_HOME), never in the cwd', async () => {
    const t = setup(srv);
    const env = { SENDWELL_CONFIG: t.cfg, HOME: t.dir };
    const r = await run(['-odq', '-i', 'root'], { stdin: 'Subject: default state dir\n\nx\n', env });
    assert.equal(r.code, 0, r.stderr);
    assert.ok(existsSync(join(t.dir, '.local', 'state', 'sendwell', 'queue.db')));
    const xdg = join(t.dir, 'xdg');
    const r2 = await run(['-odq', '-i', 'root'], { stdin: 'Subject: xdg state dir\n\nx\n', env: { ...env, XDG_STATE_HOME: xdg } });
    assert.equal(r2.code, 0, r2.stderr);
    assert.ok(existsSync(join(xdg, 'sendwell', 'queue.db')));
    assert.deepEqual(readdirSync(cwd), []);
  });
});

describe('sendmail drop-in: DSN parameters per message (-N, -R, -V)', () => {
  let srv: TestServer;
  before(async () => {
    // A relay that offers DSN (RFC 3461): sendwell sends RET/ENVID/NOTIFY only then.
    srv = await startSmtpServer({ hideDSN: false });
  });
  after(async () => {
    await srv.close();
  });
  // Defaults that differ from every flag below, so the test tells them apart.
  const DSN_DEFAULTS = '[dsn]\nret = "FULL"\nnotify = ["FAILURE"]\n';

  it('sendwell sendmail -N success -R hdrs -V X: MAIL FROM with RET=HDRS ENVID=X, RCPT TO with NOTIFY=SUCCESS; without flags [dsn] and ENVID = queue ID', async () => {
    const t = setup(srv, DSN_DEFAULTS);
    const before = srv.messages.length;
    const r = await run(['sendmail', '-N', 'success', '-R', 'hdrs', '-V', 'X', '-i', 'root'], { stdin: 'Subject: with DSN flags\n\nx\n', env: t.env, bin: [SENDWELL] });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stderr, '', 'no warning: the flags are kept');
    const got = srv.messages[before]!;
    assert.deepEqual(got.to, ['admin@example.test']);
    assert.equal(got.mailArgs.RET, 'HDRS');
    assert.equal(got.mailArgs.ENVID, 'X');
    assert.equal(got.rcptArgs[0]!.NOTIFY, 'SUCCESS');
    const plain = await run(['sendmail', '-v', '-i', 'root'], { stdin: 'Subject: without DSN flags\n\nx\n', env: t.env, bin: [SENDWELL] });
    assert.equal(plain.code, 0, plain.stderr);
    const id = /^queued as ([0-9A-Za-z]{14})$/m.exec(plain.stdout)?.[1];
    assert.ok(id, plain.stdout);
    const got2 = srv.messages[before + 1]!;
    assert.equal(got2.mailArgs.RET, 'FULL', '[dsn] ret');
    assert.equal(got2.mailArgs.ENVID, id, 'the queue ID');
    assert.equal(got2.rcptArgs[0]!.NOTIFY, 'FAILURE', '[dsn] notify');
  });

  it('queued with -odq, the flags are kept for the later run (-q) of the sendmail binary; -N never goes on as NOTIFY=NEVER', async () => {
    const t = setup(srv, DSN_DEFAULTS);
    const before = srv.messages.length;
    const q = await run(['-odq', '-Nnever', '-R', 'full', '-Vorder+42', '-i', 'root'], { stdin: 'Subject: queued with DSN flags\n\nx\n', env: t.env });
    assert.equal(q.code, 0, q.stderr);
    assert.equal(q.stderr, '');
    assert.equal(srv.messages.length, before, 'nothing delivered yet');
    const flush = await run(['-q'], { env: t.env });
    assert.equal(flush.code, 0, flush.stderr);
    const got = srv.messages[before]!;
    assert.equal(got.mailArgs.RET, 'FULL');
    assert.equal(got.mailArgs.ENVID, 'order+42', 'xtext-encoded on the wire, decoded by the server');
    assert.equal(got.rcptArgs[0]!.NOTIFY, 'NEVER');
  });
});

describe('sendmail drop-in: refusals and exit codes', () => {
  let srv: TestServer;
  before(async () => {
    srv = await startSmtpServer();
  });
  after(async () => {
    await srv.close();
  });

  it('an unknown local recipient: 67 with the hint to add an alias; nothing queued', async () => {
    const t = setup(srv);
    const r = await run(['-i', 'cronuser'], { stdin: 'Subject: x\n\nx\n', env: t.env });
    assert.equal(r.code, 67, r.stderr);
    assert.match(r.stderr, /unknown local user "cronuser"/);
    assert.match(r.stderr, /hint: \[aliases\]/);
    assert.match(r.stderr, /append_domain/);
    assert.ok(!existsSync(join(t.state, 'queue.db')));
    const appended = setup(srv, '[sendmail]\nappend_domain = "example.test"\n');
    const before = srv.messages.length;
    const ok = await run(['-i', 'cronuser'], { stdin: 'Subject: appended\n\nx\n', env: appended.env });
    assert.equal(ok.code, 0, ok.stderr);
    assert.deepEqual(srv.messages[before]!.to, ['cronuser@example.test']);
  });

  it('a policy error: 65 with the rule and the fix on stderr; warnings are printed but do not stop the mail', async () => {
    const t = setup(srv);
    const r = await run(['-t', '-i'], { stdin: 'From: noreply@example.test\nTo: bob@example.test\nSubject: x\n\nx\n', env: t.env });
    assert.equal(r.code, 65);
    assert.match(r.stderr, /R2\.noreply-sender/);
    assert.match(r.stderr, /hint:/);
    assert.equal((await run(['-bp'], { env: t.env })).stdout, 'Mail queue is empty\n');
    const w = await run(['-t', '-i'], { stdin: 'From: shop@example.test\nTo: bob@example.test\nSubject: warned\n\nx\n', env: t.env });
    assert.equal(w.code, 0, w.stderr);
    assert.match(w.stderr, /warning +H5\.from-without-name/);
  });

  it('no [sender] from and mail from root: refused (65) with the hint to configure the sender', async () => {
    const t = setup(srv, '', { sender: false });
    const r = await run(['-i', 'root'], { stdin: 'From: root\nSubject: x\n\nx\n', env: t.env });
    assert.equal(r.code, 65, r.stderr);
    assert.match(r.stderr, /R3\.envelope-sender-unqualified|R2\./);
    assert.match(r.stderr, /set \[sender\] from = /);
  });

  it('a mail loop (more than 3 sendwell Received headers) is refused with 65', async () => {
    const t = setup(srv);
    const hop = (i: number) => `Received: from local (uid 33) by web${i}.example.test (sendwell) id ABC; ${rfcDate()}\n`;
    const r = await run(['-i', 'root'], { stdin: `${[1, 2, 3, 4].map(hop).join('')}Subject: loop\n\nx\n`, env: t.env });
    assert.equal(r.code, 65);
    assert.match(r.stderr, /mail loop/);
    assert.match(r.stderr, /\[relay\] url/);
  });

  it('a relay that is this drop-in (sendmail: pointing at it) is a config error (78)', async () => {
    const t = setup(srv, '', { relay: `sendmail:${SENDMAIL}` });
    const r = await run(['-i', 'root'], { stdin: 'Subject: x\n\nx\n', env: t.env });
    assert.equal(r.code, 78);
    assert.match(r.stderr, /every message would loop/);
  });

  it('usage errors 64; a broken config 78; nothing could be saved 75', async () => {
    const t = setup(srv);
    const none = await run(['-i'], { stdin: 'Subject: x\n\nx\n', env: t.env });
    assert.equal(none.code, 64);
    assert.match(none.stderr, /no recipients/);
    assert.equal((await run(['-bd'], { env: t.env })).code, 64);
    const bad = join(t.dir, 'broken.toml');
    writeFileSync(bad, '[aliases]\nroot = "|/bin/sh"\n');
    const broken = await run(['-i', 'root'], { stdin: 'Subject: x\n\nx\n', env: { ...t.env, SENDWELL_CONFIG: bad } });
    assert.equal(broken.code, 78);
    assert.match(broken.stderr, /aliases\.root/);
    // An SMTP client (-bs) gets a 421 instead of a silent close.
    const bs = await run(['-bs'], { stdin: 'EHLO x\r\n', env: { ...t.env, SENDWELL_CONFIG: bad } });
    assert.equal(bs.code, 78);
    assert.match(bs.stdout, /^421-4\.3\.0 .*aliases\.root.*\r\n(421-4\.3\.0 .*\r\n)*421 4\.3\.0 .*\r\n$/);
    const file = join(t.dir, 'a-file');
    writeFileSync(file, '');
    const unsaved = await run(['-i', 'root'], { stdin: 'Subject: x\n\nx\n', env: { ...t.env, SENDWELL_STATE_DIR: join(file, 'state') } });
    assert.equal(unsaved.code, 75, unsaved.stderr);
    assert.match(unsaved.stderr, /nothing was queued; it is safe to try again/);
  });

  it('unknown and ignored flags are warned about, their arguments consumed, and the mail still goes out', async () => {
    const t = setup(srv);
    const before = srv.messages.length;
    const r = await run(['-X', '/var/www/html/x.php', '-C/etc/mail/sendmail.cf', '-Zz', '-i', 'root'], { stdin: 'Subject: flags\n\nx\n', env: t.env });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /warning: ignored -X \/var\/www\/html\/x\.php/);
    assert.match(r.stderr, /warning: ignored unknown flag -Zz/);
    assert.deepEqual(srv.messages[before]!.to, ['admin@example.test']);
  });

  it('a relay that is down: queued and deferred, exit 0, a note on stderr', async () => {
    const t = setup(srv, '', { relay: `smtp://127.0.0.1:${await freePort()}?tls=never` });
    const r = await run(['-i', 'root'], { stdin: 'Subject: relay down\n\nx\n', env: t.env });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /<admin@example\.test> deferred: .*connection refused/);
    assert.match((await run(['-bp'], { env: t.env })).stdout, /admin@example\.test/);
  });
});

/** A child running an SMTP dialogue on its stdio: send lines, read whole replies. */
function smtpChild(args: string[], env: Record<string, string>) {
  const child: ChildProcessWithoutNullStreams = spawn(process.execPath, [SENDMAIL, ...args], { cwd, env: { PATH: process.env.PATH ?? '', TZ: 'UTC', ...env } });
  let buf = '';
  let stderr = '';
  let wake: (() => void) | undefined;
  child.stdout.on('data', (d) => {
    buf += d;
    wake?.();
  });
  child.stderr.on('data', (d) => (stderr += d));
  const exit = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
  return {
    exit,
    send(line: string) {
      child.stdin.write(`${line}\r\n`);
    },
    /** The next complete reply: its lines, up to the one with a space after the code. */
    async reply(): Promise<string[]> {
      const deadline = Date.now() + 10_000;
      for (;;) {
        const lines = buf.split('\r\n');
        const end = lines.findIndex((l, i) => i < lines.length - 1 && /^\d{3} /.test(l));
        if (end >= 0) {
          buf = lines.slice(end + 1).join('\r\n');
          return lines.slice(0, end + 1);
        }
        if (Date.now() > deadline) throw new Error(`no complete reply in ${JSON.stringify(buf)}; stderr: ${stderr}`);
        await new Promise<void>((resolve) => {
          wake = resolve;
          setTimeout(resolve, 200);
        });
      }
    },
  };
}

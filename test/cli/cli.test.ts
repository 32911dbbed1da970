/**
 * The CLI as users run it: real child processes of the built `sendwell` binary
 * (npm test builds first), real SMTP servers on 127.0.0.1, real files.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { SMTPServer } from 'smtp-server';
import { BIN, BIN_ESM, runCli } from '../helpers/cli.js';

const work = mkdtempSync(join(tmpdir(), 'sendwell-cli-'));

const run = (args: string[], opts: { stdin?: string; env?: Record<string, string> } = {}) => runCli(args, { cwd: work, ...opts });

interface Received {
  from: string;
  to: string[];
  raw: string;
}

/** smtp-server that refuses recipients whose local part starts with `unknown` (5.1.1) or `later` (4.2.1). */
function startServer(extra: Partial<ConstructorParameters<typeof SMTPServer>[0]> = {}): Promise<{ port: number; received: Received[]; close: () => Promise<void> }> {
  const received: Received[] = [];
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS'],
    logger: false,
    onRcptTo(address, _session, cb) {
      if (address.address.startsWith('unknown')) return cb(Object.assign(new Error('5.1.1 <' + address.address + '>: user unknown'), { responseCode: 550 }));
      if (address.address.startsWith('later')) return cb(Object.assign(new Error('4.2.1 mailbox busy, try later'), { responseCode: 450 }));
      cb();
    },
    onData(stream, session, cb) {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => {
        received.push({ from: (session.envelope.mailFrom && session.envelope.mailFrom.address) || '', to: session.envelope.rcptTo.map((r) => r.address), raw: Buffer.concat(chunks).toString() });
        cb(null, 'Ok: queued as 4TEST1');
      });
    },
    ...extra,
  });
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () => {
      const port = (server.server.address() as { port: number }).port;
      resolve({ port, received, close: () => new Promise((r) => server.close(() => r())) });
    });
  });
}

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

const FROM = ['--from', 'Jane Doe <jane.doe@example.test>'];

describe('sendwell CLI', () => {
  let srv: Awaited<ReturnType<typeof startServer>>;
  before(async () => {
    srv = await startServer();
  });
  after(async () => {
    await srv.close();
  });

  it('shows help and exits 0; no arguments or an unknown flag is a usage error (64)', async () => {
    const help = await run(['--help']);
    assert.equal(help.code, 0);
    assert.match(help.stdout, /send/);
    assert.match(help.stdout, /lint/);
    const sendHelp = await run(['send', '--help']);
    assert.equal(sendHelp.code, 0);
    for (const flag of ['--from', '--to', '--cc', '--bcc', '--reply-to', '--envelope-from', '--subject', '--text', '--text-file', '--html-file', '--attach', '--header', '--relay', '--config', '--dry-run', '--json']) {
      assert.ok(sendHelp.stdout.includes(flag), `send --help lists ${flag}`);
    }
    assert.equal((await run([])).code, 64);
    const bad = await run(['send', '--bogus']);
    assert.equal(bad.code, 64);
    assert.match(bad.stderr, /unknown option/);
  });

  it('package.json\'s bin (bin.cjs) and its ES-module twin (bin.js) answer alike, exit codes included', async () => {
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { bin: Record<string, string>; version: string };
    assert.equal(new URL(`../../${pkg.bin.sendwell}`, import.meta.url).pathname, BIN);
    for (const args of [['--help'], ['--version'], [], ['send', '--bogus'], ['lint', '--help']]) {
      const cjs = await run(args);
      const esm = await runCli(args, { cwd: work, script: BIN_ESM });
      assert.deepEqual(esm, cjs, args.join(' '));
    }
    assert.equal((await run(['--version'])).stdout.trim(), pkg.version);
  });

  it('--dry-run prints the composed message and the lint report, sends nothing', async () => {
    const r = await run(['send', ...FROM, '--to', 'bob@example.test', '--subject', 'Grüße', '--text', 'Hallo', '--dry-run', '--relay', `smtp://127.0.0.1:${await freePort()}`]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^Subject: =\?UTF-8\?Q\?Gr=C3=BC=C3=9Fe\?=\r$/m);
    assert.match(r.stdout, /--- envelope: from <jane\.doe@example\.test> to <bob@example\.test>/);
    assert.match(r.stdout, /no findings|0 errors/);
    assert.match(r.stdout, /nothing was sent/);
  });

  it('queues durably, delivers at once and reports the relay reply (exit 0)', async () => {
    const before = srv.received.length;
    const r = await run(['send', ...FROM, '--to', 'bob@example.test', '--subject', 'Backup', '--text-file', '-', '--relay', `smtp://127.0.0.1:${srv.port}?tls=never`], { stdin: 'All 12 volumes OK.\n' });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^queued as [0-9A-Za-z]{14}: <[^>]+@example\.test>: 1 delivered$/m);
    assert.match(r.stdout, /delivered\s+bob@example\.test\s+250 .*queued as 4TEST1/);
    const got = srv.received[before]!;
    assert.deepEqual(got.to, ['bob@example.test']);
    assert.equal(got.from, 'jane.doe@example.test');
    assert.match(got.raw, /All 12 volumes OK\./);
    assert.match(got.raw, /^Auto-Submitted: auto-generated\r$/m);
  });

  it('--no-queue delivers directly and reports the relay queue ID', async () => {
    const r = await run(['send', ...FROM, '--to', 'bob@example.test', '--subject', 'direct', '--text', 't', '--no-queue', '--relay', `smtp://127.0.0.1:${srv.port}?tls=never`]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^sent: <[^>]+@example\.test> via smtp:\/\/127\.0\.0\.1:\d+/m);
    assert.match(r.stdout, /relay queue ID 4TEST1/);
  });

  it('--json gives the per-recipient outcome', async () => {
    const r = await run(['send', ...FROM, '--to', 'bob@example.test', '--subject', 's1', '--text', 't', '--json', '--relay', `smtp://127.0.0.1:${srv.port}?tls=never`]);
    assert.equal(r.code, 0, r.stderr);
    const out = JSON.parse(r.stdout);
    assert.equal(out.ok, true);
    assert.equal(out.exitCode, 0);
    assert.match(out.messageId, /^<.+@example\.test>$/);
    assert.equal(out.recipients[0].address, 'bob@example.test');
    assert.equal(out.recipients[0].status, 'accepted');
    assert.equal(out.recipients[0].state, 'delivered');
    assert.equal(out.recipients[0].responseCode, 250);
    assert.equal(out.relayQueueId, '4TEST1');
    assert.match(out.queueId, /^[0-9A-Za-z]{14}$/);
  });

  it('partial acceptance: 0 once queued, the refusal (67) with --wait; every recipient listed', async () => {
    const queued = await run(['send', ...FROM, '--to', 'bob@example.test', '--to', 'unknown.user@example.test', '--subject', 'p1', '--text', 't', '--relay', `smtp://127.0.0.1:${srv.port}?tls=never`]);
    assert.equal(queued.code, 0, queued.stderr);
    assert.match(queued.stdout, /1 delivered, 1 bounced \(a notice goes to the sender\)/);
    const before = srv.received.length;
    const r = await run(['send', ...FROM, '--to', 'bob@example.test', '--to', 'unknown.other@example.test', '--subject', 's2', '--text', 't', '--wait', '--relay', `smtp://127.0.0.1:${srv.port}?tls=never`]);
    assert.equal(r.code, 67, r.stdout + r.stderr);
    assert.match(r.stdout, /delivered\s+bob@example\.test/);
    assert.match(r.stdout, /bounced\s+unknown\.other@example\.test\s+550 5\.1\.1/);
    assert.deepEqual(srv.received[before]!.to, ['bob@example.test']);
    // The first 5.1.1 suppressed the address: the next send does not try it again (R2).
    const again = await run(['send', ...FROM, '--to', 'unknown.user@example.test', '--subject', 's2b', '--text', 't', '--relay', `smtp://127.0.0.1:${srv.port}?tls=never`]);
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stdout, /suppressed\s+unknown\.user@example\.test\s+suppressed since/);
  });

  it('with --wait or --no-queue: all refused permanently 67, temporarily 75', async () => {
    const unknown = await run(['send', ...FROM, '--to', 'unknown@example.test', '--subject', 's3', '--text', 't', '--no-queue', '--relay', `smtp://127.0.0.1:${srv.port}?tls=never`]);
    assert.equal(unknown.code, 67, unknown.stderr);
    assert.match(unknown.stderr, /5\.1\.1/);
    const later = await run(['send', ...FROM, '--to', 'later@example.test', '--subject', 's4', '--text', 't', '--no-queue', '--relay', `smtp://127.0.0.1:${srv.port}?tls=never`]);
    assert.equal(later.code, 75, later.stderr);
    assert.match(later.stderr, /temporary/);
    const waited = await run(['send', ...FROM, '--to', 'later@example.test', '--subject', 'w', '--text', 't', '--wait', '--relay', `smtp://127.0.0.1:${srv.port}?tls=never`]);
    assert.equal(waited.code, 75, waited.stderr);
    assert.match(waited.stdout, /deferred\s+later@example\.test\s+450 4\.2\.1/);
  });

  it('a refused connection: queued and deferred (0); without the queue 75 with the C1 hint', async () => {
    const port = await freePort();
    const queued = await run(['send', ...FROM, '--to', 'bob@example.test', '--subject', 'down', '--text', 't', '--relay', `smtp://127.0.0.1:${port}`]);
    assert.equal(queued.code, 0, queued.stderr);
    assert.match(queued.stdout, /1 deferred \(will be retried\)/);
    assert.match(queued.stdout, /connection refused by 127\.0\.0\.1:\d+/);
    const r = await run(['send', ...FROM, '--to', 'bob@example.test', '--subject', 's5', '--text', 't', '--no-queue', '--relay', `smtp://127.0.0.1:${port}`]);
    assert.equal(r.code, 75);
    assert.match(r.stderr, /connection refused by 127\.0\.0\.1:\d+/);
    assert.match(r.stderr, /C1/);
    assert.match(r.stderr, /nothing was sent/);
  });

  it('refuses a noreply sender with 65 and names the rule and the fix (R2)', async () => {
    const r = await run(['send', '--from', 'noreply@example.test', '--to', 'bob@example.test', '--subject', 's6', '--text', 't', '--relay', `smtp://127.0.0.1:${srv.port}?tls=never`]);
    assert.equal(r.code, 65);
    assert.match(r.stderr, /R2\.noreply-sender/);
    assert.match(r.stderr, /hint:/);
  });

  it('refuses header injection and malformed addresses with 65', async () => {
    const inj = await run(['send', ...FROM, '--to', 'bob@example.test', '--subject', 's7', '--text', 't', '--header', 'X-Id: 1\r\nBcc: victim@example.test', '--dry-run']);
    assert.equal(inj.code, 65, inj.stderr);
    assert.match(inj.stderr, /line break/);
    const bad = await run(['send', ...FROM, '--to', '"a@b x"@example.test', '--subject', 's8', '--text', 't', '--dry-run']);
    assert.equal(bad.code, 65);
    assert.match(bad.stderr, /quoted local part/);
  });

  it('capture: writes the message and its envelope, sends nothing', async () => {
    const dir = join(work, 'capture');
    const r = await run(['send', ...FROM, '--to', 'bob@example.test', '--subject', 's', '--html-file', '-', '--relay', `capture:${dir}`], { stdin: '<p>Hello <b>Bob</b></p>' });
    assert.equal(r.code, 0, r.stderr);
    const files = readdirSync(dir);
    const eml = files.find((f) => f.endsWith('.eml'));
    assert.ok(eml, `an .eml file in ${files.join(', ')}`);
    const raw = readFileSync(join(dir, eml!), 'utf8');
    assert.match(raw, /multipart\/alternative/);
    assert.match(raw, /Hello Bob|Hello BOB/i);
  });

  it('attaches files and refuses a missing one with 65', async () => {
    const file = join(work, 'report.csv');
    writeFileSync(file, 'a,b\n1,2\n');
    const before = srv.received.length;
    const ok = await run(['send', ...FROM, '--to', 'bob@example.test', '--subject', 's9', '--text', 't', '--attach', file, '--relay', `smtp://127.0.0.1:${srv.port}?tls=never`]);
    assert.equal(ok.code, 0, ok.stderr);
    assert.match(srv.received[before]!.raw, /filename=report\.csv/);
    const missing = await run(['send', ...FROM, '--to', 'bob@example.test', '--subject', 's10', '--text', 't', '--attach', join(work, 'nope.pdf'), '--dry-run']);
    assert.equal(missing.code, 65);
    assert.match(missing.stderr, /ENOENT/);
  });

  it('reads settings from --config and reports a broken config with 78', async () => {
    const cfg = join(work, 'sendwell.test.toml');
    writeFileSync(cfg, `[relay]\nurl = "smtp://127.0.0.1:${srv.port}?tls=never"\n[sender]\nfrom = "Jane Doe <jane.doe@example.test>"\n`);
    const ok = await run(['send', '--config', cfg, '--to', 'bob@example.test', '--subject', 's11', '--text', 't']);
    assert.equal(ok.code, 0, ok.stderr);
    const broken = join(work, 'broken.toml');
    writeFileSync(broken, '[relay]\nurl = 25\n');
    const bad = await run(['send', '--config', broken, '--to', 'bob@example.test', '--text', 't']);
    assert.equal(bad.code, 78);
    assert.match(bad.stderr, /relay\.url = 25/);
    const viaEnv = await run(['config'], { env: { SENDWELL_CONFIG: cfg } });
    assert.equal(viaEnv.code, 0);
    assert.match(viaEnv.stdout, new RegExp(`# source: .*sendwell\\.test\\.toml`));
  });

  it('refuses a relay password file that others can read (R11, 77)', async () => {
    const pw = join(work, 'relay.pass');
    writeFileSync(pw, 'secret\n');
    chmodSync(pw, 0o644);
    const cfg = join(work, 'auth.toml');
    writeFileSync(cfg, `[relay]\nurl = "smtp://127.0.0.1:${srv.port}?tls=never"\nusername = "jane"\npassword_file = "${pw}"\n[sender]\nfrom = "jane.doe@example.test"\n`);
    const r = await run(['send', '--config', cfg, '--to', 'bob@example.test', '--subject', 's12', '--text', 't']);
    assert.equal(r.code, 77, r.stderr);
    assert.match(r.stderr, /R11/);
    assert.match(r.stderr, /chmod 600/);
    assert.doesNotMatch(r.stderr, /secret/);
  });

  it('sendwell lint: 0 for a clean message, 65 with errors, --json for machines', async () => {
    const date = new Date().toUTCString().replace('GMT', '+0000');
    const clean = ['From: Jane Doe <jane.doe@example.test>', 'To: bob@example.test', 'Subject: Report', `Date: ${date}`, '<x1@example.test>'.replace(/^/, 'Message-ID: '), 'MIME-Version: 1.0', 'Content-Type: text/plain; charset=utf-8', '', 'Hello', ''].join('\r\n');
    const ok = await run(['lint', '-'], { stdin: clean });
    assert.equal(ok.code, 0, ok.stdout + ok.stderr);
    const bad = clean.replace('jane.doe@', 'noreply@').replace(/^Date: .*\r\n/m, '');
    const r = await run(['lint', '-', '--json'], { stdin: bad });
    assert.equal(r.code, 65);
    const report = JSON.parse(r.stdout);
    assert.equal(report.ok, false);
    const rules = report.findings.map((f: { rule: string }) => f.rule);
    assert.ok(rules.includes('R2.noreply-sender'), rules.join());
    assert.ok(rules.some((x: string) => x.startsWith('H2.') || x.startsWith('H1.')), rules.join());
    const human = await run(['lint', join(work, 'missing.eml')]);
    assert.equal(human.code, 64);
  });

  it('sendwell init writes each preset, refuses to overwrite, rejects unknown presets', async () => {
    const out = join(work, 'init.toml');
    const r = await run(['init', '--preset', 'submission', '--host', 'mail.example.test', '--output', out]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(readFileSync(out, 'utf8'), /url = "smtp\+starttls:\/\/mail\.example\.test:587"/);
    assert.equal((await run(['init', '--preset', 'submission', '--output', out])).code, 64);
    assert.equal((await run(['init', '--preset', 'smtps', '--output', out, '--force'])).code, 0);
    assert.match(readFileSync(out, 'utf8'), /smtps:\/\//);
    assert.equal((await run(['init', '--preset', 'carrier-pigeon', '--output', join(work, 'x.toml')])).code, 64);
    const stdout = await run(['init', '--preset', 'local', '--output', '-']);
    assert.match(stdout.stdout, /tls=never/);
    assert.ok(!existsSync(join(work, 'x.toml')));
  });

  it('sendwell config --defaults prints every section', async () => {
    const r = await run(['config', '--defaults']);
    assert.equal(r.code, 0);
    for (const s of ['[relay]', '[sender]', '[policy]', '[dsn]']) assert.ok(r.stdout.includes(s), s);
    const j = JSON.parse((await run(['config', '--defaults', '--json'])).stdout);
    assert.equal(j.config.relay.url, 'smtp://localhost:25');
  });
});

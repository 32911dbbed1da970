/**
 * `sendwell bounce poll` against a real Dovecot (issue 5: IMAP polling of a
 * bounce mailbox), as .ci/setup-dovecot.sh installs it: 127.0.0.1 only,
 * IMAPS on 993 and STARTTLS on 143, a certificate from a test CA (passed as
 * ca_file), one passwd-file user. Run with SENDWELL_IT_DOVECOT=1 (CI does).
 *
 * A message is sent (to a local test SMTP server) with a VERP envelope sender,
 * its DSN is appended to a fresh IMAP folder, one poll ingests it (address
 * suppressed, DSN moved to the processed folder) and a second poll finds
 * nothing. `sendwell serve` polls on its own and stops cleanly.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { rootCertificates } from 'node:tls';
import { ImapFlow } from 'imapflow';
import { BIN, runCli } from '../helpers/cli.js';
import { startSmtpServer, type TestServer } from '../helpers/smtp-server.js';

const enabled = process.env.SENDWELL_IT_DOVECOT === '1';
const USER = process.env.SENDWELL_IT_DOVECOT_USER ?? 'bounces';
const PASSWORD = process.env.SENDWELL_IT_DOVECOT_PASSWORD ?? 'sendwell-ci-imap-password';
const CA_FILE = process.env.SENDWELL_IT_DOVECOT_CA ?? '/var/lib/sendwell-ci-dovecot/tls/ca.pem';

const work = mkdtempSync(join(tmpdir(), 'sendwell-imap-it-'));
const run = (args: string[]) => runCli(args, { cwd: work });
const tag = `${Date.now().toString(36)}-${randomBytes(3).toString('hex')}`;
const FOLDER = `it-${tag}`;
const PROCESSED = `it-${tag}-done`;

/**
 * A real Postfix DSN from the fixture corpus (it has the X-Original-To and
 * Delivered-To a mailbox's MTA adds), re-addressed to this run's VERP sender
 * and recipient.
 */
function dsnFor(verp: string, recipient: string): Buffer {
  const text = readFileSync(new URL('../fixtures/bounces/postfix-dsn.eml', import.meta.url), 'latin1');
  return Buffer.from(text.replaceAll('bounces+bq.k3m5n7p2r4@bounces.example.org', verp).replaceAll('j.doe@example.org', recipient), 'latin1');
}

async function imap<T>(fn: (c: ImapFlow) => Promise<T>): Promise<T> {
  const c = new ImapFlow({ host: '127.0.0.1', port: 993, secure: true, auth: { user: USER, pass: PASSWORD }, tls: { ca: [...rootCertificates, readFileSync(CA_FILE, 'utf8')] }, logger: false });
  c.on('error', () => undefined);
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.logout();
  }
}

async function count(c: ImapFlow, folder: string): Promise<number> {
  const s = await c.status(folder, { messages: true });
  return s ? (s.messages ?? 0) : 0;
}

describe('IMAP bounce polling against Dovecot', { skip: enabled ? false : 'set SENDWELL_IT_DOVECOT=1 (CI runs .ci/setup-dovecot.sh first)' }, () => {
  let srv: TestServer;
  const state = join(work, 'state');
  const pwFile = join(work, 'imap.pass');
  const cfg = (url: string, extra = '') => {
    const p = join(work, `sendwell-${Math.random().toString(36).slice(2)}.toml`);
    writeFileSync(
      p,
      `[relay]\nurl = "${srv.url('smtp', 'tls=never')}"\n[sender]\nfrom = "Jane Doe <jane@example.test>"\n[bounces]\naddress = "bounces@bounces.example.test"\n` +
        `[bounces.imap]\nurl = "${url}"\npassword_file = "${pwFile}"\nca_file = "${CA_FILE}"\nfolder = "${FOLDER}"\nprocessed_folder = "${PROCESSED}"\n${extra}`,
    );
    return p;
  };

  before(async () => {
    srv = await startSmtpServer();
    writeFileSync(pwFile, `${PASSWORD}\n`, { mode: 0o600 });
    await imap((c) => c.mailboxCreate(FOLDER));
  });
  after(() => srv?.close());

  it('ingests a DSN from the mailbox over IMAPS, suppresses the address, moves the DSN; a second poll (STARTTLS) finds nothing', async () => {
    const config = cfg(`imaps://${USER}@127.0.0.1:993`);
    const sent = await run(['send', '--config', config, '--state-dir', state, '--to', 'gone@example.test', '--subject', 'hello', '--text', 'hi']);
    assert.equal(sent.code, 0, sent.stderr);
    const verp = srv.messages.at(-1)!.from;
    assert.match(verp, /^bounces\+[a-z2-7]+\.[a-z2-7]{10}@bounces\.example\.test$/);
    await imap((c) => c.append(FOLDER, dsnFor(verp, 'gone@example.test')));

    const poll = await run(['bounce', 'poll', '--config', config, '--state-dir', state, '--json']);
    assert.equal(poll.code, 0, `${poll.stdout}\n${poll.stderr}`);
    const r = JSON.parse(poll.stdout);
    assert.equal(r.found, 1);
    assert.equal(r.processed, 1);
    assert.equal(r.left, 0);
    assert.equal(r.messages[0].result.recipients[0].address, 'gone@example.test');
    assert.equal(r.messages[0].result.recipients[0].action, 'suppressed');
    assert.ok(r.messages[0].result.recipients[0].queueId, 'matched to the queued message by VERP');

    const list = await run(['suppress', 'list', '--config', config, '--state-dir', state, '--json']);
    assert.deepEqual(JSON.parse(list.stdout).map((s: { address: string }) => s.address), ['gone@example.test']);
    assert.deepEqual(await imap(async (c) => [await count(c, FOLDER), await count(c, PROCESSED)]), [0, 1]);

    const again = await run(['bounce', 'poll', '--config', cfg(`imap://${USER}@127.0.0.1:143`), '--state-dir', state]);
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stdout, /: 0 messages, 0 processed/);
    assert.deepEqual(await imap(async (c) => [await count(c, FOLDER), await count(c, PROCESSED)]), [0, 1]);
  });

  it('sendwell serve polls every poll_interval and stops on SIGTERM', async () => {
    const dir = join(work, 'serve-state');
    const config = cfg(`imaps://${USER}@127.0.0.1:993`, 'poll_interval = "1s"\n');
    const sent = await run(['send', '--config', config, '--state-dir', dir, '--to', 'served@example.test', '--subject', 'hello', '--text', 'hi']);
    assert.equal(sent.code, 0, sent.stderr);
    const verp = srv.messages.at(-1)!.from;
    const child = spawn(process.execPath, [BIN, 'serve', '--config', config, '--state-dir', dir, '--no-smtp', '--no-http'], { cwd: work, env: { PATH: process.env.PATH ?? '', TZ: 'UTC' }, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += d));
    const exited = new Promise<number | null>((resolve) => child.on('close', resolve));
    try {
      // Appended after the daemon started: a later poll picks it up.
      await sleep(1500);
      await imap((c) => c.append(FOLDER, dsnFor(verp, 'served@example.test')));
      const end = Date.now() + 20_000;
      while (Date.now() < end && !/bounce poll: .*1 processed/.test(stderr)) await sleep(200);
      assert.match(stderr, /bounce poll: imaps:\/\/bounces@127\.0\.0\.1:993 .*1 message, 1 processed/, stderr);
      const list = await run(['suppress', 'list', '--config', config, '--state-dir', dir, '--json']);
      assert.deepEqual(JSON.parse(list.stdout).map((s: { address: string }) => s.address), ['served@example.test']);
    } finally {
      child.kill('SIGTERM');
    }
    assert.equal(await exited, 0, stderr);
    assert.match(stderr, /stopped/);
  });

  it('a wrong password exits 77, an untrusted certificate is refused, a closed port exits 75', async () => {
    const bad = join(work, 'bad.pass');
    writeFileSync(bad, 'not-the-password\n', { mode: 0o600 });
    const wrongCfg = join(work, 'wrong.toml');
    writeFileSync(wrongCfg, `[bounces.imap]\nurl = "imaps://${USER}@127.0.0.1:993"\npassword_file = "${bad}"\nca_file = "${CA_FILE}"\nfolder = "${FOLDER}"\n`);
    const denied = await run(['bounce', 'poll', '--config', wrongCfg, '--state-dir', state]);
    assert.equal(denied.code, 77, denied.stderr);
    assert.match(denied.stderr, /refused the login/);
    assert.doesNotMatch(denied.stderr, /not-the-password/);

    const noCa = join(work, 'noca.toml');
    writeFileSync(noCa, `[bounces.imap]\nurl = "imaps://${USER}@127.0.0.1:993"\npassword_file = "${pwFile}"\nfolder = "${FOLDER}"\n`);
    const untrusted = await run(['bounce', 'poll', '--config', noCa, '--state-dir', state]);
    assert.equal(untrusted.code, 69, untrusted.stderr);
    assert.match(untrusted.stderr, /TLS to the IMAP server 127\.0\.0\.1:993 failed/);

    const closed = join(work, 'closed.toml');
    writeFileSync(closed, `[bounces.imap]\nurl = "imaps://${USER}@127.0.0.1:1"\npassword_file = "${pwFile}"\n`);
    const unreachable = await run(['bounce', 'poll', '--config', closed, '--state-dir', state]);
    assert.equal(unreachable.code, 75, unreachable.stderr);
  });
});

/**
 * Bounces generated live by a real Exim4 (issue 5), beside the Postfix of
 * bounce-postfix.test.ts. Debian's exim4 package conflicts with postfix, so
 * .ci/setup-exim.sh unpacks the package's binary into /opt/sendwell-ci/exim
 * and runs it with .ci/exim.conf (via -C): no daemon, loopback only. Every
 * remote domain goes by SMTP to this test's own server on 127.0.0.1, which
 * refuses or defers recipients by local part; Exim writes the bounce to the
 * envelope sender, bounces+<tag>@bounces.example.test, delivered into the
 * Maildir /opt/sendwell-ci/exim/mail/bounces with Exim's Envelope-to header
 * (piped+<tag>@ goes through a pipe transport, which keeps the message and the
 * environment Exim gives a pipe command, for the alias setup in the README).
 * Run with SENDWELL_IT_EXIM=1 (CI does), as root (Exim's -C keeps privilege
 * for root only).
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { classify } from '../../src/bounce/classify.js';
import { parseBounce, type ParsedBounce } from '../../src/bounce/parse.js';
import { runCli } from '../helpers/cli.js';
import { dsnFor } from '../helpers/dsn.js';
import { smtpReply, startSmtpServer, type TestServer } from '../helpers/smtp-server.js';

const enabled = process.env.SENDWELL_IT_EXIM === '1';
const EXIM_DIR = '/opt/sendwell-ci/exim';
/** The wrapper setup-exim.sh writes: the unpacked exim4 with -C our config. */
const SENDMAIL = `${EXIM_DIR}/sendmail`;
const MAILDIR = `${EXIM_DIR}/mail/bounces`;
/** Where .ci/exim.conf's pipe for piped+...@bounces.example.test leaves the message and its environment. */
const PIPE_DIR = `${EXIM_DIR}/mail/pipe`;
const DSN_TIMEOUT_MS = 30_000;
/** The sink's SIZE limit; the size probe is larger. */
const SINK_SIZE = 20_000;

/** Exim's command line: `-odi` delivers before it returns, so a bounce follows at once. */
function exim(args: string[], message = ''): Promise<void> {
  return new Promise((resolve, reject) => {
    const c = spawn(SENDMAIL, args, { stdio: ['pipe', 'ignore', 'pipe'] });
    let stderr = '';
    c.stderr.on('data', (d) => (stderr += d));
    c.on('error', reject);
    c.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`exim ${args.join(' ')} exited ${code}: ${stderr} (see ${EXIM_DIR}/log/mainlog)`))));
    c.stdin.end(message);
  });
}

function maildirMessages(): string[] {
  const out: string[] = [];
  for (const sub of ['new', 'cur']) {
    const dir = join(MAILDIR, sub);
    if (!existsSync(dir)) continue;
    for (const f of readdirSync(dir)) out.push(readFileSync(join(dir, f), 'latin1'));
  }
  return out;
}

/** The first notice in the bounce Maildir for this envelope sender that satisfies `also`. */
async function waitForNotice(sender: string, also: (m: string) => boolean = () => true): Promise<string> {
  const end = Date.now() + DSN_TIMEOUT_MS;
  const envelopeTo = `Envelope-to: ${sender}\n`;
  while (Date.now() < end) {
    const found = maildirMessages().find((m) => m.includes(envelopeTo) && also(m));
    if (found) return found;
    await sleep(200);
  }
  assert.fail(`no notice to ${sender} in ${MAILDIR} after ${DSN_TIMEOUT_MS} ms (see ${EXIM_DIR}/log/mainlog)`);
}

function probe(to: string[], body = 'This message must bounce.\n') {
  const tag = `${Date.now().toString(36)}${randomBytes(3).toString('hex')}`;
  const sender = `bounces+${tag}@bounces.example.test`;
  const messageId = `<probe.${tag}@example.test>`;
  const raw = [`From: Probe <probe@example.test>`, `To: ${to.join(', ')}`, `Subject: sendwell exim probe ${tag}`, `Message-ID: ${messageId}`, `Date: ${new Date().toUTCString()}`, 'MIME-Version: 1.0', 'Content-Type: text/plain; charset=us-ascii', '', body].join('\n');
  return { tag, sender, messageId, raw, to };
}

function classOf(b: ParsedBounce, address: string) {
  const r = b.recipients.find((x) => x.address === address);
  assert.ok(r, `${address} among ${JSON.stringify(b.recipients.map((x) => x.address))}`);
  return classify({ status: r.status, diagnostic: r.diagnostic, kind: b.kind, confident: b.confident });
}

describe('integration: bounces from a real Exim4', { skip: !enabled && 'set SENDWELL_IT_EXIM=1 (needs .ci/setup-exim.sh)' }, () => {
  let sink: TestServer;
  before(async () => {
    if (!existsSync(SENDMAIL)) throw new Error(`${SENDMAIL} is missing: install the unpacked Exim first with \`bash .ci/setup-exim.sh\` (as root)`);
    // The remote side: refusals by local part, as a receiving MTA would answer.
    sink = await startSmtpServer({
      size: SINK_SIZE,
      onRcptTo(a) {
        const local = a.address.split('@')[0]!;
        if (local.startsWith('nosuchuser')) return smtpReply(550, `5.1.1 <${a.address}>: Recipient address rejected: User unknown in virtual mailbox table`);
        if (local.startsWith('full')) return smtpReply(552, `5.2.2 <${a.address}>: Mailbox full, quota exceeded`);
        if (local.startsWith('later')) return smtpReply(451, `4.3.0 <${a.address}>: Temporary lookup failure`);
        return undefined;
      },
    });
    writeFileSync(join(EXIM_DIR, 'sink-port'), `${sink.port}\n`);
  });
  after(() => sink?.close());

  it('local recipients: no such user ("Unrouteable address") and a :fail: redirect, in one DSN', async () => {
    const p = probe(['nobody-here@local.example.test', 'closed@local.example.test']);
    await exim(['-odi', '-f', p.sender, '--', ...p.to], p.raw);
    const dsn = await waitForNotice(p.sender);
    assert.match(dsn, /^X-Failed-Recipients: /m, "it is Exim's bounce");

    const b = await parseBounce(Buffer.from(dsn, 'latin1'));
    assert.deepEqual([b.kind, b.format, b.confident], ['bounce', 'rfc3464', true]);
    assert.deepEqual(b.recipients.map((r) => r.address).sort(), ['closed@local.example.test', 'nobody-here@local.example.test']);
    for (const r of b.recipients) assert.deepEqual([r.action, r.status], ['failed', '5.0.0']);
    // Exim's DSN has no Diagnostic-Code for local failures: the reason comes from its text part.
    const byAddress = new Map(b.recipients.map((r) => [r.address, r]));
    assert.equal(byAddress.get('nobody-here@local.example.test')!.diagnostic, 'Unrouteable address');
    assert.equal(byAddress.get('closed@local.example.test')!.diagnostic, 'Unknown user');
    assert.equal(b.deliveredTo, p.sender, 'Envelope-to names the VERP-style sender');
    assert.equal(b.originalMessageId, p.messageId);
    assert.equal(b.reportingMta, 'exim-ci.example.test');

    assert.equal(classOf(b, 'nobody-here@local.example.test').suppress, 'now');
    assert.equal(classOf(b, 'closed@local.example.test').category, 'unknown-user');
  });

  it('remote refusals at RCPT (550 5.1.1, 552 5.2.2) → one DSN with both Diagnostic-Codes', async () => {
    const unknown = `nosuchuser-${randomBytes(3).toString('hex')}@example.test`;
    const full = `full-${randomBytes(3).toString('hex')}@example.test`;
    const ok = `ok-${randomBytes(3).toString('hex')}@example.test`;
    const p = probe([unknown, full, ok]);
    await exim(['-odi', '-f', p.sender, '--', ...p.to], p.raw);
    const b = await parseBounce(Buffer.from(await waitForNotice(p.sender), 'latin1'));
    assert.deepEqual([b.kind, b.format, b.confident], ['bounce', 'rfc3464', true]);
    assert.deepEqual(b.recipients.map((r) => r.address).sort(), [full, unknown].sort(), 'the accepted recipient is not in the bounce');
    const r = b.recipients.find((x) => x.address === unknown)!;
    assert.equal(r.status, '5.0.0', 'Exim writes a generic Status');
    assert.match(r.diagnostic ?? '', /^smtp; 550 5\.1\.1 .*User unknown/);
    assert.equal(r.remoteMta, '127.0.0.1');
    assert.ok(sink.messages.some((m) => m.to.includes(ok)), 'the sink got the accepted copy');

    const cu = classOf(b, unknown);
    assert.deepEqual([cu.category, cu.rule, cu.suppress], ['unknown-user', 'B.5.1.1', 'now'], 'the 5.1.1 in the reply refines Status 5.0.0');
    const cf = classOf(b, full);
    assert.deepEqual([cf.category, cf.retry, cf.suppress], ['mailbox-full', false, 'count']);
  });

  it('a message over the remote SIZE limit: refused at MAIL FROM, classified as too large, never suppressed', async () => {
    const to = `big-${randomBytes(3).toString('hex')}@example.test`;
    const p = probe([to], `${'This line makes the message large. '.repeat(2).trim()}\n`.repeat(400));
    assert.ok(p.raw.length > SINK_SIZE);
    await exim(['-odi', '-f', p.sender, '--', to], p.raw);
    const b = await parseBounce(Buffer.from(await waitForNotice(p.sender), 'latin1'));
    assert.deepEqual([b.kind, b.confident, b.recipients.map((r) => r.address)], ['bounce', true, [to]]);
    assert.match(b.recipients[0]!.diagnostic ?? '', /^smtp; 552 .*exceeds fixed maximum message size/);
    const c = classOf(b, to);
    assert.deepEqual([c.category, c.blame, c.suppress], ['message-too-large', 'content', 'never']);
  });

  it('a deferred recipient: delay warning (Action: delayed), then "retry timeout exceeded" bounce as a soft failure', async () => {
    const to = `later-${randomBytes(3).toString('hex')}@example.test`;
    const p = probe([to]);
    await exim(['-odi', '-f', p.sender, '--', to], p.raw);
    // .ci/exim.conf: delay_warning after 2 s, give up 4 s after the first failure.
    // -Rff: a forced queue run for messages with this recipient only.
    await sleep(2_500);
    await exim(['-Rff', to]);
    const warning = await parseBounce(Buffer.from(await waitForNotice(p.sender, (m) => /^Action: delayed/m.test(m)), 'latin1'));
    assert.deepEqual([warning.kind, warning.confident, warning.recipients.map((r) => [r.address, r.action, r.status])], ['delay', true, [[to, 'delayed', '4.0.0']]]);
    assert.match(warning.recipients[0]!.diagnostic ?? '', /451 4\.3\.0/);
    assert.equal(classOf(warning, to).rule, 'B.delay');

    await sleep(2_500);
    await exim(['-Rff', to]);
    const final = await parseBounce(Buffer.from(await waitForNotice(p.sender, (m) => /^Action: failed/m.test(m)), 'latin1'));
    assert.deepEqual([final.kind, final.confident, final.recipients.map((r) => [r.address, r.action, r.status])], ['bounce', true, [[to, 'failed', '5.0.0']]]);
    assert.match(final.recipients[0]!.diagnostic ?? '', /451 4\.3\.0 .*retry timeout exceeded/);
    const c = classOf(final, to);
    // Status 5.0.0, but the server only ever said "try later": a soft bounce, not a dead address.
    assert.deepEqual([c.category, c.retry, c.suppress], ['temporary', true, 'count']);
  });

  /** sendwell sends to a recipient the sink refuses, through Exim, with VERP senders on `bounceBase`. */
  async function sendwellThroughExim(bounceBase: string) {
    const work = mkdtempSync(join(tmpdir(), 'sendwell-exim-rt-'));
    const cfg = join(work, 'sendwell.toml');
    writeFileSync(cfg, ['[relay]', `url = "sendmail:${SENDMAIL}"`, '[sender]', 'from = "Jane Doe <jane@example.test>"', '[bounces]', `address = "${bounceBase}"`, ''].join('\n'));
    const state = join(work, 'state');
    const run = (args: string[], stdin?: string, env?: Record<string, string>) => runCli(args, { cwd: work, ...(stdin !== undefined ? { stdin } : {}), ...(env ? { env } : {}) });
    const to = `nosuchuser-${randomBytes(3).toString('hex')}@example.test`;
    const subject = `exim round trip ${Date.now()}-${randomBytes(2).toString('hex')}`;
    const sent = await run(['send', '--config', cfg, '--state-dir', state, '--to', to, '--subject', subject, '--text', 'this will bounce', '--json']);
    assert.equal(sent.code, 0, sent.stderr);
    const { queueId } = JSON.parse(sent.stdout) as { queueId: string };
    const ingest = async (dsn: string, env?: Record<string, string>) => {
      const r = await run(['bounce', 'ingest', '--config', cfg, '--state-dir', state, '--json'], dsn, env);
      assert.equal(r.code, 0, r.stderr);
      return JSON.parse(r.stdout) as { kind: string; format: string; confident: boolean; recipients: Array<{ address: string; queueId?: string; action: string; amended: boolean; category: string }> };
    };
    const sendAgain = async () => {
      const again = await run(['send', '--config', cfg, '--state-dir', state, '--to', to, '--subject', `${subject} again`, '--text', 'x', '--json']);
      return JSON.parse(again.stdout) as { recipients: Array<{ state: string; response: string }> };
    };
    return { to, subject, queueId, ingest, sendAgain };
  }

  async function waitFor<T>(what: string, find: () => T | undefined): Promise<T> {
    const end = Date.now() + DSN_TIMEOUT_MS;
    for (;;) {
      const found = find();
      if (found !== undefined) return found;
      if (Date.now() > end) assert.fail(`${what} after ${DSN_TIMEOUT_MS} ms (see ${EXIM_DIR}/log/mainlog)`);
      await sleep(250);
    }
  }

  it('round trip: sendwell sends via Exim with a VERP sender, the bounce comes back to a mailbox, is matched and suppresses', async () => {
    const rt = await sendwellThroughExim('bounces@bounces.example.test');
    const dsn = await waitFor('no DSN in the bounce Maildir', () => maildirMessages().find((m) => m.includes(`Subject: ${rt.subject}`) && /report-type=delivery-status/i.test(m)));
    // Exim names the envelope recipient in Envelope-to only (no X-Original-To, no Delivered-To).
    assert.match(dsn, /^Envelope-to: bounces\+[a-z2-7]+\.[a-z2-7]{10}@bounces\.example\.test$/m);
    assert.doesNotMatch(dsn, /^(?:X-Original-To|Delivered-To):/im);

    const result = await rt.ingest(dsn);
    assert.deepEqual([result.kind, result.format, result.confident], ['bounce', 'rfc3464', true]);
    assert.deepEqual(result.recipients.map((r) => [r.address, r.queueId, r.category, r.action, r.amended]), [[rt.to, rt.queueId, 'unknown-user', 'suppressed', true]]);
    const second = await rt.sendAgain();
    assert.equal(second.recipients[0]!.state, 'suppressed');
    assert.match(second.recipients[0]!.response, /suppressed since .*unknown/i);
  });

  it('round trip through an Exim pipe, as the README\'s alias: the environment Exim sets names the VERP address', async () => {
    const rt = await sendwellThroughExim('piped@bounces.example.test');
    const base = await waitFor('nothing reached the pipe', () => {
      const f = existsSync(PIPE_DIR) ? readdirSync(PIPE_DIR).filter((n) => n.endsWith('.eml')).find((n) => readFileSync(join(PIPE_DIR, n), 'latin1').includes(`Subject: ${rt.subject}`)) : undefined;
      return f?.replace(/\.eml$/, '');
    });
    const dsn = readFileSync(join(PIPE_DIR, `${base}.eml`), 'latin1');
    const exim = Object.fromEntries(
      readFileSync(join(PIPE_DIR, `${base}.env`), 'utf8')
        .split('\n')
        .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
    ) as Record<string, string>;
    // What src/cli/bounce.ts builds from Exim's pipe environment is the VERP address.
    const fromEnv = `${exim.LOCAL_PART_PREFIX ?? ''}${exim.LOCAL_PART}${exim.LOCAL_PART_SUFFIX ?? ''}@${exim.DOMAIN}`;
    assert.match(fromEnv, /^piped\+[a-z2-7]+\.[a-z2-7]{10}@bounces\.example\.test$/);
    assert.equal(fromEnv, exim.RECIPIENT);

    const env = Object.fromEntries(['LOCAL_PART', 'LOCAL_PART_PREFIX', 'LOCAL_PART_SUFFIX', 'DOMAIN', 'RECIPIENT', 'SENDER'].filter((k) => k in exim).map((k) => [k, exim[k]!]));
    const result = await rt.ingest(dsn, env);
    assert.deepEqual(result.recipients.map((r) => [r.address, r.queueId, r.category, r.action]), [[rt.to, rt.queueId, 'unknown-user', 'suppressed']]);
    assert.equal((await rt.sendAgain()).recipients[0]!.state, 'suppressed');

    // Exim's bounce also names the VERP address in To: and returns the Message-ID. A bare DSN to
    // the base address (a relay that rewrote it) shows that the pipe's environment alone is enough.
    const bare = dsnFor('piped@bounces.example.test', rt.to);
    assert.equal((await rt.ingest(bare)).recipients[0]!.queueId, undefined, 'without the environment nothing names the message');
    assert.equal((await rt.ingest(bare, env)).recipients[0]!.queueId, rt.queueId);
  });
});

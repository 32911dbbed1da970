/**
 * Bounces generated live by a real MTA (issue 5: "not only tested against its
 * authors' idea of a bounce"), against the Postfix that .ci/setup-postfix.sh
 * installs: loopback only, local mail for example.test goes to /var/mail/sink,
 * unknown local users are refused, every other destination is refused by the
 * error(8) transport. Run with SENDWELL_IT_POSTFIX=1 (CI does), as root (the
 * test reads /var/mail/sink).
 *
 * Asynchronous bounces: the sendmail command accepts any recipient, so a
 * message to a local user that does not exist is bounced by local(8) after
 * the queue accepted it, with an RFC 3464 DSN to the envelope sender
 * (sink@example.test). Each test waits for its own DSN (unique Subject) in the
 * mbox, parses and classifies it.
 *
 * Exim4's bounces are generated live by bounce-exim.test.ts (Exim unpacked
 * beside this Postfix, see .ci/setup-exim.sh).
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { classify } from '../../src/bounce/classify.js';
import { parseBounce, type ParsedBounce } from '../../src/bounce/parse.js';

const enabled = process.env.SENDWELL_IT_POSTFIX === '1';
const MAILBOX = '/var/mail/sink';
const SENDMAIL = '/usr/sbin/sendmail';
const SENDER = 'sink@example.test';
/** A local user that does not exist (the CI host has no such account). */
const UNKNOWN_LOCAL = 'nobody-here@example.test';
/** Wait for Postfix's bounce daemon and local delivery. */
const DSN_TIMEOUT_MS = 30_000;

function submit(args: string[], message: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const c = spawn(SENDMAIL, args, { stdio: ['pipe', 'ignore', 'pipe'] });
    let stderr = '';
    c.stderr.on('data', (d) => (stderr += d));
    c.on('error', reject);
    c.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`sendmail exited ${code}: ${stderr}`))));
    c.stdin.end(message);
  });
}

/** The messages of an mbox (local(8) quotes body lines that start with "From "). */
function mboxMessages(path: string): string[] {
  const text = existsSync(path) ? readFileSync(path, 'latin1') : '';
  return text.split(/^(?=From \S+ )/m).filter((m) => m.trim() !== '');
}

async function waitForDsn(subject: string): Promise<string> {
  const end = Date.now() + DSN_TIMEOUT_MS;
  while (Date.now() < end) {
    const dsn = mboxMessages(MAILBOX).find((m) => m.includes(`Subject: ${subject}`) && /multipart\/report/i.test(m));
    if (dsn) return dsn;
    await sleep(200);
  }
  assert.fail(`no DSN for "${subject}" in ${MAILBOX} after ${DSN_TIMEOUT_MS} ms (see /var/log/postfix.log)`);
}

function probe(to: string): { subject: string; messageId: string; envid: string; raw: string } {
  const tag = `${Date.now().toString(36)}-${randomBytes(4).toString('hex')}`;
  const subject = `sendwell bounce probe ${tag}`;
  const messageId = `<probe.${tag}@example.test>`;
  const raw = [`From: ${SENDER}`, `To: ${to}`, `Subject: ${subject}`, `Message-ID: ${messageId}`, `Date: ${new Date().toUTCString()}`, 'MIME-Version: 1.0', 'Content-Type: text/plain; charset=us-ascii', '', 'This message must bounce.', ''].join('\n');
  return { subject, messageId, envid: `envid-${tag}`, raw };
}

function recipientClass(b: ParsedBounce) {
  const r = b.recipients[0]!;
  return classify({ status: r.status, diagnostic: r.diagnostic, kind: b.kind, confident: b.confident });
}

/** One SMTP conversation up to RCPT; the server's reply to RCPT TO. */
function rcptReply(rcpt: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = connect(25, '127.0.0.1');
    const steps = ['EHLO client.example.test', `MAIL FROM:<${SENDER}>`, `RCPT TO:<${rcpt}>`];
    let buf = '';
    let step = -1;
    s.setEncoding('latin1');
    s.setTimeout(10_000, () => s.destroy(new Error('SMTP timeout')));
    s.on('error', reject);
    s.on('data', (d: string) => {
      buf += d;
      // A complete reply ends with a line "NNN text" (no dash after the code).
      const done = /(?:^|\r\n)(\d{3}) [^\r\n]*\r\n$/.exec(buf);
      if (!done) return;
      const reply = buf;
      buf = '';
      if (step === steps.length - 1) {
        s.end('QUIT\r\n');
        resolve(reply.trim().split('\r\n').at(-1)!);
        return;
      }
      s.write(`${steps[++step]}\r\n`);
    });
  });
}

describe('integration: bounces from a real Postfix', { skip: !enabled && 'set SENDWELL_IT_POSTFIX=1 (needs .ci/setup-postfix.sh)' }, () => {
  it('R5: unknown local user → asynchronous DSN (returned headers), parsed as a confident 5.1.1 and classified unknown-user', async () => {
    const p = probe(UNKNOWN_LOCAL);
    await submit(['-f', SENDER, '-R', 'hdrs', '-V', p.envid, UNKNOWN_LOCAL], p.raw);
    const dsn = await waitForDsn(p.subject);
    assert.match(dsn, /Content-Type: text\/rfc822-headers/, 'RET=HDRS returns the headers only');

    const b = await parseBounce(Buffer.from(dsn, 'latin1'));
    assert.equal(b.kind, 'bounce');
    assert.equal(b.format, 'rfc3464');
    assert.equal(b.confident, true);
    assert.equal(b.recipients.length, 1);
    const [r] = b.recipients;
    assert.equal(r!.address, UNKNOWN_LOCAL);
    assert.equal(r!.action, 'failed');
    assert.equal(r!.status, '5.1.1');
    assert.match(r!.diagnostic ?? '', /unknown user/i);
    assert.equal(b.envelopeId, p.envid, 'ENVID comes back in Original-Envelope-Id');
    assert.equal(b.originalMessageId, p.messageId, 'Message-ID from the returned headers');
    assert.equal(b.deliveredTo, SENDER, 'the DSN went to the envelope sender');
    assert.match(b.reportingMta ?? '', /\S/);

    const c = recipientClass(b);
    assert.deepEqual([c.category, c.rule, c.retry, c.blame, c.suppress], ['unknown-user', 'B.5.1.1', false, 'recipient', 'now']);
  });

  it('the same with the full message returned (message/rfc822, the default RET)', async () => {
    const p = probe(UNKNOWN_LOCAL);
    await submit(['-f', SENDER, UNKNOWN_LOCAL], p.raw);
    const dsn = await waitForDsn(p.subject);
    assert.match(dsn, /Content-Type: message\/rfc822/);
    const b = await parseBounce(Buffer.from(dsn, 'latin1'));
    assert.deepEqual([b.kind, b.confident, b.recipients[0]?.address, b.recipients[0]?.status], ['bounce', true, UNKNOWN_LOCAL, '5.1.1']);
    assert.equal(b.originalMessageId, p.messageId);
    assert.equal(b.envelopeId, undefined, 'no ENVID was given');
    assert.equal(recipientClass(b).category, 'unknown-user');
  });

  it('a refusing transport (error:) → DSN with the generic 5.0.0: a bounce that only counts', async () => {
    const to = `someone-${randomBytes(3).toString('hex')}@example.org`;
    const p = probe(to);
    await submit(['-f', SENDER, '-R', 'hdrs', to], p.raw);
    const b = await parseBounce(Buffer.from(await waitForDsn(p.subject), 'latin1'));
    assert.deepEqual([b.kind, b.confident, b.recipients[0]?.address, b.recipients[0]?.status], ['bounce', true, to, '5.0.0']);
    const c = recipientClass(b);
    assert.deepEqual([c.category, c.rule, c.suppress], ['other', 'B.5', 'count']);
  });

  it('a synchronous refusal at RCPT classifies like the DSN', async () => {
    const reply = await rcptReply(UNKNOWN_LOCAL);
    assert.match(reply, /^550 5\.1\.1 /);
    const c = classify({ diagnostic: reply, confident: true });
    assert.deepEqual([c.category, c.rule, c.suppress], ['unknown-user', 'B.5.1.1', 'now']);
  });
});

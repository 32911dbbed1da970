/**
 * Against a real Postfix on 127.0.0.1:25 (set up by .ci/setup-postfix.sh):
 * it delivers to the local mailbox of user `sink` and refuses everything else.
 * Run with SENDWELL_IT_POSTFIX=1 (CI does).
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { createMailer } from '../../src/index.js';

const enabled = process.env.SENDWELL_IT_POSTFIX === '1';
const MAILBOX = '/var/mail/sink';
const MAILLOG = '/var/log/postfix.log';
const BIN = new URL('../../dist/cli/bin.js', import.meta.url).pathname;
const FROM = 'Jane Doe <jane.doe@example.test>';
const STATE = mkdtempSync(join(tmpdir(), 'sendwell-it-'));

async function waitFor(what: string, check: () => boolean, ms = 30_000): Promise<void> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (check()) return;
    await sleep(200);
  }
  assert.fail(`timed out waiting for ${what}`);
}

const read = (p: string) => (existsSync(p) ? readFileSync(p, 'utf8') : '');

function cli(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const c = spawn(process.execPath, [BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'], cwd: STATE, env: { ...process.env, SENDWELL_STATE_DIR: join(STATE, 'state') } });
    let stdout = '';
    let stderr = '';
    c.stdout.on('data', (d) => (stdout += d));
    c.stderr.on('data', (d) => (stderr += d));
    c.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

describe('integration: real Postfix', { skip: !enabled && 'set SENDWELL_IT_POSTFIX=1 (needs .ci/setup-postfix.sh)' }, () => {
  it('delivers over plain SMTP (C1, localhost:25 without TLS) and the mail log shows it (T2)', async () => {
    const mailer = createMailer({ relay: 'smtp://127.0.0.1:25?tls=never', from: FROM });
    try {
      const r = await mailer.send({ to: 'sink@example.test', subject: 'plain smtp Grüße', text: 'Hallo über SMTP.\n' });
      assert.deepEqual(r.accepted, ['sink@example.test']);
      assert.match(r.relayQueueId ?? '', /^[0-9A-Za-z]+$/);
      assert.equal(r.relay.tls, undefined);
      const id = r.messageId;
      await waitFor('the mail in the sink mailbox', () => read(MAILBOX).includes(`Message-ID: ${id}`));
      const box = read(MAILBOX);
      assert.match(box, /^Return-Path: <jane\.doe@example\.test>$/m);
      await waitFor('the delivery line in the mail log', () => new RegExp(`${r.relayQueueId}: to=<sink@example\\.test>.*status=sent`).test(read(MAILLOG)));
    } finally {
      await mailer.close();
    }
  });

  it('uses opportunistic STARTTLS with the stock self-signed certificate', async () => {
    const mailer = createMailer({ relay: 'smtp://127.0.0.1:25', from: FROM });
    try {
      const r = await mailer.send({ to: 'sink@example.test', subject: 'starttls', text: 'encrypted, not verified (RFC 7435)' });
      assert.ok(r.relay.tls, 'TLS was used');
      assert.equal(r.relay.tls?.authorized, false);
      await waitFor('the STARTTLS mail', () => read(MAILBOX).includes(`Message-ID: ${r.messageId}`));
    } finally {
      await mailer.close();
    }
  });

  it('fails closed under smtp+starttls:// when the certificate is not trusted', async () => {
    const mailer = createMailer({ relay: 'smtp+starttls://127.0.0.1:25', from: FROM });
    try {
      await assert.rejects(mailer.send({ to: 'sink@example.test', subject: 'x', text: 'x' }), (e: { code: string; phase: string; hint: string }) => {
        assert.equal(e.code, 'ETLS');
        assert.equal(e.phase, 'tls');
        assert.match(e.hint, /ca_file/);
        return true;
      });
    } finally {
      await mailer.close();
    }
  });

  it('delivers through the sendmail command (C1) from the CLI', async () => {
    const r = await cli(['send', '--from', FROM, '--to', 'sink@example.test', '--subject', 'via sendmail', '--text', 'piped', '--relay', 'sendmail:/usr/sbin/sendmail', '--json']);
    assert.equal(r.code, 0, r.stderr);
    const out = JSON.parse(r.stdout);
    await waitFor('the sendmail mail', () => read(MAILBOX).includes(`Message-ID: ${out.messageId}`));
  });

  it('reports a rejected recipient per recipient: 67 with 5.1.1 (--wait), the other one delivered', async () => {
    const r = await cli(['send', '--from', FROM, '--to', 'sink@example.test', '--to', 'nobody-here@example.test', '--subject', 'partial', '--text', 'x', '--relay', 'smtp://127.0.0.1:25?tls=never', '--json', '--wait']);
    assert.equal(r.code, 67, r.stdout + r.stderr);
    const out = JSON.parse(r.stdout);
    const bad = out.recipients.find((x: { address: string }) => x.address === 'nobody-here@example.test');
    assert.equal(bad.status, 'rejected');
    assert.equal(bad.state, 'bounced');
    assert.equal(bad.responseCode, 550);
    assert.equal(bad.enhancedStatus, '5.1.1');
    await waitFor('the accepted half', () => read(MAILBOX).includes(`Message-ID: ${out.messageId}`));
  });

  it('queues, retries from the queue after the relay comes back, and logs both attempts (T1, T2)', async () => {
    const down = await cli(['send', '--from', FROM, '--to', 'sink@example.test', '--subject', 'queued while down', '--text', 'x', '--relay', 'smtp://127.0.0.1:9?tls=never', '--json']);
    assert.equal(down.code, 0, down.stderr);
    const queued = JSON.parse(down.stdout);
    assert.equal(queued.recipients[0].state, 'deferred');
    const mailq = await cli(['queue']);
    assert.match(mailq.stdout, new RegExp(`^${queued.queueId} +\\d+ `, 'm'));
    assert.equal((await cli(['queue', 'retry', queued.queueId])).code, 0);
    const flush = await cli(['flush', '--relay', 'smtp://127.0.0.1:25?tls=never']);
    assert.equal(flush.code, 0, flush.stderr);
    await waitFor('the retried mail', () => read(MAILBOX).includes(`Message-ID: ${queued.messageId}`));
    const log = await cli(['log', '--id', queued.queueId]);
    assert.match(log.stdout, /status=deferred \(connection refused/);
    assert.match(log.stdout, /status=sent \(250 2\.0\.0 Ok: queued as [0-9A-F]+\)/);
    assert.match((await cli(['queue'])).stdout, /Mail queue is empty/);
  });

  it('refuses mail for outside domains at RCPT (nothing leaves this host)', async () => {
    const mailer = createMailer({ relay: 'smtp://127.0.0.1:25?tls=never', from: FROM });
    try {
      await assert.rejects(mailer.send({ to: 'someone@outside.invalid', subject: 'x', text: 'x' }), (e: { code: string; recipients: Array<{ responseCode: number }> }) => {
        assert.equal(e.code, 'ERECIPIENTS');
        assert.ok(e.recipients[0]!.responseCode >= 500);
        return true;
      });
    } finally {
      await mailer.close();
    }
  });
});

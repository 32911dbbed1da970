/**
 * R5, end to end with the real Postfix: a message to an address Postfix accepts
 * and then bounces produces a DSN to our VERP address; the DSN is piped into
 * `sendwell bounce ingest` as an alias would, is matched, suppresses the
 * address, and the next send to it is refused with the reason.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { runCli } from '../helpers/cli.js';

const enabled = process.env.SENDWELL_IT_POSTFIX === '1';
const BOUNCE_BOX = '/var/mail/bounces';

describe('integration: bounce round trip through the real Postfix (R5)', { skip: !enabled && 'set SENDWELL_IT_POSTFIX=1 (needs .ci/setup-postfix.sh)' }, () => {
  it('sends via VERP, gets the DSN back, ingests it, suppresses, refuses the next send', async () => {
    const work = mkdtempSync(join(tmpdir(), 'sendwell-rt-'));
    const cfg = join(work, 'sendwell.toml');
    // The sendmail command: Postfix accepts the unknown local user first and bounces it later.
    writeFileSync(cfg, ['[relay]', 'url = "sendmail:/usr/sbin/sendmail"', '[sender]', 'from = "Jane Doe <sink@example.test>"', '[bounces]', 'address = "bounces@example.test"', ''].join('\n'));
    const state = join(work, 'state');
    const run = (args: string[], stdin?: string) => runCli(args, { cwd: work, ...(stdin !== undefined ? { stdin } : {}) });
    const subject = `round trip ${Date.now()}`;
    const sent = await run(['send', '--config', cfg, '--state-dir', state, '--to', 'nobody-here@example.test', '--subject', subject, '--text', 'this will bounce', '--json']);
    assert.equal(sent.code, 0, sent.stderr);
    const { queueId } = JSON.parse(sent.stdout) as { queueId: string };

    // Wait for Postfix's DSN about our message in the bounce mailbox.
    let dsn: string | undefined;
    const deadline = Date.now() + 30_000;
    while (!dsn && Date.now() < deadline) {
      const box = existsSync(BOUNCE_BOX) ? readFileSync(BOUNCE_BOX, 'utf8') : '';
      dsn = box.split(/^From /m).find((m) => m.includes(subject) && /report-type=delivery-status/i.test(m));
      if (!dsn) await sleep(250);
    }
    assert.ok(dsn, 'Postfix returned a DSN to the VERP address');
    const original = dsn.replace(/^[^\n]*\n/, ''); // drop the mbox "From " line
    assert.match(original, /^X-Original-To: bounces\+[a-z2-7]+\.[a-z2-7]{10}@example\.test$/m);

    const ingest = await run(['bounce', 'ingest', '--config', cfg, '--state-dir', state, '--json'], original);
    assert.equal(ingest.code, 0, ingest.stderr);
    const result = JSON.parse(ingest.stdout) as { kind: string; confident: boolean; recipients: Array<{ address: string; queueId?: string; action: string; amended: boolean; category: string }> };
    assert.equal(result.kind, 'bounce');
    assert.equal(result.confident, true);
    assert.deepEqual(result.recipients.map((r) => [r.address, r.queueId, r.category, r.action, r.amended]), [['nobody-here@example.test', queueId, 'unknown-user', 'suppressed', true]]);

    const show = JSON.parse((await run(['queue', 'show', queueId, '--state-dir', state, '--json'])).stdout) as { recipients: Array<{ state: string }> };
    assert.equal(show.recipients[0]!.state, 'bounced', 'delivered to the relay, then amended by the bounce');
    const again = await run(['send', '--config', cfg, '--state-dir', state, '--to', 'nobody-here@example.test', '--subject', `${subject} again`, '--text', 'x', '--json']);
    const second = JSON.parse(again.stdout) as { recipients: Array<{ state: string; response: string }> };
    assert.equal(second.recipients[0]!.state, 'suppressed');
    assert.match(second.recipients[0]!.response, /suppressed since .*unknown/i);
  });
});

/** The active tests: --send-test, --spam-test and --bounce-test (R5, R6). */
import { randomBytes } from 'node:crypto';
import type { ResolvedConfig } from '../config/load.js';
import { SendwellError } from '../errors.js';
import { createMailer, relayOptionsFromConfig } from '../mailer.js';
import { spamPreflight } from '../policy/spam/index.js';
import { check, domainOf, type Check } from './types.js';

function mailerFor(config: ResolvedConfig, relayUrl: string | undefined, stateDir: string | undefined) {
  const { stateDir: _ignored, ...rest } = config;
  const cfg: ResolvedConfig = stateDir ? { ...rest, stateDir } : rest;
  return createMailer({
    config: cfg,
    maildrop: false,
    ...(stateDir ? { stateDir } : {}),
    ...(relayUrl ? { relay: { ...relayOptionsFromConfig(config), url: relayUrl } } : {}),
  });
}

const TEXT = 'This is a test mail from `sendwell doctor`, sent to check that mail from this host arrives.\n\nNo action is needed. If you did not expect it, tell the administrator of the sending host.\n';

/** --send-test ADDRESS: a real short mail, no queue (like `sendwell send --no-queue`). */
export async function sendTest(config: ResolvedConfig, to: string, relayUrl?: string): Promise<Check> {
  const title = `test mail to ${to}`;
  const mailer = mailerFor(config, relayUrl, undefined);
  try {
    const r = await mailer.send({ to, subject: 'sendwell doctor: test mail', text: TEXT });
    const refused = r.recipients.filter((x) => x.status === 'rejected');
    if (refused.length) return check('send_test', 'fail', title, `refused: ${refused.map((x) => x.response ?? '').join('; ')}`, 'see the relay checks above');
    return check('send_test', 'ok', title, `sent: ${r.messageId} via ${r.relay.relay}${r.relayQueueId ? `, relay queue ID ${r.relayQueueId}` : ''}${r.response ? ` (${r.response})` : ''}`, 'check that it arrived, and not in the spam folder (R6)', 'R6');
  } catch (err) {
    const e = err as SendwellError;
    return check('send_test', 'fail', title, e.message, e.hint ?? '');
  } finally {
    await mailer.close();
  }
}

/** --spam-test: a composed sample through the built-in score and the configured scanners. */
export async function spamTest(config: ResolvedConfig, now = new Date()): Promise<Check[]> {
  const title = 'spam score of a sample mail';
  const mailer = mailerFor(config, undefined, undefined);
  try {
    const from = config.sender.from;
    const domain = domainOf(from?.replace(/^.*<|>.*$/g, '')) ?? 'example.org';
    const composed = await mailer.compose({ ...(from ? {} : { from: `doctor@${domain}` }), to: `postmaster@${domain}`, subject: 'sendwell doctor: spam test', text: TEXT });
    const report = await spamPreflight(composed.raw, config.spam ?? {}, { now, envelope: { from: composed.envelope.from, to: composed.envelope.to } });
    const out: Check[] = [];
    const hits = report.hits.map((h) => `${h.id} ${h.points}`).join(', ');
    const builtin = `built-in score ${report.score} (threshold ${report.threshold})${hits ? `: ${hits}` : ''}`;
    out.push(check('spam.builtin', report.score > report.threshold ? 'warn' : 'ok', title, builtin, report.score > report.threshold ? 'see `sendwell lint` on the sample for each rule\'s fix' : '', 'R6'));
    for (const s of report.scanners) {
      if (!s.ok) out.push(check(`spam.${s.scanner}`, 'warn', `${s.scanner} at ${s.target}`, s.error, `check that ${s.scanner} runs and listens at ${s.target} ([spam] ${s.scanner})`, 'R6'));
      else {
        const rules = s.rules.filter((r) => r.score === undefined || r.score > 0).slice(0, 8).map((r) => (r.score !== undefined ? `${r.name} ${r.score}` : r.name)).join(', ');
        out.push(check(`spam.${s.scanner}`, s.score > report.threshold ? 'warn' : 'ok', `${s.scanner} at ${s.target}`, `score ${s.score}${rules ? `: ${rules}` : ''}`, s.score > report.threshold ? 'the rules named are what to fix (sender, DNS or content)' : '', 'R6'));
      }
    }
    if (report.scanners.length === 0) out.push(check('spam.scanners', 'skip', 'spam scanners', 'none configured', 'set [spam] spamd = "127.0.0.1:783" or rspamd = "http://127.0.0.1:11333" for a second opinion', 'R6'));
    return out;
  } catch (err) {
    const e = err as SendwellError;
    return [check('spam.builtin', 'fail', title, e.message, e.hint ?? '', 'R6')];
  } finally {
    await mailer.close();
  }
}

export interface BounceTestOptions {
  config: ResolvedConfig;
  stateDir: string;
  relayUrl?: string;
  /** Address that must bounce (default: a random local part at the sender's domain). */
  probe?: string;
  timeoutMs: number;
  pollMs?: number;
  /** Progress lines (stderr). */
  progress?: (line: string) => void;
}

function missingParts(config: ResolvedConfig): string[] {
  const out: string[] = [];
  if (!config.bounces.address) out.push('no [bounces] address: bounces go to the From address, where sendwell never sees them');
  if (!config.bounces.imap) out.push('no [bounces.imap] mailbox to poll; without one, the bounce address must be an alias pipe `|sendwell bounce ingest` (Postfix/Exim) or `sendwell serve` must receive the bounce domain');
  out.push('the relay may drop or not generate bounces (check its log for the probe address)');
  return out;
}

/** --bounce-test (R5): send a probe that must bounce through the queue, wait until it is matched. */
export async function bounceTest(o: BounceTestOptions): Promise<Check> {
  const { config } = o;
  const senderDomain = domainOf(config.sender.from?.replace(/^.*<|>.*$/g, ''));
  const probe = o.probe ?? (senderDomain ? `doctor-bounce-${randomBytes(6).toString('hex')}@${senderDomain}` : undefined);
  const title = 'bounce round trip';
  if (!probe) return check('bounce_test', 'fail', title, 'no probe address: no [sender] from to take the domain from', 'give --probe ADDRESS (an address that must bounce), or set [sender] from', 'R5');
  const mailer = mailerFor(config, o.relayUrl, o.stateDir);
  const started = Date.now();
  let queueId: string | undefined;
  try {
    const r = await mailer.send({ to: probe, subject: 'sendwell doctor: bounce test', text: 'A probe to an address that does not exist, to test that bounces come back (R5).\n' });
    queueId = r.queueId;
    const rec = r.recipients[0];
    if (!queueId) return check('bounce_test', 'fail', title, 'the probe was not queued', 'give a state directory (--state-dir)', 'R5');
    if (rec?.state === 'bounced' || rec?.status === 'rejected') {
      return check('bounce_test', 'warn', title, `the relay refused ${probe} at once (${rec.response ?? rec.state}): no bounce message came back, so the round trip was not tested`, 'give --probe an address the relay accepts and a later hop refuses (e.g. at a domain the relay delivers elsewhere)', 'R5');
    }
    o.progress?.(`sendwell doctor: probe ${queueId} to ${probe} ${rec?.state ?? 'queued'}; waiting up to ${Math.round(o.timeoutMs / 1000)} s for the bounce`);
  } catch (err) {
    await mailer.close();
    const e = err as SendwellError;
    return check('bounce_test', 'fail', title, `the probe could not be sent: ${e.message}`, e.hint ?? '', 'R5');
  }
  await mailer.close();
  const { openSqliteStore } = await import('../queue/sqlite/index.js');
  const store = openSqliteStore(o.stateDir);
  try {
    const deadline = started + o.timeoutMs;
    for (;;) {
      const row = store.recipients(queueId).find((x) => x.address.toLowerCase() === probe.toLowerCase());
      if (row?.state === 'bounced') {
        const secs = ((Date.now() - started) / 1000).toFixed(1);
        return check('bounce_test', 'ok', title, `the bounce for ${probe} (queue ID ${queueId}) came back and was matched after ${secs} s${row.lastReason ? `: ${row.lastReason}` : ''}`, '', 'R5');
      }
      if (Date.now() >= deadline) {
        return check('bounce_test', 'fail', title, `no bounce for ${probe} (queue ID ${queueId}, state ${row?.state ?? '?'}) within ${Math.round(o.timeoutMs / 1000)} s. Probably missing: ${missingParts(config).join('; ')}`, 'set up bounce ingestion (README: bounces), then run `sendwell doctor --bounce-test` again; `sendwell log --id ' + queueId + '` shows the delivery', 'R5');
      }
      await new Promise((r) => setTimeout(r, o.pollMs ?? 500));
    }
  } finally {
    store.close();
  }
}

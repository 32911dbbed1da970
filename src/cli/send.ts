/** `sendwell send`: compose, lint and send one mail. */
import { basename } from 'node:path';
import { EXIT, isUnknownUser, SendwellError } from '../errors.js';
import { loadConfig, type ResolvedConfig } from '../config/load.js';
import { resolvePassword } from '../transport/secrets.js';
import { createMailer, relayOptionsFromConfig, type SendRecipient, type SendResult } from '../mailer.js';
import type { Attachment, Mail } from '../message/compose.js';
import { parseHeaderLine } from '../message/headers.js';
import { buildReport, formatReport, reportToJSON } from '../policy/index.js';
import { decodeUtf8, readInput } from './input.js';
import { formatRecipients, type Io } from './output.js';
import { resolveStateDir } from './state-dir.js';

export interface SendFlags {
  from?: string;
  to: string[];
  cc: string[];
  bcc: string[];
  replyTo?: string;
  envelopeFrom?: string;
  subject?: string;
  text?: string;
  textFile?: string;
  htmlFile?: string;
  attach: string[];
  header: string[];
  relay?: string;
  config?: string;
  dryRun?: boolean;
  json?: boolean;
  autoSubmitted?: string | boolean;
  stateDir?: string;
  queue?: boolean;
  queueOnly?: boolean;
  wait?: boolean;
  idempotencyKey?: string;
  list?: string;
}

export async function buildMail(flags: SendFlags): Promise<Mail> {
  if (flags.text !== undefined && flags.textFile !== undefined) {
    throw new SendwellError('EUSAGE', '--text and --text-file both given', { hint: 'use one of them' });
  }
  if (flags.textFile === '-' && flags.htmlFile === '-') {
    throw new SendwellError('EUSAGE', '--text-file and --html-file cannot both read stdin', { hint: 'give one of them a file' });
  }
  const mail: Mail = {};
  if (flags.from !== undefined) mail.from = flags.from;
  if (flags.to.length) mail.to = flags.to;
  if (flags.cc.length) mail.cc = flags.cc;
  if (flags.bcc.length) mail.bcc = flags.bcc;
  if (flags.replyTo !== undefined) mail.replyTo = flags.replyTo;
  if (flags.envelopeFrom !== undefined) mail.envelopeFrom = flags.envelopeFrom;
  if (flags.subject !== undefined) mail.subject = flags.subject;
  if (flags.text !== undefined) mail.text = flags.text;
  if (flags.textFile !== undefined) mail.text = decodeUtf8(await readInput(flags.textFile, 'text file'), `text file ${flags.textFile}`);
  if (flags.htmlFile !== undefined) mail.html = decodeUtf8(await readInput(flags.htmlFile, 'HTML file'), `HTML file ${flags.htmlFile}`);
  if (mail.text === undefined && mail.html === undefined) {
    throw new SendwellError('EUSAGE', 'no body given', { hint: 'give --text TEXT, --text-file FILE (- for stdin) or --html-file FILE' });
  }
  if (flags.attach.length) mail.attachments = flags.attach.map((path): Attachment => ({ path, filename: basename(path) }));
  if (flags.header.length) mail.headers = flags.header.map(parseHeaderLine);
  // --no-auto-submitted leaves the header out (commander gives false).
  if (flags.autoSubmitted === false) mail.autoSubmitted = false;
  else if (typeof flags.autoSubmitted === 'string') mail.autoSubmitted = flags.autoSubmitted;
  return mail;
}

/** Exit code from per-recipient outcomes: the refusal's code when any recipient was refused. */
export function exitCodeForRecipients(recipients: SendRecipient[]): number {
  const refused = recipients.filter((r) => r.status === 'rejected');
  if (refused.length === 0) return EXIT.OK;
  const permanent = refused.filter((r) => !r.temporary);
  if (permanent.length === 0) return EXIT.TEMPFAIL;
  return permanent.some((r) => isUnknownUser(r)) ? EXIT.NOUSER : EXIT.UNAVAILABLE;
}

function describeQueued(r: SendResult): string {
  const by = (state: string) => r.recipients.filter((x) => x.state === state).length;
  const parts = [
    by('delivered') && `${by('delivered')} delivered`,
    by('deferred') && `${by('deferred')} deferred (will be retried)`,
    by('queued') && `${by('queued')} waiting for the worker`,
    by('held') && `${by('held')} held`,
    by('bounced') && `${by('bounced')} bounced (a notice goes to the sender)`,
    by('expired') && `${by('expired')} expired`,
    by('suppressed') && `${by('suppressed')} suppressed`,
  ].filter(Boolean);
  return parts.join(', ');
}

export async function sendCommand(flags: SendFlags, io: Io): Promise<number> {
  const config = loadConfig(flags.config ? { path: flags.config } : {});
  const mail = await buildMail(flags);
  if (flags.queue === false && (flags.queueOnly || flags.wait || flags.idempotencyKey)) {
    throw new SendwellError('EUSAGE', '--no-queue cannot be combined with --queue-only, --wait or --idempotency-key', { hint: 'drop --no-queue to use the queue' });
  }
  if (flags.list !== undefined) return sendListCommand(flags, mail, config, io);
  const stateDir = flags.queue === false || flags.dryRun ? undefined : resolveStateDir(flags.stateDir, config);
  // A broken secret is the caller's to fix now (77), not something to find in the queue later (R11).
  if (config.relay.password && !flags.dryRun) await resolvePassword(config.relay.password);
  const mailer = createMailer({
    config,
    ...(stateDir ? { stateDir } : {}),
    ...(flags.relay ? { relay: { ...relayOptionsFromConfig(config), url: flags.relay } } : {}),
  });
  try {
    if (flags.dryRun) {
      const composed = await mailer.compose(mail);
      const report = await mailer.lint(mail);
      if (flags.json) {
        io.stdout(`${JSON.stringify({ ok: report.ok, dryRun: true, messageId: composed.messageId, envelope: composed.envelope, message: composed.raw.toString('utf8'), lint: reportToJSON(report) }, null, 2)}\n`);
      } else {
        io.stdout(composed.raw.toString('utf8'));
        io.stdout(`\n--- envelope: from <${composed.envelope.from}> to ${composed.envelope.to.map((t) => `<${t}>`).join(', ')}\n`);
        io.stdout(`--- lint:\n${formatReport(report)}`);
        io.stdout('--- dry run: nothing was sent\n');
      }
      return report.ok ? EXIT.OK : EXIT.DATAERR;
    }
    const result = await mailer.send(mail, {
      ...(flags.queueOnly ? { queueOnly: true } : {}),
      ...(flags.idempotencyKey ? { idempotencyKey: flags.idempotencyKey } : {}),
    });
    if (result.viaDaemon) {
      // Handed to the running daemon; its worker delivers, its queue and log show the mail.
      if (flags.json) io.stdout(`${JSON.stringify({ ok: true, exitCode: EXIT.OK, ...result }, null, 2)}\n`);
      else {
        io.stdout(result.queueId ? `queued as ${result.queueId}: ${result.messageId}: handed to sendwell serve, which delivers it\n` : `${result.messageId}: handed to sendwell serve (not acknowledged yet; it is safe in the maildrop)\n`);
        for (const h of result.held ?? []) io.stderr(`sendwell: held: ${h}\n`);
        if (result.findings.length) io.stderr(formatReport(buildReport(result.findings)));
      }
      return EXIT.OK;
    }
    if (result.queueId) {
      // Durably queued: exit 0 whatever the first attempt said, unless --wait asked for the outcome.
      const code = flags.wait ? exitCodeForRecipients(result.recipients) : EXIT.OK;
      if (flags.json) {
        io.stdout(`${JSON.stringify({ ok: code === EXIT.OK, exitCode: code, ...result }, null, 2)}\n`);
      } else {
        const what = result.existing ? 'already queued (same --idempotency-key), nothing new queued' : describeQueued(result);
        io.stdout(`queued as ${result.queueId}: ${result.messageId}: ${what}\n`);
        io.stdout(`${formatRecipients(result.recipients)}\n`);
        for (const h of result.held ?? []) io.stderr(`sendwell: held: ${h}\n`);
        if (result.recipients.some((r) => r.state === 'deferred' || r.state === 'queued')) {
          io.stderr('sendwell: mail still queued is retried by `sendwell worker` (or `sendwell flush` from cron); `sendwell queue` shows it (T1)\n');
        }
        if (result.findings.length) io.stderr(formatReport(buildReport(result.findings)));
      }
      return code;
    }
    const code = exitCodeForRecipients(result.recipients);
    const refused = result.recipients.filter((r) => r.status === 'rejected');
    if (flags.json) {
      io.stdout(`${JSON.stringify({ ok: refused.length === 0, exitCode: code, ...result }, null, 2)}\n`);
    } else {
      const via = result.relay.relay + (result.relay.tls ? ' (TLS)' : '');
      const status = refused.length ? `sent to ${result.accepted.length} of ${result.recipients.length} recipients` : 'sent';
      io.stdout(`${status}: ${result.messageId} via ${via}${result.relayQueueId ? `, relay queue ID ${result.relayQueueId}` : ''}\n`);
      io.stdout(`${formatRecipients(result.recipients)}\n`);
      if (refused.length) io.stderr(`sendwell: ${refused.length} recipient(s) refused; the others received the mail, do not resend to them\n`);
      if (result.findings.length) io.stderr(formatReport(buildReport(result.findings)));
    }
    return code;
  } finally {
    await mailer.close();
  }
}

/** `sendwell send --list NAME`: one message per consenting subscriber (R1). */
async function sendListCommand(flags: SendFlags, mail: Mail, config: ResolvedConfig, io: Io): Promise<number> {
  const bad = [flags.queue === false && '--no-queue', flags.dryRun && '--dry-run', flags.cc.length && '--cc', flags.bcc.length && '--bcc', flags.wait && '--wait'].filter(Boolean);
  if (bad.length) {
    throw new SendwellError('EUSAGE', `--list cannot be combined with ${bad.join(', ')}`, { hint: 'list mail is queued, one message per subscriber; --to picks subscribers' });
  }
  const stateDir = resolveStateDir(flags.stateDir, config);
  if (config.relay.password) await resolvePassword(config.relay.password);
  const mailer = createMailer({ config, stateDir, ...(flags.relay ? { relay: { ...relayOptionsFromConfig(config), url: flags.relay } } : {}) });
  try {
    const to = mail.to;
    delete mail.to;
    const r = await mailer.sendToList(flags.list!, mail, {
      ...(to !== undefined ? { to } : {}),
      ...(flags.queueOnly ? { queueOnly: true } : {}),
      ...(flags.idempotencyKey ? { idempotencyKey: flags.idempotencyKey } : {}),
    });
    for (const x of r.refused) io.stderr(`sendwell: not sent to ${x.address}: ${x.reason}\n`);
    if (flags.json) io.stdout(`${JSON.stringify(r, null, 2)}\n`);
    else {
      for (const s of r.sent) io.stdout(`queued as ${s.queueId}: ${s.address}: ${s.existing ? 'already queued (same --idempotency-key)' : s.state}\n`);
      io.stdout(`list ${r.list}: ${r.sent.length} message(s) queued, ${r.refused.length} address(es) without consent refused\n`);
      if (r.findings.length) io.stderr(formatReport(buildReport(r.findings)));
    }
    if (r.sent.length === 0 && r.refused.length > 0) {
      throw new SendwellError('ECONSENT', `nothing sent: no recipient has a recorded consent for list ${r.list}`, {
        rule: 'R1',
        hint: `sign them up (\`sendwell consent add ${r.list} ADDRESS --source …\`, the API or a form) and let them confirm; \`sendwell consent list ${r.list}\` shows who consented`,
      });
    }
    if (r.sent.length === 0) io.stderr(`sendwell: list ${r.list} has no confirmed subscribers: nothing sent\n`);
    return EXIT.OK;
  } finally {
    await mailer.close();
  }
}

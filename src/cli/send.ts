/** `sendwell send`: compose, lint and send one mail. */
import { basename } from 'node:path';
import { EXIT, isUnknownUser, SendwellError } from '../errors.js';
import { loadConfig } from '../config/load.js';
import { createMailer, relayOptionsFromConfig } from '../mailer.js';
import type { Attachment, Mail } from '../message/compose.js';
import { parseHeaderLine } from '../message/headers.js';
import { buildReport, formatReport, reportToJSON } from '../policy/index.js';
import { decodeUtf8, readInput } from './input.js';
import { formatRecipients, type Io } from './output.js';

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

export async function sendCommand(flags: SendFlags, io: Io): Promise<number> {
  const config = loadConfig(flags.config ? { path: flags.config } : {});
  const mail = await buildMail(flags);
  const mailer = createMailer({ config, ...(flags.relay ? { relay: { ...relayOptionsFromConfig(config), url: flags.relay } } : {}) });
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
    const result = await mailer.send(mail);
    const refused = result.recipients.filter((r) => r.status === 'rejected');
    let code: number = EXIT.OK;
    if (refused.length) {
      const permanent = refused.filter((r) => !r.temporary);
      code = permanent.length === 0 ? EXIT.TEMPFAIL : permanent.some((r) => isUnknownUser(r)) ? EXIT.NOUSER : EXIT.UNAVAILABLE;
    }
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

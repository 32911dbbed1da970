/**
 * Delivery status notifications (RFC 3464) for recipients that finally failed:
 * one per message, to the envelope sender, sent with the null sender `<>` so
 * that a failing notification can never bounce again (R2: no double bounces).
 */
import { randomBytes, sha256 } from '../random.js';
import { formatDate } from '../message/ids.js';
import type { QueuedMessage, RecipientRow } from './store.js';

export interface DsnInput {
  message: QueuedMessage;
  failed: RecipientRow[];
  /** The original message (headers are returned; the body is not). */
  raw: Buffer | null;
  reportingHost: string;
  now: Date;
}

export interface BuiltDsn {
  raw: Buffer;
  messageId: string;
  to: string;
}

function headerSection(raw: Buffer | null): string {
  if (!raw) return '(the original message is no longer stored)\r\n';
  const s = raw.toString('latin1');
  const end = s.indexOf('\r\n\r\n');
  return (end === -1 ? s : s.slice(0, end + 2)).replace(/\r?\n/g, '\r\n');
}

function ascii(s: string): string {
  // DSN fields are ASCII (RFC 3464 §2.1.1 uses xtext/utf-8-type only for addresses); keep replies readable.
  return s.replace(/[^\x20-\x7e]/g, '?');
}

/** Build the notification, or null when none may be sent (null envelope sender). */
export function buildDsn(input: DsnInput): BuiltDsn | null {
  const { message, failed } = input;
  if (message.envelopeFrom === '' || failed.length === 0) return null;
  const domain = message.envelopeFrom.slice(message.envelopeFrom.lastIndexOf('@') + 1);
  const messageId = `<dsn.${message.id}.${randomBytes(4).toString('hex')}@${domain}>`;
  const boundary = `sendwell-dsn-${sha256(message.id).toString('hex').slice(0, 16)}`;
  const date = formatDate(input.now);
  const lines = (...l: string[]) => l.join('\r\n');
  const human = lines(
    `This is the mail system (sendwell) at ${input.reportingHost}.`,
    '',
    `Your message ${message.messageId} (queue ID ${message.id}) could not be delivered`,
    `to ${failed.length === 1 ? 'this recipient' : 'these recipients'}:`,
    '',
    ...failed.map((r) => `  <${r.address}>: ${ascii(r.lastReason ?? (r.state === 'expired' ? 'delivery time expired' : 'refused'))}`),
    '',
    failed.some((r) => r.state === 'expired')
      ? 'Delivery was retried until the queue lifetime ran out.'
      : 'The receiving side refused them permanently; resending will not help.',
    'Check the addresses. If they are correct, forward this notice to the recipients\' mail administrators.',
    '',
  );
  const perMessage = lines(
    `Reporting-MTA: dns; ${input.reportingHost}`,
    `X-Sendwell-Queue-ID: ${message.id}`,
    `Arrival-Date: ${formatDate(new Date(message.createdAt))}`,
  );
  const perRecipient = failed.map((r) =>
    lines(
      `Final-Recipient: rfc822; ${r.address}`,
      `Original-Recipient: rfc822; ${r.address}`,
      `Action: failed`,
      `Status: ${r.lastDsn && /^[45]\.\d{1,3}\.\d{1,3}$/.test(r.lastDsn) ? r.lastDsn : '5.0.0'}`,
      ...(r.lastReason ? [`Diagnostic-Code: smtp; ${ascii(r.lastReason)}`] : []),
      `Last-Attempt-Date: ${formatDate(new Date(r.updatedAt))}`,
    ),
  );
  const raw = lines(
    `From: Mail Delivery System <MAILER-DAEMON@${domain}>`,
    `To: <${message.envelopeFrom}>`,
    `Subject: Undelivered Mail Returned to Sender`,
    `Date: ${date}`,
    `Message-ID: ${messageId}`,
    'Auto-Submitted: auto-replied',
    'MIME-Version: 1.0',
    `Content-Type: multipart/report; report-type=delivery-status; boundary="${boundary}"`,
    '',
    'This is a MIME-encapsulated delivery status notification.',
    '',
    `--${boundary}`,
    'Content-Type: text/plain; charset=us-ascii',
    'Content-Description: Notification',
    '',
    human,
    `--${boundary}`,
    'Content-Type: message/delivery-status',
    'Content-Description: Delivery report',
    '',
    perMessage,
    '',
    perRecipient.join('\r\n\r\n'),
    '',
    `--${boundary}`,
    'Content-Type: text/rfc822-headers',
    'Content-Description: Undelivered Message Headers',
    '',
    headerSection(input.raw),
    `--${boundary}--`,
    '',
  );
  return { raw: Buffer.from(raw, 'latin1'), messageId, to: message.envelopeFrom };
}

/**
 * Delivery status notifications (RFC 3464) from sendwell itself, one per
 * message, to the envelope sender, sent with the null sender `<>` so that a
 * failing notification can never bounce again (R2: no double bounces):
 *
 * - a failure notice (`Action: failed`) for recipients that failed for good;
 * - a delay warning (`Action: delayed`, `[queue] delay_warning`) for recipients
 *   still waiting: the message is not lost and is retried until the lifetime.
 *
 * Neither for a message whose own sender is `<>`, nor when the message's
 * NOTIFY (else `[dsn] notify`) leaves out FAILURE or DELAY (RFC 3461 §5.2.5,
 * §5.2.6). The submitter's own ENVID comes back as Original-Envelope-Id
 * (RFC 3461 §6.3 a).
 */
import { randomBytes, sha256 } from '../random.js';
import { formatDuration } from '../config/units.js';
import { formatDate } from '../message/ids.js';
import { notifies, type DsnNotify } from './dsn-params.js';
import type { QueuedMessage, RecipientRow } from './store.js';

interface DsnCommon {
  message: QueuedMessage;
  /** The original message (headers are returned; the body is not). */
  raw: Buffer | null;
  reportingHost: string;
  now: Date;
  /** `[dsn] notify`: decides when the message has no NOTIFY of its own. */
  defaultNotify?: DsnNotify;
}

export type DsnInput = DsnCommon &
  (
    | {
        /** Failure notice: the recipients that failed for good (bounced, expired). */
        failed: RecipientRow[];
      }
    | {
        /** Delay warning: the recipients still waiting (queued, deferred). */
        delayed: RecipientRow[];
        /** The queue lifetime: retried until the message is this old. */
        lifetimeMs: number;
      }
  );

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

/** "4 hours", "2 days", "45 minutes": how long a message has waited. */
function age(ms: number): string {
  const unit = (n: number, w: string) => `${n} ${w}${n === 1 ? '' : 's'}`;
  if (ms >= 2 * 86_400_000) return unit(Math.floor(ms / 86_400_000), 'day');
  if (ms >= 2 * 3_600_000) return unit(Math.floor(ms / 3_600_000), 'hour');
  return unit(Math.max(0, Math.floor(ms / 60_000)), 'minute');
}

/** Build the notification, or null when none may be sent (null envelope sender, NOTIFY without it). */
export function buildDsn(input: DsnInput): BuiltDsn | null {
  const { message } = input;
  const delay = 'delayed' in input ? input : undefined;
  const rows = delay ? delay.delayed : 'failed' in input ? input.failed : [];
  if (message.envelopeFrom === '' || rows.length === 0) return null;
  if (!notifies(delay ? 'DELAY' : 'FAILURE', message.dsnNotify, input.defaultNotify)) return null;
  const domain = message.envelopeFrom.slice(message.envelopeFrom.lastIndexOf('@') + 1);
  const kind = delay ? 'delay' : 'dsn';
  const messageId = `<${kind}.${message.id}.${randomBytes(4).toString('hex')}@${domain}>`;
  const boundary = `sendwell-${kind}-${sha256(message.id).toString('hex').slice(0, 16)}`;
  const date = formatDate(input.now);
  const lines = (...l: string[]) => l.join('\r\n');
  const these = rows.length === 1 ? 'this recipient' : 'these recipients';
  const retryUntil = delay ? message.createdAt + delay.lifetimeMs : 0;
  const human = delay
    ? lines(
        `This is the mail system (sendwell) at ${input.reportingHost}.`,
        '',
        '#############################################################',
        '# THIS IS A WARNING ONLY. YOUR MESSAGE IS NOT LOST, AND YOU #',
        '# DO NOT NEED TO RESEND IT.                                 #',
        '#############################################################',
        '',
        `Your message ${message.messageId} (queue ID ${message.id}) has waited`,
        `${age(input.now.getTime() - message.createdAt)} and is not yet delivered to ${these}`,
        '(with the last reply of the relay):',
        '',
        ...rows.map((r) => `  <${r.address}>: ${ascii(r.lastReason ?? 'not attempted yet')}`),
        '',
        'It stays in the queue, and delivery will be retried until',
        `${formatDate(new Date(retryUntil))} (the queue lifetime of ${formatDuration(delay.lifetimeMs)}).`,
        'Only if it still cannot be delivered by then will you get another',
        'notice, saying so. This warning is sent once per message.',
        '',
      )
    : lines(
        `This is the mail system (sendwell) at ${input.reportingHost}.`,
        '',
        `Your message ${message.messageId} (queue ID ${message.id}) could not be delivered`,
        `to ${these}:`,
        '',
        ...rows.map((r) => `  <${r.address}>: ${ascii(r.lastReason ?? (r.state === 'expired' ? 'delivery time expired' : 'refused'))}`),
        '',
        rows.some((r) => r.state === 'expired')
          ? 'Delivery was retried until the queue lifetime ran out.'
          : 'The receiving side refused them permanently; resending will not help.',
        'Check the addresses. If they are correct, forward this notice to the recipients\' mail administrators.',
        '',
      );
  const perMessage = lines(
    `Reporting-MTA: dns; ${input.reportingHost}`,
    ...(message.dsnEnvid !== null ? [`Original-Envelope-Id: ${message.dsnEnvid}`] : []),
    `X-Sendwell-Queue-ID: ${message.id}`,
    `Arrival-Date: ${formatDate(new Date(message.createdAt))}`,
  );
  const perRecipient = rows.map((r) =>
    lines(
      `Final-Recipient: rfc822; ${r.address}`,
      `Original-Recipient: rfc822; ${r.address}`,
      `Action: ${delay ? 'delayed' : 'failed'}`,
      // A delayed recipient's status is 4.x.x, a failed one's 5.x.x or (expired) the last 4.x.x.
      `Status: ${statusOf(r.lastDsn, delay ? /^4\.\d{1,3}\.\d{1,3}$/ : /^[45]\.\d{1,3}\.\d{1,3}$/, delay ? '4.0.0' : '5.0.0')}`,
      ...(r.lastReason ? [`Diagnostic-Code: smtp; ${ascii(r.lastReason)}`] : []),
      ...(!delay || r.attempts > 0 ? [`Last-Attempt-Date: ${formatDate(new Date(r.updatedAt))}`] : []),
      ...(delay ? [`Will-Retry-Until: ${formatDate(new Date(retryUntil))}`] : []),
    ),
  );
  const raw = lines(
    `From: Mail Delivery System <MAILER-DAEMON@${domain}>`,
    `To: <${message.envelopeFrom}>`,
    `Subject: ${delay ? 'Delayed Mail (not lost, still being retried)' : 'Undelivered Mail Returned to Sender'}`,
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
    `Content-Description: ${delay ? 'Headers of the delayed message' : 'Undelivered Message Headers'}`,
    '',
    headerSection(input.raw),
    `--${boundary}--`,
    '',
  );
  return { raw: Buffer.from(raw, 'latin1'), messageId, to: message.envelopeFrom };
}

function statusOf(dsn: string | null, valid: RegExp, fallback: string): string {
  return dsn && valid.test(dsn) ? dsn : fallback;
}

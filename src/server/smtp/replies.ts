/**
 * The listener's SMTP replies. Their codes and texts are public surface: installed
 * software logs them and administrators search for them. Each reply text starts
 * with its RFC 3463 enhanced status code; the listener sends it as is (see
 * listener.ts, which keeps smtp-server from adding a second, generic code).
 * A text with line breaks becomes a multi-line reply, one line per part.
 */
import type { Finding } from '../../policy/types.js';

export interface Reply {
  code: number;
  /** Enhanced status code, e.g. `5.7.1`. */
  status: string;
  /** One or more lines (without the codes). */
  lines: string[];
}

/** Longest text of one reply line (RFC 5321 §4.5.3.1.5 allows 512 octets with the codes and CRLF). */
const MAX_LINE_TEXT = 480;

/** A reply line: no control characters, ASCII only, not longer than an SMTP line may be. */
export function replyText(s: string): string {
  const clean = s.replace(/[\x00-\x1f\x7f]+/g, ' ').replace(/[^\x20-\x7e]/g, '?').trim();
  return clean.length > MAX_LINE_TEXT ? `${clean.slice(0, MAX_LINE_TEXT - 3)}...` : clean;
}

export function reply(code: number, status: string, ...lines: string[]): Reply {
  return { code, status, lines: lines.map(replyText) };
}

/** The reply as the wire shows it (for logs and tests): `550 5.7.1 text`, multi-line with `550-`. */
export function formatReply(r: Reply): string {
  return r.lines.map((l, i) => `${r.code}${i === r.lines.length - 1 ? ' ' : '-'}${r.status} ${l}`).join('\r\n');
}

/** The error an smtp-server callback takes: the message carries the enhanced code and the lines. */
export function replyError(r: Reply): Error & { responseCode: number } {
  return Object.assign(new Error(`${r.status} ${r.lines.join('\n')}`), { responseCode: r.code });
}

export const REPLIES = {
  queued: (id: string) => reply(250, '2.0.0', `queued as ${id}`),
  tooManyConnections: (limit: number) => reply(421, '4.7.0', `too many connections from your address (limit ${limit}); try again later`),
  shuttingDown: () => reply(421, '4.3.2', 'sendwell is shutting down; try again later'),
  rateLimit: (ip: string, count: number, limit: number) =>
    reply(451, '4.7.1', `rate limit: ${ip} queued ${count} messages in the last minute (limit ${limit}); try again later (R8)`),
  authRequired: () => reply(530, '5.7.0', 'authentication required: log in with AUTH (over STARTTLS) before sending'),
  encryptionRequired: () => reply(538, '5.7.11', 'encryption required: use STARTTLS before AUTH, so the password is not sent in clear text (R11)'),
  authFailed: () => reply(535, '5.7.8', 'authentication failed: wrong user name or password'),
  relayDenied: (ip: string, tls: boolean) =>
    reply(
      554,
      '5.7.1',
      `relay access denied: ${ip} may not relay without AUTH; ${tls ? 'log in with AUTH over STARTTLS, or add' : 'add'} the network to smtp.allow_networks${tls ? '' : ' (AUTH from other hosts needs TLS: set smtp.tls_cert_file and smtp.tls_key_file)'}`,
    ),
  tooBig: (limit: number) => reply(552, '5.3.4', `message too big (R9: send a link instead); the limit is ${limit} bytes`),
  smtputf8Unavailable: (what: string) =>
    reply(553, '5.6.7', `SMTPUTF8 not available upstream: the relay cannot carry ${what}; use ASCII addresses`),
  badSender: (why: string) => reply(553, '5.1.7', `bad sender address: ${why}`),
  badRecipient: (why: string) => reply(553, '5.1.3', `bad recipient address: ${why}`),
  loop: (why: string) => reply(554, '5.4.6', `mail loop: ${why}`),
  unconvertible: (why: string) => reply(554, '5.6.0', why),
  notQueued: (why: string) => reply(451, '4.3.0', `the message could not be queued: ${why}; nothing was queued, try again later`),
  internal: () => reply(451, '4.3.0', 'internal error; nothing was queued, try again later'),
} as const;

/** How a finding's field reads in a reply: `sender`, `From`, `recipient`. */
function fieldLabel(field: string | undefined): string {
  switch (field) {
    case undefined:
      return 'message';
    case 'envelope.from':
      return 'sender';
    case 'envelope.to':
      return 'recipient';
    default:
      return field;
  }
}

/**
 * `550 5.7.1` for a message that breaks error-level rules: one line per finding,
 * naming what was refused, the rule and the fix, e.g.
 * `sender noreply@example.org refused (R2.noreply-sender): Send from a real, monitored mailbox …`.
 */
export function policyReply(findings: readonly Finding[]): Reply {
  const errors = findings.filter((f) => f.severity === 'error');
  const lines = errors.map((f) => {
    const what = `${fieldLabel(f.field)}${f.detail ? ` ${f.detail}` : ''}`;
    const title = f.title ? `${f.title.replace(/\.$/, '')}. ` : '';
    return `${what} refused (${f.rule}): ${title}${f.fix}`;
  });
  return reply(550, '5.7.1', ...(lines.length ? lines : ['refused by policy']));
}

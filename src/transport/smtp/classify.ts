/**
 * Turn SMTP replies and socket/TLS failures into SendwellErrors with a code,
 * `temporary`, the phase, and a hint in words that names the guide rule.
 *
 * Temporary or permanent follows the reply code's class first (4xx temporary,
 * 5xx permanent, RFC 5321 §4.2.1); the RFC 3463 enhanced code refines the hint
 * but never overrides the class. Classification is data: REPLY_RULES is a table
 * (first match wins) with a golden test per row.
 */
import net from 'node:net';
import { SendwellError, type ErrorCode, type Phase, type RecipientOutcome } from '../../errors.js';
import { replyClass, type SmtpReply } from './reply.js';

export interface ReplyContext {
  phase: Phase;
  /** What was sent, e.g. `greeting`, `EHLO`, `MAIL FROM:<a@example.test>`, `end of data`. */
  command: string;
  host: string;
  port: number;
}

export interface ReplyRule {
  id: string;
  /** When the rule applies. */
  test: (reply: SmtpReply, ctx: ReplyContext) => boolean;
  /** Error code; when absent the phase's default (see PHASE_CODE). */
  code?: ErrorCode;
  rule?: string;
  hint: string;
}

const wording = (re: RegExp) => (r: SmtpReply) => re.test(r.lines.join(' '));
const enh = (...codes: string[]) => (r: SmtpReply) => r.enhanced !== undefined && codes.includes(r.enhanced);
const is4 = (r: SmtpReply) => replyClass(r) === 4;
const is5 = (r: SmtpReply) => replyClass(r) === 5;

/** The default error code for a refusal in each phase. */
export const PHASE_CODE: Record<Phase, ErrorCode> = {
  connect: 'ECONNECTION',
  tls: 'ETLS',
  auth: 'EAUTH',
  mail: 'EREJECTED',
  rcpt: 'ERECIPIENTS',
  data: 'EREJECTED',
};

export const REPLY_RULES: readonly ReplyRule[] = [
  {
    id: 'throttled',
    test: (r) => is4(r) && wording(/\b(rate|too many (messages|mails|connections)|throttl\w*|limit (exceeded|reached))\b/i)(r),
    rule: 'R8',
    hint: 'the relay is throttling this sender; slow down and try again later — consider how many mails your script sends and add a rate limit (R8)',
  },
  {
    id: 'service-unavailable',
    test: (r) => r.code === 421,
    code: 'ECONNECTION',
    hint: 'service not available: the relay is closing the connection (overloaded, restarting or shutting down); try again later',
  },
  {
    id: 'auth-credentials',
    test: (r, c) => c.phase === 'auth' && (r.code === 535 || r.enhanced === '5.7.8'),
    code: 'EAUTH',
    rule: 'R11',
    hint: 'the relay rejected the credentials: check relay.username and the password in password_file / password_env / password_command',
  },
  {
    id: 'auth-too-weak',
    test: (r, c) => c.phase === 'auth' && (r.code === 534 || r.enhanced === '5.7.9'),
    code: 'EAUTH',
    hint: 'the relay considers this authentication mechanism too weak for this account; ask the relay administrator which mechanisms are allowed',
  },
  {
    id: 'auth-needs-encryption',
    test: (r, c) => c.phase === 'auth' && (r.code === 538 || r.enhanced === '5.7.11'),
    code: 'EAUTH',
    rule: 'C2',
    hint: 'the relay requires encryption before login: use smtp+starttls://host:587 or smtps://host:465 (C2)',
  },
  {
    id: 'auth-temporary',
    test: (r, c) => c.phase === 'auth' && is4(r),
    code: 'EAUTH',
    hint: 'the relay could not check the credentials right now; try again later',
  },
  {
    id: 'tls-required',
    test: (r) => is5(r) && (r.code === 530 || r.enhanced === '5.7.0' || r.enhanced === '5.7.10') && wording(/STARTTLS|\bTLS\b|encryption/i)(r),
    code: 'ETLS',
    rule: 'C2',
    hint: 'the relay requires TLS before mail: use smtp+starttls://host:587 or smtps://host:465 (C2), not ?tls=never',
  },
  {
    id: 'auth-required',
    test: (r) => r.code === 530 || (r.enhanced === '5.7.0' && wording(/auth/i)(r)) || (is5(r) && wording(/authentication (is )?required/i)(r)),
    code: 'EAUTH',
    rule: 'C2',
    hint: 'the relay requires authentication: configure relay.username and a password source (password_file, password_env or password_command; R11), or check that this host may send without login (C2)',
  },
  {
    id: 'smtputf8',
    test: (r) => enh('5.6.7', '5.6.8', '5.6.9')(r) || (is5(r) && wording(/SMTPUTF8|non-ASCII address|UTF-?8 address/i)(r)),
    code: 'ESMTPUTF8',
    hint: 'the relay refuses internationalized (non-ASCII) addresses or headers; use ASCII addresses or a relay that supports SMTPUTF8',
  },
  {
    id: 'too-large',
    test: (r, c) => enh('5.3.4', '5.2.3', '4.3.4')(r) || (r.code === 552 && (c.phase === 'mail' || c.phase === 'data')),
    code: 'ESIZE',
    rule: 'R9',
    hint: 'the message is too large for the relay: instead of large attachments, send links, e.g. to files in a cloud share (R9)',
  },
  {
    id: 'relay-denied',
    test: (r, c) => c.phase === 'rcpt' && (r.enhanced === '5.7.1' || r.enhanced === '4.7.1' || wording(/\brelay(ing)?\b/i)(r)),
    rule: 'C2',
    hint: 'this host may not relay here; use the submission server (C2) or a local MTA with a smarthost (C3)',
  },
  {
    id: 'too-many-recipients',
    test: (r, c) => c.phase === 'rcpt' && (enh('4.5.3', '5.5.3')(r) || wording(/too many recipients/i)(r)),
    rule: 'R8',
    hint: 'too many recipients in one message: send to fewer recipients at a time (R8)',
  },
  {
    id: 'unknown-recipient',
    test: (r, c) => c.phase === 'rcpt' && (enh('5.1.1', '5.1.2', '5.1.3', '5.1.6', '5.1.10')(r) || (is5(r) && wording(/\b(user unknown|unknown user|no such (user|mailbox)|does not exist|mailbox unavailable)\b/i)(r))),
    rule: 'R5',
    hint: 'the recipient address does not exist: remove it from your list (test that your bounce address receives such failures, R5)',
  },
  {
    id: 'mailbox-full',
    test: (r, c) => c.phase === 'rcpt' && enh('5.2.2', '4.2.2')(r),
    hint: 'the recipient\'s mailbox is full; try again later or tell the recipient by other means',
  },
  {
    id: 'sender-rejected',
    test: (r, c) => c.phase === 'mail' && (enh('5.1.7', '5.1.8', '4.1.8', '5.1.0', '5.7.1', '5.7.27')(r) || r.code === 553 || wording(/\bsender\b/i)(r)),
    rule: 'R3',
    hint: 'the relay refuses this envelope sender: use a valid sender address of your own domain that receives bounces — no noreply@ (R2, R3), and check that this host may send with it (C2)',
  },
  {
    id: 'content-rejected',
    test: (r, c) => c.phase === 'data' && c.command === 'end of data' && (enh('5.7.1', '5.7.0', '5.6.0', '4.7.1')(r) || wording(/\b(spam|virus|malware|content|policy|blocked|reputation)\b/i)(r)),
    rule: 'R6',
    hint: 'the relay refused the message content, possibly as spam: check it with SpamAssassin or a similar filter, and that all headers are correct (R6, H1)',
  },
  {
    id: 'greeting-refused',
    test: (r, c) => c.phase === 'connect' && c.command === 'greeting' && is5(r),
    rule: 'T3',
    hint: 'the relay refuses connections from this host; it may have been blocked for rate limits or spam (the relay\'s mail log says why, T3), or this host may not send there (C2)',
  },
  {
    id: 'helo-refused',
    test: (r, c) => c.phase === 'connect' && (c.command === 'EHLO' || c.command === 'HELO'),
    code: 'EREJECTED',
    hint: 'the relay refused the EHLO/HELO name: set relay.helo_name to this host\'s fully qualified name',
  },
  {
    id: 'try-later',
    test: is4,
    hint: 'the relay asks to try again later (greylisting, a full queue or a local problem); a retry usually succeeds',
  },
  {
    id: 'refused',
    test: () => true,
    hint: 'the relay refused; its reply says why',
  },
];

/** First matching rule for a reply. */
export function matchReplyRule(reply: SmtpReply, ctx: ReplyContext): ReplyRule {
  return REPLY_RULES.find((r) => r.test(reply, ctx)) ?? REPLY_RULES[REPLY_RULES.length - 1]!;
}

export function endpoint(host: string, port: number): string {
  return `${net.isIPv6(host) ? `[${host}]` : host}:${port}`;
}

/** An error for a reply that refuses a command (4xx/5xx) or is not the expected one. */
export function replyError(reply: SmtpReply, ctx: ReplyContext, extra: { recipients?: RecipientOutcome[]; expected?: string } = {}): SendwellError {
  const where = endpoint(ctx.host, ctx.port);
  if (replyClass(reply) < 4) {
    return new SendwellError('EPROTOCOL', `the relay ${where} answered ${ctx.command} with ${reply.full}, expected ${extra.expected ?? 'another reply'}`, {
      temporary: false,
      phase: ctx.phase,
      responseCode: reply.code,
      ...(reply.enhanced ? { enhancedStatus: reply.enhanced } : {}),
      response: reply.full,
      hint: 'the relay does not follow the SMTP protocol here; report it to the relay administrator',
      ...(extra.recipients ? { recipients: extra.recipients } : {}),
    });
  }
  const rule = matchReplyRule(reply, ctx);
  const what = ctx.command === 'greeting' ? 'refused the connection' : ctx.command === 'end of data' ? 'refused the message' : `refused ${ctx.command}`;
  return new SendwellError(rule.code ?? PHASE_CODE[ctx.phase], `the relay ${where} ${what}: ${reply.full}`, {
    temporary: replyClass(reply) === 4,
    phase: ctx.phase,
    responseCode: reply.code,
    ...(reply.enhanced ? { enhancedStatus: reply.enhanced } : {}),
    response: reply.full,
    hint: rule.hint,
    ...(rule.rule ? { rule: rule.rule } : {}),
    ...(extra.recipients ? { recipients: extra.recipients } : {}),
    details: { classification: rule.id },
  });
}

/** The error when every recipient was refused. Temporary only if every refusal was 4xx. */
export function recipientsError(outcomes: RecipientOutcome[], replies: SmtpReply[], ctx: Omit<ReplyContext, 'phase' | 'command'>): SendwellError {
  const where = endpoint(ctx.host, ctx.port);
  const first = replies[0];
  const rules = replies.map((r) => matchReplyRule(r, { ...ctx, phase: 'rcpt', command: 'RCPT TO' }));
  // Prefer the most telling rule: relay denied, then unknown recipient, then the first one.
  const rule = rules.find((r) => r.id === 'relay-denied') ?? rules.find((r) => r.id === 'unknown-recipient') ?? rules[0];
  const n = outcomes.length;
  const summary = first ? first.full : 'no reply';
  return new SendwellError(rule?.code ?? 'ERECIPIENTS', `the relay ${where} refused ${n === 1 ? 'the recipient' : `all ${n} recipients`}: ${summary}`, {
    temporary: outcomes.length > 0 && outcomes.every((o) => o.temporary === true),
    phase: 'rcpt',
    ...(first ? { responseCode: first.code, response: first.full } : {}),
    ...(first?.enhanced ? { enhancedStatus: first.enhanced } : {}),
    hint: rule?.hint ?? 'the relay refused every recipient',
    ...(rule?.rule ? { rule: rule.rule } : {}),
    recipients: outcomes,
    details: { classification: rule?.id },
  });
}

const LOOPBACK_NAMES = new Set(['localhost', 'localhost.localdomain', 'ip6-localhost']);

/** Is this host name or address the local machine's loopback? */
export function isLoopback(hostOrAddress: string | undefined): boolean {
  if (!hostOrAddress) return false;
  const h = hostOrAddress.toLowerCase().replace(/^\[|\]$/g, '');
  if (LOOPBACK_NAMES.has(h) || h.endsWith('.localhost')) return true;
  if (net.isIPv4(h)) return h.startsWith('127.');
  if (net.isIPv6(h)) return h === '::1' || /^::ffff:127\./.test(h) || /^0{0,4}(:0{0,4}){6}:0{0,3}1$/.test(h);
  return false;
}

interface NetContext {
  host: string;
  port: number;
  phase: Phase;
  command: string;
}

/** An error for a failed socket (connect, reset, DNS). */
export function socketError(err: unknown, ctx: NetContext): SendwellError {
  const e = err as NodeJS.ErrnoException & { errors?: NodeJS.ErrnoException[] };
  // With happy eyeballs (autoSelectFamily), Node reports an AggregateError.
  const code = e?.code ?? e?.errors?.find((x) => x.code)?.code;
  const where = endpoint(ctx.host, ctx.port);
  const base = { phase: ctx.phase, cause: err };
  switch (code) {
    case 'ECONNREFUSED':
      return new SendwellError('ECONNECTION', `connection refused by ${where}`, {
        ...base,
        temporary: true,
        ...(isLoopback(ctx.host)
          ? { rule: 'C1', hint: 'is a local MTA running? (C1) Start it (e.g. systemctl start postfix), or use relay.url sendmail: or the submission server (C2)' }
          : { rule: 'C2', hint: 'nothing accepts connections on that port: check the host and port in relay.url (submission is 587 with STARTTLS or 465 with TLS, C2)' }),
      });
    case 'ENOTFOUND':
    case 'EAI_NONAME':
    case 'EAI_NODATA':
      return new SendwellError('EDNS', `the relay host name ${ctx.host} could not be resolved`, {
        ...base,
        temporary: false,
        hint: 'check the host in relay.url for typos, and this host\'s DNS configuration',
      });
    case 'EAI_AGAIN':
      return new SendwellError('EDNS', `the relay host name ${ctx.host} could not be resolved right now (DNS temporary failure)`, {
        ...base,
        temporary: true,
        hint: 'the DNS server did not answer; try again later, or check this host\'s resolver configuration',
      });
    case 'ETIMEDOUT':
      return new SendwellError('ETIMEDOUT', `connecting to ${where} timed out`, {
        ...base,
        temporary: true,
        hint: 'a firewall may drop the connection, or the relay is down; check relay.url and that this host may reach the relay (C2)',
      });
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
    case 'EADDRNOTAVAIL':
      return new SendwellError('ECONNECTION', `${where} is not reachable from this host (${code})`, {
        ...base,
        temporary: true,
        hint: 'check the network and the host in relay.url',
      });
    case 'ECONNRESET':
    case 'EPIPE':
      return new SendwellError('ECONNECTION', `the relay ${where} reset the connection during ${ctx.command}`, {
        ...base,
        temporary: true,
        hint: 'the relay dropped the connection; try again later. If it keeps happening, the relay may refuse this host (T3) or expect TLS from the first byte (smtps://)',
      });
    default:
      return new SendwellError('ECONNECTION', `the connection to ${where} failed during ${ctx.command}: ${e?.message ?? String(err)}`, {
        ...base,
        temporary: true,
        hint: 'try again later; if it keeps failing, check relay.url',
      });
  }
}

/** The relay closed the connection while we waited for a reply. */
export function closedError(ctx: NetContext): SendwellError {
  return new SendwellError('ECONNECTION', `the relay ${endpoint(ctx.host, ctx.port)} closed the connection during ${ctx.command}`, {
    temporary: true,
    phase: ctx.phase,
    hint: 'the relay dropped the connection; try again later. If it keeps happening, the relay may refuse this host (T3) or expect TLS from the first byte (smtps://)',
  });
}

/** No reply in time. */
export function timeoutError(ctx: NetContext, ms: number, option: string): SendwellError {
  const what = ctx.command === 'greeting' ? 'send its greeting' : ctx.command === 'connect' ? 'accept the connection' : `answer ${ctx.command}`;
  return new SendwellError('ETIMEDOUT', `the relay ${endpoint(ctx.host, ctx.port)} did not ${what} within ${ms} ms`, {
    temporary: true,
    phase: ctx.phase,
    hint: `the relay may be overloaded, or a firewall drops the connection; try again later, or raise relay.timeouts.${option}`,
  });
}

const TLS_REASONS: Record<string, string> = {
  CERT_HAS_EXPIRED: 'the relay\'s certificate has expired',
  CERT_NOT_YET_VALID: 'the relay\'s certificate is not valid yet (check this host\'s clock)',
  DEPTH_ZERO_SELF_SIGNED_CERT: 'the relay\'s certificate is self-signed',
  SELF_SIGNED_CERT_IN_CHAIN: 'the relay\'s certificate chain ends in a self-signed CA that is not trusted',
  UNABLE_TO_VERIFY_LEAF_SIGNATURE: 'the relay\'s certificate is signed by an unknown CA (or the relay does not send its intermediate certificate)',
  UNABLE_TO_GET_ISSUER_CERT_LOCALLY: 'the relay\'s certificate is signed by an unknown CA',
  UNABLE_TO_GET_ISSUER_CERT: 'the relay\'s certificate is signed by an unknown CA',
  CERT_REVOKED: 'the relay\'s certificate has been revoked',
  CERT_SIGNATURE_FAILURE: 'the relay\'s certificate signature is invalid',
  ERR_TLS_CERT_ALTNAME_INVALID: 'the relay\'s certificate is not valid for this host name (hostname mismatch)',
};

/** A TLS handshake or certificate failure. */
export function tlsError(err: unknown, ctx: NetContext & { verify: boolean }): SendwellError {
  const e = err as NodeJS.ErrnoException & { reason?: string };
  const code = e?.code ?? '';
  const where = endpoint(ctx.host, ctx.port);
  if (code === 'ECONNRESET' || code === 'EPIPE' || code === 'ECONNREFUSED' || code === 'ENOTFOUND' || code === 'EAI_AGAIN' || code === 'ETIMEDOUT') {
    return socketError(err, ctx);
  }
  const reason = TLS_REASONS[code];
  if (reason) {
    let detail = '';
    if (code === 'ERR_TLS_CERT_ALTNAME_INVALID') {
      const cert = (e as { cert?: { subjectaltname?: string; subject?: { CN?: string } } }).cert;
      const names = cert?.subjectaltname ?? (cert?.subject?.CN ? `CN=${cert.subject.CN}` : undefined);
      detail = ` (connected to ${ctx.host}; the certificate is for ${names ?? 'other names'})`;
    }
    return new SendwellError('ETLS', `${reason}${detail}: TLS to ${where} not established`, {
      phase: 'tls',
      temporary: false,
      cause: err,
      details: { tlsCode: code },
      hint:
        code === 'ERR_TLS_CERT_ALTNAME_INVALID'
          ? `use the host name the certificate is issued for in relay.url, or ask the relay administrator to fix the certificate; nothing was sent`
          : code === 'CERT_HAS_EXPIRED'
            ? 'the relay administrator must renew the certificate; until then, smtp://host (opportunistic STARTTLS, not verified) still encrypts but does not authenticate the relay; nothing was sent'
            : 'if the relay uses an internal CA, give its certificate as relay.ca_file; or use smtp://host for opportunistic STARTTLS without verification (encrypted, relay not authenticated); nothing was sent',
    });
  }
  const wrongVersion = /wrong version number|packet length too long|unknown protocol|http request/i.test(e?.message ?? '');
  return new SendwellError('ETLS', `TLS to ${where} failed: ${e?.reason ?? e?.message ?? String(err)}`, {
    phase: 'tls',
    temporary: false,
    cause: err,
    details: { tlsCode: code },
    hint: wrongVersion
      ? 'the port does not speak TLS from the first byte: use smtps:// only for port 465, and smtp+starttls:// for port 587'
      : 'the TLS handshake failed: the relay may need a newer TLS version or other ciphers; check relay.url (and ?tls=never for a local MTA that has broken TLS)',
  });
}

/**
 * One SMTP session (RFC 5321) on one connection:
 *
 *   connect ─▶ greeting 220 ─▶ EHLO (HELO on 5xx) ─▶ [STARTTLS ─▶ EHLO] ─▶ [AUTH]
 *      ─▶ transaction* ─▶ QUIT
 *
 * A transaction is MAIL FROM, one RCPT TO per recipient, DATA, the message and
 * the final reply. With PIPELINING (RFC 2920) MAIL, every RCPT and DATA go out
 * in one write and the replies are read in order; without it, lockstep.
 * Every failure is a SendwellError (see classify.ts).
 */
import os from 'node:os';
import type net from 'node:net';
import { SendwellError, type Phase, type RecipientOutcome } from '../../errors.js';
import { resolvePassword, type PasswordSource } from '../secrets.js';
import type { DsnOptions, Envelope, RelayInfo, TransportResult } from '../types.js';
import type { SmtpTarget } from '../url.js';
import { authDecision, chooseMechanism, plainToken } from './auth.js';
import { endpoint, recipientsError, replyError, type ReplyContext } from './classify.js';
import { SmtpConnection } from './connection.js';
import { dotStuff, has8bit } from './dotstuff.js';
import { parseQueueId } from './queue-id.js';
import { replyClass, type SmtpReply } from './reply.js';
import { to7bit } from './to7bit.js';
import { xtextEncode } from './xtext.js';

/** Timeouts in milliseconds. */
export interface Timeouts {
  /** TCP connect (and the TLS handshake for smtps://). */
  connectMs: number;
  /** The 220 greeting after connect. */
  greetingMs: number;
  /** The reply to each command (EHLO, STARTTLS, AUTH, MAIL, RCPT, DATA, RSET, NOOP). */
  commandMs: number;
  /** The final reply after the message data was sent. */
  dataMs: number;
  /** The sendmail command to finish. */
  sendmailMs: number;
}

export const DEFAULT_TIMEOUTS = {
  /** Postfix smtp_connect_timeout: 30 s. A relay that takes longer to accept is down. */
  connectMs: 30_000,
  /**
   * RFC 5321 §4.5.3.2.1 allows 5 min for the greeting; 60 s still covers
   * greet-pause anti-spam delays (typically 5–30 s) without a cron job hanging for 5 min.
   */
  greetingMs: 60_000,
  /** RFC 5321 §4.5.3.2.2–4 and Postfix smtp_{helo,mail,rcpt}_timeout: 5 min. */
  commandMs: 300_000,
  /** RFC 5321 §4.5.3.2.6 and Postfix smtp_data_done_timeout: 10 min for the reply after the final dot. */
  dataMs: 600_000,
  /** The sendmail command normally returns as soon as the message is queued: 60 s is generous. */
  sendmailMs: 60_000,
} as const satisfies Timeouts;

/** Commands per pipelined write; msmtp uses the same depth (SMTP_PIPELINE_LIMIT). */
export const PIPELINE_MAX_COMMANDS = 100;
/** How long to wait for the reply to QUIT before just closing. */
export const QUIT_TIMEOUT_MS = 5_000;

export interface SessionParams {
  target: SmtpTarget;
  heloName?: string | undefined;
  username?: string | undefined;
  password?: PasswordSource | undefined;
  /** Extra trusted CA certificates, PEM. */
  ca?: string | undefined;
  dsn?: DsnOptions | undefined;
  timeouts: Timeouts;
  lookup?: net.LookupFunction | undefined;
  /** Receives the SMTP dialogue (`C: …`, `S: …`) with credentials hidden. */
  trace?: ((line: string) => void) | undefined;
}

type TimeoutOption = 'greetingMs' | 'commandMs' | 'dataMs';

interface Step {
  line: string;
  phase: Phase;
  command: string;
}

/** A transaction ready to go on the wire. */
export interface Prepared {
  envelope: Envelope;
  data: Buffer;
  size: number;
  mailStep: Step;
  rcpts: Step[];
  dataStep: Step;
}

const HELO_NAME_RE = /^(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*\.?|\[[0-9A-Fa-f:.]+\]|\[IPv6:[0-9A-Fa-f:.]+\])$/;

/** Check an EHLO name from configuration. Throws ECONFIG. */
export function validateHeloName(name: string): string {
  if (typeof name !== 'string' || name === '' || /[\s\u0000-\u001f\u007f]/.test(name) || !HELO_NAME_RE.test(name)) {
    throw new SendwellError('ECONFIG', `relay.helo_name ${JSON.stringify(name)} is not a valid host name or address literal`, {
      hint: 'use this host\'s fully qualified domain name (e.g. host.example.org) or an address literal like [192.0.2.1]; no spaces or line breaks',
    });
  }
  return name;
}

/** The default EHLO name: the host name if it is fully qualified, else the local address as a literal. */
export function defaultHeloName(localAddress: string | undefined, hostname: string = os.hostname()): string {
  if (hostname.includes('.') && HELO_NAME_RE.test(hostname) && !hostname.startsWith('[')) return hostname;
  const addr = (localAddress ?? '127.0.0.1').replace(/^::ffff:(?=\d+\.\d+\.\d+\.\d+$)/i, '');
  return addr.includes(':') ? `[IPv6:${addr}]` : `[${addr}]`;
}

function parseExtensions(lines: string[]): Map<string, string> {
  const ext = new Map<string, string>();
  for (const line of lines) {
    const trimmed = line.trim();
    // Old-style "AUTH=LOGIN PLAIN" (pre-RFC 4954 Outlook clients) counts as AUTH.
    const m = /^([A-Za-z0-9][A-Za-z0-9-]*)(?:[ =](.*))?$/.exec(trimmed);
    if (!m) continue;
    const key = m[1]!.toUpperCase();
    const params = (m[2] ?? '').trim();
    if (key === 'AUTH' && ext.has('AUTH')) ext.set('AUTH', `${ext.get('AUTH')} ${params}`.trim());
    else ext.set(key, params);
  }
  return ext;
}

function isAsciiAddress(a: string): boolean {
  return /^[\x20-\x7e]*$/.test(a);
}

function checkAddress(address: string, what: string): void {
  if (typeof address !== 'string' || /[\r\n\u0000<>]/.test(address) || /^\s|\s$/.test(address)) {
    throw new SendwellError('EADDRESS', `the ${what} ${JSON.stringify(String(address))} cannot be used in an SMTP command`, {
      hint: 'envelope addresses must not contain line breaks, NUL, < or >, or leading/trailing spaces',
    });
  }
}

function accepted(r: SmtpReply): boolean {
  return replyClass(r) === 2;
}

function outcomeOf(address: string, r: SmtpReply): RecipientOutcome {
  const o: RecipientOutcome = { address, status: accepted(r) ? 'accepted' : 'rejected', responseCode: r.code, response: r.full };
  if (r.enhanced) o.enhancedStatus = r.enhanced;
  if (!accepted(r)) o.temporary = replyClass(r) === 4;
  return o;
}

export class SmtpSession {
  /** EHLO keywords (upper case) and their parameters. */
  extensions = new Map<string, string>();
  authenticatedAs: string | undefined;
  messagesSent = 0;
  lastUsed = Date.now();
  /** A transaction was left unfinished: RSET before the next one. */
  needsReset = false;
  /** Set once the relay answered MAIL FROM in the current send (a retry would duplicate nothing before that). */
  mailAnswered = false;
  /** The next transaction, already written after the last message's data (cross-message pipelining). */
  prefetched: Prepared | undefined;
  /** The transport retires a connection after this many messages; never prefetch past it. */
  maxMessages = Number.POSITIVE_INFINITY;

  private constructor(
    readonly conn: SmtpConnection,
    readonly params: SessionParams,
  ) {}

  /** Connect, read the greeting, EHLO, STARTTLS and AUTH as configured. */
  static async open(params: SessionParams): Promise<SmtpSession> {
    const { target } = params;
    const conn = await SmtpConnection.connect({
      host: target.host,
      port: target.port,
      implicitTls: target.tls === 'implicit' ? { verify: target.verify, ca: params.ca } : undefined,
      connectMs: params.timeouts.connectMs,
      lookup: params.lookup,
      trace: params.trace,
    });
    const session = new SmtpSession(conn, params);
    try {
      await session.handshake();
    } catch (err) {
      session.abort();
      throw err;
    }
    return session;
  }

  get closed(): boolean {
    return this.conn.closed;
  }

  get createdAt(): number {
    return this.conn.createdAt;
  }

  /** Advertised SIZE limit: 0 means no limit announced. */
  get maxSize(): number {
    const v = this.extensions.get('SIZE');
    const n = v ? Number(v.split(/\s+/)[0]) : 0;
    return Number.isSafeInteger(n) && n > 0 ? n : 0;
  }

  get info(): RelayInfo {
    const info: RelayInfo = { relay: this.params.target.url, extensions: [...this.extensions.keys()] };
    if (this.conn.tlsInfo) info.tls = { ...this.conn.tlsInfo };
    if (this.authenticatedAs !== undefined) info.authenticatedAs = this.authenticatedAs;
    if (this.extensions.has('SIZE')) info.maxSize = this.maxSize;
    return info;
  }

  private ctx(phase: Phase, command: string): ReplyContext {
    return { phase, command, host: this.params.target.host, port: this.params.target.port };
  }

  private read(phase: Phase, command: string, option: TimeoutOption = 'commandMs'): Promise<SmtpReply> {
    return this.conn.read(this.params.timeouts[option], { phase, command, option });
  }

  private async handshake(): Promise<void> {
    const { target } = this.params;
    const greeting = await this.read('connect', 'greeting', 'greetingMs');
    if (greeting.code !== 220) throw replyError(greeting, this.ctx('connect', 'greeting'), { expected: '220' });
    await this.hello();

    if (target.tls === 'starttls' || target.tls === 'opportunistic') {
      if (!this.extensions.has('STARTTLS')) {
        if (target.tls === 'starttls') {
          throw new SendwellError('ETLS', `the relay ${endpoint(target.host, target.port)} does not offer STARTTLS, which ${target.url.split(':')[0]}:// requires`, {
            phase: 'tls',
            temporary: false,
            rule: 'C2',
            hint: 'nothing was sent. Check the port (submission with STARTTLS is 587, implicit TLS is smtps:// on 465, C2); something between here and the relay may also strip STARTTLS. Use smtp:// only for a relay on this host (C1)',
          });
        }
        this.params.trace?.('TLS: the relay does not offer STARTTLS; continuing without TLS (opportunistic)');
      } else {
        this.conn.writeLine('STARTTLS');
        const r = await this.read('tls', 'STARTTLS');
        if (r.code === 220) {
          await this.conn.startTls({ verify: target.verify, ca: this.params.ca }, this.params.timeouts.commandMs);
          // RFC 3207 §4.2: forget everything learned before TLS and ask again.
          this.extensions = new Map();
          await this.hello();
        } else if (target.tls === 'starttls' || replyClass(r) < 4) {
          throw replyError(r, this.ctx('tls', 'STARTTLS'), { expected: '220' });
        } else {
          this.params.trace?.(`TLS: STARTTLS refused (${r.full}); continuing without TLS (opportunistic)`);
        }
      }
    }
    if (this.params.username !== undefined) await this.authenticate();
  }

  private async hello(): Promise<void> {
    const name = this.params.heloName ?? defaultHeloName(this.conn.localAddress);
    this.conn.writeLine(`EHLO ${name}`);
    const r = await this.read('connect', 'EHLO');
    if (r.code === 250) {
      this.extensions = parseExtensions(r.lines.slice(1));
      return;
    }
    if (replyClass(r) !== 5) throw replyError(r, this.ctx('connect', 'EHLO'), { expected: '250' });
    // RFC 5321 §3.2: a server that does not know EHLO answers 5xx; fall back to HELO (no extensions).
    this.conn.writeLine(`HELO ${name}`);
    const h = await this.read('connect', 'HELO');
    if (h.code !== 250) throw replyError(h, this.ctx('connect', 'HELO'), { expected: '250' });
    this.extensions = new Map();
  }

  private async authenticate(): Promise<void> {
    const { target, username, password } = this.params;
    const where = endpoint(target.host, target.port);
    const decision = authDecision({ host: target.host, remoteAddress: this.conn.remoteAddress, tls: this.conn.tlsInfo });
    if (!decision.allowed) {
      throw new SendwellError('EAUTH', decision.message, { phase: 'auth', temporary: false, rule: 'R11', hint: decision.hint });
    }
    const advertised = this.extensions.get('AUTH');
    if (advertised === undefined) {
      throw new SendwellError('EAUTH', `the relay ${where} does not offer authentication (no AUTH in its EHLO reply)`, {
        phase: 'auth',
        temporary: false,
        hint: 'remove relay.username if this relay accepts mail from this host without login (C1, C2), or check that the URL points at the submission server',
      });
    }
    const mechanism = chooseMechanism(advertised.split(/\s+/));
    if (!mechanism) {
      throw new SendwellError('EAUTH', `the relay ${where} offers only AUTH ${advertised}; sendwell supports PLAIN and LOGIN`, {
        phase: 'auth',
        temporary: false,
        hint: 'ask the relay administrator to allow PLAIN or LOGIN over TLS',
      });
    }
    if (password === undefined) {
      throw new SendwellError('ECONFIG', 'relay.username is set but no password source', { hint: 'set password_file, password_env or password_command (R11)' });
    }
    const secret = await resolvePassword(password);
    const user = username ?? '';
    let r: SmtpReply;
    if (mechanism === 'PLAIN') {
      this.conn.writeLine(`AUTH PLAIN ${plainToken(user, secret)}`, 'AUTH PLAIN <credentials hidden>');
      r = await this.read('auth', 'AUTH PLAIN');
    } else {
      this.conn.writeLine('AUTH LOGIN');
      r = await this.read('auth', 'AUTH LOGIN');
      if (r.code === 334) {
        this.conn.writeLine(Buffer.from(user, 'utf8').toString('base64'), '<username>');
        r = await this.read('auth', 'AUTH LOGIN');
        if (r.code === 334) {
          this.conn.writeLine(Buffer.from(secret, 'utf8').toString('base64'), '<password hidden>');
          r = await this.read('auth', 'AUTH LOGIN');
        }
      }
    }
    if (r.code !== 235) throw replyError(r, this.ctx('auth', `AUTH ${mechanism}`), { expected: '235' });
    this.authenticatedAs = user;
  }

  /**
   * Everything about a transaction that can be decided before talking: checks
   * (ESMTPUTF8, ESIZE), the dot-stuffed data and the command lines.
   */
  prepare(envelope: Envelope, raw: Buffer): Prepared {
    const { target } = this.params;
    // Only error messages name the relay: not computed per message.
    const where = () => endpoint(target.host, target.port);
    checkAddress(envelope.from, 'envelope sender');
    if (!Array.isArray(envelope.to) || envelope.to.length === 0) {
      throw new SendwellError('EADDRESS', 'the envelope has no recipients', { hint: 'give at least one recipient' });
    }
    for (const to of envelope.to) checkAddress(to, 'recipient');

    const ext = this.extensions;
    const needsUtf8 = envelope.smtputf8 === true || ![envelope.from, ...envelope.to].every(isAsciiAddress);
    if (needsUtf8 && !ext.has('SMTPUTF8')) {
      throw new SendwellError('ESMTPUTF8', `an address has non-ASCII characters, but the relay ${where()} does not offer SMTPUTF8`, {
        phase: 'mail',
        temporary: false,
        hint: 'internationalized addresses need SMTPUTF8 (RFC 6531) on every hop: use an ASCII address for this recipient or sender, or a relay that offers SMTPUTF8',
      });
    }

    let message = raw;
    let eightBit = has8bit(message);
    if (eightBit && !ext.has('8BITMIME') && !needsUtf8) {
      message = to7bit(message);
      eightBit = false;
      this.params.trace?.('8BITMIME: not offered; 8-bit parts re-encoded as quoted-printable/base64');
    }
    const data = dotStuff(message);
    const size = data.length - 3; // without the terminating ".CRLF"
    const maxSize = this.maxSize;
    if (maxSize > 0 && size > maxSize) {
      throw new SendwellError('ESIZE', `the message is ${size} octets, more than the ${maxSize} octets the relay ${where()} accepts`, {
        phase: 'mail',
        temporary: false,
        rule: 'R9',
        hint: 'nothing was sent. Instead of large attachments, send links, e.g. to files in a cloud share (R9)',
        details: { size, maxSize },
      });
    }

    // Per-envelope values (e.g. ENVID = the queue ID) over the configured defaults (RET, NOTIFY).
    const dsn = envelope.dsn || this.params.dsn ? { ...this.params.dsn, ...envelope.dsn } : undefined;
    const useDsn = dsn !== undefined && ext.has('DSN');
    let mail = `MAIL FROM:<${envelope.from}>`;
    if (ext.has('SIZE')) mail += ` SIZE=${size}`;
    if (eightBit && ext.has('8BITMIME')) mail += ' BODY=8BITMIME';
    if (needsUtf8) mail += ' SMTPUTF8';
    if (useDsn && dsn.ret) mail += ` RET=${dsn.ret}`;
    if (useDsn && dsn.envid) mail += ` ENVID=${xtextEncode(dsn.envid)}`;

    // RFC 3461 §4.1: NEVER stands alone; default FAILURE,DELAY (Postfix sendmail -N's default too).
    const wanted: readonly string[] = dsn?.notify && dsn.notify.length > 0 ? dsn.notify : ['FAILURE', 'DELAY'];
    const notify = useDsn ? (wanted.includes('NEVER') ? ['NEVER'] : wanted) : undefined;
    const rcpts: Step[] = envelope.to.map((to) => {
      let line = `RCPT TO:<${to}>`;
      if (notify) line += ` NOTIFY=${notify.join(',')}`;
      if (useDsn && dsn.orcpt !== false && isAsciiAddress(to)) line += ` ORCPT=rfc822;${xtextEncode(to)}`;
      return { line, phase: 'rcpt', command: `RCPT TO:<${to}>` };
    });
    const mailStep: Step = { line: mail, phase: 'mail', command: `MAIL FROM:<${envelope.from}>` };
    const dataStep: Step = { line: 'DATA', phase: 'data', command: 'DATA' };
    return { envelope, data, size, mailStep, rcpts, dataStep };
  }

  /**
   * Deliver one message. Resolves when at least one recipient was accepted and
   * the message was.
   *
   * With PIPELINING, `next` may offer the message that will be sent after this
   * one: its MAIL, RCPT and DATA then go out in the same write as this
   * message's data (RFC 2920 §3.1 allows content first in a group), which
   * saves a round trip per message. A transaction prefetched like that is
   * picked up by the next send() of that same envelope object.
   */
  async send(envelope: Envelope, raw: Buffer, next?: () => { envelope: Envelope; raw: Buffer } | undefined): Promise<TransportResult> {
    this.mailAnswered = false;
    const { target } = this.params;
    const ext = this.extensions;
    const prefetched = this.prefetched?.envelope === envelope ? this.prefetched : undefined;
    if (this.prefetched && !prefetched) {
      // A transaction was opened for another message: this session is out of step.
      this.destroy();
      throw new SendwellError('ECONNECTION', 'internal: the pipelined transaction does not match the message being sent', { temporary: true, phase: 'mail', hint: 'a retry uses a new connection' });
    }
    this.prefetched = undefined;
    const { data, size, mailStep, rcpts, dataStep } = prefetched ?? this.prepare(envelope, raw);

    const replies: SmtpReply[] = [];
    this.needsReset = true; // until the final reply says otherwise
    if (ext.has('PIPELINING')) {
      const steps = [mailStep, ...rcpts, dataStep];
      for (let i = 0; i < steps.length; ) {
        const batch = steps.slice(i, i + PIPELINE_MAX_COMMANDS);
        if (!(prefetched && i === 0)) this.conn.writeLines(batch.map((s) => s.line));
        for (const s of batch) {
          // The replies to a pipelined batch mostly arrive in one segment: take those without a tick each.
          const reply = this.conn.takeQueued() ?? (await this.read(s.phase, s.command));
          replies.push(reply);
          if (replies.length === 1) this.mailAnswered = true;
          // 421: the server closes the connection now; report its reply, not the closed socket.
          if (reply.code === 421) throw replyError(reply, this.ctx(s.phase, s.command), { expected: '250' });
        }
        i += batch.length;
        if (!accepted(replies[0]!)) break; // MAIL refused: send no more batches
      }
    } else {
      this.conn.writeLine(mailStep.line);
      replies.push(await this.read('mail', mailStep.command));
      this.mailAnswered = true;
      if (accepted(replies[0]!)) {
        for (const s of rcpts) {
          this.conn.writeLine(s.line);
          replies.push(await this.read('rcpt', s.command));
        }
      }
    }

    const mailReply = replies[0]!;
    const rcptReplies = replies.slice(1, 1 + rcpts.length);
    let dataReply: SmtpReply | undefined = replies[1 + rcpts.length];
    if (!accepted(mailReply)) {
      if (dataReply?.code === 354) await this.endEmptyData();
      throw replyError(mailReply, this.ctx('mail', mailStep.command), { expected: '250' });
    }
    const outcomes = envelope.to.map((to, k) => outcomeOf(to, rcptReplies[k]!));
    if (!outcomes.some((o) => o.status === 'accepted')) {
      // RFC 2920 §3.1: DATA was pipelined; if the relay still said 354, end it with an empty message.
      if (dataReply?.code === 354) await this.endEmptyData();
      throw recipientsError(outcomes, rcptReplies, { host: target.host, port: target.port });
    }
    if (dataReply === undefined) {
      this.conn.writeLine('DATA');
      dataReply = await this.read('data', 'DATA');
    }
    if (dataReply.code !== 354) throw replyError(dataReply, this.ctx('data', 'DATA'), { recipients: outcomes, expected: '354' });

    this.params.trace?.(`C: <message, ${size} octets>`);
    const following = ext.has('PIPELINING') && this.messagesSent + 1 < this.maxMessages ? next?.() : undefined;
    let ahead: Prepared | undefined;
    if (following) {
      try {
        ahead = this.prepare(following.envelope, following.raw);
      } catch {
        ahead = undefined; // its own send() reports the problem
      }
    }
    if (ahead && 2 + ahead.rcpts.length <= PIPELINE_MAX_COMMANDS) {
      const lines = [ahead.mailStep, ...ahead.rcpts, ahead.dataStep].map((st) => st.line);
      this.params.trace?.(`C: (pipelined with the next message) ${lines.join(' | ')}`);
      // Two writes, one segment: the connection corks within a turn (connection.ts), so no copy of the data is made.
      this.conn.write(data);
      this.conn.write(Buffer.from(lines.map((l) => `${l}\r\n`).join(''), 'utf8'));
      this.prefetched = ahead;
    } else {
      this.conn.write(data);
    }
    const final = await this.read('data', 'end of data', 'dataMs');
    this.lastUsed = Date.now();
    if (!accepted(final)) {
      if (replyClass(final) >= 4) this.needsReset = false; // the transaction ended with the reply
      throw replyError(final, this.ctx('data', 'end of data'), { recipients: outcomes, expected: '250' });
    }
    this.needsReset = false;
    this.messagesSent++;
    const result: TransportResult = { recipients: outcomes, response: final.full, info: this.info };
    const queueId = parseQueueId(final.full);
    if (queueId !== undefined) result.relayQueueId = queueId;
    return result;
  }

  /** After an unwanted 354: send an empty message end so the session stays in step. */
  private async endEmptyData(): Promise<void> {
    this.conn.writeLine('.');
    try {
      await this.read('data', 'end of data');
    } catch {
      // the session is reset or dropped anyway
    }
  }

  /** RSET: abort any transaction; doubles as a liveness check before reuse. */
  async reset(timeoutMs = this.params.timeouts.commandMs): Promise<void> {
    this.conn.writeLine('RSET');
    const r = await this.conn.read(timeoutMs, { phase: 'mail', command: 'RSET', option: 'commandMs' });
    if (!accepted(r)) throw replyError(r, this.ctx('mail', 'RSET'), { expected: '250' });
    this.needsReset = false;
    this.lastUsed = Date.now();
  }

  /** NOOP: is the connection still alive? */
  async noop(timeoutMs = this.params.timeouts.commandMs): Promise<void> {
    this.conn.writeLine('NOOP');
    const r = await this.conn.read(timeoutMs, { phase: 'mail', command: 'NOOP', option: 'commandMs' });
    if (!accepted(r)) throw replyError(r, this.ctx('mail', 'NOOP'), { expected: '250' });
    this.lastUsed = Date.now();
  }

  ref(active: boolean): void {
    this.conn.ref(active);
  }

  /** QUIT politely, then close. Never throws. */
  async quit(): Promise<void> {
    if (this.conn.closed) return;
    try {
      this.conn.writeLine('QUIT');
      await this.conn.read(Math.min(QUIT_TIMEOUT_MS, this.params.timeouts.commandMs), { phase: 'connect', command: 'QUIT', option: 'commandMs' });
    } catch {
      // the relay may close first
    } finally {
      this.conn.destroy();
    }
  }

  /** After a failed handshake: QUIT without waiting, then close. */
  abort(): void {
    if (!this.conn.closed) this.conn.writeLine('QUIT');
    this.conn.end();
  }

  destroy(): void {
    this.conn.destroy();
  }
}

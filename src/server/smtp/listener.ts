/**
 * The SMTP listener of `sendwell serve`: a guarded local relay for installed
 * software that can only be told "SMTP host and port". Built on smtp-server.
 *
 * - Never an open relay: clients relay from `allowNetworks` or after AUTH; others
 *   are refused at RCPT (554 5.7.1), except bounces (MAIL FROM:<>) to the bounce
 *   domain. AUTH (PLAIN, LOGIN) only over TLS or from the loopback addresses.
 * - The library's policy: a missing Date/Message-ID is added, then the message is
 *   linted; an error-level finding refuses it at end of DATA (550 5.7.1 naming the
 *   rule and the fix). Size limit never above the upstream relay's SIZE; 8-bit
 *   content converted for an upstream without 8BITMIME; SMTPUTF8 refused when the
 *   upstream cannot carry it.
 * - `250 2.0.0 queued as <ID>` only after QueueService.submit returned (durable).
 * - Per-client connection and message-rate limits (R8).
 * - DSN (RFC 3461) is offered: a client's RET, ENVID and NOTIFY are kept with the
 *   message and passed on to the relay (ENVID unchanged); sendwell's own notices
 *   follow its NOTIFY. NOTIFY is kept per message, so a recipient whose NOTIFY
 *   differs from the transaction's first gets 452 4.5.3 and comes in the next
 *   transaction, as after any "too many recipients".
 */
import { hostname as osHostname } from 'node:os';
import net from 'node:net';
import { SMTPServer, type SMTPServerAddress, type SMTPServerAuthentication, type SMTPServerAuthenticationResponse, type SMTPServerDataStream, type SMTPServerOptions, type SMTPServerSession } from 'smtp-server';
import { SMTPConnection } from 'smtp-server/lib/smtp-connection.js';
import { SendwellError } from '../../errors.js';
import { parseAddrSpec, type ParsedAddress } from '../../message/address.js';
import { RawMessage, stableBody } from '../../message/raw.js';
import { defaultIdGenerator, formatDate } from '../../message/ids.js';
import { lintMessage } from '../../policy/lint.js';
import type { PolicyOptions } from '../../policy/types.js';
import { contentHash, type QueueService } from '../../queue/service.js';
import { dsnFields, ENVID, formatNotify, parseNotify, type MessageDsn } from '../../queue/dsn-params.js';
import { has8bit } from '../../transport/smtp/dotstuff.js';
import { to7bit } from '../../transport/smtp/to7bit.js';
import type { Credentials } from '../credentials.js';
import { ConnectionCounter, RateWindow } from './limits.js';
import { completeHeaders, loopReason, receivedValue } from './message.js';
import { addressLiteral, LOCAL_AUTH_NETWORKS, networkList, normalizeIp } from './networks.js';
import { policyReply, REPLIES, reply, replyError, type Reply } from './replies.js';

/**
 * smtp-server waits 100 ms before every greeting to catch "early talkers", a
 * heuristic for public MX servers. This listener serves local software that
 * often opens one connection per message, so it would pay that on every mail
 * (measured: 20 connect+QUIT took 2.04 s). Greet at once; the connection limit
 * check stays. Patched only if the library still has that timer.
 */
const connectionProto = SMTPConnection.prototype as unknown as {
  init: () => void;
  _setListeners(cb: () => void): void;
  connectionReady(): void;
  send(code: number, text: string, final?: boolean): void;
  _server: { options: { maxClients?: number }; connections: Set<unknown> };
  name: string;
};
if (typeof connectionProto.init === 'function' && String(connectionProto.init).includes('readyTimer')) {
  connectionProto.init = function init(this: typeof connectionProto) {
    this._setListeners(() => {
      if (this._server.options.maxClients && this._server.connections.size > this._server.options.maxClients) {
        return this.send(421, `${this.name} Too many connected clients, try again in a moment`, false);
      }
      this.connectionReady();
    });
  };
}

/** What the upstream relay can carry (from the daemon's EHLO probe). */
export interface UpstreamCapabilities {
  /** Its SIZE, when it announced one. */
  maxSize?: number;
  eightBitMime?: boolean;
  smtputf8?: boolean;
}

export interface SmtpListenerOptions {
  /** Plain listeners (STARTTLS when `tls` is given): `127.0.0.1:2525`, `[::1]:2525`; port 0 picks a free port. */
  listen: string[];
  /** Implicit-TLS listeners (smtps); need `tls`. */
  tlsListen?: string[];
  /** Certificate and key (PEM): enables STARTTLS and `tlsListen`. */
  tls?: { cert: Buffer; key: Buffer };
  /** CIDRs whose clients may relay without AUTH (IPv4, IPv6; IPv4-mapped IPv6 matches IPv4 networks). */
  allowNetworks: string[];
  /** AUTH required even from `allowNetworks`. */
  requireAuth: boolean;
  /** Larger messages are refused (552 5.3.4). */
  maxMessageBytes: number;
  /** Open connections per client address (0: no limit). */
  maxConnectionsPerClient: number;
  /** Messages queued per client address per minute (0: no limit). */
  messagesPerClientPerMinute: number;
  /** Where accepted mail goes; the 250 is sent only after submit() returned. */
  service: QueueService;
  /** SMTP users (AUTH). */
  credentials: Credentials;
  policy: PolicyOptions;
  /** What the upstream relay can carry (from the daemon's EHLO probe); undefined = unknown. */
  upstream?: () => UpstreamCapabilities | undefined;
  /** Mail for this domain may come from anywhere with the null sender <> (bounces). */
  bounceDomain?: string;
  /** Which addresses of the bounce domain exist (valid VERP addresses); others are refused at RCPT. */
  acceptBounceRecipient?: (address: string) => boolean;
  /** A List-Unsubscribe mailto address on the bounce domain: accepted from any sender (people unsubscribe from their own address). */
  acceptUnsubscribeRecipient?: (address: string) => boolean;
  /** DKIM-sign what is queued (`[dkim] sign = "all"`); last, so the signature covers the Received header too. */
  sign?: (raw: Buffer) => Promise<Buffer>;
  /** Consume an inbound bounce instead of queueing it for delivery. */
  onBounce?: (raw: Buffer, recipients: string[]) => Promise<void>;
  /** For the greeting and the Received header; default: the host name. */
  hostname?: string;
  /** Called after each durable commit (the daemon wakes the worker). */
  onQueued?: (queueId: string) => void;
  /** Journald-friendly log lines (default: stderr). */
  log?: (line: string) => void;
  /** Networks from which AUTH is allowed without TLS; default 127.0.0.1 and ::1 only. */
  plainAuthNetworks?: string[];
  /** Injectable clock (ms since the epoch). */
  clock?: () => number;
}

export interface ListeningAddress {
  address: string;
  port: number;
  /** Implicit TLS (smtps). */
  tls: boolean;
}

export interface SmtpListener {
  listen(): Promise<ListeningAddress[]>;
  /**
   * Stop accepting connections; idle sessions get 421 at once, a message being
   * received or queued may finish within `graceMs` (default 10 s); then every
   * session is closed. Resolves when the listener is down and no message is in flight.
   */
  close(graceMs?: number): Promise<void>;
}

type Connection = SMTPServer['connections'] extends Set<infer C> ? C : never;

interface SessionState {
  ip: string;
  server: SMTPServer;
  conn: Connection | undefined;
  /** Holds one of the client's connection slots. */
  counted: boolean;
  startedAt: number;
  queued: number;
  refused: number;
  /** A message is being received or processed. */
  busy: boolean;
  /** The client is gone (onClose ran). */
  gone: boolean;
  authFailures: number;
}

const DEFAULT_GRACE_MS = 10_000;
/** Failed logins per session before it is closed (slows down password guessing). */
const MAX_AUTH_FAILURES = 3;
const HOSTNAME = /^[A-Za-z0-9.-]{1,253}$/;
const ENHANCED = /^([245]\.\d{1,3}\.\d{1,3}) ([\s\S]*)$/;

/** `127.0.0.1:2525`, `[::1]:2525`, `localhost:25` → host and port. */
export function parseListenAddress(spec: string, setting = 'smtp.listen'): { host: string; port: number } {
  const m = /^(?:\[([0-9A-Fa-f:.]+)\]|([A-Za-z0-9.-]+)):(\d{1,5})$/.exec(spec.trim());
  const host = m ? (m[1] ?? m[2]!) : '';
  const port = m ? Number(m[3]) : NaN;
  if (!m || port > 65535 || (m[1] !== undefined && !net.isIPv6(host))) {
    throw new SendwellError('ECONFIG', `${setting}: ${JSON.stringify(spec)} is not an address and port`, {
      hint: 'write HOST:PORT, e.g. "127.0.0.1:2525", or [IPv6]:PORT, e.g. "[::1]:2525"',
    });
  }
  return { host, port };
}

const logValue = (s: string) => s.replace(/[^\x21-\x7e]/g, '?').slice(0, 200);

/** Create the listener (nothing listens until `listen()`). */
export function createSmtpListener(options: SmtpListenerOptions): SmtpListener {
  const allow = networkList(options.allowNetworks, 'smtp.allow_networks');
  const plainAuth = networkList(options.plainAuthNetworks ?? LOCAL_AUTH_NETWORKS, 'smtp.plain_auth_networks');
  const clock = options.clock ?? Date.now;
  const log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const hostRaw = options.hostname ?? osHostname();
  const hostname = HOSTNAME.test(hostRaw) ? hostRaw : 'localhost';
  const bounceDomain = options.bounceDomain?.toLowerCase();
  const connections = new ConnectionCounter(options.maxConnectionsPerClient);
  const rates = new RateWindow(options.messagesPerClientPerMinute);
  const sessions = new Map<string, SessionState>();
  const inFlight = new Set<Promise<void>>();
  const servers: Array<{ server: SMTPServer; tls: boolean; spec: string }> = [];
  let closing = false;
  let started = false;

  if (!Number.isFinite(options.maxMessageBytes) || options.maxMessageBytes <= 0) {
    throw new SendwellError('ECONFIG', `smtp.max_message_size must be a positive size, not ${options.maxMessageBytes}`, { hint: 'e.g. max_message_size = "10MB"' });
  }
  if ((options.tlsListen?.length ?? 0) > 0 && !options.tls) {
    throw new SendwellError('ECONFIG', 'implicit-TLS listeners need a certificate', { hint: 'set smtp.tls_cert_file and smtp.tls_key_file, or remove the TLS listen addresses' });
  }
  const plainSpecs = options.listen.map((s) => ({ spec: s, ...parseListenAddress(s, 'smtp.listen'), tls: false }));
  const tlsSpecs = (options.tlsListen ?? []).map((s) => ({ spec: s, ...parseListenAddress(s, 'smtp.tls_listen'), tls: true }));

  const upstream = (): UpstreamCapabilities => {
    try {
      return options.upstream?.() ?? {};
    } catch {
      return {};
    }
  };
  /** The size limit clients see: ours, never above the upstream relay's SIZE. */
  const sizeLimit = (): number => {
    const up = upstream().maxSize;
    return up !== undefined && up > 0 ? Math.min(options.maxMessageBytes, up) : options.maxMessageBytes;
  };
  const authAllowed = (session: SMTPServerSession, ip: string) => session.secure || plainAuth.contains(ip);
  const stateOf = (session: SMTPServerSession): SessionState | undefined => sessions.get(session.id);
  const ipOf = (session: SMTPServerSession) => stateOf(session)?.ip ?? normalizeIp(session.remoteAddress);
  const fail = (cb: (err?: Error | null) => void, r: Reply) => cb(replyError(r));
  /**
   * Did this transaction's MAIL FROM carry SMTPUTF8? (Not session.envelope.smtpUtf8:
   * smtp-server sets that before onMailFrom and keeps it after a refused MAIL.)
   */
  const smtpUtf8Of = (session: SMTPServerSession): boolean => {
    const from = session.envelope.mailFrom;
    return from !== false && from.args !== false && from.args.SMTPUTF8 === true;
  };
  /** A recipient's NOTIFY as stored ('' when it gave none). */
  const notifyOf = (r: SMTPServerAddress): string => {
    const n = r.dsn?.notify ? parseNotify(r.dsn.notify) : undefined;
    return n ? formatNotify(n) : '';
  };
  /**
   * This transaction's DSN parameters, from the accepted MAIL's own arguments (not
   * session.envelope.dsn, which a refused MAIL may have set) and the recipients' NOTIFY.
   */
  const dsnOf = (session: SMTPServerSession): MessageDsn => {
    const from = session.envelope.mailFrom;
    const args = from !== false && from.args !== false ? from.args : {};
    const ret = typeof args.RET === 'string' ? args.RET.toUpperCase() : undefined;
    const first = session.envelope.rcptTo[0];
    const notify = first?.dsn?.notify ? parseNotify(first.dsn.notify) : undefined;
    return {
      ...(notify ? { notify } : {}),
      ...(ret === 'FULL' || ret === 'HDRS' ? { ret } : {}),
      ...(typeof args.ENVID === 'string' && ENVID.test(args.ENVID) ? { envid: args.ENVID } : {}),
    };
  };

  /**
   * smtp-server derives the enhanced status code from the reply code alone (550 is
   * always 5.1.1), which would misstate "550 5.7.1 relay access denied". Our reply
   * texts start with their own code, so send those verbatim (a multi-line reply per
   * line break); give the library's MAIL SIZE= refusal our wording; answer AUTH on
   * a session where it is not offered with 538 instead of "command not recognized".
   */
  const patch = (conn: Connection, state: SessionState): void => {
    const original = conn.send.bind(conn);
    conn.send = (code: number, data?: string | string[] | null, context?: string | false): void => {
      if (code === 552 && context === 'MESSAGE_TOO_BIG') {
        const r = REPLIES.tooBig(sizeLimit());
        return original(r.code, `${r.status} ${r.lines[0]}`, false);
      }
      if (code === 500 && context === 'AUTH' && !authAllowed(conn.session, state.ip)) {
        const r = REPLIES.encryptionRequired();
        return original(r.code, `${r.status} ${r.lines[0]}`, false);
      }
      if (typeof data === 'string') {
        const m = ENHANCED.exec(data);
        if (m) {
          const lines = m[2]!.split('\n');
          return original(code, lines.length > 1 ? lines.map((l) => `${m[1]} ${l}`) : data, false);
        }
      }
      return original(code, data, context);
    };
  };

  const serverDisabled = options.tls ? [] : ['STARTTLS'];

  const onConnect = (server: SMTPServer) => (session: SMTPServerSession, cb: (err?: Error | null) => void): void => {
    const ip = normalizeIp(session.remoteAddress);
    let conn: Connection | undefined;
    for (const c of server.connections) if (c.id === session.id) conn = c;
    const state: SessionState = { ip, server, conn, counted: false, startedAt: clock(), queued: 0, refused: 0, busy: false, gone: false, authFailures: 0 };
    sessions.set(session.id, state);
    if (conn) patch(conn, state);
    else log(`smtp: warning: session ${session.id} not found among the connections; replies keep smtp-server's generic enhanced status codes`);
    if (closing) return fail(cb, REPLIES.shuttingDown());
    if (!connections.acquire(ip)) {
      log(`smtp: ${ip} refused connection: ${connections.count(ip)} open, limit ${options.maxConnectionsPerClient} (R8)`);
      return fail(cb, REPLIES.tooManyConnections(options.maxConnectionsPerClient));
    }
    state.counted = true;
    // AUTH is not offered (nor accepted) in clear text except from the local addresses.
    if (!authAllowed(session, ip)) session.disabledCommands = [...serverDisabled, 'AUTH'];
    // The SIZE in EHLO follows the upstream relay's, which the daemon may learn later.
    server.options.size = sizeLimit();
    cb();
  };

  const onSecure = (_socket: unknown, session: SMTPServerSession, cb: (err?: Error | null) => void): void => {
    session.disabledCommands = undefined;
    cb();
  };

  const onAuth = (auth: SMTPServerAuthentication, session: SMTPServerSession, cb: (err: Error | null | undefined, response?: SMTPServerAuthenticationResponse) => void): void => {
    const ip = ipOf(session);
    if (!authAllowed(session, ip)) return cb(replyError(REPLIES.encryptionRequired()));
    if ((auth.method !== 'PLAIN' && auth.method !== 'LOGIN') || !auth.username || typeof auth.password !== 'string') {
      return cb(replyError(REPLIES.authFailed()));
    }
    const user = auth.username;
    options.credentials.checkUser(user, auth.password).then(
      (ok) => {
        if (ok) {
          log(`smtp: ${ip} auth ok user=${logValue(user)} method=${auth.method}`);
          return cb(null, { user });
        }
        const state = stateOf(session);
        const failures = state ? ++state.authFailures : 1;
        log(`smtp: ${ip} auth failed user=${logValue(user)} method=${auth.method}${failures > 1 ? ` failures=${failures}` : ''}`);
        // 421 ends the session: a client guessing passwords has to reconnect (and meets the connection limit).
        cb(replyError(failures >= MAX_AUTH_FAILURES ? reply(421, '4.7.0', 'too many failed logins; closing the connection') : REPLIES.authFailed()));
      },
      (err: unknown) => {
        log(`smtp: ${ip} auth error user=${logValue(user)}: ${logValue((err as Error).message ?? String(err))}`);
        cb(replyError(reply(454, '4.7.0', 'temporary authentication failure; try again later')));
      },
    );
  };

  const onMailFrom = (address: SMTPServerAddress, session: SMTPServerSession, cb: (err?: Error | null) => void): void => {
    const ip = ipOf(session);
    if (options.requireAuth && !session.user && address.address !== '') return fail(cb, REPLIES.authRequired());
    const rate = rates.check(ip, clock());
    if (rate.exceeded) {
      log(`smtp: ${ip} refused from=<${logValue(address.address)}>: rate limit ${rate.count}/min (R8)`);
      return fail(cb, REPLIES.rateLimit(ip, rate.count, options.messagesPerClientPerMinute));
    }
    const args = address.args || {};
    const declared = typeof args.SIZE === 'string' ? Number(args.SIZE) : undefined;
    if (declared !== undefined && declared > sizeLimit()) return fail(cb, REPLIES.tooBig(sizeLimit()));
    // ENVID goes on to the relay and into notices: printable ASCII, at most 100 characters (RFC 3461 §4.4).
    if (args.ENVID !== undefined && (typeof args.ENVID !== 'string' || !ENVID.test(args.ENVID))) {
      return fail(cb, reply(501, '5.5.4', 'ENVID must be 1 to 100 printable ASCII characters (RFC 3461 §4.4)'));
    }
    const smtpUtf8 = args.SMTPUTF8 === true;
    if (smtpUtf8 && upstream().smtputf8 === false) return fail(cb, REPLIES.smtputf8Unavailable('internationalized addresses or headers'));
    if (address.address !== '') {
      let parsed: ParsedAddress;
      try {
        parsed = parseAddrSpec('sender', address.address);
      } catch (err) {
        return fail(cb, REPLIES.badSender((err as Error).message));
      }
      if (parsed.needsSmtputf8 && !smtpUtf8) return fail(cb, reply(553, '5.6.7', 'the sender address is internationalized: give the SMTPUTF8 parameter with MAIL FROM'));
    }
    cb();
  };

  const onRcptTo = (address: SMTPServerAddress, session: SMTPServerSession, cb: (err?: Error | null) => void): void => {
    const ip = ipOf(session);
    let parsed: ParsedAddress;
    try {
      parsed = parseAddrSpec('recipient', address.address);
    } catch (err) {
      return fail(cb, REPLIES.badRecipient((err as Error).message));
    }
    if (parsed.needsSmtputf8) {
      if (upstream().smtputf8 === false) return fail(cb, REPLIES.smtputf8Unavailable(`the internationalized address ${parsed.address}`));
      if (!smtpUtf8Of(session)) return fail(cb, reply(553, '5.6.7', 'the recipient address is internationalized: give the SMTPUTF8 parameter with MAIL FROM'));
    }
    // NOTIFY is kept per message: another NOTIFY comes in a transaction of its own (RFC 5321 §4.5.3.1.10).
    const other = session.envelope.rcptTo.find((r) => r.address.toLowerCase() !== address.address.toLowerCase());
    if (other && notifyOf(other) !== notifyOf(address)) {
      return fail(cb, reply(452, '4.5.3', `NOTIFY=${notifyOf(address) || '(none)'} differs from this message's NOTIFY=${notifyOf(other) || '(none)'}; send this recipient in a new transaction`));
    }
    if (session.user) return cb();
    const sender = session.envelope.mailFrom ? session.envelope.mailFrom.address : undefined;
    if (bounceDomain && sender !== undefined && sender !== '' && parsed.asciiDomain === bounceDomain && options.acceptUnsubscribeRecipient?.(parsed.wire)) return cb();
    if (bounceDomain && sender === '' && parsed.asciiDomain === bounceDomain) {
      // Only VERP addresses with a valid MAC exist; a guessed or forged one is unknown.
      if (options.acceptBounceRecipient && !options.acceptBounceRecipient(parsed.wire)) return fail(cb, reply(550, '5.1.1', `<${parsed.wire}>: no such bounce address`));
      return cb();
    }
    if (options.requireAuth) return fail(cb, REPLIES.authRequired());
    if (!allow.contains(ip)) {
      log(`smtp: ${ip} refused rcpt=<${logValue(address.address)}> from=<${logValue(sender ?? '')}>: relay access denied`);
      return fail(cb, REPLIES.relayDenied(ip, options.tls !== undefined));
    }
    cb();
  };

  /** Everything after the last byte of DATA: checks, lint, headers, the durable commit. Returns the reply. */
  const processMessage = async (session: SMTPServerSession, state: SessionState, raw: Buffer): Promise<Reply> => {
    const ip = state.ip;
    const now = clock();
    const mailFrom = session.envelope.mailFrom ? session.envelope.mailFrom.address : '';
    const envelopeFrom = mailFrom === '' ? '' : parseAddrSpec('sender', mailFrom).wire;
    const recipients: string[] = [];
    for (const r of session.envelope.rcptTo) {
      const wire = parseAddrSpec('recipient', r.address).wire;
      if (!recipients.some((x) => x.toLowerCase() === wire.toLowerCase())) recipients.push(wire);
    }
    const who = `${ip} from=<${logValue(envelopeFrom)}> nrcpt=${recipients.length} size=${raw.length}`;
    const refuse = (r: Reply, why: string): Reply => {
      state.refused++;
      log(`smtp: ${who} refused: ${why}`);
      return r;
    };

    const { msg, messageId, added } = completeHeaders(raw, { now: new Date(now), formatDate, idLeft: defaultIdGenerator, envelopeFrom, hostname });
    const loop = loopReason(msg);
    if (loop) return refuse(REPLIES.loop(loop), `mail loop: ${loop}`);

    // A bounce for the bounce domain comes from another MTA: no submission policy for it.
    const inboundBounce =
      bounceDomain !== undefined &&
      recipients.every((r) => r.slice(r.lastIndexOf('@') + 1).toLowerCase() === bounceDomain) &&
      (envelopeFrom === '' || recipients.every((r) => options.acceptUnsubscribeRecipient?.(r) === true));
    const smtputf8 = smtpUtf8Of(session);
    const warnings: string[] = [];
    if (!inboundBounce) {
      const report = await lintMessage(msg.toBuffer(), { now: new Date(now), envelope: { from: envelopeFrom, to: recipients }, submission: true, policy: options.policy, ...(smtputf8 ? { smtputf8: true } : {}) });
      if (!report.ok) {
        const errors = report.findings.filter((f) => f.severity === 'error');
        // The log names the rules; the reply also carries the fixes.
        return refuse(policyReply(report.findings), `policy ${errors.map((f) => f.rule).join(',')}`);
      }
      for (const f of report.findings) if (f.severity === 'warning') warnings.push(f.rule);
    }

    let body = msg;
    let converted = false;
    const up = upstream();
    if (up.eightBitMime === false && has8bit(msg.toBuffer())) {
      try {
        body = RawMessage.parse(to7bit(msg.toBuffer()));
        converted = true;
      } catch (err) {
        return refuse(REPLIES.unconvertible((err as Error).message), `8-bit content cannot be converted: ${(err as Error).message}`);
      }
    }

    const protocol = `${session.openingCommand === 'HELO' ? 'SMTP' : 'ESMTP'}${session.secure ? 'S' : ''}${session.user ? 'A' : ''}`;
    const receivedId = `${session.id}.${session.transaction}`;
    body.add('Received', receivedValue({ helo: session.hostNameAppearsAs || 'unknown', address: addressLiteral(ip), hostname, protocol, id: receivedId, date: formatDate(new Date(now)) }), 'top');
    const final = options.sign && !inboundBounce ? await options.sign(body.toBuffer()) : body.toBuffer();
    if (up.maxSize !== undefined && up.maxSize > 0 && final.length > up.maxSize) {
      return refuse(REPLIES.tooBig(sizeLimit()), `${final.length} bytes after conversion, upstream SIZE ${up.maxSize}`);
    }
    if (state.gone) return refuse(REPLIES.internal(), 'the client went away before the reply; not queued');

    if (inboundBounce && options.onBounce) {
      try {
        await options.onBounce(final, recipients);
      } catch (err) {
        return refuse(REPLIES.notQueued((err as Error).message), `bounce not processed: ${(err as Error).message}`);
      }
      state.queued++;
      log(`smtp: ${ip} bounce for ${recipients.map((r) => `<${logValue(r)}>`).join(', ')} processed size=${final.length} id=${receivedId}`);
      return reply(250, '2.0.0', 'bounce received');
    }
    const submitter = session.user ? `smtp:${String(session.user)}` : `smtp:${ip}`;
    const subject = body.get('Subject');
    let result;
    try {
      result = await options.service.submitGrouped({
        raw: final,
        messageId,
        envelopeFrom,
        recipients,
        submitter,
        contentHash: contentHash([subject, stableBody(body.get('Content-Type'), body.body.toString('latin1'))]),
        ...dsnFields(dsnOf(session)),
      });
    } catch (err) {
      const why = err instanceof SendwellError ? err.message : String(err);
      return refuse(REPLIES.notQueued(why), `not queued: ${why}`);
    }
    rates.record(ip, now);
    state.queued++;
    const notes = [
      session.user ? `user=${logValue(String(session.user))}` : '',
      added.length ? `added=${added.join(',')}` : '',
      converted ? 'converted=7bit' : '',
      inboundBounce ? 'bounce' : '',
      warnings.length ? `warnings=${warnings.join(',')}` : '',
      result.held.length ? `held=${result.held.length}` : '',
      `id=${receivedId}`,
    ].filter(Boolean);
    log(`smtp: ${ip} queued ${result.queueId} from=<${logValue(envelopeFrom)}> nrcpt=${recipients.length} size=${final.length} ${notes.join(' ')}`);
    const changes = [added.length ? `added ${added.join(' and ')}` : '', converted ? 'converted 8-bit content to 7-bit (the relay lacks 8BITMIME)' : ''].filter(Boolean);
    if (changes.length) options.service.log.write({ event: 'notice', time: now, queueId: result.queueId, level: 'info', text: `smtp submission from ${ip}: ${changes.join('; ')}` });
    try {
      options.onQueued?.(result.queueId);
    } catch {
      // The message is queued; waking the worker early is only an optimisation.
    }
    return REPLIES.queued(result.queueId);
  };

  const onData = (stream: SMTPServerDataStream, session: SMTPServerSession, cb: (err?: Error | null, message?: string) => void): void => {
    const state = stateOf(session);
    if (!state) {
      stream.resume();
      return cb(replyError(REPLIES.internal()));
    }
    state.busy = true;
    const limit = sizeLimit();
    const chunks: Buffer[] = [];
    let size = 0;
    let answered = false;
    const answer = (r: Reply) => {
      if (answered) return;
      answered = true;
      state.busy = false;
      if (r.code < 400) cb(null, `${r.status} ${r.lines.join('\n')}`);
      else cb(replyError(r));
      // Once shutting down, end the session right after its reply.
      if (closing) setImmediate(() => kick(state));
    };
    stream.on('data', (c: Buffer) => {
      size += c.length;
      if (size <= limit) chunks.push(c);
    });
    stream.on('error', () => answer(REPLIES.internal()));
    stream.on('end', () => {
      if (size > limit) {
        state.refused++;
        log(`smtp: ${state.ip} refused size=${size}: message too big (limit ${limit}) (R9)`);
        return answer(REPLIES.tooBig(limit));
      }
      const p = processMessage(session, state, Buffer.concat(chunks, size))
        .catch((err: unknown): Reply => {
          state.refused++;
          if (err instanceof SendwellError && !err.temporary) {
            log(`smtp: ${state.ip} refused: ${logValue(err.message)}`);
            return reply(554, '5.6.0', `${err.message}${err.hint ? `; ${err.hint.split('\n')[0]}` : ''}`);
          }
          log(`smtp: ${state.ip} error: ${logValue((err as Error)?.stack ?? String(err))}`);
          return REPLIES.internal();
        })
        .then(answer);
      const tracked = p.finally(() => inFlight.delete(tracked));
      inFlight.add(tracked);
    });
  };

  const onClose = (session: SMTPServerSession): void => {
    const state = stateOf(session);
    if (!state) return;
    state.gone = true;
    sessions.delete(session.id);
    if (state.counted) connections.release(state.ip);
    const secs = ((clock() - state.startedAt) / 1000).toFixed(1);
    const helo = session.hostNameAppearsAs ? ` helo=${logValue(session.hostNameAppearsAs)}` : '';
    const user = session.user ? ` user=${logValue(String(session.user))}` : '';
    log(`smtp: ${state.ip} disconnect${helo}${user}${session.secure ? ' tls' : ''} queued=${state.queued} refused=${state.refused} time=${secs}s`);
  };

  /** End an idle session during shutdown with 421. */
  const kick = (state: SessionState): void => {
    if (state.gone || state.busy || !state.conn) return;
    const r = REPLIES.shuttingDown();
    state.conn.send(r.code, `${r.status} ${r.lines[0]}`, false);
  };

  const makeServer = (implicitTls: boolean): SMTPServer => {
    const opts: SMTPServerOptions = {
      name: hostname,
      banner: 'sendwell',
      secure: implicitTls,
      ...(options.tls ? { key: options.tls.key, cert: options.tls.cert, minVersion: 'TLSv1.2' as const } : {}),
      disabledCommands: [...serverDisabled],
      authMethods: ['PLAIN', 'LOGIN'],
      authOptional: true,
      // AUTH without TLS is gated per session (onConnect, onAuth): only from the local addresses.
      allowInsecureAuth: true,
      size: sizeLimit(),
      hidePIPELINING: false,
      hide8BITMIME: false,
      hideSMTPUTF8: false,
      hideENHANCEDSTATUSCODES: false,
      // RET, ENVID and NOTIFY are kept per message (dsnOf) and passed on to the relay.
      hideDSN: false,
      hideREQUIRETLS: true,
      disableReverseLookup: true,
      logger: false,
      maxRecipients: 1000,
      socketTimeout: 5 * 60_000,
      heloResponse: '%s Hello %s',
    };
    const server: SMTPServer = new SMTPServer({
      ...opts,
      onConnect: (session, cb) => onConnect(server)(session, cb),
      onSecure,
      onAuth,
      onMailFrom,
      onRcptTo,
      onData,
      onClose,
    });
    server.on('error', (err: Error & { code?: string; remoteAddress?: string }) => {
      // Connection-level errors (resets, failed TLS handshakes) end that session only.
      log(`smtp: ${err.remoteAddress ? `${normalizeIp(err.remoteAddress)} ` : ''}error: ${logValue(err.message)}`);
    });
    return server;
  };

  const listenOne = (server: SMTPServer, host: string, port: number, spec: string): Promise<net.AddressInfo> =>
    new Promise((resolve, reject) => {
      const onError = (err: NodeJS.ErrnoException) => {
        server.server.off('listening', onListening);
        const hint =
          err.code === 'EACCES' ? 'ports below 1024 need privileges: use a port such as 2525, or give the service CAP_NET_BIND_SERVICE (systemd: AmbientCapabilities=CAP_NET_BIND_SERVICE)'
          : err.code === 'EADDRINUSE' ? 'another program (perhaps a local MTA or another sendwell) listens there; stop it or choose another port'
          : err.code === 'EADDRNOTAVAIL' ? 'this host has no such address; use 127.0.0.1 or one of its addresses'
          : 'check smtp.listen';
        reject(new SendwellError('ECONFIG', `cannot listen for SMTP on ${spec}: ${err.code ?? err.message}`, { hint, cause: err }));
      };
      const onListening = () => {
        server.server.off('error', onError);
        resolve(server.server.address() as net.AddressInfo);
      };
      server.server.once('error', onError);
      server.server.once('listening', onListening);
      server.listen(port, host);
    });

  const closeServer = (server: SMTPServer, graceMs: number): Promise<void> =>
    new Promise((resolve) => {
      if (!server.server.listening && server.connections.size === 0) return resolve();
      server.options.closeTimeout = Math.max(1, graceMs);
      server.close(() => resolve());
    });

  return {
    async listen(): Promise<ListeningAddress[]> {
      if (started) throw new SendwellError('EUSAGE', 'the SMTP listener is already listening', { hint: 'call listen() once' });
      started = true;
      const out: ListeningAddress[] = [];
      try {
        for (const s of [...plainSpecs, ...tlsSpecs]) {
          const server = makeServer(s.tls);
          servers.push({ server, tls: s.tls, spec: s.spec });
          const addr = await listenOne(server, s.host, s.port, s.spec);
          out.push({ address: addr.address, port: addr.port, tls: s.tls });
          const shown = addr.family === 'IPv6' ? `[${addr.address}]:${addr.port}` : `${addr.address}:${addr.port}`;
          log(`smtp: listening on ${shown}${s.tls ? ' (implicit TLS)' : options.tls ? ' (STARTTLS)' : ''}`);
        }
      } catch (err) {
        await Promise.all(servers.map((s) => closeServer(s.server, 1)));
        servers.length = 0;
        throw err;
      }
      return out;
    },

    async close(graceMs = DEFAULT_GRACE_MS): Promise<void> {
      closing = true;
      const done = Promise.all(servers.map((s) => closeServer(s.server, graceMs)));
      for (const state of sessions.values()) kick(state);
      await done;
      await Promise.all([...inFlight]);
    },
  };
}

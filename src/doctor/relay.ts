/**
 * The relay: reachable, greeting, EHLO capabilities, the TLS certificate (valid
 * for the host name, days to expiry), AUTH, and a MAIL FROM + RCPT TO probe
 * that ends with RSET (nothing is sent). sendmail: and capture: relays get
 * their own checks.
 */
import { accessSync, constants, readFileSync, statSync } from 'node:fs';
import net from 'node:net';
import tls from 'node:tls';
import { SendwellError } from '../errors.js';
import type { ResolvedConfig } from '../config/load.js';
import { parseRelayUrl, type SmtpTarget } from '../transport/url.js';
import { defaultHeloName, SmtpSession } from '../transport/smtp/session.js';
import { check, type Check } from './types.js';

export interface RelayCheckOptions {
  config: ResolvedConfig;
  /** Relay URL override (--relay). */
  url?: string;
  /** MAIL FROM address for the probe. */
  sender?: string;
  /** RCPT TO address for the probe. */
  recipient?: string;
  /** Upper bound for each network step (default 15 s). */
  timeoutMs?: number;
  now?: () => number;
}

const WARN_DAYS = 14;
const DAY_MS = 86_400_000;

export interface RawProbe {
  greeting?: string;
  extensions?: string[];
  cert?: tls.PeerCertificate;
  tlsProtocol?: string;
  tlsError?: string;
  error?: string;
  errorCode?: string;
  stage: 'connect' | 'greeting' | 'ehlo' | 'starttls' | 'tls' | 'done';
}

/** Read SMTP replies from a socket, one whole (multi-line) reply at a time. */
class Replies {
  private buf = '';
  private waiting: Array<(lines: string[]) => void> = [];
  private ready: string[][] = [];
  private lines: string[] = [];
  constructor(private readonly sock: net.Socket) {
    sock.setEncoding('latin1');
    sock.on('data', this.onData);
  }
  private onData = (d: string) => {
    this.buf += d;
    let i;
    while ((i = this.buf.indexOf('\n')) >= 0) {
      const line = this.buf.slice(0, i).replace(/\r$/, '');
      this.buf = this.buf.slice(i + 1);
      this.lines.push(line);
      if (!/^\d{3}-/.test(line)) {
        const reply = this.lines;
        this.lines = [];
        const w = this.waiting.shift();
        if (w) w(reply);
        else this.ready.push(reply);
      }
    }
  };
  next(): Promise<string[]> {
    const r = this.ready.shift();
    if (r) return Promise.resolve(r);
    return new Promise((resolve) => this.waiting.push(resolve));
  }
  detach(): void {
    this.sock.off('data', this.onData);
  }
}

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let t: NodeJS.Timeout;
  return Promise.race([p, new Promise<T>((_, reject) => (t = setTimeout(() => reject(Object.assign(new Error(`no answer to ${what} within ${ms / 1000} s`), { code: 'ETIMEDOUT' })), ms)))]).finally(() => clearTimeout(t));
}

function once(sock: net.Socket, event: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const onErr = (e: Error) => reject(e);
    sock.once('error', onErr);
    sock.once('close', () => reject(Object.assign(new Error('the relay closed the connection'), { code: 'ECONNRESET' })));
    sock.once(event, () => {
      sock.off('error', onErr);
      resolve();
    });
  });
}

function tlsOpts(target: SmtpTarget, ca: string | undefined): tls.ConnectionOptions {
  return { host: target.host, rejectUnauthorized: false, ...(net.isIP(target.host) ? {} : { servername: target.host }), ...(ca ? { ca: [...tls.rootCertificates, ca] } : {}) };
}

/** Our own short dialogue: greeting, EHLO, STARTTLS, the peer certificate. */
async function rawProbe(target: SmtpTarget, ca: string | undefined, timeoutMs: number, heloName: string | undefined): Promise<RawProbe> {
  const out: RawProbe = { stage: 'connect' };
  let sock: net.Socket | undefined;
  try {
    if (target.tls === 'implicit') {
      const s = tls.connect({ port: target.port, ...tlsOpts(target, ca) });
      sock = s;
      await withTimeout(once(s, 'secureConnect'), timeoutMs, 'the TLS connection');
      out.cert = s.getPeerCertificate();
      out.tlsProtocol = s.getProtocol() ?? undefined;
      if (!s.authorized && s.authorizationError) out.tlsError = String((s.authorizationError as unknown as { code?: string }).code ?? s.authorizationError);
    } else {
      sock = net.connect({ host: target.host, port: target.port });
      await withTimeout(once(sock, 'connect'), timeoutMs, 'the connection');
    }
    sock.on('error', () => undefined);
    let replies = new Replies(sock);
    out.stage = 'greeting';
    const greeting = await withTimeout(replies.next(), timeoutMs, 'the greeting');
    out.greeting = greeting.join(' ');
    if (!greeting[0]?.startsWith('220')) return out;
    out.stage = 'ehlo';
    sock.write(`EHLO ${heloName ?? defaultHeloName(sock.localAddress)}\r\n`);
    let ehlo = await withTimeout(replies.next(), timeoutMs, 'EHLO');
    out.extensions = ehlo[0]?.startsWith('250') ? ehlo.slice(1).map((l) => l.slice(4).trim()) : [];
    const offersTls = out.extensions.some((e) => /^STARTTLS$/i.test(e));
    if (target.tls !== 'implicit' && target.tls !== 'none' && offersTls) {
      out.stage = 'starttls';
      sock.write('STARTTLS\r\n');
      const r = await withTimeout(replies.next(), timeoutMs, 'STARTTLS');
      if (!r[0]?.startsWith('220')) {
        out.tlsError = `STARTTLS refused: ${r.join(' ')}`;
        return out;
      }
      replies.detach();
      out.stage = 'tls';
      const s = tls.connect({ socket: sock, ...tlsOpts(target, ca) });
      sock = s;
      await withTimeout(once(s, 'secureConnect'), timeoutMs, 'the TLS handshake');
      s.on('error', () => undefined);
      out.cert = s.getPeerCertificate();
      out.tlsProtocol = s.getProtocol() ?? undefined;
      if (!s.authorized && s.authorizationError) out.tlsError = String((s.authorizationError as unknown as { code?: string }).code ?? s.authorizationError);
      replies = new Replies(s);
      s.write(`EHLO ${heloName ?? defaultHeloName(s.localAddress)}\r\n`);
      ehlo = await withTimeout(replies.next(), timeoutMs, 'EHLO after STARTTLS');
      if (ehlo[0]?.startsWith('250')) out.extensions = ehlo.slice(1).map((l) => l.slice(4).trim());
    }
    sock.write('QUIT\r\n');
    out.stage = 'done';
    return out;
  } catch (err) {
    out.error = (err as Error).message;
    out.errorCode = (err as NodeJS.ErrnoException).code;
    return out;
  } finally {
    sock?.destroy();
  }
}

export function certCheck(target: SmtpTarget, p: RawProbe, now: number): Check {
  const title = `TLS certificate of ${target.host}`;
  const required = target.verify;
  const bad = required ? 'fail' : 'warn';
  const opportunistic = required ? '' : ' (not verified for this URL: opportunistic TLS)';
  if (!p.cert || !p.cert.valid_to) {
    if (target.tls === 'none') return check('relay.tls', 'skip', title, 'TLS is off for this relay (?tls=never)', 'only right for a relay on this host (C1)', 'C1');
    if (p.tlsError) return check('relay.tls', bad, title, p.tlsError, 'check the relay\'s TLS setup', 'C2');
    if (p.stage === 'done' && target.tls === 'opportunistic') return check('relay.tls', 'warn', title, 'the relay does not offer STARTTLS: mail and any login go in clear text', 'use a relay on this host (smtp://localhost, C1) or one with STARTTLS/implicit TLS (smtp+starttls:// or smtps://, C2)', 'C2');
    if (p.stage === 'done') return check('relay.tls', 'fail', title, 'the relay does not offer STARTTLS, which this URL requires', 'use port 587 with STARTTLS, or smtps:// on 465 (C2)', 'C2');
    return check('relay.tls', 'skip', title, 'not reached (see above)', '');
  }
  const validTo = Date.parse(p.cert.valid_to);
  const days = Math.floor((validTo - now) / DAY_MS);
  const hostErr = tls.checkServerIdentity(target.host, p.cert);
  const subject = p.cert.subjectaltname ?? `CN=${String(p.cert.subject?.CN ?? '?')}`;
  const base = `${p.tlsProtocol ?? 'TLS'}, ${subject}, valid until ${new Date(validTo).toISOString().slice(0, 10)}`;
  if (validTo < now) return check('relay.tls', bad, title, `expired ${-days} day(s) ago (${base})${opportunistic}`, 'the relay administrator must renew the certificate', 'C2');
  if (hostErr) return check('relay.tls', bad, title, `not valid for ${target.host} (${base})${opportunistic}`, `connect with the host name the certificate names, or get a certificate for ${target.host}`, 'C2');
  if (p.tlsError) return check('relay.tls', bad, title, `not trusted: ${p.tlsError} (${base})${opportunistic}`, 'if the relay uses an internal CA, set relay.ca_file to its certificate (PEM)', 'C2');
  if (days < WARN_DAYS) return check('relay.tls', 'warn', title, `expires in ${days} day(s) (${base})`, 'the relay administrator should renew it now', 'C2');
  return check('relay.tls', 'ok', title, `valid for ${target.host}, ${days} days to expiry (${base})`, '', 'C2');
}

function capabilities(ext: string[]): string {
  const names = new Map(ext.map((e) => [e.split(/[ =]/)[0]!.toUpperCase(), e]));
  const parts: string[] = [];
  for (const k of ['STARTTLS', 'AUTH', 'SIZE', 'PIPELINING', 'SMTPUTF8', 'DSN', '8BITMIME', 'ENHANCEDSTATUSCODES']) {
    const e = names.get(k);
    if (!e) parts.push(`no ${k}`);
    else if (k === 'AUTH' || k === 'SIZE') parts.push(e.replace('=', ' '));
    else parts.push(k);
  }
  return parts.join(', ');
}

function describeError(err: unknown): { message: string; hint: string; phase?: string } {
  if (err instanceof SendwellError) return { message: err.message, hint: err.hint, ...(err.phase ? { phase: err.phase } : {}) };
  return { message: (err as Error).message, hint: '' };
}

export async function relayChecks(o: RelayCheckOptions): Promise<Check[]> {
  const { config } = o;
  const now = (o.now ?? Date.now)();
  const timeoutMs = o.timeoutMs ?? 15_000;
  const url = o.url ?? config.relay.url;
  let target;
  try {
    target = parseRelayUrl(url);
  } catch (err) {
    return [check('relay', 'fail', `relay ${url}`, describeError(err).message, describeError(err).hint || 'fix relay.url')];
  }
  if (target.kind === 'capture') {
    return [check('relay', 'warn', `relay ${target.url}`, `capture: mail is written to ${target.dir}, not sent`, 'set relay.url to your relay (C1: smtp://localhost:25, C2: smtp+starttls://host:587) when you go live', 'C1')];
  }
  if (target.kind === 'sendmail') {
    const title = `sendmail command ${target.path}`;
    try {
      const st = statSync(target.path);
      if (!st.isFile()) return [check('relay', 'fail', title, 'is not a file', 'install an MTA (Postfix, Exim) or fix the path in relay.url')];
      accessSync(target.path, constants.X_OK);
      return [check('relay', 'ok', title, 'exists and is executable (the local MTA takes the mail, C1)', '', 'C1')];
    } catch (err) {
      return [check('relay', 'fail', title, `cannot be run (${(err as NodeJS.ErrnoException).code ?? 'error'})`, 'install an MTA (Postfix, Exim) or fix the path in relay.url', 'C1')];
    }
  }
  const out: Check[] = [];
  let ca: string | undefined;
  if (config.relay.caFile) {
    try {
      ca = readFileSync(config.relay.caFile, 'utf8');
    } catch (err) {
      out.push(check('relay.ca_file', 'fail', `relay.ca_file ${config.relay.caFile}`, `cannot be read (${(err as NodeJS.ErrnoException).code ?? 'error'})`, 'give a readable PEM file'));
    }
  }
  const where = `${target.host}:${target.port}`;
  const p = await rawProbe(target, ca, timeoutMs, config.relay.heloName);
  if (p.stage === 'connect' || (p.stage === 'greeting' && !p.greeting)) {
    const code = p.errorCode ?? '';
    const fix =
      code === 'ECONNREFUSED' ? `nothing listens on ${where}: check the host and port in relay.url (587 submission, 465 smtps, 25 a local MTA) and that the relay runs`
      : code === 'ENOTFOUND' || code === 'EAI_AGAIN' ? `the host name ${target.host} does not resolve: check relay.url and DNS`
      : code === 'ETIMEDOUT' ? `a firewall may drop the connection to ${where}; many networks block outgoing port 25 (use 587, C2)`
      : 'check relay.url and the network';
    out.push(check('relay.connect', 'fail', `relay ${target.url} reachable`, p.error ?? 'no greeting', fix, 'C2'));
    return out;
  }
  if (!p.greeting?.startsWith('220')) {
    out.push(check('relay.connect', 'fail', `relay ${target.url} reachable`, p.greeting ? `greeting: ${p.greeting}` : (p.error ?? 'no greeting'), 'the relay refuses this client; ask its administrator to allow this host'));
    return out;
  }
  out.push(check('relay.connect', 'ok', `relay ${target.url} reachable`, `greeting: ${p.greeting}`));
  if (p.extensions) out.push(check('relay.ehlo', 'ok', 'EHLO capabilities', capabilities(p.extensions)));
  else out.push(check('relay.ehlo', 'fail', 'EHLO capabilities', p.error ?? 'no EHLO answer', 'the relay does not speak ESMTP properly'));
  const tlsCheck = certCheck(target, p, now);
  out.push(tlsCheck);

  // sendwell's own session: TLS as the URL demands, then AUTH; then MAIL/RCPT/RSET.
  let session: SmtpSession | undefined;
  const authTitle = 'AUTH';
  try {
    session = await SmtpSession.open({
      target,
      heloName: config.relay.heloName,
      username: config.relay.username,
      password: config.relay.password,
      ca,
      timeouts: { connectMs: timeoutMs, greetingMs: timeoutMs, commandMs: timeoutMs, dataMs: timeoutMs, sendmailMs: timeoutMs },
    });
  } catch (err) {
    const e = describeError(err);
    if (e.phase === 'auth' || (err instanceof SendwellError && (err.code === 'EAUTH' || err.code === 'ESECRET'))) out.push(check('relay.auth', 'fail', authTitle, e.message, e.hint, 'R11'));
    else if (e.phase === 'tls' && tlsCheck.status !== 'fail') out.push(check('relay.session', 'fail', 'TLS session as sendwell opens it', e.message, e.hint, 'C2'));
    else if (tlsCheck.status !== 'fail') out.push(check('relay.session', 'fail', 'SMTP session as sendwell opens it', e.message, e.hint));
    out.push(check('relay.envelope', 'skip', 'relay accepts sender and recipient', 'not reached (see above)'));
    return out;
  }
  try {
    if (config.relay.username) out.push(check('relay.auth', 'ok', authTitle, `logged in as ${session.authenticatedAs ?? config.relay.username}`, '', 'R11'));
    else if (session.extensions.has('AUTH')) out.push(check('relay.auth', 'skip', authTitle, `not configured (the relay offers AUTH ${session.extensions.get('AUTH')})`, 'set relay.username and relay.password_file if the relay refuses mail without login (C2)'));
    else out.push(check('relay.auth', 'skip', authTitle, 'not configured, not offered', ''));
    const envTitle = 'relay accepts sender and recipient';
    if (!o.sender || !o.recipient) {
      out.push(check('relay.envelope', 'skip', envTitle, 'no sender address configured to test with', 'set [sender] from (and [bounces] address)', 'R3'));
    } else {
      const ask = async (line: string, command: string) => {
        session!.conn.writeLine(line);
        return session!.conn.read(timeoutMs, { phase: command === 'MAIL' ? 'mail' : 'rcpt', command, option: 'commandMs' });
      };
      const mail = await ask(`MAIL FROM:<${o.sender}>`, 'MAIL');
      if (mail.code !== 250) {
        out.push(check('relay.envelope', 'fail', envTitle, `MAIL FROM:<${o.sender}> refused: ${mail.full}`, 'the relay does not let this host/user send as this address: use an address the relay allows (allow_senders, [sender] from), or ask its administrator', 'R3'));
      } else {
        const rcpt = await ask(`RCPT TO:<${o.recipient}>`, 'RCPT');
        if (rcpt.code === 250 || rcpt.code === 251) out.push(check('relay.envelope', 'ok', envTitle, `MAIL FROM:<${o.sender}> and RCPT TO:<${o.recipient}> accepted (then RSET: nothing sent)`, '', 'R3'));
        else out.push(check('relay.envelope', rcpt.code >= 500 ? 'fail' : 'warn', envTitle, `RCPT TO:<${o.recipient}> refused: ${rcpt.full}`, rcpt.code >= 500 ? 'the relay does not relay for this host/user: log in (relay.username), or ask its administrator to allow relaying (C2)' : 'a temporary refusal; try again later', 'C2'));
      }
      await session.reset(timeoutMs).catch(() => undefined);
    }
  } catch (err) {
    const e = describeError(err);
    out.push(check('relay.envelope', 'fail', 'relay accepts sender and recipient', e.message, e.hint));
  } finally {
    await session.quit().catch(() => undefined);
  }
  return out;
}

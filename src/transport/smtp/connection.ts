/**
 * One SMTP connection: a socket (plain or TLS), the reply parser, and
 * "read the next reply within N ms". No protocol logic here (see session.ts).
 */
import net from 'node:net';
import tls from 'node:tls';
import type { Phase } from '../../errors.js';
import { SendwellError } from '../../errors.js';
import type { RelayInfo } from '../types.js';
import { closedError, socketError, timeoutError, tlsError } from './classify.js';
import { ReplyParser, type SmtpReply } from './reply.js';

export interface ReadContext {
  phase: Phase;
  command: string;
  /** Name of the timeout option, for the hint (`greetingMs`, `commandMs`, `dataMs`). */
  option: string;
}

export interface TlsParams {
  /** Verify chain and host name; when false the result is still recorded in `tlsInfo`. */
  verify: boolean;
  /** Extra trusted CA certificates (PEM), added to Node's built-in roots. */
  ca?: string | undefined;
}

export interface ConnectParams {
  host: string;
  port: number;
  /** smtps: TLS from the first byte. */
  implicitTls?: TlsParams | undefined;
  connectMs: number;
  /** DNS lookup (defaults to the system resolver). */
  lookup?: net.LookupFunction | undefined;
  trace?: ((line: string) => void) | undefined;
}

type Failure = { kind: 'error'; err: unknown } | { kind: 'closed' } | { kind: 'timeout'; ms: number } | { kind: 'protocol'; err: SendwellError };

interface Waiter {
  resolve: (r: SmtpReply) => void;
  reject: (e: SendwellError) => void;
  ctx: ReadContext;
}

function tlsOptions(host: string, p: TlsParams): tls.ConnectionOptions {
  const opts: tls.ConnectionOptions = {
    host,
    rejectUnauthorized: p.verify,
    // SNI must not be an IP address (RFC 6066 §3).
    ...(net.isIP(host) ? {} : { servername: host }),
  };
  if (p.ca) opts.ca = [...tls.rootCertificates, p.ca];
  return opts;
}

function tlsInfoOf(sock: tls.TLSSocket): NonNullable<RelayInfo['tls']> {
  const info: NonNullable<RelayInfo['tls']> = { authorized: sock.authorized };
  const protocol = sock.getProtocol();
  if (protocol) info.protocol = protocol;
  const cipher = sock.getCipher();
  if (cipher?.name) info.cipher = cipher.name;
  const authErr = sock.authorizationError as unknown;
  if (authErr) info.authorizationError = String((authErr as { code?: string }).code ?? authErr);
  return info;
}

/**
 * Writes made during one event-loop turn leave together at its end: the
 * socket is corked on its first write in a turn and uncorked from
 * setImmediate. With several connections to one relay, replies that arrive
 * together are answered together, so the relay wakes once for several
 * messages instead of once per message (smtp-sink, 8 connections: ~25% more
 * messages per second; bench/drain.ts). It delays a write by one turn, never
 * reorders: end() uncorks before its FIN (stream semantics), STARTTLS waits
 * for the 220, which needs the command flushed.
 */
const corked = new Set<net.Socket>();

function uncorkAll(): void {
  for (const sock of corked) sock.uncork();
  corked.clear();
}

export function writeCoalesced(sock: net.Socket, data: Buffer): void {
  if (!corked.has(sock)) {
    if (corked.size === 0) setImmediate(uncorkAll);
    sock.cork();
    corked.add(sock);
  }
  sock.write(data);
}

export class SmtpConnection {
  readonly host: string;
  readonly port: number;
  readonly createdAt = Date.now();
  /** TLS parameters of the session, once TLS is up. */
  tlsInfo: RelayInfo['tls'];
  private socket: net.Socket;
  private readonly parser = new ReplyParser();
  private readonly replies: SmtpReply[] = [];
  private waiter: Waiter | undefined;
  private failure: Failure | undefined;
  private readonly trace: ((line: string) => void) | undefined;

  private constructor(socket: net.Socket, params: ConnectParams) {
    this.socket = socket;
    this.host = params.host;
    this.port = params.port;
    this.trace = params.trace;
    this.attach(socket);
    if (socket instanceof tls.TLSSocket) this.tlsInfo = tlsInfoOf(socket);
  }

  /** Open a TCP (or implicit TLS) connection. Rejects with ECONNECTION/EDNS/ETIMEDOUT/ETLS. */
  static connect(params: ConnectParams): Promise<SmtpConnection> {
    const { host, port, implicitTls } = params;
    return new Promise((resolve, reject) => {
      const sock = implicitTls
        ? tls.connect({ port, ...tlsOptions(host, implicitTls), ...(params.lookup ? { lookup: params.lookup } : {}) })
        : net.connect({ host, port, ...(params.lookup ? { lookup: params.lookup } : {}) });
      let done = false;
      const ctx = { host, port, phase: 'connect' as Phase, command: 'connect' };
      const timer = setTimeout(() => {
        if (done) return;
        done = true;
        sock.destroy();
        reject(timeoutError(ctx, params.connectMs, 'connectMs'));
      }, params.connectMs);
      sock.once('error', (err) => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        sock.destroy();
        reject(implicitTls ? tlsError(err, { ...ctx, verify: implicitTls.verify }) : socketError(err, ctx));
      });
      sock.once(implicitTls ? 'secureConnect' : 'connect', () => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        sock.setNoDelay(true);
        resolve(new SmtpConnection(sock, params));
      });
    });
  }

  /** The connection is unusable (closed, failed or timed out). */
  get closed(): boolean {
    return this.failure !== undefined || this.socket.destroyed;
  }

  get localAddress(): string | undefined {
    return this.socket.localAddress;
  }

  get remoteAddress(): string | undefined {
    return this.socket.remoteAddress;
  }

  /** Replies or bytes received but not read yet. */
  get hasPending(): boolean {
    return this.replies.length > 0 || this.parser.hasBuffered;
  }

  /** Keep (or stop keeping) the process alive while the connection is open. */
  ref(active: boolean): void {
    if (active) this.socket.ref();
    else this.socket.unref();
  }

  private readonly onData = (chunk: Buffer): void => {
    let got: SmtpReply[];
    try {
      got = this.parser.push(chunk);
    } catch (err) {
      this.fail({ kind: 'protocol', err: err as SendwellError });
      this.socket.destroy();
      return;
    }
    for (const r of got) {
      this.trace?.(`S: ${r.full}`);
      if (this.waiter) {
        const w = this.waiter;
        this.waiter = undefined;
        w.resolve(r);
      } else {
        this.replies.push(r);
      }
    }
  };

  private readonly onError = (err: Error): void => this.fail({ kind: 'error', err });
  private readonly onClose = (): void => this.fail({ kind: 'closed' });

  private attach(sock: net.Socket): void {
    sock.on('data', this.onData);
    sock.on('error', this.onError);
    sock.on('close', this.onClose);
  }

  private detach(sock: net.Socket): void {
    sock.off('data', this.onData);
    sock.off('error', this.onError);
    sock.off('close', this.onClose);
  }

  private fail(f: Failure): void {
    if (!this.failure) this.failure = f;
    if (this.waiter) {
      const w = this.waiter;
      this.waiter = undefined;
      w.reject(this.failureError(w.ctx));
    }
  }

  private failureError(ctx: ReadContext): SendwellError {
    const net = { host: this.host, port: this.port, phase: ctx.phase, command: ctx.command };
    const f = this.failure;
    if (f?.kind === 'protocol') {
      return new SendwellError('EPROTOCOL', f.err.message, {
        phase: ctx.phase,
        temporary: false,
        hint: f.err.hint,
        ...(f.err.response !== undefined ? { response: f.err.response } : {}),
      });
    }
    if (f?.kind === 'error') return socketError(f.err, net);
    if (f?.kind === 'timeout') return timeoutError(net, f.ms, ctx.option);
    return closedError(net);
  }

  /** A reply that arrived already (pipelined replies come together), without a promise; else undefined. */
  takeQueued(): SmtpReply | undefined {
    return this.replies.shift();
  }

  /** Read the next reply. Rejects with ETIMEDOUT/ECONNECTION/EPROTOCOL. */
  read(timeoutMs: number, ctx: ReadContext): Promise<SmtpReply> {
    const queued = this.replies.shift();
    if (queued) return Promise.resolve(queued);
    if (this.failure) return Promise.reject(this.failureError(ctx));
    if (this.waiter) return Promise.reject(new Error('SmtpConnection.read: a read is already pending'));
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        if (this.waiter !== w) return;
        this.waiter = undefined;
        if (!this.failure) this.failure = { kind: 'timeout', ms: timeoutMs };
        this.socket.destroy();
        reject(timeoutError({ host: this.host, port: this.port, phase: ctx.phase, command: ctx.command }, timeoutMs, ctx.option));
      }, timeoutMs);
      const w: Waiter = {
        resolve: (r) => {
          clearTimeout(timer);
          resolve(r);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
        ctx,
      };
      this.waiter = w;
    });
  }

  /** Write a command line (CRLF added) or raw bytes. `shown` replaces the line in the trace (for AUTH). */
  writeLine(line: string, shown?: string): void {
    this.trace?.(`C: ${shown ?? line}`);
    this.write(Buffer.from(line + '\r\n', 'utf8'));
  }

  /** Write several command lines in one segment (RFC 2920 pipelining). */
  writeLines(lines: string[]): void {
    for (const l of lines) this.trace?.(`C: ${l}`);
    this.write(Buffer.from(lines.map((l) => l + '\r\n').join(''), 'utf8'));
  }

  write(data: Buffer): void {
    if (this.failure || this.socket.destroyed) return; // the next read reports the failure
    writeCoalesced(this.socket, data);
  }

  /** Upgrade to TLS after a 220 reply to STARTTLS (RFC 3207). */
  async startTls(params: TlsParams, timeoutMs: number): Promise<void> {
    const ctx = { host: this.host, port: this.port, phase: 'tls' as Phase, command: 'STARTTLS', verify: params.verify };
    if (this.hasPending) {
      // Bytes after the 220 would be read as if they came over TLS: a response
      // injection (CVE-2011-0411 style). Refuse.
      this.destroy();
      throw new SendwellError('EPROTOCOL', `the relay ${this.host}:${this.port} sent data after its reply to STARTTLS`, {
        phase: 'tls',
        hint: 'this can be an attempt to inject replies into the TLS session; nothing was sent. Report it to the relay administrator',
      });
    }
    if (this.failure) throw this.failureError({ phase: 'tls', command: 'STARTTLS', option: 'commandMs' });
    const plain = this.socket;
    if (corked.delete(plain)) plain.uncork(); // nothing of the plain session may be left behind
    this.detach(plain);
    plain.on('error', () => {}); // errors surface on the TLS socket
    const secure = await new Promise<tls.TLSSocket>((resolve, reject) => {
      const sock = tls.connect({ socket: plain, ...tlsOptions(this.host, params) });
      let done = false;
      const timer = setTimeout(() => {
        if (done) return;
        done = true;
        sock.destroy();
        reject(timeoutError(ctx, timeoutMs, 'commandMs'));
      }, timeoutMs);
      sock.once('error', (err) => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        sock.destroy();
        reject(tlsError(err, ctx));
      });
      sock.once('secureConnect', () => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        resolve(sock);
      });
    }).catch((err: unknown) => {
      if (!this.failure) this.failure = { kind: 'error', err };
      throw err;
    });
    this.socket = secure;
    this.attach(secure);
    this.tlsInfo = tlsInfoOf(secure);
    this.trace?.(`TLS: ${this.tlsInfo.protocol ?? '?'} ${this.tlsInfo.cipher ?? ''} ${this.tlsInfo.authorized ? 'verified' : `not verified (${this.tlsInfo.authorizationError ?? 'unknown'})`}`);
  }

  /** Flush what was written, then close (destroyed for sure after a short grace period). */
  end(): void {
    if (!this.failure) this.failure = { kind: 'closed' };
    if (this.socket.destroyed) return;
    const sock = this.socket;
    sock.end();
    setTimeout(() => sock.destroy(), 1000).unref();
  }

  destroy(): void {
    if (!this.failure) this.failure = { kind: 'closed' };
    // What this turn wrote (a QUIT) still goes out first, as it did before writes were held.
    if (corked.delete(this.socket)) this.socket.uncork();
    this.socket.destroy();
  }
}

/**
 * Test doubles for the SMTP client: an in-process `smtp-server` with scripted
 * answers at every phase, and a raw `net` server for byte-exact cases.
 * Both listen on 127.0.0.1, port 0.
 */
import net from 'node:net';
import { randomBytes } from 'node:crypto';
import { SMTPServer, type SMTPServerAddress, type SMTPServerOptions, type SMTPServerSession } from 'smtp-server';
import { testPki, type KeyPair } from './tls.js';

/** An error an smtp-server handler passes to its callback: the client sees `code message`. */
export function smtpReply(code: number, message: string): Error & { responseCode: number } {
  return Object.assign(new Error(message), { responseCode: code });
}

export interface ReceivedMessage {
  from: string;
  to: string[];
  mailArgs: Record<string, string | true>;
  rcptArgs: Array<Record<string, string | true>>;
  raw: Buffer;
  secure: boolean;
  user: unknown;
  bodyType: string | undefined;
  smtpUtf8: boolean | undefined;
}

/** A scripted answer: undefined accepts, an Error (see smtpReply) refuses. */
type Script<A extends unknown[]> = (...args: A) => Error | undefined | Promise<Error | undefined>;

export interface TestServerOptions {
  /** none (default): no STARTTLS; starttls: offered; implicit: smtps. */
  tls?: 'none' | 'starttls' | 'implicit';
  /** Which certificate the server presents (default `good`, signed by the test CA). */
  cert?: 'good' | 'expired' | 'wrongHost' | 'selfSigned';
  /** Offer AUTH with these users (user → password). */
  users?: Record<string, string>;
  authMethods?: string[];
  /** Require AUTH before MAIL (530). */
  authRequired?: boolean;
  /** Answer AUTH with this error instead of checking users. */
  authFailure?: Error;
  size?: number;
  hidePIPELINING?: boolean;
  hide8BITMIME?: boolean;
  hideSMTPUTF8?: boolean;
  /** DSN is hidden unless this is false. */
  hideDSN?: boolean;
  /** Enhanced status codes are hidden unless this is false. */
  hideENHANCEDSTATUSCODES?: boolean;
  onConnect?: Script<[SMTPServerSession]>;
  onMailFrom?: Script<[SMTPServerAddress, SMTPServerSession]>;
  onRcptTo?: Script<[SMTPServerAddress, SMTPServerSession]>;
  /** Refuse the message after DATA (raw message given). */
  onData?: Script<[Buffer, SMTPServerSession]>;
  /** The 250 text after a message; default `Message queued as <id>`. */
  queuedText?: (id: string) => string;
  extra?: Partial<SMTPServerOptions>;
}

export interface TestServer {
  port: number;
  host: '127.0.0.1';
  messages: ReceivedMessage[];
  /** Number of client connections seen. */
  connections: number;
  /** Last queue id handed out. */
  lastQueueId: string | undefined;
  url(scheme?: 'smtp' | 'smtp+starttls' | 'smtps', query?: string): string;
  close(): Promise<void>;
}

export async function startSmtpServer(o: TestServerOptions = {}): Promise<TestServer> {
  const tlsMode = o.tls ?? 'none';
  const pair: KeyPair | undefined = tlsMode === 'none' ? undefined : testPki()[o.cert ?? 'good'];
  const disabled: string[] = [];
  if (tlsMode !== 'starttls') disabled.push('STARTTLS');
  if (!o.users && !o.authFailure) disabled.push('AUTH');
  const state: TestServer = {
    port: 0,
    host: '127.0.0.1',
    messages: [],
    connections: 0,
    lastQueueId: undefined,
    url(scheme = 'smtp', query) {
      return `${scheme}://127.0.0.1:${this.port}${query ? `?${query}` : ''}`;
    },
    close: async () => undefined,
  };
  const server = new SMTPServer({
    logger: false,
    disableReverseLookup: true,
    maxAllowedUnauthenticatedCommands: false,
    closeTimeout: 50,
    name: 'mx.example.test',
    secure: tlsMode === 'implicit',
    ...(pair ? { key: pair.key, cert: pair.cert } : {}),
    disabledCommands: disabled,
    authOptional: !o.authRequired,
    allowInsecureAuth: true,
    authMethods: o.authMethods ?? ['PLAIN', 'LOGIN'],
    ...(o.size !== undefined ? { size: o.size } : {}),
    hidePIPELINING: o.hidePIPELINING ?? false,
    hide8BITMIME: o.hide8BITMIME ?? false,
    hideSMTPUTF8: o.hideSMTPUTF8 ?? false,
    hideDSN: o.hideDSN ?? true,
    hideENHANCEDSTATUSCODES: o.hideENHANCEDSTATUSCODES ?? true,
    onConnect(session, cb) {
      state.connections++;
      Promise.resolve(o.onConnect?.(session)).then((e) => cb(e ?? null), cb);
    },
    onAuth(auth, _session, cb) {
      if (o.authFailure) return cb(o.authFailure);
      if (o.users && auth.username !== undefined && o.users[auth.username] === auth.password) return cb(null, { user: auth.username });
      return cb(smtpReply(535, '5.7.8 Authentication credentials invalid'));
    },
    onMailFrom(address, session, cb) {
      Promise.resolve(o.onMailFrom?.(address, session)).then((e) => cb(e ?? null), cb);
    },
    onRcptTo(address, session, cb) {
      Promise.resolve(o.onRcptTo?.(address, session)).then((e) => cb(e ?? null), cb);
    },
    onData(stream, session, cb) {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => {
        const raw = Buffer.concat(chunks);
        Promise.resolve(o.onData?.(raw, session)).then((err) => {
          if (err) return cb(err);
          const env = session.envelope;
          const from = env.mailFrom === false ? '' : env.mailFrom.address;
          state.messages.push({
            from,
            to: env.rcptTo.map((r) => r.address),
            mailArgs: (env.mailFrom !== false && env.mailFrom.args) || {},
            rcptArgs: env.rcptTo.map((r) => r.args || {}),
            raw,
            secure: session.secure,
            user: session.user,
            bodyType: env.bodyType,
            smtpUtf8: env.smtpUtf8,
          });
          const id = randomBytes(5).toString('hex').toUpperCase();
          state.lastQueueId = id;
          cb(null, (o.queuedText ?? ((i: string) => `Message queued as ${i}`))(id));
        }, cb);
      });
    },
    ...o.extra,
  });
  server.on('error', () => {
    // client resets during tests are expected
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  state.port = (server.server.address() as net.AddressInfo).port;
  state.close = () => new Promise<void>((resolve) => server.close(() => resolve()));
  return state;
}

/** One client connection to a raw server, seen line by line. */
export interface RawConnection {
  socket: net.Socket;
  /** Every chunk received on this connection, as received (latin1). */
  chunks: string[];
  /** Next line (without CRLF); rejects when the connection closes. */
  readLine(): Promise<string>;
  /** Read up to and including the line "." (message data). */
  readData(): Promise<string>;
  write(text: string): void;
}

export interface RawServer {
  port: number;
  url(scheme?: string, query?: string): string;
  /** Every connection's chunks, in order. */
  connections: RawConnection[];
  close(): Promise<void>;
}

/** A raw TCP server: `handler` scripts each connection byte by byte. */
export async function startRawServer(handler: (c: RawConnection) => void | Promise<void>): Promise<RawServer> {
  const connections: RawConnection[] = [];
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => undefined);
    let buffer = '';
    let closed = false;
    const waiting: Array<{ resolve: (l: string) => void; reject: (e: Error) => void }> = [];
    const lines: string[] = [];
    const conn: RawConnection = {
      socket,
      chunks: [],
      readLine() {
        const l = lines.shift();
        if (l !== undefined) return Promise.resolve(l);
        if (closed) return Promise.reject(new Error('closed'));
        return new Promise((resolve, reject) => waiting.push({ resolve, reject }));
      },
      async readData() {
        const out: string[] = [];
        for (;;) {
          const l = await conn.readLine();
          out.push(l);
          if (l === '.') return out.join('\r\n') + '\r\n';
        }
      },
      write(text: string) {
        if (!socket.destroyed) socket.write(text);
      },
    };
    connections.push(conn);
    socket.on('data', (d: Buffer) => {
      const s = d.toString('latin1');
      conn.chunks.push(s);
      buffer += s;
      let i: number;
      while ((i = buffer.indexOf('\r\n')) >= 0) {
        const line = buffer.slice(0, i);
        buffer = buffer.slice(i + 2);
        const w = waiting.shift();
        if (w) w.resolve(line);
        else lines.push(line);
      }
    });
    socket.on('close', () => {
      closed = true;
      for (const w of waiting.splice(0)) w.reject(new Error('closed'));
    });
    Promise.resolve(handler(conn)).catch(() => socket.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  return {
    port,
    url: (scheme = 'smtp', query) => `${scheme}://127.0.0.1:${port}${query ? `?${query}` : ''}`,
    connections,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

/** A port on 127.0.0.1 that nothing listens on (bound, then closed). */
export async function freePort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
  const port = (s.address() as net.AddressInfo).port;
  await new Promise<void>((resolve) => s.close(() => resolve()));
  return port;
}

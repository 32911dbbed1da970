/**
 * The SMTP Transport: one session kept open between sends.
 *
 * - Sends are serialised (one transaction at a time on the one connection).
 * - Before reusing the connection: RSET if the last transaction did not end
 *   cleanly, NOOP if it was idle for more than REUSE_NOOP_AFTER_MS; if that
 *   fails (closed, 421, timeout), a new connection is opened.
 * - A connection is retired after MAX_MESSAGES_PER_CONNECTION messages or
 *   MAX_CONNECTION_AGE_MS (relays cap session lifetime, e.g. "421 session maximum
 *   lifetime exceeded"), and closed with QUIT after IDLE_CLOSE_MS without sends.
 * - While idle the socket does not keep the process alive, so a script that
 *   forgets close() still exits.
 */
import type net from 'node:net';
import { SendwellError } from '../../errors.js';
import type { Envelope, RelayInfo, Transport, TransportResult } from '../types.js';
import type { SmtpTarget } from '../url.js';
import { SmtpSession, type SessionParams } from './session.js';

/** Symfony pings after 100 s; relays like SES drop idle sessions after ~10 s, so check sooner. */
export const REUSE_NOOP_AFTER_MS = 5_000;
/** QUIT an idle connection after this long (Postfix caches its own for 2 s; be a little more patient). */
export const IDLE_CLOSE_MS = 10_000;
/** Nodemailer's pool default: a fresh connection every 100 messages. */
export const MAX_MESSAGES_PER_CONNECTION = 100;
/** Postfix smtp_connection_reuse_time_limit: 300 s. */
export const MAX_CONNECTION_AGE_MS = 300_000;
/**
 * The RSET/NOOP check before reuse waits at most this long (or commandMs if
 * shorter): a healthy relay answers at once, and a new connection is cheap.
 */
export const REUSE_CHECK_TIMEOUT_MS = 10_000;

export interface SmtpTransportParams extends Omit<SessionParams, 'ca'> {
  target: SmtpTarget;
  /** Reads relay.ca_file (once, at the first connection). */
  loadCa?: (() => Promise<string | undefined>) | undefined;
  lookup?: net.LookupFunction | undefined;
}

function isConnectionFailure(err: unknown): boolean {
  return err instanceof SendwellError && (err.code === 'ECONNECTION' || err.code === 'ETIMEDOUT' || err.code === 'EPROTOCOL');
}

interface Pending {
  envelope: Envelope;
  raw: Buffer;
  resolve: (r: TransportResult) => void;
  reject: (e: unknown) => void;
}

export class SmtpTransport implements Transport {
  readonly name = 'smtp';
  private session: SmtpSession | undefined;
  private chain: Promise<unknown> = Promise.resolve();
  /** Sends waiting their turn; the first one is in progress. The next one may be pipelined. */
  private readonly waiting: Pending[] = [];
  private idleTimer: NodeJS.Timeout | undefined;
  private ca: string | undefined;
  private caLoaded = false;
  private closed = false;

  constructor(private readonly params: SmtpTransportParams) {}

  send(envelope: Envelope, raw: Buffer): Promise<TransportResult> {
    // Sends issued before close() still run; later ones are refused.
    if (this.closed) return Promise.reject(new SendwellError('EUSAGE', 'the transport was closed', { hint: 'create a new transport (or mailer) to send again' }));
    return new Promise<TransportResult>((resolve, reject) => {
      this.waiting.push({ envelope, raw, resolve, reject });
      if (this.waiting.length === 1) this.chain = this.chain.then(() => this.pump());
    });
  }

  /** What the relay offers (SIZE, 8BITMIME, SMTPUTF8…), from its EHLO; the connection is kept for the next send. */
  probe(): Promise<RelayInfo> {
    if (this.closed) return Promise.reject(new SendwellError('EUSAGE', 'the transport was closed', { hint: 'create a new transport to probe again' }));
    const run = this.chain.then(async () => {
      this.clearIdle();
      const { session } = await this.acquire();
      this.session = session;
      session.ref(false);
      this.scheduleIdle();
      return session.info;
    });
    this.chain = run.catch(() => undefined);
    return run;
  }

  /** Run queued sends one after another; the one after the current is offered for pipelining. */
  private async pump(): Promise<void> {
    while (this.waiting.length > 0) {
      const item = this.waiting[0]!;
      try {
        item.resolve(await this.sendNow(item.envelope, item.raw, () => this.waiting[1]));
      } catch (err) {
        item.reject(err);
      }
      this.waiting.shift();
    }
  }

  private async open(): Promise<SmtpSession> {
    if (!this.caLoaded && this.params.loadCa) {
      this.ca = await this.params.loadCa();
      this.caLoaded = true;
    }
    const session = await SmtpSession.open({ ...this.params, ca: this.ca });
    session.maxMessages = MAX_MESSAGES_PER_CONNECTION;
    return session;
  }

  /** A session ready for a transaction: the kept one if it still works, else a new one. */
  private async acquire(): Promise<{ session: SmtpSession; reused: boolean }> {
    const old = this.session;
    this.session = undefined;
    if (old && !old.closed && old.prefetched) {
      // This send's commands are already on the wire after the last message: no RSET/NOOP in between.
      return { session: old, reused: true };
    }
    if (old && !old.closed) {
      const now = Date.now();
      if (old.conn.hasPending) {
        // The relay said something unasked while idle (typically 421 before closing).
        old.destroy();
      } else if (old.messagesSent >= MAX_MESSAGES_PER_CONNECTION || now - old.createdAt >= MAX_CONNECTION_AGE_MS) {
        await old.quit();
      } else {
        try {
          old.ref(true);
          const wait = Math.min(REUSE_CHECK_TIMEOUT_MS, this.params.timeouts.commandMs);
          if (old.needsReset) await old.reset(wait);
          else if (now - old.lastUsed >= REUSE_NOOP_AFTER_MS) await old.noop(wait);
          return { session: old, reused: true };
        } catch {
          old.destroy();
        }
      }
    } else if (old) {
      old.destroy();
    }
    return { session: await this.open(), reused: false };
  }

  private async sendNow(envelope: Envelope, raw: Buffer, next?: () => { envelope: Envelope; raw: Buffer } | undefined): Promise<TransportResult> {
    this.clearIdle();
    // This send's commands already went out behind the last message: no await (and no tick) to get the session.
    const pipelined = this.session && !this.session.closed && this.session.prefetched ? this.session : undefined;
    if (pipelined) this.session = undefined;
    let { session, reused } = pipelined ? { session: pipelined, reused: true } : await this.acquire();
    try {
      let result: TransportResult;
      try {
        result = await session.send(envelope, raw, next);
      } catch (err) {
        // A reused connection that died before the relay answered MAIL FROM
        // delivered nothing: try once more on a fresh connection.
        if (!reused || !isConnectionFailure(err) || session.mailAnswered) throw err;
        session.destroy();
        session = await this.open();
        reused = false;
        result = await session.send(envelope, raw, next);
      }
      return result;
    } catch (err) {
      if (session.closed || isConnectionFailure(err) || (err instanceof SendwellError && err.responseCode === 421)) session.destroy();
      throw err;
    } finally {
      if (!session.closed) {
        this.session = session;
        session.ref(false);
        // With the next transaction already pipelined, the next send follows at once.
        if (!session.prefetched) this.scheduleIdle();
      }
    }
  }

  private clearIdle(): void {
    if (this.idleTimer) clearTimeout(this.idleTimer);
    this.idleTimer = undefined;
  }

  private scheduleIdle(): void {
    this.clearIdle();
    this.idleTimer = setTimeout(() => {
      this.idleTimer = undefined;
      this.chain = this.chain.then(async () => {
        const s = this.session;
        this.session = undefined;
        await s?.quit();
      });
    }, IDLE_CLOSE_MS);
    this.idleTimer.unref();
  }

  /** Wait for sends in progress, then QUIT. */
  async close(): Promise<void> {
    this.closed = true;
    await this.chain;
    this.clearIdle();
    const s = this.session;
    this.session = undefined;
    if (s) {
      s.ref(true);
      await s.quit();
    }
  }
}

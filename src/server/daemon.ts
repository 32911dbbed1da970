/**
 * `sendwell serve`: the local SMTP relay, the HTTP API and the queue worker in
 * one process. Stops gracefully on SIGTERM/SIGINT (stop accepting, let
 * deliveries in flight finish, release the rest), reloads on SIGHUP.
 */
import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { SendwellError } from '../errors.js';
import type { ImapSettings } from '../bounce/imap.js';
import { relayOptionsFromConfig, type ResolvedConfig } from '../config/load.js';
import { createMailer, type Mailer } from '../mailer.js';
import { QueueService } from '../queue/service.js';
import { createTransport, type RelayOptions } from '../transport/index.js';
import type { Transport } from '../transport/types.js';
import { Credentials } from './credentials.js';
import { lintMessage, policyError } from '../policy/index.js';
import { maildropPath, type DropFile } from '../queue/maildrop.js';
import { checkMessageDsn, dsnFields } from '../queue/dsn-params.js';
import { Pickup, userName } from './pickup.js';
import { createHttpApi } from './http/index.js';
import { createSmtpListener, type SmtpListenerOptions } from './smtp/listener.js';
import { SuppressionList } from '../bounce/suppression.js';
import { loadVerpSecret, parseVerp } from '../bounce/verp.js';
import { mailtoUnsubscriber, parseUnsubscribeMailto } from '../consent/bulk.js';
import { consentRoutes } from '../consent/routes.js';
import { ConsentService } from '../consent/service.js';
import { createForms } from '../forms/routes.js';
import { dkimSign, loadDkimKey, type DkimKey } from '../message/dkim.js';
import { clientIpResolver } from './http/client-ip.js';
import type { ExtraRoute } from './http/api.js';

export type LogLevel = 'error' | 'warning' | 'info';
export type Logger = (level: LogLevel, text: string) => void;

/** journald reads `<N>` priority prefixes on stderr (sd-daemon(3)); plain lines elsewhere. */
export function journalLogger(stream: NodeJS.WritableStream = process.stderr, journald = Boolean(process.env.JOURNAL_STREAM)): Logger {
  const prio: Record<LogLevel, number> = { error: 3, warning: 4, info: 6 };
  return (level, text) => {
    for (const line of text.split('\n')) stream.write(journald ? `<${prio[level]}>${line}\n` : `sendwell: ${level === 'info' ? '' : `${level}: `}${line}\n`);
  };
}

export interface ServeOptions {
  config: ResolvedConfig;
  stateDir: string;
  smtp?: boolean;
  http?: boolean;
  /** Relay URL overriding the config (`--relay`). */
  relay?: string;
  /** Refuse to start without a configured relay (the systemd unit sets this). */
  requireRelay?: boolean;
  log?: Logger;
}

export interface ServeAddresses {
  smtp: Array<{ address: string; port: number; tls: boolean }>;
  http?: { address: string; port: number };
  relay: string;
  capture: boolean;
}

/** How often the relay's capabilities (SIZE, 8BITMIME, SMTPUTF8) are looked at again. */
const PROBE_EVERY_MS = 10 * 60_000;
/** SIGTERM: deliveries in flight get this long to finish before connections are closed. */
export const STOP_GRACE_MS = 20_000;

interface Upstream {
  maxSize?: number;
  eightBitMime?: boolean;
  smtputf8?: boolean;
}

export class Daemon {
  private readonly abort = new AbortController();
  private running: Promise<void> = Promise.resolve();
  private stopping: Promise<void> | undefined;
  private upstream: Upstream | undefined;
  private probeTimer: NodeJS.Timeout | undefined;
  private imapTimer: NodeJS.Timeout | undefined;
  private closers: Array<() => Promise<void>> = [];
  /** Lists and consent (R1): the HTTP pages and API, mailto unsubscribes, web-form receipts. */
  consent!: ConsentService;
  /** `[dkim] sign = "all"`: mail from the maildrop and the SMTP listener is signed here. */
  private dkim: DkimKey | undefined;

  private constructor(
    readonly options: ServeOptions,
    readonly service: QueueService,
    readonly mailer: Mailer,
    readonly credentials: Credentials,
    readonly addresses: ServeAddresses,
    private readonly log: Logger,
    private readonly probeTransport: Transport | undefined,
  ) {}

  /** Start everything; resolves when the listeners accept connections. */
  static async start(options: ServeOptions): Promise<Daemon> {
    const { config, stateDir } = options;
    const log = options.log ?? journalLogger();
    const relay = chooseRelay(options);
    if (relay.capture) {
      if (options.requireRelay) {
        throw new SendwellError('ECONFIG', 'no relay is configured, and --require-relay refuses to run in capture mode', {
          hint: 'configure the relay the guide names for this host, e.g. `sendwell init --preset local|submission|smarthost` (C1-C3)',
        });
      }
      log('warning', `NO RELAY CONFIGURED: outgoing mail is CAPTURED in ${relay.captureDir}, not sent. Configure one with \`sendwell init --preset …\` (C1-C3).`);
    }
    const service = QueueService.fromConfig(config, stateDir, { relay: relay.options, backlogThread: true });
    // The API submits through a mailer that shares the daemon's queue directory.
    const mailer = createMailer({ config: { ...config, stateDir }, stateDir, relay: relay.options, submitter: 'api', maildrop: false });
    const credentials = new Credentials(stateDir);
    const probeTransport = relay.capture || relay.options.url.startsWith('sendmail:') ? undefined : createTransport(relay.options);
    const addresses: ServeAddresses = { smtp: [], relay: service.relayName, capture: relay.capture };
    const d = new Daemon(options, service, mailer, credentials, addresses, log, probeTransport);
    try {
      await d.startParts(relay.capture);
    } catch (err) {
      await d.shutdown(0);
      throw err;
    }
    return d;
  }

  private async startParts(capture: boolean): Promise<void> {
    const { config } = this.options;
    const host = hostname();
    const wake = () => this.service.worker.wake();
    this.service.worker.recover();
    const d = config.dkim;
    if (d?.sign === 'all') this.dkim = loadDkimKey(d.privateKeyFile, d.domain, d.selector);
    this.consent = ConsentService.fromConfig(config, this.service.stateDir, {
      // Confirmation mails are queued; the worker delivers them (an HTTP answer does not wait for the relay).
      send: async (mail, submitter) => {
        const r = await this.mailer.send(mail, { queueOnly: true, submitter });
        wake();
        return r;
      },
      log: (line) => this.log('info', line),
    });
    this.closers.push(async () => this.consent.close());
    void this.refreshUpstream();
    this.probeTimer = setInterval(() => void this.refreshUpstream(), PROBE_EVERY_MS);
    this.probeTimer.unref();

    if (this.options.smtp !== false) {
      // SMTP submissions commit on a thread of their own (group commit while the
      // event loop keeps serving the other clients); the 250 still waits for it.
      await this.service.startSubmitThread();
      const s = config.smtp;
      const tls = s.tlsCertFile && s.tlsKeyFile ? { cert: readFileSync(s.tlsCertFile), key: readFileSync(s.tlsKeyFile) } : undefined;
      const listener = createSmtpListener({
        listen: s.listen,
        tlsListen: s.tlsListen,
        ...(tls ? { tls } : {}),
        allowNetworks: s.allowNetworks,
        requireAuth: s.requireAuth,
        maxMessageBytes: s.maxMessageBytes,
        maxConnectionsPerClient: s.maxConnectionsPerClient,
        messagesPerClientPerMinute: s.messagesPerClientPerMinute,
        service: this.service,
        credentials: this.credentials,
        policy: config.policy,
        upstream: () => this.upstream,
        ...this.bounceOptions(),
        hostname: host,
        ...(this.dkim ? { sign: (raw: Buffer) => dkimSign(raw, this.dkim!) } : {}),
        onQueued: wake,
        log: (line) => this.log('info', line),
      });
      this.addresses.smtp = await listener.listen();
      this.closers.push(() => listener.close());
    }
    if (this.options.http !== false) {
      const formRoutes = this.startForms(wake);
      const api = createHttpApi({
        listen: config.http.listen,
        maxBodyBytes: config.http.maxBodyBytes,
        mailer: this.mailer,
        store: this.service.store,
        credentials: this.credentials,
        metrics: () => ({ worker: this.service.worker.metrics, relayMode: capture ? 'capture' : 'relay' }),
        onQueued: wake,
        health: () => this.health(),
        log: (level, line) => this.log(level === 'error' ? 'error' : 'info', line),
        routes: [...consentRoutes({ consent: this.consent, mailer: this.mailer, clientIp: clientIpResolver(config.http.trustedProxies), maxBodyBytes: config.http.maxBodyBytes, onQueued: wake }), ...formRoutes],
      });
      this.addresses.http = await api.listen();
      this.closers.push(() => api.close());
      this.log('info', `http: listening on ${this.addresses.http.address}:${this.addresses.http.port}`);
    }
    // Local users' CLI, sendmail drop-in and library hand their mail to this daemon.
    const pickup = new Pickup(maildropPath(this.service.stateDir), (file, uid) => this.pickup(file, uid), this.log);
    pickup.start();
    this.closers.push(() => pickup.stop());
    if (config.bounces.imap) this.startImapPolling(config.bounces.imap);
    this.running = this.service.worker.run(this.abort.signal).catch((err) => {
      this.log('error', `worker stopped: ${(err as Error).message}`);
    });
    this.log('info', `worker: delivering via ${this.service.relayName}${capture ? ' (capture mode)' : ''}, state in ${this.service.stateDir}`);
  }

  /** Web forms (R10): `[forms.NAME]` at POST /forms/{name}; receipts wait for the double opt-in. */
  private startForms(wake: () => void): ExtraRoute[] {
    const { config } = this.options;
    if (Object.keys(config.forms).length === 0) return [];
    // The daemon's one consent service: its /confirm pages run the receipt handler registered here.
    const forms = createForms({ config, mailer: this.mailer, confirmations: this.consent, stateDir: this.service.stateDir, clientIp: clientIpResolver(config.http.trustedProxies), onQueued: wake, log: (level, line) => this.log(level, line) });
    this.closers.push(async () => forms.close());
    return forms.routes;
  }

  /** `[bounces.imap]`: poll now and then every poll_interval (never two polls at once); stops with the daemon. */
  private startImapPolling(imap: ImapSettings): void {
    const stop = new AbortController();
    let inFlight: Promise<void> = Promise.resolve();
    const poll = async () => {
      const { pollImap, pollSummary } = await import('../bounce/imap.js');
      const b = this.options.config.bounces;
      const suppression = new SuppressionList(this.service.stateDir, b.suppression);
      try {
        const verp = b.address ? { address: b.address, secret: loadVerpSecret(b.secretFile ?? join(this.service.stateDir, 'bounce.key')) } : undefined;
        const unsubscribe = b.address ? { unsubscribe: mailtoUnsubscriber(this.consent, b.address) } : {};
        const r = await pollImap(imap, { store: this.service.store, suppression, ...(verp ? { verp } : {}), ...unsubscribe, ...this.operatorAlert(), log: this.service.log }, { signal: stop.signal });
        if (r.found > 0) this.log(r.left > 0 ? 'warning' : 'info', `bounce poll: ${pollSummary(r).join('\n')}`);
      } catch (err) {
        this.log(err instanceof SendwellError && err.temporary ? 'warning' : 'error', `bounce poll: ${(err as Error).message}${err instanceof SendwellError && err.hint ? ` (${err.hint})` : ''}`);
      } finally {
        suppression.close();
      }
    };
    const tick = () => {
      inFlight = poll().finally(() => {
        if (!stop.signal.aborted) {
          this.imapTimer = setTimeout(tick, imap.pollIntervalMs);
          this.imapTimer.unref();
        }
      });
    };
    tick();
    this.log('info', `bounce poll: ${imap.url} every ${Math.round(imap.pollIntervalMs / 1000)}s`);
    this.closers.push(async () => {
      stop.abort();
      if (this.imapTimer) clearTimeout(this.imapTimer);
      // A poll stops between messages; one stuck on the network is not waited for beyond the grace time.
      await Promise.race([inFlight, new Promise<void>((r) => setTimeout(r, STOP_GRACE_MS).unref())]);
    });
  }

  /** A message from the maildrop: checked like any submission, queued under the file owner's name. */
  private async pickup(file: DropFile, uid: number): Promise<{ queueId: string; held: string[] }> {
    const raw = Buffer.from(file.raw, 'base64');
    const report = await lintMessage(raw, {
      now: new Date(),
      envelope: { from: file.envelopeFrom, to: file.recipients },
      submission: true,
      policy: this.options.config.policy,
    });
    if (!report.ok) throw policyError(report);
    const head = raw.toString('latin1', 0, Math.min(raw.length, 64 * 1024));
    const messageId = /^Message-ID:\s*(<[^>\r\n]+>)/im.exec(head)?.[1] ?? '<unknown>';
    const user = userName(uid);
    // The file comes from any local user: its DSN parameters are checked like the library's.
    const dsn = checkMessageDsn(file.dsn, 'maildrop dsn');
    const r = this.service.submit({
      raw: this.dkim ? await dkimSign(raw, this.dkim) : raw,
      messageId,
      envelopeFrom: file.envelopeFrom,
      recipients: file.recipients,
      submitter: `local:${user}`,
      ...dsnFields(dsn),
      // Keys are per user: one user cannot collide with (or probe) another's.
      ...(file.idempotencyKey ? { idempotencyKey: `local:${uid}:${file.idempotencyKey}` } : {}),
    });
    this.log('info', `maildrop: queued ${r.queueId} from ${user} (uid ${uid}) nrcpt=${file.recipients.length}`);
    this.service.worker.wake();
    return { queueId: r.queueId, held: r.held };
  }

  /**
   * With a bounce address, the listener takes bounces for its domain from any
   * relay (null sender, valid VERP address only) and ingests them at once.
   */
  private bounceOptions(): Pick<SmtpListenerOptions, 'bounceDomain' | 'acceptBounceRecipient' | 'acceptUnsubscribeRecipient' | 'onBounce'> {
    const b = this.options.config.bounces;
    if (!b.address) return {};
    const base = b.address.toLowerCase();
    const verp = b.verp ? { address: b.address, secret: loadVerpSecret(b.secretFile ?? join(this.service.stateDir, 'bounce.key')) } : undefined;
    const suppression = new SuppressionList(this.service.stateDir, b.suppression);
    this.closers.push(async () => suppression.close());
    return {
      bounceDomain: base.slice(base.lastIndexOf('@') + 1),
      acceptBounceRecipient: (address) => address.toLowerCase() === base || (verp !== undefined && parseVerp(verp, address) !== null),
      acceptUnsubscribeRecipient: (address) => parseUnsubscribeMailto(b.address!, address) !== null,
      onBounce: async (raw, recipients) => {
        const { ingestBounce } = await import('../bounce/ingest.js');
        const unsubscribe = mailtoUnsubscriber(this.consent, b.address!);
        // The listener lets anyone mail an unsubscribe address; such mail is never a bounce, or a guessed token would let a forged DSN suppress anyone.
        if (recipients.every((r) => parseUnsubscribeMailto(b.address!, r) !== null)) {
          for (const r of recipients) {
            const u = unsubscribe(r);
            const text = u ? `unsubscribe by mail: <${u.address}> left list ${u.list} (R1)` : `unsubscribe by mail: <${r}> names no subscription; ignored`;
            this.service.log.write({ event: 'notice', time: Date.now(), level: u ? 'info' : 'warning', text });
          }
          return;
        }
        await ingestBounce(raw, { store: this.service.store, suppression, ...(verp ? { verp } : {}), unsubscribe, ...this.operatorAlert(), log: this.service.log }, recipients[0] ? { recipient: recipients[0] } : {});
      },
    };
  }

  /** `[bounces] operator`: alerts are queued to the operator; the worker delivers them. */
  private operatorAlert(): { alertOperator?: (subject: string, text: string) => Promise<void> } {
    const to = this.options.config.bounces.operator;
    if (!to) return {};
    return {
      alertOperator: async (subject, text) => {
        await this.mailer.send({ to, subject, text }, { queueOnly: true, submitter: 'sendwell:alerts' });
        this.service.worker.wake();
      },
    };
  }

  /** For /healthz and `sendwell doctor`. */
  health(): { ok: boolean; relay: string; capture: boolean; warnings: string[] } {
    const warnings: string[] = [];
    if (this.addresses.capture) warnings.push('no relay configured: mail is captured, not sent');
    const counts = this.service.store.countByState();
    if (counts.held > 0) warnings.push(`${counts.held} recipient(s) held (sendwell queue)`);
    return { ok: !this.stopping, relay: this.addresses.relay, capture: this.addresses.capture, warnings };
  }

  private async refreshUpstream(): Promise<void> {
    if (!this.probeTransport?.probe) return;
    try {
      const info = await this.probeTransport.probe();
      const ext = new Set(info.extensions ?? []);
      this.upstream = { eightBitMime: ext.has('8BITMIME'), smtputf8: ext.has('SMTPUTF8'), ...(info.maxSize ? { maxSize: info.maxSize } : {}) };
    } catch (err) {
      // The worker reports delivery problems; here we only lose the SIZE hint until the next probe.
      this.log('warning', `relay probe failed: ${(err as Error).message}`);
    }
  }

  /** Stop accepting, give deliveries in flight `graceMs`, then close everything. Idempotent. */
  stop(graceMs = STOP_GRACE_MS): Promise<void> {
    this.stopping ??= this.shutdown(graceMs);
    return this.stopping;
  }

  private async shutdown(graceMs: number): Promise<void> {
    this.log('info', 'stopping: no new connections; finishing deliveries in flight');
    if (this.probeTimer) clearInterval(this.probeTimer);
    await Promise.allSettled(this.closers.map((c) => c()));
    this.abort.abort();
    const timedOut = await Promise.race([this.running.then(() => false), new Promise<boolean>((r) => setTimeout(() => r(true), graceMs).unref())]);
    if (timedOut) this.log('warning', `deliveries still running after ${graceMs} ms: their recipients go back to the queue at the next start`);
    await Promise.allSettled([this.service.close(), this.mailer.close(), this.probeTransport?.close()]);
    this.credentials.close();
    this.log('info', 'stopped');
  }
}

function chooseRelay(options: ServeOptions): { options: RelayOptions; capture: boolean; captureDir?: string } {
  const { config, stateDir } = options;
  if (options.relay) return { options: { ...relayOptionsFromConfig(config), url: options.relay }, capture: options.relay.startsWith('capture:') };
  if (config.relayConfigured) return { options: relayOptionsFromConfig(config), capture: config.relay.url.startsWith('capture:') };
  const captureDir = join(stateDir, 'captured');
  return { options: { url: `capture:${captureDir}` }, capture: true, captureDir };
}

/**
 * The library's front door: `createMailer(options)` composes, lints and sends.
 */
import { userInfo } from 'node:os';
import { SendwellError, type ErrorCode, type RecipientOutcome } from './errors.js';
import { dropMessage, runningMaildrop } from './queue/maildrop.js';
import { composeMail, type ComposedMessage, type Mail } from './message/compose.js';
import { parseMailbox, type AddressInput } from './message/address.js';
import { DEFAULT_POLICY, lintMessage, policyError } from './policy/index.js';
import { DEFAULT_SPAM, spamFindings, spamPreflight, spamRefusal, type SpamOptions, type SpamReport } from './policy/spam/index.js';

export { policyError };
import type { Finding, LintReport, PolicyOptions } from './policy/types.js';
import { createTransport, type RelayOptions } from './transport/index.js';
import type { DsnOptions, Envelope, RelayInfo, Transport } from './transport/types.js';
import { relayOptionsFromConfig, type ResolvedConfig } from './config/load.js';

export { relayOptionsFromConfig };
import { contentHash, QueueService } from './queue/service.js';
import { checkMessageDsn, dsnFields, type MessageDsn } from './queue/dsn-params.js';
import type { RecipientState } from './queue/states.js';
import type { RecipientRow } from './queue/store.js';
import { bulkMail } from './consent/bulk.js';
import { ConsentService } from './consent/service.js';
import { dkimSign, loadDkimKey, type DkimKey } from './message/dkim.js';

export interface MailerOptions {
  /** Effective config from `loadConfig()`; the options below override it. */
  config?: ResolvedConfig;
  /** Relay URL (e.g. `smtp://localhost:25`) or full relay options. */
  relay?: string | RelayOptions;
  /** Use this transport instead of building one from `relay`. */
  transport?: Transport;
  /** Default From for mails that give none. */
  from?: AddressInput;
  /** Default envelope sender (bounce address); default: the From address. */
  envelopeFrom?: string;
  replyTo?: AddressInput;
  policy?: Partial<PolicyOptions>;
  dsn?: DsnOptions;
  /** Injectable clock for Date headers and H2 checks. */
  clock?: () => Date;
  /** Left-hand side of generated Message-IDs. */
  idGenerator?: () => string;
  /** Default `Auto-Submitted` value; `false` leaves the header out. */
  autoSubmitted?: string | false;
  /**
   * Queue directory. With it (or `config.stateDir`), `send()` queues durably
   * first, then attempts delivery; without it, `send()` delivers directly.
   */
  stateDir?: string;
  /** Who submits, for the flood brake and per-sender limits (default: the OS user). */
  submitter?: string;
  /**
   * Hand mail to a running `sendwell serve` for this state directory through its
   * maildrop (default true), so all local users share its queue, limits and log.
   */
  maildrop?: boolean;
  /**
   * The spam preflight (R6; config `[spam]`): the built-in rules always run in `send()`;
   * spamd/rspamd when given. Above `threshold` (5.0) `send()` adds a warning finding
   * (`action: 'warn'`, default) or throws EPOLICY (`'refuse'`).
   */
  spam?: Partial<SpamOptions>;
  /** DKIM key (config `[dkim]`): signs list mail, and every mail with `dkimSignAll`. */
  dkim?: DkimKey;
  dkimSignAll?: boolean;
  /** Base of unsubscribe links in list mail (config `http.public_url`). */
  publicUrl?: string;
}

export interface ListSendOptions {
  /** Only these addresses (each needs consent for the list); default: every confirmed subscriber. */
  to?: AddressInput | AddressInput[];
  /** Makes a repeated run of the same list send safe: `<key> <address>` per message. */
  idempotencyKey?: string;
  queueOnly?: boolean;
  submitter?: string;
}

export interface ListSendResult {
  list: string;
  /** One message per subscriber. */
  sent: Array<{ address: string; queueId: string; messageId: string; state: RecipientState; existing: boolean }>;
  /** Addresses without a recorded consent for the list: not sent to (R1). */
  refused: Array<{ address: string; reason: string }>;
  findings: Finding[];
}

export interface SendOptions {
  /** Queue only; leave delivery to `sendwell worker` / `sendwell flush`. */
  queueOnly?: boolean;
  /** A repeat with the same key returns the message queued the first time. */
  idempotencyKey?: string;
  /** Who submits this message (overrides the mailer's `submitter`), e.g. `api:<token name>`. */
  submitter?: string;
  /**
   * This message's DSN parameters (RFC 3461), over the mailer's `dsn` / `[dsn]`:
   * `notify` (`['NEVER']` or any of SUCCESS, FAILURE, DELAY), `ret` (FULL, HDRS),
   * `envid` (sent as ENVID instead of the queue ID, and returned in notices as
   * Original-Envelope-Id). Queued mail keeps them for every retry, and sendwell's
   * own failure notices and delay warnings follow `notify`.
   */
  dsn?: MessageDsn;
}

/** A recipient's outcome; with a queue also its queue state. */
export interface SendRecipient extends RecipientOutcome {
  state?: RecipientState;
  /** For deferred recipients: when the next attempt is due (epoch ms). */
  nextAttemptAt?: number;
}

export interface SendResult {
  messageId: string;
  envelope: Envelope;
  /** Outcome per envelope recipient. */
  recipients: SendRecipient[];
  /** With a queue: the queue ID (`sendwell queue show ID`). */
  queueId?: string;
  /** With a queue and an idempotency key: this key had been used, nothing new was queued. */
  existing?: boolean;
  /** With a queue: why (part of) the message is held. */
  held?: string[];
  /** Handed to a running `sendwell serve` (its worker delivers it). */
  viaDaemon?: boolean;
  accepted: string[];
  rejected: string[];
  /** The relay's final reply, e.g. `250 2.0.0 Ok: queued as 4AbC`. */
  response?: string;
  /** The relay's queue ID, to find the mail in its log (T2). */
  relayQueueId?: string;
  relay: RelayInfo;
  /** Lint warnings (errors would have stopped the send). */
  findings: Finding[];
}

export interface Mailer {
  /**
   * Compose, lint and send. Without a queue it rejects with `SendwellError`
   * when nothing was accepted; with a queue it resolves once the message is
   * durably queued (see each recipient's `state`) and rejects only when
   * nothing could be saved.
   */
  send(mail: Mail, options?: SendOptions): Promise<SendResult>;
  /**
   * Bulk mail to a list (R1): one message per subscriber with a recorded
   * consent, each with the list's reason, List-Id, List-Unsubscribe (one-click)
   * and, with a DKIM key, signed. Needs a queue and `publicUrl`.
   */
  sendToList(list: string, mail: Mail, options?: ListSendOptions): Promise<ListSendResult>;
  /** The queue, when the mailer has one. */
  readonly queue: QueueService | undefined;
  /** The consent registry (lists, subscriptions), when the mailer has a queue. */
  readonly consent: ConsentService | undefined;
  /** The RFC 5322 bytes and envelope, without sending. */
  compose(mail: Mail): Promise<ComposedMessage>;
  /** Lint a mail (composed first) or any raw RFC 5322 message. */
  lint(mailOrRaw: Mail | Buffer | string): Promise<LintReport>;
  /** The spam preflight (R6) of a mail (composed first) or a raw message: built-in score and configured scanners. */
  spamCheck(mailOrRaw: Mail | Buffer | string): Promise<SpamReport>;
  close(): Promise<void>;
}



/**
 * Create a mailer.
 *
 * @example
 * const mailer = createMailer({ relay: 'smtp://localhost:25', from: 'Jane Doe <jane@example.org>' });
 * const result = await mailer.send({ to: 'bob@example.org', subject: 'Report', text: 'Done.' });
 * await mailer.close();
 */
export function createMailer(options: MailerOptions = {}): Mailer {
  const config = options.config;
  const policy: PolicyOptions = { ...DEFAULT_POLICY, ...config?.policy, ...options.policy };
  const clock = options.clock ?? (() => new Date());
  const spam: SpamOptions = { ...DEFAULT_SPAM, ...config?.spam, ...options.spam };
  const dsn = options.dsn ?? config?.dsn;
  let transport: Transport | undefined = options.transport;
  const stateDir = options.stateDir ?? config?.stateDir;
  let queue: QueueService | undefined;
  const getQueue = (): QueueService | undefined => {
    if (!stateDir) return undefined;
    queue ??= config
      ? QueueService.fromConfig({ ...config, stateDir }, stateDir, {
          ...(options.relay !== undefined ? { relay: typeof options.relay === 'string' ? { ...relayOptionsFromConfig(config), url: options.relay } : options.relay } : {}),
          ...(options.transport ? { transport: () => options.transport! } : {}),
          clock: () => clock().getTime(),
        })
      : new QueueService({
          stateDir,
          relay: typeof options.relay === 'string' ? { url: options.relay, ...(dsn ? { dsn } : {}) } : (options.relay ?? { url: 'smtp://localhost:25' }),
          ...(options.transport ? { transport: () => options.transport! } : {}),
          clock: () => clock().getTime(),
        });
    return queue;
  };

  let consent: ConsentService | undefined;
  const getConsent = (): ConsentService | undefined => {
    if (!stateDir) return undefined;
    consent ??= config
      ? ConsentService.fromConfig(config, stateDir, { send: (m, submitter) => sendMail(m, { submitter }), ...(publicUrl ? { publicUrl } : {}) })
      : new ConsentService({ db: stateDir, send: (m, submitter) => sendMail(m, { submitter }), ...(publicUrl ? { publicUrl } : {}), ...(options.from ? { from: typeof options.from === 'string' ? options.from : options.from.address } : {}) });
    return consent;
  };
  const publicUrl = options.publicUrl ?? config?.http.publicUrl;
  let dkim: DkimKey | undefined = options.dkim;
  const getDkim = (): DkimKey | undefined => {
    if (!dkim && config?.dkim) dkim = loadDkimKey(config.dkim.privateKeyFile, config.dkim.domain, config.dkim.selector);
    return dkim;
  };
  const signAll = options.dkimSignAll ?? config?.dkim?.sign === 'all';

  const getTransport = (): Transport => {
    if (!transport) {
      const relay = options.relay ?? (config ? relayOptionsFromConfig(config) : 'smtp://localhost:25');
      transport = createTransport(typeof relay === 'string' ? { url: relay, ...(dsn ? { dsn } : {}) } : relay);
    }
    return transport;
  };

  const defaults: NonNullable<Parameters<typeof composeMail>[1]>['defaults'] = {};
  const from = options.from ?? config?.sender.from;
  const envelopeFrom = options.envelopeFrom ?? config?.sender.envelopeFrom;
  const replyTo = options.replyTo ?? config?.sender.replyTo;
  if (from !== undefined) defaults.from = from;
  if (envelopeFrom !== undefined) defaults.envelopeFrom = envelopeFrom;
  if (replyTo !== undefined) defaults.replyTo = replyTo;

  const compose = (mail: Mail) =>
    composeMail(mail, {
      defaults,
      clock,
      ...(options.idGenerator ? { idGenerator: options.idGenerator } : {}),
      autoSubmitted: options.autoSubmitted ?? config?.sender.autoSubmitted ?? 'auto-generated',
      ...(dsn ? { dsn } : {}),
    });

  const lintComposed = (m: ComposedMessage) =>
    lintMessage(m.raw, {
      now: clock(),
      envelope: { from: m.envelope.from, to: m.envelope.to },
      // Raw UTF-8 headers only appear with SMTPUTF8 addresses; the transport checks the relay supports it.
      ...(m.envelope.smtputf8 ? { smtputf8: true } : {}),
      submission: true,
      policy,
    });

  return {
    compose,
    async lint(mailOrRaw) {
      // The guide's rules plus the spam preflight (R6), like `sendwell lint`.
      if (typeof mailOrRaw === 'string' || Buffer.isBuffer(mailOrRaw)) {
        const report = await lintMessage(mailOrRaw, { now: clock(), submission: true, policy });
        return { ...report, spam: await spamPreflight(mailOrRaw, spam, { now: clock() }) };
      }
      const m = await compose(mailOrRaw);
      const report = await lintComposed(m);
      return { ...report, spam: await spamPreflight(m.raw, spam, { now: clock(), envelope: { from: m.envelope.from, to: m.envelope.to } }) };
    },
    async spamCheck(mailOrRaw) {
      if (typeof mailOrRaw === 'string' || Buffer.isBuffer(mailOrRaw)) return spamPreflight(mailOrRaw, spam, { now: clock() });
      const m = await compose(mailOrRaw);
      return spamPreflight(m.raw, spam, { now: clock(), envelope: { from: m.envelope.from, to: m.envelope.to } });
    },
    get queue() {
      return getQueue();
    },
    send: (mail, sendOptions = {}) => sendMail(mail, sendOptions),
    async close() {
      await transport?.close();
      await queue?.close();
      consent?.close();
    },
    get consent() {
      return getConsent();
    },
    async sendToList(listName, mail, listOptions = {}) {
      const q = getQueue();
      const reg = getConsent();
      if (!q || !reg) throw new SendwellError('EUSAGE', 'list mail needs a queue', { hint: 'give the mailer a stateDir (or state_dir in the config)' });
      if (!publicUrl) {
        throw new SendwellError('ECONFIG', 'list mail needs http.public_url for its one-click unsubscribe links (RFC 8058)', {
          hint: 'set public_url in [http] to the address where `sendwell serve` is reachable, e.g. "https://mail.example.org"',
          rule: 'R1',
        });
      }
      const list = reg.requireList(listName);
      const settings = reg.settings(listName);
      const from = mail.from ?? settings?.from ?? defaults.from;
      if (from === undefined) throw new SendwellError('EUSAGE', 'list mail needs a From address', { hint: 'give from, or [lists.NAME] from / [sender] from in the config' });
      const out: ListSendResult = { list: listName, sent: [], refused: [], findings: [] };
      let subs = reg.consenting(listName);
      if (listOptions.to !== undefined) {
        const wanted = (Array.isArray(listOptions.to) ? listOptions.to : [listOptions.to]).map((a) => parseMailbox(a, 'to').address);
        const ok = new Map(subs.map((s) => [s.address, s]));
        subs = [];
        for (const address of new Set(wanted)) {
          const s = ok.get(address);
          if (s) {
            subs.push(s);
            continue;
          }
          const known = reg.subscription(listName, address);
          const reason =
            known?.status === 'pending'
              ? `signed up for ${listName} but has not confirmed (double opt-in)`
              : known?.status === 'unsubscribed'
                ? `unsubscribed from ${listName} on ${new Date(known.unsubscribedAt ?? 0).toISOString().slice(0, 10)}`
                : `has no recorded consent for ${listName}`;
          out.refused.push({ address, reason: `${reason}: not sent (R1)` });
        }
      }
      const bounceAddress = config?.bounces.address;
      for (const sub of subs) {
        const one = bulkMail({ ...mail, from }, sub, { list, ...(settings ? { settings } : {}), publicUrl, from, ...(bounceAddress ? { bounceAddress } : {}) });
        const r = await sendMail(one, {
          queueOnly: true,
          ...(listOptions.submitter ? { submitter: listOptions.submitter } : {}),
          ...(listOptions.idempotencyKey ? { idempotencyKey: `${listOptions.idempotencyKey} ${sub.address}` } : {}),
        }, listName);
        if (!out.findings.length) out.findings = r.findings;
        out.sent.push({ address: sub.address, queueId: r.queueId!, messageId: r.messageId, state: r.recipients[0]?.state ?? 'queued', existing: r.existing ?? false });
      }
      if (!listOptions.queueOnly && out.sent.length) {
        await q.worker.drain();
        for (const s of out.sent) s.state = q.store.recipients(s.queueId)[0]?.state ?? s.state;
      }
      return out;
    },
  };

  async function sendMail(mail: Mail, sendOptions: SendOptions = {}, list?: string): Promise<SendResult> {
      const ownDsn = checkMessageDsn(sendOptions.dsn, 'send() option dsn');
      const hasOwnDsn = Object.keys(ownDsn).length > 0;
      const composed = await compose(mail);
      // Sent directly, the message's own parameters go over the mailer's (whose ENVID is the Message-ID).
      if (hasOwnDsn) composed.envelope.dsn = { ...composed.envelope.dsn, ...ownDsn };
      const report = await lintComposed(composed);
      if (!report.ok) throw policyError(report);
      // R6: score it like a spam filter would; scanner trouble is a warning, never a failure.
      const spamReport = await spamPreflight(composed.raw, spam, { now: clock(), envelope: { from: composed.envelope.from, to: composed.envelope.to } });
      if (spamReport.over && spam.action === 'refuse') throw spamRefusal(spamReport);
      const findings = [...report.findings, ...spamFindings(spamReport)];
      // Maildrop carries no list: list mail is queued here (the daemon shares the queue).
      const drop = stateDir && options.maildrop !== false && !list ? runningMaildrop(stateDir) : null;
      // Through a running daemon, the daemon signs (a local user need not read the key).
      const key = list || (signAll && !drop) ? getDkim() : undefined;
      if (key) composed.raw = await dkimSign(composed.raw, key);
      if (drop) {
        const ack = await dropMessage(drop, {
          raw: composed.raw,
          envelopeFrom: composed.envelope.from,
          recipients: composed.envelope.to,
          ...(sendOptions.idempotencyKey ? { idempotencyKey: sendOptions.idempotencyKey } : {}),
          ...(hasOwnDsn ? { dsn: ownDsn } : {}),
        });
        if (ack && !ack.ok) throw new SendwellError(ack.error.code as ErrorCode, ack.error.message, { hint: ack.error.hint });
        const recipients: SendRecipient[] = composed.envelope.to.map((address) => ({ address, status: 'rejected', temporary: true, state: 'queued' }));
        return {
          messageId: composed.messageId,
          envelope: composed.envelope,
          recipients,
          accepted: [],
          rejected: [],
          relay: { relay: `sendwell serve (maildrop ${drop})` },
          findings,
          ...(ack?.ok ? { queueId: ack.queueId, held: ack.held } : {}),
          viaDaemon: true,
        };
      }
      const q = getQueue();
      if (q) {
        const submitted = q.submit({
          raw: composed.raw,
          messageId: composed.messageId,
          envelopeFrom: composed.envelope.from,
          recipients: composed.envelope.to,
          submitter: sendOptions.submitter ?? options.submitter ?? defaultSubmitter(),
          contentHash: contentHash([mail.subject, mail.text, mail.html]),
          ...(list ? { list } : {}),
          ...(sendOptions.idempotencyKey ? { idempotencyKey: sendOptions.idempotencyKey } : {}),
          ...dsnFields(ownDsn),
        });
        const rows = sendOptions.queueOnly || submitted.existing ? q.store.recipients(submitted.queueId) : await q.deliverNow(submitted.queueId);
        const recipients = rows.map(rowToOutcome);
        const stored = q.store.message(submitted.queueId);
        const relayQueueId = rows.find((r) => r.relayQueueId)?.relayQueueId ?? undefined;
        const out: SendResult = {
          messageId: stored?.messageId ?? composed.messageId,
          envelope: composed.envelope,
          recipients,
          accepted: recipients.filter((r) => r.status === 'accepted').map((r) => r.address),
          rejected: recipients.filter((r) => r.status === 'rejected' && !r.temporary).map((r) => r.address),
          relay: { relay: q.relayName },
          findings,
          queueId: submitted.queueId,
          existing: submitted.existing,
          held: submitted.held,
        };
        if (relayQueueId) out.relayQueueId = relayQueueId;
        const final = rows.find((r) => r.state === 'delivered')?.lastReason;
        if (final) out.response = final;
        return out;
      }
      const result = await getTransport().send(composed.envelope, composed.raw);
      const out: SendResult = {
        messageId: composed.messageId,
        envelope: composed.envelope,
        recipients: result.recipients,
        accepted: result.recipients.filter((r) => r.status === 'accepted').map((r) => r.address),
        rejected: result.recipients.filter((r) => r.status === 'rejected').map((r) => r.address),
        relay: result.info,
        findings,
      };
      if (result.response !== undefined) out.response = result.response;
      if (result.relayQueueId !== undefined) out.relayQueueId = result.relayQueueId;
      return out;
  }
}

function defaultSubmitter(): string {
  try {
    return `user:${userInfo().username}`;
  } catch {
    return `uid:${process.getuid?.() ?? 'unknown'}`;
  }
}

/** A queue row as the per-recipient outcome of `send()`. */
export function rowToOutcome(r: RecipientRow): SendRecipient {
  const out: SendRecipient = { address: r.address, status: r.state === 'delivered' ? 'accepted' : 'rejected', state: r.state };
  if (r.lastCode !== null) out.responseCode = r.lastCode;
  if (r.lastDsn !== null) out.enhancedStatus = r.lastDsn;
  if (r.lastReason !== null) out.response = r.lastReason;
  if (r.state !== 'delivered') out.temporary = r.state === 'deferred' || r.state === 'queued' || r.state === 'held' || r.state === 'active';
  if (r.state === 'deferred') out.nextAttemptAt = r.nextAttemptAt;
  return out;
}

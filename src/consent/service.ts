/**
 * Consent (R1): who may get bulk mail of which list, with proof, and the
 * double opt-in that creates it. Confirmation mails are fixed text with one
 * link; the link's page has a button and only its POST confirms, so link
 * scanners that fetch every URL confirm nobody.
 */
import { createHash, randomBytes } from 'node:crypto';
import type { Database } from 'better-sqlite3';
import { SendwellError } from '../errors.js';
import type { ListSettings, ResolvedConfig } from '../config/load.js';
import { parseAddrSpec } from '../message/address.js';
import type { Mail } from '../message/compose.js';
import { openDatabase } from '../queue/sqlite/index.js';
import { consentStore, type Channel, type ConsentStore, type ListRow, type Subscription, type SubscriptionStatus } from './store.js';

export type { Channel, ListRow, Subscription, SubscriptionStatus };

const LIST_NAME = /^[a-z0-9](?:[a-z0-9-]{0,62})$/;
const B32 = 'abcdefghijklmnopqrstuvwxyz234567';

/** 128 random bits as lower-case base32: fits a mailto local part and survives case-folding. */
export function newUnsubToken(): string {
  const bytes = randomBytes(16);
  let bits = 0;
  let value = 0;
  let out = '';
  for (const b of bytes) {
    value = ((value << 8) | b) & 0xffff;
    bits += 8;
    while (bits >= 5) {
      out += B32[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  if (bits > 0) out += B32[(value << (5 - bits)) & 31];
  return out;
}

const hashToken = (t: string) => createHash('sha256').update(t).digest('hex');

/** Evidence of a sign-up, kept with the subscription (GDPR Art. 7(1)). */
export interface Proof {
  /** Where the consent was given: a form URL, an import file, an API token. */
  source: string;
  channel: Channel;
  /** The consent text (or its version) the person agreed to. */
  consentText?: string;
  ip?: string;
  userAgent?: string;
  /** When; default now. */
  at?: number;
}

export interface ConfirmedEvent {
  address: string;
  payload: Record<string, unknown>;
  ip: string;
  userAgent?: string;
  at: number;
}

export interface ConfirmationRequest {
  /** Which handler runs on confirmation (`onConfirmed`); also names the rate limit. */
  purpose: string;
  address: string;
  payload: Record<string, unknown>;
  ip: string;
  userAgent?: string;
  /** What the person confirms, e.g. `subscribe to "Institute newsletter"`; operator text only. */
  title: string;
  /** Rate-limit key (default: purpose). */
  rateKey?: string;
}

/** What the confirmation page shows for a token (a GET changes nothing). */
export type TokenView = { ok: true; title: string; address: string } | { ok: false; why: 'unknown' | 'used' | 'expired' };

export interface ConsentServiceOptions {
  /** The state directory (the queue database), or an open database. */
  db: string | Database;
  /** Lists from the config ([lists.NAME]); they are written to the registry on start. */
  lists?: Record<string, ListSettings>;
  /** Base of the links in mails (http.public_url). */
  publicUrl?: string;
  /** From of confirmation mails (default: sender.from of the config). */
  from?: string;
  confirmTtlMs?: number;
  confirmIntervalMs?: number;
  /** Queues a mail (the daemon's or the CLI's mailer). */
  send?: (mail: Mail, submitter: string) => Promise<unknown>;
  clock?: () => number;
  log?: (line: string) => void;
}

export interface ImportRow {
  email: string;
  status?: SubscriptionStatus;
  source?: string;
  consent_text?: string;
  signup_at?: string;
  signup_ip?: string;
  signup_user_agent?: string;
  confirmed_at?: string;
  confirm_ip?: string;
  confirm_user_agent?: string;
  confirm_method?: string;
  unsubscribed_at?: string;
}

export interface ImportResult {
  imported: number;
  updated: number;
  skipped: Array<{ line: number; email: string; reason: string }>;
}

/**
 * Normalised form for consent keys: the strict parser's, lower-cased whole.
 * Local parts are case-sensitive in theory only; two sign-ups as Alice@ and
 * alice@ must be one consent (and one confirmation mail).
 */
export function normalizeAddress(input: string, field = 'address'): string {
  return parseAddrSpec(field, input.trim()).address.toLowerCase();
}

export class ConsentService {
  readonly store: ConsentStore;
  private readonly db: Database;
  private readonly ownsDb: boolean;
  private readonly opts: ConsentServiceOptions;
  private readonly clock: () => number;
  private readonly handlers = new Map<string, (c: ConfirmedEvent) => Promise<void>>();
  private readonly configLists: Record<string, ListSettings>;

  static fromConfig(config: ResolvedConfig, stateDir: string, extra: Partial<ConsentServiceOptions> = {}): ConsentService {
    return new ConsentService({
      db: stateDir,
      lists: config.lists,
      confirmTtlMs: config.bulk.confirmTtlMs,
      confirmIntervalMs: config.bulk.confirmIntervalMs,
      ...(config.http.publicUrl ? { publicUrl: config.http.publicUrl } : {}),
      ...(config.sender.from ? { from: config.sender.from } : {}),
      ...extra,
    });
  }

  constructor(opts: ConsentServiceOptions) {
    this.opts = opts;
    this.clock = opts.clock ?? Date.now;
    this.ownsDb = typeof opts.db === 'string';
    this.db = typeof opts.db === 'string' ? openDatabase(opts.db) : opts.db;
    this.store = consentStore(this.db);
    this.configLists = opts.lists ?? {};
    for (const [name, l] of Object.entries(this.configLists)) {
      const known = this.store.list(name);
      this.store.putList({ name, reason: l.reason, doubleOptIn: l.doubleOptIn, description: l.description ?? null, createdAt: known?.createdAt ?? this.clock() });
    }
    this.onConfirmed('subscribe', (c) => this.confirmSubscription(c));
  }

  /** Settings of a list from the config (List-Id, From), when it is configured there. */
  settings(name: string): ListSettings | undefined {
    return this.configLists[name];
  }

  createList(name: string, l: { reason: string; doubleOptIn?: boolean; description?: string }): ListRow {
    if (!LIST_NAME.test(name)) {
      throw new SendwellError('EUSAGE', `${JSON.stringify(name)} is not a list name`, { hint: 'use lower-case letters, digits and "-", e.g. newsletter' });
    }
    if (l.reason.trim().length < 10) {
      throw new SendwellError('EUSAGE', `the reason of list ${name} is too short`, {
        hint: 'say why recipients get the mail, e.g. "You receive this because you subscribed to the institute newsletter on our website." (R1)',
        rule: 'R1',
      });
    }
    if (l.description !== undefined && /[\r\n\0]/.test(l.description)) {
      throw new SendwellError('EUSAGE', `the description of list ${name} has a line break`, { hint: 'give one line: it goes into the List-Id header and the confirmation subject' });
    }
    if (this.configLists[name]) {
      throw new SendwellError('EUSAGE', `list ${name} is defined in the config file`, { hint: `change [lists.${name}] in the config instead` });
    }
    const row: ListRow = { name, reason: l.reason.trim(), doubleOptIn: l.doubleOptIn ?? true, description: l.description?.trim() || null, createdAt: this.store.list(name)?.createdAt ?? this.clock() };
    this.store.putList(row);
    return row;
  }

  lists(): Array<ListRow & { counts: Record<SubscriptionStatus, number>; fromConfig: boolean }> {
    return this.store.lists().map((l) => ({ ...l, counts: this.store.counts(l.name), fromConfig: Boolean(this.configLists[l.name]) }));
  }

  /** The list, or EUSAGE naming the lists that exist. */
  requireList(name: string): ListRow {
    const l = this.store.list(name);
    if (l) return l;
    const known = this.store.lists().map((x) => x.name);
    throw new SendwellError('EUSAGE', `there is no list ${JSON.stringify(name)}`, {
      hint: known.length ? `known lists: ${known.join(', ')}; create one with \`sendwell lists create NAME --reason TEXT\`` : 'create it with `sendwell lists create NAME --reason TEXT` or [lists.NAME] in the config',
    });
  }

  /**
   * Record a sign-up. Double opt-in lists keep it pending and mail a
   * confirmation request (at most one per address and interval); others
   * confirm at once. The answer never tells whether the address was known.
   */
  async subscribe(listName: string, addressInput: string, proof: Proof): Promise<{ status: SubscriptionStatus; confirmationSent: boolean }> {
    const list = this.requireList(listName);
    const address = normalizeAddress(addressInput, 'subscriber address');
    const at = proof.at ?? this.clock();
    const existing = this.store.subscription(list.name, address);
    if (existing?.status === 'confirmed') return { status: 'confirmed', confirmationSent: false };
    const pending = list.doubleOptIn;
    // A repeated sign-up while pending keeps the first proof; the history records the repeat.
    if (existing?.status === 'pending' && pending) {
      this.store.event(existing.id, at, 'signup', proof.ip ?? null, proof.userAgent ?? null, `${proof.channel}: ${proof.source} (repeated)`);
      return this.askToConfirm(list, existing.id, address, proof);
    }
    const id = this.store.transaction(() => {
      const id = this.store.putSubscription({
        list: list.name,
        address,
        addressInput: addressInput.trim(),
        status: pending ? 'pending' : 'confirmed',
        source: proof.source,
        channel: proof.channel,
        consentText: proof.consentText ?? null,
        signupAt: at,
        signupIp: proof.ip ?? null,
        signupUserAgent: proof.userAgent ?? null,
        confirmedAt: pending ? null : at,
        confirmIp: pending ? null : (proof.ip ?? null),
        confirmUserAgent: pending ? null : (proof.userAgent ?? null),
        confirmMethod: pending ? null : 'single-opt-in',
        unsubscribedAt: null,
        unsubscribeMethod: null,
        unsubToken: existing?.unsubToken ?? newUnsubToken(),
      });
      this.store.event(id, at, pending ? 'signup' : 'signup-confirmed', proof.ip ?? null, proof.userAgent ?? null, `${proof.channel}: ${proof.source}`);
      return id;
    });
    if (!pending) return { status: 'confirmed', confirmationSent: false };
    return this.askToConfirm(list, id, address, proof);
  }

  private async askToConfirm(list: ListRow, id: number, address: string, proof: Proof): Promise<{ status: SubscriptionStatus; confirmationSent: boolean }> {
    const { sent } = await this.requestConfirmation({
      purpose: 'subscribe',
      rateKey: `subscribe:${list.name}`,
      address,
      payload: { list: list.name, subscription: id },
      ip: proof.ip ?? '',
      ...(proof.userAgent ? { userAgent: proof.userAgent } : {}),
      title: `subscribe to ${list.description ?? list.name}`,
    });
    if (sent) this.store.confirmSent(id, this.clock());
    return { status: 'pending', confirmationSent: sent };
  }

  /** Register what happens when a confirmation of `purpose` is POSTed. */
  onConfirmed(purpose: string, handler: (c: ConfirmedEvent) => Promise<void>): void {
    this.handlers.set(purpose, handler);
  }

  /**
   * Mail a confirmation link for `purpose` to `address`: fixed text, no
   * user-supplied content (a confirmation mail must not carry anything a
   * stranger typed). At most one per address and rate key per interval.
   */
  async requestConfirmation(req: ConfirmationRequest): Promise<{ sent: boolean }> {
    const send = this.opts.send;
    const base = this.opts.publicUrl;
    if (!send || !base) {
      throw new SendwellError('ECONFIG', 'confirmation mails need http.public_url and a queue', {
        hint: 'set public_url in [http] to the address visitors reach `sendwell serve` at, e.g. "https://mail.example.org"',
      });
    }
    const address = normalizeAddress(req.address);
    const now = this.clock();
    const rateKey = req.rateKey ?? req.purpose;
    const interval = this.opts.confirmIntervalMs ?? 3_600_000;
    if (this.store.recentTokens(address, rateKey, now - interval) > 0) {
      this.opts.log?.(`consent: confirmation for ${rateKey} to <${address}> not sent again within ${Math.round(interval / 60_000)} min (bulk.confirm_interval)`);
      return { sent: false };
    }
    const token = randomBytes(24).toString('base64url');
    const ttl = this.opts.confirmTtlMs ?? 72 * 3_600_000;
    this.store.purgeTokens(now - 30 * 86_400_000);
    this.store.addToken(hashToken(token), req.purpose, address, { ...req.payload, title: req.title }, rateKey, now, now + ttl);
    const url = `${base}/confirm/${token}`;
    const host = new URL(base).host;
    const expires = new Date(now + ttl).toUTCString();
    const from = this.opts.from;
    const mail: Mail = {
      ...(from ? { from } : {}),
      to: address,
      subject: `Please confirm: ${req.title}`,
      text:
        `Someone, hopefully you, asked at ${host} to ${req.title}.\n\n` +
        `To confirm, open this link and press the button on the page:\n${url}\n\n` +
        `The link works once and expires on ${expires}.\n` +
        'If you did not ask for this, ignore this mail: nothing happens and you will get no further mail about it.\n',
    };
    await send(mail, 'consent');
    this.opts.log?.(`consent: confirmation for ${rateKey} mailed to <${address}>`);
    return { sent: true };
  }

  /** What the confirmation page shows (GET: no change). */
  viewToken(token: string): TokenView {
    const t = this.store.token(hashToken(token));
    if (!t) return { ok: false, why: 'unknown' };
    if (t.usedAt !== null) return { ok: false, why: 'used' };
    if (t.expiresAt <= this.clock()) return { ok: false, why: 'expired' };
    return { ok: true, title: String(t.payload.title ?? t.purpose), address: t.address };
  }

  /** The POST of the confirmation page: single use, then the purpose's handler. */
  async confirm(token: string, who: { ip: string; userAgent?: string }): Promise<TokenView> {
    const hash = hashToken(token);
    const view = this.viewToken(token);
    if (!view.ok) return view;
    const at = this.clock();
    if (!this.store.useToken(hash, at)) return { ok: false, why: 'used' };
    const t = this.store.token(hash)!;
    const handler = this.handlers.get(t.purpose);
    if (!handler) throw new SendwellError('ECONFIG', `no handler for confirmations of ${t.purpose}`, { hint: 'the part of sendwell that asked for it is not running' });
    await handler({ address: t.address, payload: t.payload, ip: who.ip, ...(who.userAgent ? { userAgent: who.userAgent } : {}), at });
    return view;
  }

  private async confirmSubscription(c: ConfirmedEvent): Promise<void> {
    const id = Number(c.payload.subscription);
    const sub = this.store.subscriptionById(id);
    if (!sub) return;
    this.store.transaction(() => {
      if (this.store.confirm(id, c.at, c.ip || null, c.userAgent ?? null, 'post-button')) {
        this.store.event(id, c.at, 'confirmed', c.ip || null, c.userAgent ?? null, 'confirmation page button (POST)');
      }
    });
    this.opts.log?.(`consent: <${sub.address}> confirmed list ${sub.list}`);
  }

  /** Unsubscribe by the token of List-Unsubscribe (one-click POST, page button, mailto). Takes effect at once. */
  unsubscribeByToken(token: string, method: 'one-click' | 'page' | 'mailto', who: { ip?: string; userAgent?: string; detail?: string } = {}): Subscription | null {
    if (!/^[a-z2-7]{26}$/.test(token)) return null;
    const sub = this.store.byUnsubToken(token);
    if (!sub) return null;
    this.endSubscription(sub, method, who);
    return this.store.subscriptionById(sub.id);
  }

  /** Withdraw consent (`sendwell consent revoke`, the API, a complaint). */
  revoke(listName: string, addressInput: string, method = 'admin', detail?: string): Subscription | null {
    this.requireList(listName);
    const sub = this.store.subscription(listName, normalizeAddress(addressInput));
    if (!sub) return null;
    this.endSubscription(sub, method, detail ? { detail } : {});
    return this.store.subscriptionById(sub.id);
  }

  private endSubscription(sub: Subscription, method: string, who: { ip?: string; userAgent?: string; detail?: string }): void {
    const at = this.clock();
    this.store.transaction(() => {
      if (this.store.unsubscribe(sub.id, at, method)) this.store.event(sub.id, at, 'unsubscribed', who.ip ?? null, who.userAgent ?? null, who.detail ?? method);
    });
    this.opts.log?.(`consent: <${sub.address}> unsubscribed from ${sub.list} (${method})`);
  }

  /** The subscription of an address, if any. */
  subscription(listName: string, addressInput: string): Subscription | null {
    return this.store.subscription(listName, normalizeAddress(addressInput));
  }

  subscriptions(listName: string, status?: SubscriptionStatus): Subscription[] {
    this.requireList(listName);
    return this.store.subscriptions(listName, status);
  }

  /** Whom bulk mail of the list may reach: confirmed subscriptions only. */
  consenting(listName: string): Subscription[] {
    return this.subscriptions(listName, 'confirmed');
  }

  history(sub: Subscription) {
    return this.store.events(sub.id);
  }

  /**
   * Import subscriptions with their proof (CSV rows). A row counts as
   * confirmed only with a confirmed_at time; rows without it on a
   * double opt-in list are imported as pending. Bad rows are reported, not guessed.
   */
  importRows(listName: string, rows: ImportRow[], source: string, opts: { firstLine?: number; allOrNothing?: boolean } = {}): ImportResult {
    const list = this.requireList(listName);
    const firstLine = opts.firstLine ?? 2;
    const out: ImportResult = { imported: 0, updated: 0, skipped: [] };
    const rollback = new Error('rollback');
    const time = (v: string | undefined, field: string): number | null => {
      if (!v?.trim()) return null;
      const t = Date.parse(v.trim());
      if (Number.isNaN(t)) throw new Error(`${field} ${JSON.stringify(v)} is not a date (ISO 8601, e.g. 2026-03-01T10:00:00Z)`);
      return t;
    };
    try {
      this.store.transaction(() => {
        rows.forEach((row, i) => {
          const line = firstLine + i;
          const email = (row.email ?? '').trim();
          try {
            const address = normalizeAddress(email, 'email');
            const signupAt = time(row.signup_at, 'signup_at');
            const confirmedAt = time(row.confirmed_at, 'confirmed_at');
            const unsubscribedAt = time(row.unsubscribed_at, 'unsubscribed_at');
            let status: SubscriptionStatus = unsubscribedAt !== null ? 'unsubscribed' : confirmedAt !== null || !list.doubleOptIn ? 'confirmed' : 'pending';
            if (row.status && row.status !== status) {
              if (row.status === 'confirmed' && confirmedAt === null && list.doubleOptIn) throw new Error('status confirmed needs confirmed_at (the proof of the double opt-in)');
              if (!['pending', 'confirmed', 'unsubscribed'].includes(row.status)) throw new Error(`status ${JSON.stringify(row.status)} is not pending, confirmed or unsubscribed`);
              status = row.status;
            }
            if (signupAt === null && status !== 'unsubscribed') throw new Error('signup_at is missing: consent without a date cannot be demonstrated (GDPR Art. 7(1))');
            const existing = this.store.subscription(list.name, address);
            const id = this.store.putSubscription({
              list: list.name,
              address,
              addressInput: email,
              status,
              source: row.source?.trim() || source,
              channel: 'import',
              consentText: row.consent_text?.trim() || null,
              signupAt: signupAt ?? unsubscribedAt ?? this.clock(),
              signupIp: row.signup_ip?.trim() || null,
              signupUserAgent: row.signup_user_agent?.trim() || null,
              confirmedAt,
              confirmIp: row.confirm_ip?.trim() || null,
              confirmUserAgent: row.confirm_user_agent?.trim() || null,
              confirmMethod: confirmedAt !== null ? row.confirm_method?.trim() || 'import' : status === 'confirmed' ? 'single-opt-in' : null,
              unsubscribedAt,
              unsubscribeMethod: unsubscribedAt !== null ? 'import' : null,
              unsubToken: existing?.unsubToken ?? newUnsubToken(),
            });
            this.store.event(id, this.clock(), 'imported', null, null, `${source}, line ${line}, status ${status}`);
            if (existing) out.updated++;
            else out.imported++;
          } catch (err) {
            out.skipped.push({ line, email, reason: (err as Error).message });
          }
        });
        if (opts.allOrNothing && out.skipped.length) throw rollback;
      });
    } catch (err) {
      if (err !== rollback) throw err;
      return { imported: 0, updated: 0, skipped: out.skipped };
    }
    return out;
  }

  close(): void {
    if (this.ownsDb) this.db.close();
  }
}

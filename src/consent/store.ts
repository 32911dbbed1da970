/**
 * The consent registry in the state database (R1): lists, one subscription
 * per list and address with the proof the GDPR and the BGH ask for (who, when,
 * from where, which consent text, how confirmed), its history, and the
 * single-use confirmation tokens (stored as hashes).
 */
import type { Database } from 'better-sqlite3';

export type SubscriptionStatus = 'pending' | 'confirmed' | 'unsubscribed';
export type Channel = 'form' | 'import' | 'api' | 'cli';

export interface ListRow {
  name: string;
  reason: string;
  doubleOptIn: boolean;
  description: string | null;
  createdAt: number;
}

export interface Subscription {
  id: number;
  list: string;
  address: string;
  addressInput: string;
  status: SubscriptionStatus;
  source: string;
  channel: Channel;
  consentText: string | null;
  signupAt: number;
  signupIp: string | null;
  signupUserAgent: string | null;
  confirmSentAt: number | null;
  confirmedAt: number | null;
  confirmIp: string | null;
  confirmUserAgent: string | null;
  confirmMethod: string | null;
  unsubscribedAt: number | null;
  unsubscribeMethod: string | null;
  unsubToken: string;
}

export interface ConsentEvent {
  at: number;
  event: string;
  ip: string | null;
  userAgent: string | null;
  detail: string | null;
}

export interface TokenRow {
  purpose: string;
  address: string;
  payload: Record<string, unknown>;
  createdAt: number;
  expiresAt: number;
  usedAt: number | null;
}

interface SubDb {
  id: number;
  list: string;
  address: string;
  address_input: string;
  status: SubscriptionStatus;
  source: string;
  channel: Channel;
  consent_text: string | null;
  signup_at: number;
  signup_ip: string | null;
  signup_user_agent: string | null;
  confirm_sent_at: number | null;
  confirmed_at: number | null;
  confirm_ip: string | null;
  confirm_user_agent: string | null;
  confirm_method: string | null;
  unsubscribed_at: number | null;
  unsubscribe_method: string | null;
  unsub_token: string;
}

const toSub = (r: SubDb): Subscription => ({
  id: r.id,
  list: r.list,
  address: r.address,
  addressInput: r.address_input,
  status: r.status,
  source: r.source,
  channel: r.channel,
  consentText: r.consent_text,
  signupAt: r.signup_at,
  signupIp: r.signup_ip,
  signupUserAgent: r.signup_user_agent,
  confirmSentAt: r.confirm_sent_at,
  confirmedAt: r.confirmed_at,
  confirmIp: r.confirm_ip,
  confirmUserAgent: r.confirm_user_agent,
  confirmMethod: r.confirm_method,
  unsubscribedAt: r.unsubscribed_at,
  unsubscribeMethod: r.unsubscribe_method,
  unsubToken: r.unsub_token,
});

/** The fields a new or renewed sign-up writes. */
export interface SignupRow {
  list: string;
  address: string;
  addressInput: string;
  status: SubscriptionStatus;
  source: string;
  channel: Channel;
  consentText: string | null;
  signupAt: number;
  signupIp: string | null;
  signupUserAgent: string | null;
  confirmedAt: number | null;
  confirmIp: string | null;
  confirmUserAgent: string | null;
  confirmMethod: string | null;
  unsubscribedAt: number | null;
  unsubscribeMethod: string | null;
  unsubToken: string;
}

export function consentStore(db: Database) {
  const listAll = db.prepare<[], { name: string; reason: string; double_opt_in: number; description: string | null; created_at: number }>('SELECT * FROM list ORDER BY name');
  const listOne = db.prepare<[string], { name: string; reason: string; double_opt_in: number; description: string | null; created_at: number }>('SELECT * FROM list WHERE name = ?');
  const upsertList = db.prepare(
    `INSERT INTO list (name, reason, double_opt_in, description, created_at) VALUES (@name, @reason, @doubleOptIn, @description, @createdAt)
     ON CONFLICT (name) DO UPDATE SET reason = excluded.reason, double_opt_in = excluded.double_opt_in, description = excluded.description`,
  );
  const counts = db.prepare<[string], { status: SubscriptionStatus; n: number }>('SELECT status, COUNT(*) AS n FROM subscription WHERE list = ? GROUP BY status');
  const subBy = db.prepare<[string, string], SubDb>('SELECT * FROM subscription WHERE list = ? AND address = ?');
  const subById = db.prepare<[number], SubDb>('SELECT * FROM subscription WHERE id = ?');
  const subByToken = db.prepare<[string], SubDb>('SELECT * FROM subscription WHERE unsub_token = ?');
  const subsOf = db.prepare<[string], SubDb>('SELECT * FROM subscription WHERE list = ? ORDER BY address');
  const subsByStatus = db.prepare<[string, string], SubDb>('SELECT * FROM subscription WHERE list = ? AND status = ? ORDER BY address');
  const insertSub = db.prepare(
    `INSERT INTO subscription (list, address, address_input, status, source, channel, consent_text, signup_at, signup_ip, signup_user_agent,
       confirmed_at, confirm_ip, confirm_user_agent, confirm_method, unsubscribed_at, unsubscribe_method, unsub_token)
     VALUES (@list, @address, @addressInput, @status, @source, @channel, @consentText, @signupAt, @signupIp, @signupUserAgent,
       @confirmedAt, @confirmIp, @confirmUserAgent, @confirmMethod, @unsubscribedAt, @unsubscribeMethod, @unsubToken)`,
  );
  // A new sign-up after an unsubscribe starts a new consent: the old proof no longer counts (the history keeps it).
  const renewSub = db.prepare(
    `UPDATE subscription SET address_input = @addressInput, status = @status, source = @source, channel = @channel, consent_text = @consentText,
       signup_at = @signupAt, signup_ip = @signupIp, signup_user_agent = @signupUserAgent, confirm_sent_at = NULL,
       confirmed_at = @confirmedAt, confirm_ip = @confirmIp, confirm_user_agent = @confirmUserAgent, confirm_method = @confirmMethod,
       unsubscribed_at = @unsubscribedAt, unsubscribe_method = @unsubscribeMethod
     WHERE id = @id`,
  );
  const setConfirmSent = db.prepare<[number, number]>('UPDATE subscription SET confirm_sent_at = ? WHERE id = ?');
  const confirmSub = db.prepare<[number, string | null, string | null, string, number]>(
    `UPDATE subscription SET status = 'confirmed', confirmed_at = ?, confirm_ip = ?, confirm_user_agent = ?, confirm_method = ? WHERE id = ? AND status = 'pending'`,
  );
  const unsubSub = db.prepare<[number, string, number]>(
    `UPDATE subscription SET status = 'unsubscribed', unsubscribed_at = ?, unsubscribe_method = ? WHERE id = ? AND status != 'unsubscribed'`,
  );
  const addEvent = db.prepare<[number, number, string, string | null, string | null, string | null]>(
    'INSERT INTO consent_event (subscription_id, at, event, ip, user_agent, detail) VALUES (?, ?, ?, ?, ?, ?)',
  );
  const eventsOf = db.prepare<[number], { at: number; event: string; ip: string | null; user_agent: string | null; detail: string | null }>(
    'SELECT at, event, ip, user_agent, detail FROM consent_event WHERE subscription_id = ? ORDER BY at, id',
  );
  const insertToken = db.prepare<[string, string, string, string, string, number, number]>(
    'INSERT INTO confirm_token (token_hash, purpose, address, payload, rate_key, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?)',
  );
  const tokenBy = db.prepare<[string], { purpose: string; address: string; payload: string; created_at: number; expires_at: number; used_at: number | null }>(
    'SELECT purpose, address, payload, created_at, expires_at, used_at FROM confirm_token WHERE token_hash = ?',
  );
  // Single use: only the first POST finds used_at NULL.
  const useToken = db.prepare<[number, string, number]>('UPDATE confirm_token SET used_at = ? WHERE token_hash = ? AND used_at IS NULL AND expires_at > ?');
  const lastToken = db.prepare<[string, string, number], { n: number }>('SELECT COUNT(*) AS n FROM confirm_token WHERE address = ? AND rate_key = ? AND created_at > ?');
  const purgeTokens = db.prepare<[number]>('DELETE FROM confirm_token WHERE expires_at < ?');

  const toList = (r: { name: string; reason: string; double_opt_in: number; description: string | null; created_at: number }): ListRow => ({
    name: r.name,
    reason: r.reason,
    doubleOptIn: r.double_opt_in === 1,
    description: r.description,
    createdAt: r.created_at,
  });

  return {
    lists: (): ListRow[] => listAll.all().map(toList),
    list: (name: string): ListRow | null => {
      const r = listOne.get(name);
      return r ? toList(r) : null;
    },
    putList: (l: ListRow): void => void upsertList.run({ ...l, doubleOptIn: l.doubleOptIn ? 1 : 0 }),
    counts: (list: string): Record<SubscriptionStatus, number> => {
      const out: Record<SubscriptionStatus, number> = { pending: 0, confirmed: 0, unsubscribed: 0 };
      for (const r of counts.all(list)) out[r.status] = r.n;
      return out;
    },
    subscription: (list: string, address: string): Subscription | null => {
      const r = subBy.get(list, address);
      return r ? toSub(r) : null;
    },
    subscriptionById: (id: number): Subscription | null => {
      const r = subById.get(id);
      return r ? toSub(r) : null;
    },
    byUnsubToken: (token: string): Subscription | null => {
      const r = subByToken.get(token);
      return r ? toSub(r) : null;
    },
    subscriptions: (list: string, status?: SubscriptionStatus): Subscription[] => (status ? subsByStatus.all(list, status) : subsOf.all(list)).map(toSub),
    /** Insert, or renew an existing row (keeps its id and unsubscribe token); returns the id. */
    putSubscription: (row: SignupRow): number => {
      const existing = subBy.get(row.list, row.address);
      if (existing) {
        renewSub.run({ ...row, id: existing.id });
        return existing.id;
      }
      return Number(insertSub.run(row).lastInsertRowid);
    },
    confirmSent: (id: number, at: number): void => void setConfirmSent.run(at, id),
    confirm: (id: number, at: number, ip: string | null, userAgent: string | null, method: string): boolean => confirmSub.run(at, ip, userAgent, method, id).changes === 1,
    unsubscribe: (id: number, at: number, method: string): boolean => unsubSub.run(at, method, id).changes === 1,
    event: (id: number, at: number, event: string, ip: string | null = null, userAgent: string | null = null, detail: string | null = null): void =>
      void addEvent.run(id, at, event, ip, userAgent, detail),
    events: (id: number): ConsentEvent[] => eventsOf.all(id).map((e) => ({ at: e.at, event: e.event, ip: e.ip, userAgent: e.user_agent, detail: e.detail })),
    addToken: (hash: string, purpose: string, address: string, payload: Record<string, unknown>, rateKey: string, at: number, expiresAt: number): void =>
      void insertToken.run(hash, purpose, address, JSON.stringify(payload), rateKey, at, expiresAt),
    token: (hash: string): TokenRow | null => {
      const r = tokenBy.get(hash);
      return r ? { purpose: r.purpose, address: r.address, payload: JSON.parse(r.payload) as Record<string, unknown>, createdAt: r.created_at, expiresAt: r.expires_at, usedAt: r.used_at } : null;
    },
    useToken: (hash: string, at: number): boolean => useToken.run(at, hash, at).changes === 1,
    recentTokens: (address: string, rateKey: string, since: number): number => lastToken.get(address, rateKey, since)?.n ?? 0,
    purgeTokens: (before: number): number => purgeTokens.run(before).changes,
    transaction: <T>(fn: () => T): T => db.transaction(fn).immediate(),
  };
}

export type ConsentStore = ReturnType<typeof consentStore>;

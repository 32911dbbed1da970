/**
 * Finding, reading and resolving sendwell.toml without zod: `loadConfigFast`
 * is the start-up path of the sendmail drop-in. load.ts adds the zod schema
 * (the error messages) and re-exports all of this.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { parse as parseToml } from 'smol-toml';
import { SendwellError } from '../errors.js';
import type { PolicyOptions } from '../policy/types.js';
import type { SpamOptions } from '../policy/spam/preflight.js';
import type { Limits } from '../queue/limits.js';
import type { SyslogOptions } from '../queue/syslog.js';
import type { SuppressionPolicy } from '../bounce/suppression.js';
import { parseImapUrl, type ImapSettings } from '../bounce/imap-url.js';
import type { PasswordSource } from '../transport/secrets.js';
import type { RelayOptions } from '../transport/index.js';
import type { DsnOptions } from '../transport/types.js';
import type { ConfigFile } from './schema.js';
import { DEFAULTS } from './defaults.js';
import { fastValidate } from './fast.js';
import { parseDuration, parseSize } from './units.js';
import type { FormConfig } from './forms.js';

/** Where sendwell looks for its config, in order, after --config and SENDWELL_CONFIG. */
export const CONFIG_SEARCH_PATH = ['./sendwell.toml', '/etc/sendwell/sendwell.toml'];

export type { PasswordSource };
export type { FormConfig };

export interface ListSettings {
  reason: string;
  doubleOptIn: boolean;
  description?: string;
  listId?: string;
  from?: string;
}

/** The effective configuration in the units the code uses. */
export interface ResolvedConfig {
  /** The file it came from, or null when only defaults apply. */
  source: string | null;
  file: ConfigFile;
  relay: {
    url: string;
    username?: string;
    password?: PasswordSource;
    caFile?: string;
    heloName?: string;
    timeouts: { connectMs: number; greetingMs: number; commandMs: number; dataMs: number; sendmailMs: number };
  };
  sender: { from?: string; envelopeFrom?: string; replyTo?: string; autoSubmitted: string | false };
  policy: PolicyOptions;
  dsn: DsnOptions;
  /** From state_dir; the CLI falls back to --state-dir, SENDWELL_STATE_DIR, ./.sendwell. */
  stateDir?: string;
  queue: { concurrency: number; lifetimeMs: number; minBackoffMs: number; maxBackoffMs: number; retrySchedule?: string; retentionMs: number; /** 0: no delay warnings. */ delayWarningMs: number };
  limits: Limits;
  flood: { messages: number; windowMs: number; duplicateWindowMs: number };
  logStderr: boolean;
  /** `[log] syslog = true`: the mail log also goes to syslog. */
  logSyslog?: SyslogOptions;
  /** The config names a relay (`sendwell serve` captures mail instead when it does not). */
  relayConfigured: boolean;
  /** `sendwell serve`: the local SMTP relay. */
  smtp: {
    listen: string[];
    tlsListen: string[];
    allowNetworks: string[];
    requireAuth: boolean;
    tlsCertFile?: string;
    tlsKeyFile?: string;
    maxMessageBytes: number;
    maxConnectionsPerClient: number;
    messagesPerClientPerMinute: number;
  };
  /** `sendwell serve`: the HTTP API. */
  http: { listen: string; maxBodyBytes: number; publicUrl?: string; trustedProxies: string[] };
  /** [lists.NAME]: mailing lists and their consent rules (R1). */
  lists: Record<string, ListSettings>;
  /** [bulk]: mass-mail detection and the consent flow. */
  bulk: { detectRecipients: number; detectWindowMs: number; confirmTtlMs: number; confirmIntervalMs: number };
  /** [dkim]: signing, when configured. */
  dkim?: { domain: string; selector: string; privateKeyFile: string; sign: 'bulk' | 'all' };
  /** [forms.NAME]: web forms (R10), as written in the file. */
  forms: Record<string, FormConfig>;
  /** Bounce handling: VERP base address and key file, suppression policy. */
  bounces: { address?: string; verp: boolean; secretFile?: string; suppression: SuppressionPolicy; imap?: ImapSettings; operator?: string };
  /** [aliases], keys lower-cased: local name → targets (addresses or other aliases). */
  aliases: Record<string, string[]>;
  /** [sendmail]: the drop-in's local-recipient and loop settings. */
  sendmail: { appendDomain?: string; maxHops: number };
  /** [spam]: the spam preflight (R6). */
  spam?: SpamOptions;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function merge(base: Record<string, unknown>, over: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...base };
  for (const [k, v] of Object.entries(over)) {
    out[k] = isObject(v) && isObject(base[k]) ? merge(base[k] as Record<string, unknown>, v) : v;
  }
  return out;
}

/** Pick the config file: explicit path, SENDWELL_CONFIG, then the search path. */
export function findConfigFile(explicit?: string, env: NodeJS.ProcessEnv = process.env): string | null {
  const given = explicit ?? env.SENDWELL_CONFIG;
  if (given) {
    if (!existsSync(given)) {
      throw new SendwellError('ECONFIG', `config file ${given} does not exist or cannot be reached by this user`, {
        hint: `create it with \`sendwell init --preset local --output ${given}\` or fix the path${explicit ? '' : ' in SENDWELL_CONFIG'}`,
      });
    }
    return resolve(given);
  }
  for (const p of CONFIG_SEARCH_PATH) if (existsSync(p)) return resolve(p);
  return null;
}

/** The file's values over the defaults (sections merged key by key): what the schema checks. */
export function withDefaults(raw: Record<string, unknown>): Record<string, unknown> {
  return merge(DEFAULTS as unknown as Record<string, unknown>, raw);
}

function passwordSource(file: ConfigFile, source: string | null): PasswordSource | undefined {
  const r = file.relay;
  const given = [r.password_file && 'password_file', r.password_env && 'password_env', r.password_command && 'password_command', r.password && 'password'].filter(Boolean);
  if (given.length > 1) {
    throw new SendwellError('ECONFIG', `${source ?? 'config'}: relay has ${given.join(' and ')}; give only one`, { hint: 'keep the one you use' });
  }
  if (r.password_file) return { file: r.password_file };
  if (r.password_env) return { env: r.password_env };
  if (r.password_command) return { command: r.password_command };
  if (r.password) {
    const mode = source ? statSync(source).mode & 0o077 : 0;
    if (mode !== 0) {
      throw new SendwellError('ESECRET', `${source}: relay.password is stored in a config file that other users can read`, {
        hint: `store the password in a file only you can read (chmod 600) and set relay.password_file, or chmod 600 ${source} (R11: passwords are stored only protected)`,
        rule: 'R11',
      });
    }
    return { value: r.password };
  }
  return undefined;
}

/** `[bounces.imap]`: the URL (no password in it, R11), exactly one password source, files relative to the config file. */
function imapSettings(imap: NonNullable<ConfigFile['bounces']['imap']>, source: string | null): ImapSettings {
  const where = source ?? 'config';
  const target = parseImapUrl(imap.url);
  const given = [imap.password_file && 'password_file', imap.password_env && 'password_env', imap.password_command && 'password_command'].filter(Boolean);
  if (given.length > 1) throw new SendwellError('ECONFIG', `${where}: bounces.imap has ${given.join(' and ')}; give only one`, { hint: 'keep the one you use' });
  const path = (p: string) => (source ? resolve(dirname(source), p) : p);
  const password: PasswordSource | undefined = imap.password_file ? { file: path(imap.password_file) } : imap.password_env ? { env: imap.password_env } : imap.password_command ? { command: imap.password_command } : undefined;
  if (!password) {
    throw new SendwellError('ECONFIG', `${where}: bounces.imap has no password`, {
      hint: 'set one of password_file (mode 0600), password_env or password_command in [bounces.imap] (R11: never in the URL)',
    });
  }
  if (imap.folder === imap.processed_folder) {
    throw new SendwellError('ECONFIG', `${where}: bounces.imap.folder and processed_folder are both ${JSON.stringify(imap.folder)}`, { hint: 'processed messages are moved out of folder: give processed_folder another name' });
  }
  return {
    ...target,
    password,
    folder: imap.folder,
    processedFolder: imap.processed_folder,
    pollIntervalMs: parseDuration(imap.poll_interval)!,
    ...(imap.ca_file ? { caFile: path(imap.ca_file) } : {}),
  };
}

/** Turn a validated file into the units the code uses. */
export function resolveConfig(file: ConfigFile, source: string | null): ResolvedConfig {
  const ms = (v: string | number) => parseDuration(v)!;
  const bytes = (v: string | number) => parseSize(v)!;
  const password = passwordSource(file, source);
  if (password && !file.relay.username) {
    throw new SendwellError('ECONFIG', `${source ?? 'config'}: a relay password is configured but relay.username is not`, {
      hint: 'set relay.username, or remove the password settings when the relay needs no login (C1, C2)',
    });
  }
  const relay: ResolvedConfig['relay'] = {
    url: file.relay.url,
    timeouts: {
      connectMs: ms(file.relay.connect_timeout),
      greetingMs: ms(file.relay.greeting_timeout),
      commandMs: ms(file.relay.command_timeout),
      dataMs: ms(file.relay.data_timeout),
      sendmailMs: ms(file.relay.sendmail_timeout),
    },
  };
  if (file.relay.username) relay.username = file.relay.username;
  if (password) relay.password = password;
  if (file.relay.ca_file) relay.caFile = file.relay.ca_file;
  if (file.relay.helo_name) relay.heloName = file.relay.helo_name;
  const sender: ResolvedConfig['sender'] = { autoSubmitted: file.sender.auto_submitted };
  if (file.sender.from) sender.from = file.sender.from;
  if (file.sender.envelope_from !== undefined) sender.envelopeFrom = file.sender.envelope_from;
  if (file.sender.reply_to) sender.replyTo = file.sender.reply_to;
  const p = file.policy;
  const policy: PolicyOptions = {
    allowSenders: p.allow_senders,
    maxDateSkewMs: ms(p.date_skew),
    attachmentWarnBytes: bytes(p.attachment_warn_size),
    attachmentMaxBytes: bytes(p.attachment_max_size),
    maxVisibleRecipients: p.max_visible_recipients,
    severity: p.severity,
  };
  if (policy.attachmentWarnBytes > policy.attachmentMaxBytes) {
    throw new SendwellError('ECONFIG', `${source ?? 'config'}: policy.attachment_warn_size is larger than policy.attachment_max_size`, {
      hint: 'the warning limit must be at most the hard limit',
    });
  }
  const dsn: DsnOptions = { ret: file.dsn.ret, notify: file.dsn.notify as DsnOptions['notify'], orcpt: true };
  const q = file.queue;
  const queue: ResolvedConfig['queue'] = {
    concurrency: q.concurrency,
    lifetimeMs: ms(q.lifetime),
    minBackoffMs: ms(q.min_backoff),
    maxBackoffMs: ms(q.max_backoff),
    retentionMs: ms(q.retention),
    delayWarningMs: ms(q.delay_warning),
    ...(q.retry_schedule ? { retrySchedule: q.retry_schedule } : {}),
  };
  if (queue.minBackoffMs > queue.maxBackoffMs) {
    throw new SendwellError('ECONFIG', `${source ?? 'config'}: queue.min_backoff is larger than queue.max_backoff`, { hint: 'the minimum must be at most the maximum' });
  }
  const l = file.limits;
  const limits: Limits = {
    perMinute: l.per_minute,
    perHour: l.per_hour,
    perDay: l.per_day,
    perRecipientPerHour: l.per_recipient_per_hour,
    perDomainPerMinute: l.per_domain_per_minute,
    perSenderPerHour: l.per_sender_per_hour,
  };
  const flood = { messages: l.flood.messages, windowMs: ms(l.flood.window), duplicateWindowMs: ms(l.flood.duplicate_window) };
  const aliases: Record<string, string[]> = {};
  for (const [name, targets] of Object.entries(file.aliases)) {
    const key = name.toLowerCase();
    if (Object.hasOwn(aliases, key)) {
      throw new SendwellError('ECONFIG', `${source ?? 'config'}: aliases has ${JSON.stringify(name)} twice (names are case-insensitive)`, { hint: 'keep one entry per name; a list value gives several targets' });
    }
    aliases[key] = Array.isArray(targets) ? targets : [targets];
  }
  const sendmail: ResolvedConfig['sendmail'] = { maxHops: file.sendmail.max_hops };
  if (file.sendmail.append_domain) sendmail.appendDomain = file.sendmail.append_domain.toLowerCase();
  const sm = file.smtp;
  if (Boolean(sm.tls_cert_file) !== Boolean(sm.tls_key_file)) {
    throw new SendwellError('ECONFIG', `${source ?? 'config'}: smtp.tls_cert_file and smtp.tls_key_file go together`, { hint: 'give both (PEM files) to enable STARTTLS, or neither' });
  }
  if (sm.tls_listen?.length && !sm.tls_cert_file) {
    throw new SendwellError('ECONFIG', `${source ?? 'config'}: smtp.tls_listen needs smtp.tls_cert_file and smtp.tls_key_file`, { hint: 'implicit TLS needs a certificate' });
  }
  const smtp: ResolvedConfig['smtp'] = {
    listen: sm.listen,
    tlsListen: sm.tls_listen ?? [],
    allowNetworks: sm.allow_networks,
    requireAuth: sm.require_auth,
    maxMessageBytes: bytes(sm.max_message_size),
    maxConnectionsPerClient: sm.max_connections_per_client,
    messagesPerClientPerMinute: sm.messages_per_client_per_minute,
    ...(sm.tls_cert_file ? { tlsCertFile: source ? resolve(dirname(source), sm.tls_cert_file) : sm.tls_cert_file } : {}),
    ...(sm.tls_key_file ? { tlsKeyFile: source ? resolve(dirname(source), sm.tls_key_file) : sm.tls_key_file } : {}),
  };
  const http: ResolvedConfig['http'] = {
    listen: file.http.listen,
    maxBodyBytes: bytes(file.http.max_body_size),
    trustedProxies: file.http.trusted_proxies,
    ...(file.http.public_url ? { publicUrl: file.http.public_url.replace(/\/+$/, '') } : {}),
  };
  const lists: Record<string, ListSettings> = {};
  for (const [name, l] of Object.entries(file.lists)) {
    lists[name] = {
      reason: l.reason,
      doubleOptIn: l.double_opt_in,
      ...(l.description ? { description: l.description } : {}),
      ...(l.list_id ? { listId: l.list_id.toLowerCase() } : {}),
      ...(l.from ? { from: l.from } : {}),
    };
  }
  const bulk: ResolvedConfig['bulk'] = {
    detectRecipients: file.bulk.detect_recipients,
    detectWindowMs: ms(file.bulk.detect_window),
    confirmTtlMs: ms(file.bulk.confirm_ttl),
    confirmIntervalMs: ms(file.bulk.confirm_interval),
  };
  const dkim: ResolvedConfig['dkim'] = file.dkim
    ? { domain: file.dkim.domain.toLowerCase(), selector: file.dkim.selector, sign: file.dkim.sign, privateKeyFile: source ? resolve(dirname(source), file.dkim.private_key_file) : file.dkim.private_key_file }
    : undefined;
  const b = file.bounces;
  const bounces: ResolvedConfig['bounces'] = {
    verp: b.verp,
    suppression: {
      scope: b.suppression_scope,
      softThreshold: b.soft_bounce_threshold,
      softWindowMs: ms(b.soft_bounce_window),
      expireMs: b.suppression_expiry === 'never' ? null : ms(b.suppression_expiry),
    },
    ...(b.address ? { address: b.address } : {}),
    ...(b.operator ? { operator: b.operator } : {}),
    ...(b.secret_file ? { secretFile: source ? resolve(dirname(source), b.secret_file) : b.secret_file } : {}),
    ...(b.imap ? { imap: imapSettings(b.imap, source) } : {}),
  };
  const out: ResolvedConfig = { source, file, relay, sender, policy, dsn, queue, limits, flood, logStderr: file.log.stderr, aliases, sendmail, relayConfigured: false, smtp, http, bounces, lists, bulk, forms: file.forms, ...(dkim ? { dkim } : {}) };
  if (file.log.syslog) out.logSyslog = { facility: file.log.syslog_facility, tag: file.log.syslog_tag, ...(file.log.syslog_server ? { server: file.log.syslog_server } : {}) };
  if (file.state_dir) out.stateDir = source ? resolve(dirname(source), file.state_dir) : file.state_dir;
  if (file.spam) out.spam = { threshold: file.spam.threshold, action: file.spam.action, ...(file.spam.spamd ? { spamd: file.spam.spamd } : {}), ...(file.spam.rspamd ? { rspamd: file.spam.rspamd } : {}) };
  return out;
}

/** Parse TOML text; syntax errors name the file, line and column. */
export function parseConfigText(text: string, source: string): Record<string, unknown> {
  try {
    return parseToml(text) as Record<string, unknown>;
  } catch (err) {
    throw new SendwellError('ECONFIG', `${source}: not valid TOML: ${(err as Error).message.split('\n')[0]}`, {
      hint: 'fix the syntax at the line named; strings need double quotes, e.g. url = "smtp://localhost:25"',
      cause: err,
    });
  }
}

/** Relay options from the `[relay]` and `[dsn]` config sections. */
export function relayOptionsFromConfig(config: ResolvedConfig): RelayOptions {
  const r = config.relay;
  const out: RelayOptions = { url: r.url, timeouts: r.timeouts, dsn: config.dsn };
  if (r.username) out.username = r.username;
  if (r.password) out.password = r.password;
  if (r.caFile) out.caFile = r.caFile;
  if (r.heloName) out.heloName = r.heloName;
  return out;
}

/** Read and parse the config file (ECONFIG naming the file when it cannot be read or is not TOML). */
export function readConfigFile(source: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(source, 'utf8');
  } catch (err) {
    throw new SendwellError('ECONFIG', `config file ${source} cannot be read: ${(err as NodeJS.ErrnoException).code}`, {
      hint: 'check its permissions',
      cause: err,
    });
  }
  return parseConfigText(text, source);
}

/** The effective configuration from a validated file. */
export function finishConfig(raw: Record<string, unknown>, file: ConfigFile, source: string | null): ResolvedConfig {
  const resolved = resolveConfig(file, source);
  resolved.relayConfigured = isObject(raw.relay) && raw.relay.url !== undefined;
  return resolved;
}

/**
 * `loadConfig` for start-up paths: the same result and the same errors, but
 * zod (load.ts) is loaded only when the fast check (fast.ts) does not pass the
 * file, to name what is wrong.
 */
export async function loadConfigFast(options: { path?: string; env?: NodeJS.ProcessEnv } = {}): Promise<ResolvedConfig> {
  return configFromFile(findConfigFile(options.path, options.env));
}

/** `loadConfigFast` of a file found already (an absolute path), or of the defaults alone (null). */
export async function configFromFile(source: string | null): Promise<ResolvedConfig> {
  const raw = source ? readConfigFile(source) : {};
  const file = fastValidate(withDefaults(raw)) ?? (await import('./load.js')).validateConfig(raw, source ?? 'defaults');
  return finishConfig(raw, file, source);
}

/**
 * A fast check of sendwell.toml (merged with the defaults) for start-up paths
 * (the sendmail drop-in): plain functions instead of the zod schema, whose
 * construction alone costs more than the rest of a `sendmail -odq` run.
 *
 * It mirrors schema.ts key by key with the same patterns (patterns.ts) and
 * returns what `configSchema.parse` returns (same keys, same order, defaults
 * filled in), or `undefined` when the value is not certainly valid: then the
 * caller runs the zod schema, which decides and words the error. So it can
 * only be slower, never more lenient. config.test.ts checks both agree.
 */
import { GUIDE_RULES, isRuleId } from '../policy/rules.js';
import type { ConfigFile } from './schema.js';
import {
  CIDR,
  DKIM_SELECTOR,
  DOMAIN_NAME,
  ENV_NAME,
  FORM_FIELD,
  IP_OR_NETWORK,
  isAliasTarget,
  LIST_ID,
  LIST_NAME,
  LISTEN,
  LOCAL_NAME,
  PUBLIC_URL,
  RSPAMD,
  SIMPLE_ADDRESS,
  SPAMD,
  SYSLOG_FACILITIES,
  SYSLOG_SERVER,
  SYSLOG_TAG,
} from './patterns.js';
import { parseDuration, parseSize } from './units.js';

/** "Not certainly valid": ask zod. */
const NO: unique symbol = Symbol('not certainly valid');
type Check = (v: unknown) => unknown;

function isPlainObject(v: unknown): v is Record<string, unknown> {
  if (typeof v !== 'object' || v === null) return false;
  const proto = Object.getPrototypeOf(v) as unknown;
  return proto === Object.prototype || proto === null;
}

const string =
  (min = 0, re?: RegExp): Check =>
  (v) =>
    typeof v === 'string' && v.length >= min && (re === undefined || re.test(v)) ? v : NO;
const anyString = string();
const nonEmpty = string(1);
const boolean: Check = (v) => (typeof v === 'boolean' ? v : NO);
const int =
  (min: number, max = Number.MAX_SAFE_INTEGER): Check =>
  (v) =>
    typeof v === 'number' && Number.isSafeInteger(v) && v >= min && v <= max ? v : NO;
const count = int(0);
const finiteMin =
  (min: number): Check =>
  (v) =>
    typeof v === 'number' && Number.isFinite(v) && v >= min ? v : NO;
const oneOf =
  (...values: readonly unknown[]): Check =>
  (v) =>
    values.includes(v) ? v : NO;
const stringOrNumber = (v: unknown): v is string | number => typeof v === 'string' || (typeof v === 'number' && Number.isFinite(v));
const duration: Check = (v) => (stringOrNumber(v) && parseDuration(v) !== null ? v : NO);
const size: Check = (v) => (stringOrNumber(v) && parseSize(v) !== null ? v : NO);
const either =
  (...checks: Check[]): Check =>
  (v) => {
    for (const c of checks) {
      const out = c(v);
      if (out !== NO) return out;
    }
    return NO;
  };
const array =
  (item: Check, min = 0): Check =>
  (v) => {
    if (!Array.isArray(v) || Object.getPrototypeOf(v) !== Array.prototype || v.length < min) return NO;
    const out: unknown[] = [];
    for (let i = 0; i < v.length; i++) {
      const x = item(v[i]);
      if (x === NO) return NO;
      out.push(x);
    }
    return out;
  };

interface Key {
  check: Check;
  optional?: boolean;
  /** Filled in when the key is absent (zod's `.default()`). */
  default?: unknown;
}
const opt = (check: Check): Key => ({ check, optional: true });
const dflt = (check: Check, value: unknown): Key => ({ check, default: value });

/** A strict object: no unknown keys, required keys present; output in the schema's key order. */
function object(shape: Record<string, Check | Key>): Check {
  const keys = Object.entries(shape).map(([name, k]) => [name, typeof k === 'function' ? { check: k } : k] as const);
  const known = new Set(keys.map(([name]) => name));
  return (v) => {
    if (!isPlainObject(v)) return NO;
    for (const k of Object.keys(v)) if (!known.has(k)) return NO;
    const out: Record<string, unknown> = {};
    for (const [name, k] of keys) {
      if (!Object.hasOwn(v, name)) {
        if (k.default !== undefined) out[name] = k.default;
        else if (!k.optional) return NO;
        continue;
      }
      const x = v[name];
      if (x === undefined) return NO;
      const checked = k.check(x);
      if (checked === NO) return NO;
      out[name] = checked;
    }
    return out;
  };
}

function record(key: (k: string) => boolean, value: Check): Check {
  return (v) => {
    if (!isPlainObject(v)) return NO;
    const out: Record<string, unknown> = {};
    for (const k of Object.keys(v)) {
      if (k === '__proto__' || !key(k)) return NO;
      const x = value(v[k]);
      if (x === NO) return NO;
      out[k] = x;
    }
    return out;
  };
}

const listen = string(0, LISTEN);
const cidr = string(0, CIDR);
const aliasTarget: Check = (v) => (typeof v === 'string' && isAliasTarget(v) ? v : NO);

const strLen = (min: number, max: number): Check => (v) => (typeof v === 'string' && v.length >= min && v.length <= max ? v : NO);
const fieldName = string(0, FORM_FIELD);
const formShape = object({
  recipients: opt(array(string(0, SIMPLE_ADDRESS), 1)),
  subscribe: opt(string(0, LIST_NAME)),
  consent_text: opt(strLen(1, 2000)),
  fields: array(either(fieldName, object({ name: fieldName, type: opt(oneOf('text', 'email', 'textarea')), max_length: opt(int(1, 100_000)), required: dflt(boolean, true) })), 1),
  receipt: dflt(boolean, false),
  title: opt(strLen(1, 100)),
  subject: opt(strLen(1, 200)),
  from: opt(nonEmpty),
  receipt_text: opt(strLen(1, 2000)),
  success_url: opt(string(0, /^https?:\/\/[^\s]+$/)),
  honeypot: dflt(either(fieldName, oneOf(false)), 'website'),
  min_fill_time: dflt(duration, '3s'),
  token_max_age: dflt(duration, '2h'),
  pow: dflt(boolean, true),
  pow_max_number: dflt(int(1000, 10_000_000), 100_000),
  per_ip_per_hour: dflt(int(0), 10),
  per_address_per_day: dflt(int(0), 3),
  score_threshold: dflt(finiteMin(0), 5),
  allowed_origins: opt(array(string(0, /^https?:\/\/[^\s/?#]+$/))),
  review_retention: dflt(duration, '30d'),
});
/** config/forms.ts's cross-field rules (without zod): unique names, none taken by the protections, an email field where one is needed. */
const form: Check = (v) => {
  const f = formShape(v) as Record<string, unknown> | typeof NO;
  if (f === NO) return NO;
  const specs = f.fields as Array<string | { name: string; type?: string }>;
  const names = specs.map((x) => (typeof x === 'string' ? x : x.name));
  if (new Set(names).size !== names.length || names.some((n) => n === '_token' || n === 'altcha' || n === f.honeypot)) return NO;
  const hasEmail = specs.some((x) => (typeof x === 'string' ? ['email', 'e_mail', 'mail'].includes(x) : x.type ? x.type === 'email' : ['email', 'e_mail', 'mail'].includes(x.name)));
  if ((f.receipt || f.subscribe) && !hasEmail) return NO;
  if (!f.recipients && !f.subscribe) return NO;
  return f;
};
const oneLine = (max: number): Check => (v) => (typeof v === 'string' && v.length >= 1 && v.length <= max && !/[\r\n\0]/.test(v) ? v : NO);

const config = object({
  state_dir: opt(nonEmpty),
  relay: object({
    url: nonEmpty,
    username: opt(nonEmpty),
    password_file: opt(nonEmpty),
    password_env: opt(string(0, ENV_NAME)),
    password_command: opt(nonEmpty),
    password: opt(nonEmpty),
    ca_file: opt(nonEmpty),
    helo_name: opt(nonEmpty),
    connect_timeout: duration,
    greeting_timeout: duration,
    command_timeout: duration,
    data_timeout: duration,
    sendmail_timeout: duration,
  }),
  sender: object({
    from: opt(nonEmpty),
    envelope_from: opt(anyString),
    reply_to: opt(nonEmpty),
    auto_submitted: either(nonEmpty, oneOf(false)),
  }),
  policy: object({
    allow_senders: array(anyString),
    date_skew: duration,
    attachment_warn_size: size,
    attachment_max_size: size,
    max_visible_recipients: int(1),
    severity: record((k) => isRuleId(k) || GUIDE_RULES.includes(k), oneOf('error', 'warning', 'off')),
  }),
  dsn: object({
    ret: oneOf('FULL', 'HDRS'),
    notify: array(oneOf('SUCCESS', 'FAILURE', 'DELAY', 'NEVER'), 1),
  }),
  queue: object({
    concurrency: int(1, 100),
    lifetime: duration,
    min_backoff: duration,
    max_backoff: duration,
    retry_schedule: opt(nonEmpty),
    retention: duration,
    delay_warning: duration,
  }),
  limits: object({
    per_minute: count,
    per_hour: count,
    per_day: count,
    per_recipient_per_hour: count,
    per_domain_per_minute: count,
    per_sender_per_hour: count,
    flood: object({ messages: int(1), window: duration, duplicate_window: duration }),
  }),
  bounces: object({
    address: opt(string(0, SIMPLE_ADDRESS)),
    verp: boolean,
    secret_file: opt(nonEmpty),
    suppression_scope: oneOf('domain', 'global'),
    soft_bounce_threshold: int(1),
    soft_bounce_window: duration,
    suppression_expiry: either(duration, oneOf('never')),
    operator: opt(string(0, SIMPLE_ADDRESS)),
    imap: opt(
      object({
        url: nonEmpty,
        password_file: opt(nonEmpty),
        password_env: opt(string(0, ENV_NAME)),
        password_command: opt(nonEmpty),
        ca_file: opt(nonEmpty),
        folder: dflt(nonEmpty, 'INBOX'),
        processed_folder: dflt(nonEmpty, 'sendwell-processed'),
        poll_interval: dflt(duration, '5m'),
      }),
    ),
  }),
  doctor: object({ outbound_ips: array(string(0, IP_OR_NETWORK)) }),
  smtp: object({
    listen: array(listen, 1),
    allow_networks: array(cidr),
    require_auth: boolean,
    tls_cert_file: opt(nonEmpty),
    tls_key_file: opt(nonEmpty),
    tls_listen: opt(array(listen)),
    max_message_size: size,
    max_connections_per_client: int(1),
    messages_per_client_per_minute: count,
  }),
  http: object({
    listen,
    max_body_size: size,
    public_url: opt(string(0, PUBLIC_URL)),
    trusted_proxies: array(cidr),
  }),
  lists: record(
    (k) => LIST_NAME.test(k),
    object({
      reason: string(10),
      double_opt_in: dflt(boolean, true),
      description: opt(oneLine(200)),
      list_id: opt(string(0, LIST_ID)),
      from: opt(nonEmpty),
    }),
  ),
  bulk: object({ detect_recipients: count, detect_window: duration, confirm_ttl: duration, confirm_interval: duration }),
  dkim: opt(
    object({
      domain: string(0, DOMAIN_NAME),
      selector: string(0, DKIM_SELECTOR),
      private_key_file: nonEmpty,
      sign: dflt(oneOf('bulk', 'all'), 'bulk'),
    }),
  ),
  forms: record((k) => LIST_NAME.test(k), form),
  log: object({
    stderr: boolean,
    syslog: boolean,
    syslog_facility: oneOf(...SYSLOG_FACILITIES),
    syslog_tag: string(0, SYSLOG_TAG),
    syslog_server: opt(string(0, SYSLOG_SERVER)),
  }),
  aliases: record((k) => LOCAL_NAME.test(k), either(aliasTarget, array(aliasTarget, 1))),
  sendmail: object({ append_domain: opt(string(0, DOMAIN_NAME)), max_hops: int(1, 100) }),
  spam: object({
    spamd: opt(string(0, SPAMD)),
    rspamd: opt(string(0, RSPAMD)),
    threshold: finiteMin(0),
    action: oneOf('warn', 'refuse'),
  }),
});

/**
 * The config as the schema would return it, when `merged` (the file merged
 * with the defaults) is certainly valid; otherwise undefined: validate with
 * the schema, which names the problem.
 */
export function fastValidate(merged: Record<string, unknown>): ConfigFile | undefined {
  const out = config(merged);
  return out === NO ? undefined : (out as ConfigFile);
}

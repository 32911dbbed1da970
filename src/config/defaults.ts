/** sendwell.toml defaults (no zod here: the sendmail drop-in starts without it). */
import type { ConfigFile } from './schema.js';

/**
 * Defaults. The relay default is the guide's first case (C1): the local MTA on
 * port 25, with STARTTLS only if it offers it.
 */
export const DEFAULTS = {
  relay: {
    url: 'smtp://localhost:25',
    // RFC 5321 §4.5.3.2 allows 5 minutes; scripts and cron jobs want to know sooner.
    connect_timeout: '30s',
    greeting_timeout: '60s',
    command_timeout: '5m',
    // RFC 5321: 10 minutes for the reply to the final dot.
    data_timeout: '10m',
    sendmail_timeout: '60s',
  },
  sender: {
    auto_submitted: 'auto-generated',
  },
  policy: {
    allow_senders: [],
    date_skew: '15m',
    attachment_warn_size: '1MiB',
    attachment_max_size: '10MiB',
    max_visible_recipients: 10,
    severity: {},
  },
  dsn: {
    ret: 'HDRS',
    notify: ['FAILURE', 'DELAY'],
  },
  queue: {
    concurrency: 4,
    // Postfix: maximal_queue_lifetime 5d, minimal_backoff_time 300s, maximal_backoff_time 4000s.
    lifetime: '5d',
    min_backoff: '5m',
    max_backoff: '4000s',
    retention: '7d',
    // Postfix: delay_warning_time 0h, off. ZoneMTA warns after 3h when enabled.
    delay_warning: '0s',
  },
  limits: {
    per_minute: 60,
    per_hour: 1000,
    per_day: 10000,
    // A script stuck in a loop must not flood one person (R8).
    per_recipient_per_hour: 10,
    per_domain_per_minute: 30,
    per_sender_per_hour: 1000,
    flood: { messages: 500, window: '5m', duplicate_window: '1h' },
  },
  log: { stderr: false, syslog: false, syslog_facility: 'mail', syslog_tag: 'sendwell' },
  bounces: {
    verp: true,
    suppression_scope: 'domain',
    soft_bounce_threshold: 3,
    soft_bounce_window: '7d',
    suppression_expiry: 'never',
  },
  doctor: { outbound_ips: [] },
  smtp: {
    // Loopback only: a local relay for installed software, never an open relay.
    listen: ['127.0.0.1:2525'],
    allow_networks: ['127.0.0.1/32', '::1/128'],
    require_auth: false,
    max_message_size: '10MB',
    max_connections_per_client: 20,
    messages_per_client_per_minute: 120,
  },
  http: {
    listen: '127.0.0.1:8025',
    // 10 MB of attachments are ~13.4 MB as base64 in JSON.
    max_body_size: '15MB',
    trusted_proxies: [],
  },
  lists: {},
  bulk: {
    // A loop of single sends is mass mail all the same (R1).
    detect_recipients: 20,
    detect_window: '24h',
    confirm_ttl: '72h',
    confirm_interval: '1h',
  },
  forms: {},
  aliases: {},
  sendmail: { max_hops: 25 },
  // SpamAssassin's required_score; warn only: a preflight must not stop mail on its own.
  spam: { threshold: 5.0, action: 'warn' },
} satisfies ConfigFile;

/** Keys whose values are secrets and are redacted by `sendwell config`. */
export const SECRET_KEYS = new Set(['relay.password']);

/**
 * sendwell.toml: the schema (key names are public surface) and the defaults,
 * in one place. `sendwell config --defaults` and the README table come from here.
 */
import { z } from 'zod';
import { GUIDE_RULES, isRuleId } from '../policy/rules.js';
import { parseDuration, parseSize } from './units.js';
import { formSchema } from './forms.js';
import {
  CIDR,
  DKIM_SELECTOR,
  DOMAIN_NAME,
  ENV_NAME,
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
import { DEFAULTS, SECRET_KEYS } from './defaults.js';

export { DEFAULTS, SECRET_KEYS };

const duration = z.union([z.string(), z.number()]).refine((v) => parseDuration(v) !== null, {
  message: 'is not a duration; write e.g. "30s", "15m", "2h" or a number of seconds',
});
const size = z.union([z.string(), z.number()]).refine((v) => parseSize(v) !== null, {
  message: 'is not a size; write e.g. "10MB", "1MiB", "512k" or a number of bytes',
});

const count = z.number().int().min(0);

const localName = z.string().regex(LOCAL_NAME, 'is not a local user name, e.g. root or www-data');
const aliasTarget = z.string().refine(isAliasTarget, {
  message: 'is not an address or a local name; write e.g. "admin@example.org" (pipes and files are not supported)',
});

export const configSchema = z
  .object({
    /** Where the queue and the mail log live (default ./.sendwell). */
    state_dir: z.string().min(1).optional(),
    relay: z
      .object({
        url: z.string().min(1),
        username: z.string().min(1).optional(),
        password_file: z.string().min(1).optional(),
        password_env: z.string().regex(ENV_NAME, 'is not an environment variable name').optional(),
        password_command: z.string().min(1).optional(),
        /** Inline password: accepted only when the config file is not readable by others (R11). */
        password: z.string().min(1).optional(),
        ca_file: z.string().min(1).optional(),
        helo_name: z.string().min(1).optional(),
        connect_timeout: duration,
        greeting_timeout: duration,
        command_timeout: duration,
        data_timeout: duration,
        sendmail_timeout: duration,
      })
      .strict(),
    sender: z
      .object({
        from: z.string().min(1).optional(),
        envelope_from: z.string().optional(),
        reply_to: z.string().min(1).optional(),
        auto_submitted: z.union([z.string().min(1), z.literal(false)]),
      })
      .strict(),
    policy: z
      .object({
        allow_senders: z.array(z.string()),
        date_skew: duration,
        attachment_warn_size: size,
        attachment_max_size: size,
        max_visible_recipients: z.number().int().min(1),
        severity: z.record(
          z.string().refine((k) => isRuleId(k) || GUIDE_RULES.includes(k), {
            message: 'is not a rule ID; see the rule table in the README (e.g. "R2.noreply-sender", or a guide rule such as "R2")',
          }),
          z.enum(['error', 'warning', 'off']),
        ),
      })
      .strict(),
    dsn: z
      .object({
        ret: z.enum(['FULL', 'HDRS']),
        notify: z.array(z.enum(['SUCCESS', 'FAILURE', 'DELAY', 'NEVER'])).min(1),
      })
      .strict(),
    queue: z
      .object({
        concurrency: z.number().int().min(1).max(100),
        lifetime: duration,
        min_backoff: duration,
        max_backoff: duration,
        /** Explicit retry table instead of the age-based default, e.g. "1m, 5m, 10m*2, 1h*3". */
        retry_schedule: z.string().min(1).optional(),
        /** How long bodies of delivered mail are kept (for `sendwell queue show`). */
        retention: duration,
        /** Warn the sender once when mail still waits this long after it was queued ("0s": never, like Postfix's default). */
        delay_warning: duration,
      })
      .strict(),
    limits: z
      .object({
        per_minute: count,
        per_hour: count,
        per_day: count,
        per_recipient_per_hour: count,
        per_domain_per_minute: count,
        per_sender_per_hour: count,
        flood: z
          .object({
            messages: z.number().int().min(1),
            window: duration,
            /** Identical mails (subject and body) to one recipient within this window are held. */
            duplicate_window: duration,
          })
          .strict(),
      })
      .strict(),
    bounces: z
      .object({
        /** Base of the VERP envelope senders, e.g. "bounces@bounces.example.org". */
        address: z.string().regex(SIMPLE_ADDRESS, 'is not an address such as "bounces@bounces.example.org"').optional(),
        verp: z.boolean(),
        /** HMAC key for VERP; created (0600) if missing. Default: bounce.key in the state directory. */
        secret_file: z.string().min(1).optional(),
        suppression_scope: z.enum(['domain', 'global']),
        soft_bounce_threshold: z.number().int().min(1),
        soft_bounce_window: duration,
        suppression_expiry: z.union([duration, z.literal('never')]),
        /** Who is mailed (besides the log) when a bounce says our own setup is at fault (block list, SPF/DKIM); at most once an hour per cause. */
        operator: z.string().regex(/^[^\s@<>]+@[^\s@<>]+\.[^\s@<>]+$/, 'is not an address such as "postmaster@example.org"').optional(),
        /** A bounce mailbox polled over IMAP (`sendwell bounce poll`, and inside `sendwell serve`). */
        imap: z
          .object({
            /** "imaps://user@host[:port]" (993) or "imap://user@host[:port]" (143, STARTTLS required); never a password. */
            url: z.string().min(1),
            password_file: z.string().min(1).optional(),
            password_env: z.string().regex(ENV_NAME, 'is not an environment variable name').optional(),
            password_command: z.string().min(1).optional(),
            /** CA certificates (PEM) trusted in addition to the system's. */
            ca_file: z.string().min(1).optional(),
            folder: z.string().min(1).default('INBOX'),
            /** Handled messages are moved here (created when missing); nothing is deleted. */
            processed_folder: z.string().min(1).default('sendwell-processed'),
            poll_interval: duration.default('5m'),
          })
          .strict()
          .optional(),
      })
      .strict(),
    doctor: z
      .object({
        /** Addresses receivers see our mail come from (the submission server's own address is not): checked against SPF. */
        outbound_ips: z.array(z.string().regex(IP_OR_NETWORK, 'is not an IP address or network')),
      })
      .strict(),
    smtp: z
      .object({
        /** Addresses the local relay listens on, "host:port" ("[::1]:2525" for IPv6). */
        listen: z.array(z.string().regex(LISTEN, 'is not "address:port"')).min(1),
        /** Clients that may relay without AUTH (CIDR). */
        allow_networks: z.array(z.string().regex(CIDR, 'is not a network such as "127.0.0.1/32" or "::1/128"')),
        require_auth: z.boolean(),
        tls_cert_file: z.string().min(1).optional(),
        tls_key_file: z.string().min(1).optional(),
        /** Implicit-TLS (smtps) listeners, e.g. ["127.0.0.1:4650"]; need the certificate. */
        tls_listen: z.array(z.string().regex(LISTEN, 'is not "address:port"')).optional(),
        max_message_size: size,
        max_connections_per_client: z.number().int().min(1),
        messages_per_client_per_minute: count,
      })
      .strict(),
    http: z
      .object({
        listen: z.string().regex(LISTEN, 'is not "address:port"'),
        max_body_size: size,
        /** Where visitors reach this server (behind a proxy): the links in mails (confirm, unsubscribe) start with it. */
        public_url: z
          .string()
          .regex(PUBLIC_URL, 'is not an http(s) URL without query, e.g. "https://mail.example.org" or "https://www.example.org/sendwell"')
          .optional(),
        /** Proxies whose X-Forwarded-For is believed (CIDR); other clients are identified by their own address. */
        trusted_proxies: z.array(z.string().regex(CIDR, 'is not a network such as "127.0.0.1/32" or "::1/128"')),
      })
      .strict(),
    /** Mailing lists: bulk mail goes only to recipients with a recorded consent for the list (R1). */
    lists: z.record(
      z.string().regex(LIST_NAME, 'is not a list name: lower-case letters, digits and "-", e.g. "newsletter"'),
      z
        .object({
          /** Why the recipient gets this mail; added to every bulk mail of the list (R1). */
          reason: z.string().min(10, 'is too short to tell recipients why they get the mail'),
          double_opt_in: z.boolean().default(true),
          /** Shown in List-Id and on the confirm/unsubscribe pages, e.g. "Institute newsletter". */
          description: z.string().min(1).max(200).regex(/^[^\r\n\0]+$/, 'must be one line (it goes into the List-Id header and subjects)').optional(),
          /** The List-Id (RFC 2919), default "<name>.<sender domain>". */
          list_id: z.string().regex(LIST_ID, 'is not a list id such as "newsletter.example.org"').optional(),
          /** From of the list's mails and confirmation requests (default: sender.from). */
          from: z.string().min(1).optional(),
        })
        .strict(),
    ),
    /** Bulk mail (R1): detection of mass mail sent one by one, and the consent flow. */
    bulk: z
      .object({
        /** The same content to more than this many recipients within `detect_window` is bulk: held unless sent to a list. 0 turns detection off. */
        detect_recipients: count,
        detect_window: duration,
        /** Confirmation links expire after this. */
        confirm_ttl: duration,
        /** At most one confirmation mail per address and list within this (against subscription bombing). */
        confirm_interval: duration,
      })
      .strict(),
    /** DKIM signing (RFC 6376). Bulk mail must be signed so List-Unsubscribe is covered (RFC 8058 §4). */
    dkim: z
      .object({
        domain: z.string().regex(DOMAIN_NAME, 'is not a domain; write e.g. "example.org"'),
        selector: z.string().regex(DKIM_SELECTOR, 'is not a DKIM selector such as "mail2026"'),
        /** PEM private key (RSA); must not be readable by others (R11). */
        private_key_file: z.string().min(1),
        /** "bulk": only bulk mail; "all": every message queued by sendwell. */
        sign: z.enum(['bulk', 'all']).default('bulk'),
      })
      .strict()
      .optional(),
    /** Web forms served at POST /forms/{name} (R10). */
    forms: z.record(z.string().regex(LIST_NAME, 'is not a form name: lower-case letters, digits and "-", e.g. "contact"'), formSchema),
    log: z
      .object({
        /** Also write mail-log lines to stderr. */
        stderr: z.boolean(),
        /** Also send mail-log lines to syslog (through logger(1)), so /var/log/mail.log shows sendwell next to the MTA (T2). */
        syslog: z.boolean(),
        /** The syslog facility: "mail" puts the lines where the MTA's are. */
        syslog_facility: z.enum(SYSLOG_FACILITIES),
        /** The syslog tag (program name) of the lines: `sendwell[PID]: …`. */
        syslog_tag: z.string().regex(SYSLOG_TAG, 'is not a syslog tag: up to 32 letters, digits and "._/-", e.g. "sendwell"'),
        /** Where syslog lines go instead of the local syslog (/dev/log): "udp://host:514", "tcp://host:514" or "unix:/path". */
        syslog_server: z.string().regex(SYSLOG_SERVER, 'is not a syslog server; write e.g. "udp://loghost.example.org:514", "tcp://[2001:db8::1]:514" or "unix:/dev/log"').optional(),
      })
      .strict(),
    /** Local recipients of the sendmail drop-in: `root = "admin@example.org"`, or a list; a target may name another alias. */
    aliases: z.record(localName, z.union([aliasTarget, z.array(aliasTarget).min(1)])),
    /** The sendmail drop-in (`sendwell sendmail`, the `sendmail` executable). */
    sendmail: z
      .object({
        /** Appended to unqualified recipients no alias matches: `user` becomes `user@append_domain`. */
        append_domain: z.string().regex(DOMAIN_NAME, 'is not a domain; write e.g. "example.org"').optional(),
        /** A message with more Received headers than this is refused as a mail loop. */
        max_hops: z.number().int().min(1).max(100),
      })
      .strict(),
    /** The spam preflight (R6): built-in rules always; spamd and rspamd when configured. */
    spam: z
      .object({
        /** SpamAssassin's spamd, "host:port" (spamc protocol). */
        spamd: z.string().regex(SPAMD, 'is not "host:port"; write e.g. "127.0.0.1:783"').optional(),
        /** rspamd's normal worker, e.g. "http://127.0.0.1:11333" (POST /checkv2). */
        rspamd: z.string().regex(RSPAMD, 'is not an http:// URL; write e.g. "http://127.0.0.1:11333"').optional(),
        /** Above this score `send` warns or refuses. */
        threshold: z.number().min(0),
        action: z.enum(['warn', 'refuse']),
      })
      .strict(),
  })
  .strict();

export type ConfigFile = z.infer<typeof configSchema>;

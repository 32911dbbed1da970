/**
 * sendwell.toml: the schema (key names are public surface) and the defaults,
 * in one place. `sendwell config --defaults` and the README table come from here.
 */
import { z } from 'zod';
import { GUIDE_RULES, isRuleId } from '../policy/rules.js';
import { parseDuration, parseSize } from './units.js';

const duration = z.union([z.string(), z.number()]).refine((v) => parseDuration(v) !== null, {
  message: 'is not a duration; write e.g. "30s", "15m", "2h" or a number of seconds',
});
const size = z.union([z.string(), z.number()]).refine((v) => parseSize(v) !== null, {
  message: 'is not a size; write e.g. "10MB", "1MiB", "512k" or a number of bytes',
});

export const configSchema = z
  .object({
    relay: z
      .object({
        url: z.string().min(1),
        username: z.string().min(1).optional(),
        password_file: z.string().min(1).optional(),
        password_env: z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'is not an environment variable name').optional(),
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
  })
  .strict();

export type ConfigFile = z.infer<typeof configSchema>;

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
} satisfies ConfigFile;

/** Keys whose values are secrets and are redacted by `sendwell config`. */
export const SECRET_KEYS = new Set(['relay.password']);

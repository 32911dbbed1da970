/**
 * `[forms.NAME]`: web forms served at POST /forms/{name} (R10). The schema of
 * one form; its protections are on by default. Key names are public surface
 * (README "Web forms").
 */
import { z } from 'zod';
import { parseDuration } from './units.js';

const address = z.string().regex(/^[^\s@<>]+@[^\s@<>]+\.[^\s@<>]+$/, 'is not an address such as "office@example.org"');
const duration = z.union([z.string(), z.number()]).refine((v) => parseDuration(v) !== null, {
  message: 'is not a duration; write e.g. "3s", "15m", "2h" or a number of seconds',
});
const fieldName = z.string().regex(/^[a-z][a-z0-9_]{0,31}$/, 'is not a field name: lower-case letters, digits and "_"');

/** Field types: one line of text, an address, or several lines. */
export const FIELD_TYPES = ['text', 'email', 'textarea'] as const;
export type FieldType = (typeof FIELD_TYPES)[number];

/** Names the protections use in the posted form; a field must not take them. */
export const RESERVED_FIELDS = ['_token', 'altcha'] as const;

const fieldSpec = z.union([
  fieldName,
  z
    .object({
      name: fieldName,
      /** Default from the name: "email" → email, "message"/"comment"/… → textarea, else text. */
      type: z.enum(FIELD_TYPES).optional(),
      /** Characters; default text 200, email 254, textarea 5000. */
      max_length: z.number().int().min(1).max(100_000).optional(),
      required: z.boolean().default(true),
    })
    .strict(),
]);

export const formSchema = z
  .object({
    /** Who gets each submission: fixed here, never taken from the request. Optional for sign-up forms (`subscribe`). */
    recipients: z.array(address).min(1).optional(),
    /** A sign-up form: the email field is subscribed to this list, with double opt-in and the proof of consent (R1). */
    subscribe: z.string().regex(/^[a-z0-9](?:[a-z0-9-]{0,62})$/, 'is not a list name').optional(),
    /** The consent text (or its version) shown next to the form's button; kept as proof with each sign-up. */
    consent_text: z.string().min(1).max(2000).optional(),
    /** The fields: names (type and length from the name) or `{ name, type, max_length, required }`. */
    fields: z.array(fieldSpec).min(1),
    /** Send the submitter a receipt, only after they confirmed their address (double opt-in). Needs an email field. */
    receipt: z.boolean().default(false),
    /** Shown on pages and in the receipt ("via <title>"); default the form name. */
    title: z.string().min(1).max(100).optional(),
    /** Subject of the mail to the recipients; default "Web form <title>". Never the visitor's text. */
    subject: z.string().min(1).max(200).optional(),
    /** From of the submission and receipt mails; default sender.from. */
    from: z.string().min(1).optional(),
    /** The operator's own words for the receipt (no visitor input is ever added). */
    receipt_text: z.string().min(1).max(2000).optional(),
    /** Plain HTML posts are redirected here (303) after a submission; default a thank-you page. */
    success_url: z.string().regex(/^https?:\/\/[^\s]+$/, 'is not an http(s) URL').optional(),
    /** The hidden field bots fill in (they get a fake success); false turns it off. */
    honeypot: z.union([fieldName, z.literal(false)]).default('website'),
    /** A submission sooner than this after the form was loaded is refused (signed time token). "0s" turns it off. */
    min_fill_time: duration.default('3s'),
    /** A form older than this must be reloaded; also the proof-of-work challenge's lifetime. */
    token_max_age: duration.default('2h'),
    /** Proof of work (ALTCHA-compatible, SHA-256), solved by the form's script; no third-party service. */
    pow: z.boolean().default(true),
    /** Upper bound of the secret number: the browser tries about half of it on average. */
    pow_max_number: z.number().int().min(1000).max(10_000_000).default(100_000),
    /** Submissions per visitor IP (IPv6: per /64) per hour (all verdicts count); 0 turns it off. */
    per_ip_per_hour: z.number().int().min(0).default(10),
    /** Submissions per submitter address (the email field) per day; 0 turns it off. */
    per_address_per_day: z.number().int().min(0).default(3),
    /** A content score (URLs, link-heavy or advertising text, origin signals) at or above this is kept for review, not mailed. */
    score_threshold: z.number().min(0).default(5),
    /** Origins of the pages that embed the form, e.g. ["https://www.example.org"]; default http.public_url's origin. */
    allowed_origins: z.array(z.string().regex(/^https?:\/\/[^\s/?#]+$/, 'is not an origin such as "https://www.example.org"')).optional(),
    /** How long submissions (accepted and refused) are kept for review. */
    review_retention: duration.default('30d'),
  })
  .strict()
  .superRefine((form, ctx) => {
    const names = form.fields.map((f) => (typeof f === 'string' ? f : f.name));
    const seen = new Set<string>();
    names.forEach((n, i) => {
      if (seen.has(n)) ctx.addIssue({ code: 'custom', path: ['fields', i], message: `names the field "${n}" twice` });
      if ((RESERVED_FIELDS as readonly string[]).includes(n) || n === form.honeypot) {
        ctx.addIssue({ code: 'custom', path: ['fields', i], message: `"${n}" is used by the form's protection (honeypot, _token, altcha); rename the field` });
      }
      seen.add(n);
    });
    if (!form.recipients && !form.subscribe) {
      ctx.addIssue({ code: 'custom', path: ['recipients'], message: 'is missing: give the fixed recipients of the submissions (or subscribe = "LIST" for a sign-up form)' });
    }
    if (form.subscribe && !form.fields.some((f) => fieldType(f) === 'email')) {
      ctx.addIssue({ code: 'custom', path: ['subscribe'], message: 'needs a field of type email (e.g. "email") to sign up' });
    }
    if (form.receipt && !form.fields.some((f) => fieldType(f) === 'email')) {
      ctx.addIssue({ code: 'custom', path: ['receipt'], message: 'needs a field of type email (e.g. "email") to send the receipt to' });
    }
  });

export type FormConfig = z.infer<typeof formSchema>;
export type FieldSpecConfig = FormConfig['fields'][number];

const MULTILINE_NAMES = /^(message|comment|comments|text|body|question|details|description|notes?)$/;

/** A field's type: as written, or from its name. */
export function fieldType(f: FieldSpecConfig): FieldType {
  if (typeof f !== 'string' && f.type) return f.type;
  const name = typeof f === 'string' ? f : f.name;
  if (name === 'email' || name === 'e_mail' || name === 'mail') return 'email';
  return MULTILINE_NAMES.test(name) ? 'textarea' : 'text';
}

export const DEFAULT_MAX_LENGTH: Record<FieldType, number> = { text: 200, email: 254, textarea: 5000 };

/**
 * One form's settings in the units the code uses, resolved from
 * `[forms.NAME]` (durations in ms, field types and lengths filled in).
 */
import { SendwellError } from '../errors.js';
import { DEFAULT_MAX_LENGTH, fieldType, type FieldType, type FormConfig } from '../config/forms.js';
import { parseDuration } from '../config/units.js';

export interface FieldSpec {
  name: string;
  type: FieldType;
  maxLength: number;
  required: boolean;
}

export interface FormSettings {
  name: string;
  title: string;
  subject: string;
  recipients: string[];
  from?: string;
  fields: FieldSpec[];
  /** The email field the receipt goes to (when receipt is on), and a sign-up form subscribes. */
  receiptField?: string;
  /** A sign-up form: the list the email field is subscribed to (double opt-in, R1). */
  subscribe?: string;
  consentText?: string;
  receipt: boolean;
  receiptText: string;
  successUrl?: string;
  honeypot: string | false;
  minFillMs: number;
  tokenMaxAgeMs: number;
  pow: boolean;
  powMaxNumber: number;
  perIpPerHour: number;
  perAddressPerDay: number;
  scoreThreshold: number;
  /** Empty: no origin signal (neither configured nor a public_url). */
  allowedOrigins: string[];
  reviewRetentionMs: number;
}

export const DEFAULT_RECEIPT_TEXT = 'This is an automatic confirmation. We will answer as soon as we can. Please do not reply to this mail.';

export function resolveForm(name: string, f: FormConfig, opts: { publicUrl?: string; senderFrom?: string } = {}): FormSettings {
  const ms = (v: string | number) => parseDuration(v)!;
  const fields: FieldSpec[] = f.fields.map((spec) => {
    const type = fieldType(spec);
    return typeof spec === 'string'
      ? { name: spec, type, maxLength: DEFAULT_MAX_LENGTH[type], required: true }
      : { name: spec.name, type, maxLength: spec.max_length ?? DEFAULT_MAX_LENGTH[type], required: spec.required };
  });
  const from = f.from ?? opts.senderFrom;
  if (!from) {
    throw new SendwellError('ECONFIG', `forms.${name}: no From address for the form's mails`, { hint: `set forms.${name}.from or sender.from, e.g. "Web site <www@example.org>"` });
  }
  const title = f.title ?? name;
  const settings: FormSettings = {
    name,
    title,
    subject: f.subject ?? `Web form ${title}`,
    recipients: [...(f.recipients ?? [])],
    from,
    fields,
    receipt: f.receipt,
    receiptText: f.receipt_text ?? DEFAULT_RECEIPT_TEXT,
    honeypot: f.honeypot,
    minFillMs: ms(f.min_fill_time),
    tokenMaxAgeMs: ms(f.token_max_age),
    pow: f.pow,
    powMaxNumber: f.pow_max_number,
    perIpPerHour: f.per_ip_per_hour,
    perAddressPerDay: f.per_address_per_day,
    scoreThreshold: f.score_threshold,
    allowedOrigins: f.allowed_origins ?? (opts.publicUrl ? [new URL(opts.publicUrl).origin] : []),
    reviewRetentionMs: ms(f.review_retention),
  };
  if (settings.tokenMaxAgeMs <= settings.minFillMs) {
    throw new SendwellError('ECONFIG', `forms.${name}: token_max_age must be longer than min_fill_time`, { hint: 'e.g. min_fill_time = "3s", token_max_age = "2h"' });
  }
  const receiptField = fields.find((x) => x.type === 'email')?.name;
  if (receiptField) settings.receiptField = receiptField;
  if (f.success_url) settings.successUrl = f.success_url;
  if (f.subscribe) settings.subscribe = f.subscribe;
  if (f.consent_text) settings.consentText = f.consent_text;
  return settings;
}

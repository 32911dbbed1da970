/**
 * Rate limits (R8): token buckets kept in the store, so every process on the
 * host shares them. A limit never drops mail; it defers it, and `sendwell
 * queue` shows why.
 */

export interface Limits {
  perMinute?: number;
  perHour?: number;
  perDay?: number;
  /** A script stuck in a loop must not flood one person. */
  perRecipientPerHour?: number;
  perDomainPerMinute?: number;
  perSenderPerHour?: number;
}

/** Defaults: generous for a script, tight enough that a loop cannot flood anybody. */
export const DEFAULT_LIMITS: Required<Limits> = {
  perMinute: 60,
  perHour: 1000,
  perDay: 10_000,
  perRecipientPerHour: 10,
  perDomainPerMinute: 30,
  perSenderPerHour: 1000,
};

export interface BucketSpec {
  key: string;
  capacity: number;
  refillPerMs: number;
  /** For messages: which config key limited it. */
  label: string;
}

const MINUTE = 60_000;
const HOUR = 3_600_000;
const DAY = 86_400_000;

/** The buckets one delivery to `address` from `submitter` must take a token from. */
export function bucketsFor(limits: Limits, address: string, submitter: string): BucketSpec[] {
  const out: BucketSpec[] = [];
  const add = (n: number | undefined, key: string, per: number, label: string) => {
    if (n && n > 0) out.push({ key, capacity: n, refillPerMs: n / per, label });
  };
  const domain = address.slice(address.lastIndexOf('@') + 1).toLowerCase();
  add(limits.perMinute, 'global:minute', MINUTE, `limits.per_minute = ${limits.perMinute}`);
  add(limits.perHour, 'global:hour', HOUR, `limits.per_hour = ${limits.perHour}`);
  add(limits.perDay, 'global:day', DAY, `limits.per_day = ${limits.perDay}`);
  add(limits.perDomainPerMinute, `domain:${domain}`, MINUTE, `limits.per_domain_per_minute = ${limits.perDomainPerMinute} for ${domain}`);
  add(limits.perRecipientPerHour, `rcpt:${address.toLowerCase()}`, HOUR, `limits.per_recipient_per_hour = ${limits.perRecipientPerHour} for <${address}>`);
  add(limits.perSenderPerHour, `sender:${submitter}`, HOUR, `limits.per_sender_per_hour = ${limits.perSenderPerHour} for ${submitter}`);
  return out;
}

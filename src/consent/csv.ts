/**
 * Consent as CSV: the proof columns of `sendwell consent import|export` (and
 * the API's text/csv), one row per subscription. Export and import round-trip.
 */
import { parse } from 'csv-parse/sync';
import { stringify } from 'csv-stringify/sync';
import { SendwellError } from '../errors.js';
import type { ImportRow, Subscription } from './service.js';

export const CSV_COLUMNS = [
  'email',
  'status',
  'source',
  'channel',
  'consent_text',
  'signup_at',
  'signup_ip',
  'signup_user_agent',
  'confirm_sent_at',
  'confirmed_at',
  'confirm_ip',
  'confirm_user_agent',
  'confirm_method',
  'unsubscribed_at',
  'unsubscribe_method',
] as const;

/** Columns an import understands; the others of an export are ignored on import. */
const IMPORT_COLUMNS = new Set(['email', 'status', 'source', 'channel', 'consent_text', 'signup_at', 'signup_ip', 'signup_user_agent', 'confirm_sent_at', 'confirmed_at', 'confirm_ip', 'confirm_user_agent', 'confirm_method', 'unsubscribed_at', 'unsubscribe_method']);

const iso = (t: number | null) => (t === null ? '' : new Date(t).toISOString());

// Visitors choose their User-Agent and API callers the source: a cell starting with = + - @ would run as a
// formula in the spreadsheet the export is opened in. A leading ' defuses it; import takes exactly one off again.
const FORMULA = /^'*[=+\-@\t\r]/;
const defuse = (v: string) => (FORMULA.test(v) ? `'${v}` : v);
const restore = (v: string) => (v.startsWith("'") && FORMULA.test(v) ? v.slice(1) : v);

export function subscriptionsToCsv(subs: Subscription[]): string {
  return stringify(
    subs.map((s) => [
      s.addressInput || s.address,
      s.status,
      s.source,
      s.channel,
      s.consentText ?? '',
      iso(s.signupAt),
      s.signupIp ?? '',
      s.signupUserAgent ?? '',
      iso(s.confirmSentAt),
      iso(s.confirmedAt),
      s.confirmIp ?? '',
      s.confirmUserAgent ?? '',
      s.confirmMethod ?? '',
      iso(s.unsubscribedAt),
      s.unsubscribeMethod ?? '',
    ].map(defuse)),
    { header: true, columns: [...CSV_COLUMNS], record_delimiter: 'unix' },
  );
}

/** Parse an import file; the header row must name `email` and may name any proof column. */
export function parseConsentCsv(text: string, file: string): ImportRow[] {
  let records: Array<Record<string, string>>;
  try {
    records = parse(text.replace(/^\uFEFF/, ''), { columns: (h: string[]) => h.map((c) => c.trim().toLowerCase()), skip_empty_lines: true, trim: true, relax_column_count: false });
  } catch (err) {
    throw new SendwellError('EUSAGE', `${file}: not valid CSV: ${(err as Error).message}`, { hint: 'a header row, then one row per address; quote fields containing commas' });
  }
  const header = records.length ? Object.keys(records[0]!) : [];
  if (records.length && !header.includes('email')) {
    throw new SendwellError('EUSAGE', `${file}: the header row has no "email" column`, { hint: `columns: ${CSV_COLUMNS.join(',')} (only email and signup_at are required)` });
  }
  const unknown = header.filter((h) => !IMPORT_COLUMNS.has(h));
  if (unknown.length) {
    throw new SendwellError('EUSAGE', `${file}: unknown column${unknown.length > 1 ? 's' : ''} ${unknown.join(', ')}`, { hint: `known columns: ${CSV_COLUMNS.join(', ')}` });
  }
  return records.map((r) => Object.fromEntries(Object.entries(r).map(([k, v]) => [k, restore(v)]))) as unknown as ImportRow[];
}

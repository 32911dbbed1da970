/**
 * A strict RFC 5322 §3.3 date-time parser (with the obsolete forms of §4.3 that parsers
 * must accept: 2/3-digit years, alphabetic zones). `Date.parse` accepts far too much
 * (`2025-01-14`, `Jan 14 2025`, missing zones) to tell whether a Date header is correct.
 *
 * Accepted: `[day-name ","] day month year hour ":" minute [":" second] zone [comment]`
 * with any whitespace between tokens. Checked: calendar validity, the day name matches
 * the date, zone offset within ±14:00 with minutes < 60.
 */

export type DateParseResult =
  | {
      ok: true;
      date: Date;
      /** Offset east of UTC in minutes as written; undefined for `-0000` and military zones (unknown local time). */
      offsetMinutes: number | undefined;
      /** Obsolete syntax was used (2/3-digit year, alphabetic zone): valid but should not be generated. */
      obsolete: boolean;
    }
  | { ok: false; reason: string };

const DAYS = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'];
const MONTHS = ['jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'oct', 'nov', 'dec'];
const NAMED_ZONES: Record<string, number> = { ut: 0, gmt: 0, est: -300, edt: -240, cst: -360, cdt: -300, mst: -420, mdt: -360, pst: -480, pdt: -420 };

const DATE_TIME =
  /^(?:([A-Za-z]{3})\s*,\s*)?(\d{1,2})\s+([A-Za-z]{3})\s+(\d{2,})\s+(\d{2})\s*:\s*(\d{2})(?:\s*:\s*(\d{2}))?\s+([+-]\d{4}|[A-Za-z]{1,3})\s*(?:\((?:[^()\\]|\\.)*\)\s*)?$/;

function daysInMonth(year: number, month: number): number {
  return new Date(Date.UTC(year, month + 1, 0)).getUTCDate();
}

function fail(reason: string): DateParseResult {
  return { ok: false, reason };
}

/** Parse a Date header value strictly. Never throws. */
export function parseRfc5322Date(value: string): DateParseResult {
  if (typeof value !== 'string') return fail('is not text');
  const input = value.trim();
  if (input === '') return fail('is empty');
  if (input.length > 200) return fail('is too long to be a date');
  const m = DATE_TIME.exec(input);
  if (!m) return fail('is not in RFC 5322 form "Tue, 14 Jan 2025 10:00:00 +0100"');
  const [, dayName, dayStr, monStr, yearStr, hh, mm, ss, zone] = m as unknown as [string, string | undefined, string, string, string, string, string, string | undefined, string];
  let obsolete = false;

  const month = MONTHS.indexOf(monStr.toLowerCase());
  if (month < 0) return fail(`has an unknown month name "${monStr}"`);

  let year = Number(yearStr);
  if (yearStr.length === 2) {
    obsolete = true;
    year += year < 50 ? 2000 : 1900;
  } else if (yearStr.length === 3) {
    obsolete = true;
    year += 1900;
  }
  if (year < 1900) return fail(`has the year ${year}, before 1900`);
  if (year > 9999) return fail(`has the year ${year}`);

  const day = Number(dayStr);
  if (day < 1 || day > daysInMonth(year, month)) return fail(`has no day ${day} in ${monStr} ${year}`);
  const hour = Number(hh);
  const minute = Number(mm);
  const second = ss === undefined ? 0 : Number(ss);
  if (hour > 23) return fail(`has the hour ${hh}`);
  if (minute > 59) return fail(`has the minute ${mm}`);
  if (second > 60) return fail(`has the second ${ss}`);

  let offsetMinutes: number | undefined;
  if (zone.startsWith('+') || zone.startsWith('-')) {
    const zh = Number(zone.slice(1, 3));
    const zm = Number(zone.slice(3, 5));
    if (zm > 59) return fail(`has the zone ${zone} with minutes over 59`);
    const total = zh * 60 + zm;
    if (total > 14 * 60) return fail(`has the zone ${zone}, beyond ±14 hours`);
    offsetMinutes = zone === '-0000' ? undefined : (zone.startsWith('-') ? -total : total);
  } else {
    const z = zone.toLowerCase();
    obsolete = true;
    if (z in NAMED_ZONES) offsetMinutes = NAMED_ZONES[z];
    else if (/^[a-ik-z]$/.test(z)) offsetMinutes = undefined; // military zones: treat as -0000 (RFC 5322 §4.3)
    else return fail(`has the unknown time zone "${zone}"`);
  }

  // Leap second: RFC 5322 allows 60; the instant is the end of that minute.
  const utc = Date.UTC(year, month, day, hour, minute, Math.min(second, 59)) + (second === 60 ? 1000 : 0) - (offsetMinutes ?? 0) * 60_000;
  const date = new Date(utc);
  if (Number.isNaN(date.getTime())) return fail('is not a valid date');

  if (dayName !== undefined) {
    const idx = DAYS.indexOf(dayName.toLowerCase());
    if (idx < 0) return fail(`has an unknown day name "${dayName}"`);
    const actual = new Date(Date.UTC(year, month, day)).getUTCDay();
    if (actual !== idx) return fail(`says ${dayName} but ${day} ${monStr} ${year} is a ${['Sunday', 'Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday'][actual]}`);
  }
  return { ok: true, date, offsetMinutes, obsolete };
}

/**
 * Date and Message-ID generation (H2, H3, H5). Kept apart from the composer so
 * that paths which only add a missing Date (the sendmail drop-in, the queue's
 * notices) do not load the MIME libraries.
 */
import { randomBytes } from '../random.js';

const DAY_NAMES = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
const MONTH_NAMES = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** RFC 5322 §3.3 date-time in the host's local time zone, like the guide's sample (H2, H5). */
export function formatDate(d: Date): string {
  const pad = (n: number, w = 2) => String(n).padStart(w, '0');
  const off = -d.getTimezoneOffset();
  const sign = off >= 0 ? '+' : '-';
  const abs = Math.abs(off);
  return (
    `${DAY_NAMES[d.getDay()]}, ${pad(d.getDate())} ${MONTH_NAMES[d.getMonth()]} ${d.getFullYear()} ` +
    `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())} ${sign}${pad(Math.floor(abs / 60))}${pad(abs % 60)}`
  );
}

/** Unique, unguessable left part: time for rough ordering plus 80 random bits. */
export function defaultIdGenerator(): string {
  return `${Date.now().toString(36)}.${randomBytes(10).toString('hex')}`;
}

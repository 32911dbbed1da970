/**
 * Editing messages that arrive as bytes (the sendmail drop-in): split header and
 * body, normalise line endings to CRLF, look headers up with unfolding, add and
 * remove headers without touching the rest. Header bytes are kept as they came
 * (a latin1 string holds one character per byte), so 8-bit text in headers
 * survives untouched; headers sendwell adds are ASCII only and checked for
 * injection (CR, LF, NUL and control characters are refused, never stripped).
 */
import { isAscii, isUtf8 } from 'node:buffer';
import { SendwellError } from '../errors.js';
import { checkHeaderName, checkHeaderValue } from './headers.js';

/** RFC 5322 §2.1.1: a line is at most 998 octets without its CRLF. */
export const MAX_LINE = 998;
/** Where added headers are folded (RFC 5322 §2.1.1 "SHOULD" limit). */
export const FOLD_AT = 78;

// Field name (printable ASCII except colon), optionally followed by obsolete white space before the colon.
const FIELD_START = /^([\x21-\x39\x3b-\x7e]+)[ \t]*:/;

export interface RawField {
  /** The field name as written. */
  name: string;
  /** The whole field as written, folding included (CRLF line breaks), without the final CRLF; one character per byte. */
  text: string;
}

/** Convert every line ending (CRLF, bare LF, bare CR) to CRLF. */
export function normalizeLineEndings(input: Buffer): Buffer {
  // Fast path: nothing to do when every CR is followed by LF and every LF preceded by CR.
  let clean = true;
  for (let i = input.indexOf(0x0a); i >= 0 && clean; i = input.indexOf(0x0a, i + 1)) if (i === 0 || input[i - 1] !== 0x0d) clean = false;
  for (let i = input.indexOf(0x0d); i >= 0 && clean; i = input.indexOf(0x0d, i + 1)) if (input[i + 1] !== 0x0a) clean = false;
  if (clean) return input;
  const out = Buffer.allocUnsafe(input.length * 2);
  let o = 0;
  for (let i = 0; i < input.length; i++) {
    const b = input[i]!;
    if (b === 0x0d) {
      out[o++] = 0x0d;
      out[o++] = 0x0a;
      if (input[i + 1] === 0x0a) i++;
    } else if (b === 0x0a) {
      out[o++] = 0x0d;
      out[o++] = 0x0a;
    } else out[o++] = b;
  }
  return out.subarray(0, o);
}

/** Unfold a field value: line breaks before white space are removed (RFC 5322 §2.2.3). */
export function unfold(text: string): string {
  return text.replace(/\r\n(?=[ \t])/g, '');
}

/** The unfolded, trimmed value of a field (everything after the first colon). */
export function fieldValue(f: RawField): string {
  return unfold(f.text.slice(f.text.indexOf(':') + 1)).trim();
}

/**
 * Fold `Name: value` so lines stay within {@link FOLD_AT} where the value allows.
 * "; "-separated segments are kept whole when they fit on a line (so the date of a
 * Received header is not split); longer segments break at spaces. Refuses a result
 * with a line over {@link MAX_LINE} octets.
 */
export function foldField(name: string, value: string): string {
  const lines: string[] = [];
  let line = `${name}:`;
  let fresh = true;
  const put = (text: string, sep: string) => {
    if (fresh) line += ` ${text}`;
    else if (line.length + sep.length + text.length <= FOLD_AT) line += sep + text;
    else {
      lines.push(line + sep.trimEnd());
      line = `\t${text}`;
    }
    fresh = false;
  };
  const segments = value.split('; ');
  segments.forEach((seg, i) => {
    const sep = '; ';
    const words = seg.split(' ').filter((w) => w !== '');
    if (words.length === 0) return;
    const whole = words.join(' ');
    if (fresh || line.length + sep.length + whole.length <= FOLD_AT || whole.length + 1 > FOLD_AT) {
      // Word by word: the first word follows the "; " (or the colon), the rest a space.
      words.forEach((w, j) => put(w, j === 0 ? (i === 0 ? ' ' : sep) : ' '));
    } else {
      lines.push(`${line};`);
      line = `\t${whole}`;
    }
  });
  lines.push(line);
  for (const l of lines) {
    if (l.length > MAX_LINE) {
      throw new SendwellError('EHEADER', `header ${name} would have a line longer than ${MAX_LINE} octets`, { hint: 'shorten the value; put long content in the body', rule: 'H1' });
    }
  }
  return lines.join('\r\n');
}

function checkAdded(name: string, value: string): void {
  checkHeaderName(name);
  checkHeaderValue(name, value);
  if (/[^\x00-\x7f]/.test(value)) {
    throw new SendwellError('EHEADER', `header ${name} would contain raw 8-bit characters`, { hint: 'encode non-ASCII text with RFC 2047 (encodeWords)', rule: 'H1' });
  }
}

/** A message as bytes: header fields kept as written, and the body. */
export class RawMessage {
  fields: RawField[];
  body: Buffer;

  constructor(fields: RawField[], body: Buffer) {
    this.fields = fields;
    this.body = body;
  }

  /**
   * Parse a message. Line endings become CRLF. The header section ends at the first
   * empty line, or at the first line that is neither a field nor a continuation
   * (that line starts the body, as an MTA does). A leading mbox `From ` line is dropped.
   */
  static parse(input: Buffer): RawMessage {
    const buf = normalizeLineEndings(input);
    const fields: RawField[] = [];
    let pos = 0;
    // An mbox "From sender date" line (no colon after the name) is not a header.
    if (buf.subarray(0, 5).toString('latin1') === 'From ') {
      const eol = buf.indexOf('\r\n', 0, 'latin1');
      pos = eol < 0 ? buf.length : eol + 2;
    }
    let bodyStart = buf.length;
    while (pos < buf.length) {
      const eol = buf.indexOf('\r\n', pos, 'latin1');
      const end = eol < 0 ? buf.length : eol;
      const line = buf.subarray(pos, end).toString('latin1');
      const next = eol < 0 ? buf.length : eol + 2;
      if (line === '') {
        bodyStart = next;
        break;
      }
      const last = fields[fields.length - 1];
      if ((line[0] === ' ' || line[0] === '\t') && last) {
        last.text += `\r\n${line}`;
      } else {
        const m = FIELD_START.exec(line);
        if (!m) {
          bodyStart = pos;
          break;
        }
        fields.push({ name: m[1]!, text: line });
      }
      pos = next;
    }
    let body = buf.subarray(Math.min(bodyStart, buf.length));
    if (body.length > 0 && !(body[body.length - 2] === 0x0d && body[body.length - 1] === 0x0a)) body = Buffer.concat([body, Buffer.from('\r\n')]);
    return new RawMessage(fields, body);
  }

  /** Every field with this name (case-insensitive), in order. */
  all(name: string): RawField[] {
    const key = name.toLowerCase();
    return this.fields.filter((f) => f.name.toLowerCase() === key);
  }

  /** The unfolded value of the first field with this name. */
  get(name: string): string | undefined {
    const f = this.all(name)[0];
    return f ? fieldValue(f) : undefined;
  }

  /** Unfolded values of every field with this name. */
  getAll(name: string): string[] {
    return this.all(name).map(fieldValue);
  }

  has(name: string): boolean {
    return this.all(name).length > 0;
  }

  count(name: string, predicate?: (value: string) => boolean): number {
    const values = this.getAll(name);
    return predicate ? values.filter(predicate).length : values.length;
  }

  /**
   * Add a field: at the top (trace fields such as Received) or after the last field.
   * The value must be ASCII without line breaks or control characters; it is folded.
   */
  add(name: string, value: string, where: 'top' | 'bottom' = 'bottom'): void {
    checkAdded(name, value);
    const field = { name, text: foldField(name, value) };
    if (where === 'top') this.fields.unshift(field);
    else this.fields.push(field);
  }

  /** Replace the value of the first field with this name, in place; false when there is none. */
  replace(name: string, value: string): boolean {
    const f = this.all(name)[0];
    if (!f) return false;
    checkAdded(name, value);
    f.text = foldField(f.name, value);
    return true;
  }

  /**
   * Give one field a new value, in place. With `keep8bit` the value may keep 8-bit
   * characters that came from the message itself (one character per byte).
   */
  replaceField(field: RawField, value: string, opts: { keep8bit?: boolean } = {}): void {
    if (!this.fields.includes(field)) throw new Error('replaceField: not a field of this message');
    if (opts.keep8bit) {
      checkHeaderName(field.name);
      checkHeaderValue(field.name, value);
    } else checkAdded(field.name, value);
    field.text = foldField(field.name, value);
  }

  /** Remove every field with this name; returns how many were removed. */
  remove(name: string): number {
    const key = name.toLowerCase();
    const before = this.fields.length;
    this.fields = this.fields.filter((f) => f.name.toLowerCase() !== key);
    return before - this.fields.length;
  }

  /** The header section (each field with CRLF), the empty line, the body. */
  toBuffer(): Buffer {
    const head = this.fields.map((f) => `${f.text}\r\n`).join('') + '\r\n';
    return Buffer.concat([Buffer.from(head, 'latin1'), this.body]);
  }
}

// ---------------------------------------------------------------------------
// display names and address lists

const PHRASE_SAFE = /^[A-Za-z0-9!#$%&'*+\-/=?^_`{|}~ ]+$/;

/** RFC 2047 B-encoded words for non-ASCII text, each at most 75 characters; ASCII text is returned as is. */
export function encodeWords(text: string): string {
  if (!/[^\x00-\x7f]/.test(text)) return text;
  const words: string[] = [];
  let chunk = '';
  for (const ch of text) {
    // 45 bytes of UTF-8 give 60 base64 characters: "=?UTF-8?B?" + 60 + "?=" = 72.
    if (Buffer.byteLength(chunk + ch) > 45) {
      words.push(chunk);
      chunk = '';
    }
    chunk += ch;
  }
  if (chunk) words.push(chunk);
  return words.map((w) => `=?UTF-8?B?${Buffer.from(w, 'utf8').toString('base64')}?=`).join(' ');
}

/** `Name <addr>` for a header, the name quoted or RFC 2047-encoded as needed; just `addr` without a name. */
export function formatMailboxField(name: string | undefined, address: string): string {
  const n = (name ?? '').trim();
  if (n === '') return address;
  if (/[\x00-\x1f\x7f]/.test(n)) {
    throw new SendwellError('EHEADER', `display name ${JSON.stringify(n)} contains control characters or line breaks`, { hint: 'remove them (-F NAME is one line of text)', rule: 'H1' });
  }
  if (/[^\x00-\x7f]/.test(n)) return `${encodeWords(n)} <${address}>`;
  if (PHRASE_SAFE.test(n)) return `${n} <${address}>`;
  return `"${n.replace(/[\\"]/g, '\\$&')}" <${address}>`;
}

/** One mailbox found in an address-list field. */
export interface ListedAddress {
  /** The addr-spec as written (without angle brackets and comments), e.g. `root` or `jane@example.org`. */
  address: string;
  /** Display name (phrase, or a comment after a bare address); quotes removed, RFC 2047 words left encoded. */
  name: string;
  /** Where the addr-spec is in the scanned value, for rewriting it in place. */
  start: number;
  end: number;
}

/**
 * Scan an address-list field value (unfolded) leniently enough for local submissions:
 * unqualified names such as `root` and `root (Cron Daemon)` are accepted, besides
 * `Name <addr>`, quoted names, comments and groups (`undisclosed-recipients:;`).
 * Returns null when the value is not an address list at all (unbalanced quotes,
 * brackets or comments). Addresses are not validated here.
 */
export function scanAddressList(value: string): ListedAddress[] | null {
  const out: ListedAddress[] = [];
  let i = 0;
  const n = value.length;
  // The current mailbox: phrase words, comment text, bare addr-spec pieces with their span, angle-addr.
  let phrase: string[] = [];
  let comment = '';
  let bare = '';
  let bareStart = -1;
  let bareEnd = -1;
  let angle: { text: string; start: number; end: number } | undefined;
  let afterAngle = false;
  const flush = (): boolean => {
    if (angle) {
      if (angle.text.trim() === '') return false;
      const lead = angle.text.length - angle.text.trimStart().length;
      const addr = angle.text.trim();
      out.push({ address: addr, name: phrase.join(' ').trim() || comment.trim(), start: angle.start + lead, end: angle.start + lead + addr.length });
    } else if (bare !== '') {
      out.push({ address: bare, name: comment.trim(), start: bareStart, end: bareEnd });
    } else if (phrase.length > 0) {
      // Words without an address (e.g. "Jane Doe" alone): one bare address of several words is not valid.
      return false;
    }
    phrase = [];
    comment = '';
    bare = '';
    bareStart = bareEnd = -1;
    angle = undefined;
    afterAngle = false;
    return true;
  };
  // Words seen before we know whether they are a phrase (before "<") or an addr-spec.
  let pending: Array<{ text: string; start: number; end: number; quoted: boolean }> = [];
  let lastWasSpace = false;
  const settlePending = (asPhrase: boolean): boolean => {
    if (asPhrase) {
      phrase.push(...pending.map((p) => p.text));
    } else if (pending.length > 0) {
      // Bare addr-spec: one contiguous word; several words without "<addr>" are a name without an address.
      if (pending.length > 1) return false;
      bare = pending.map((p) => p.text).join('');
      bareStart = pending[0]!.start;
      bareEnd = pending[pending.length - 1]!.end;
      if (pending.some((p) => p.quoted)) return false;
    }
    pending = [];
    return true;
  };
  let groupDepth = 0;
  while (i < n) {
    const c = value[i]!;
    if (c === ' ' || c === '\t') {
      lastWasSpace = true;
      i++;
      continue;
    }
    if (c === '(') {
      let depth = 0;
      let text = '';
      for (; i < n; i++) {
        const d = value[i]!;
        if (d === '\\') {
          text += value[i + 1] ?? '';
          i++;
          continue;
        }
        if (d === '(') {
          if (depth > 0) text += d;
          depth++;
        } else if (d === ')') {
          depth--;
          if (depth === 0) break;
          text += d;
        } else text += d;
      }
      if (depth !== 0) return null;
      i++;
      comment += (comment ? ' ' : '') + text;
      lastWasSpace = true;
      continue;
    }
    if (c === '"') {
      let text = '';
      const start = i;
      for (i++; i < n && value[i] !== '"'; i++) {
        if (value[i] === '\\') i++;
        text += value[i] ?? '';
      }
      if (i >= n) return null;
      i++;
      if (afterAngle) return null;
      pending.push({ text, start, end: i, quoted: true });
      lastWasSpace = false;
      continue;
    }
    if (c === '<') {
      const close = value.indexOf('>', i);
      if (close < 0 || afterAngle) return null;
      if (!settlePending(true)) return null;
      angle = { text: value.slice(i + 1, close), start: i + 1, end: close };
      afterAngle = true;
      i = close + 1;
      lastWasSpace = false;
      continue;
    }
    if (c === ',' || c === ';') {
      if (c === ';') {
        if (groupDepth === 0) return null;
        groupDepth--;
      }
      if (!settlePending(false) || !flush()) return null;
      i++;
      lastWasSpace = false;
      continue;
    }
    if (c === ':') {
      // A group name: the pending words are its display name; the mailboxes follow.
      if (angle || groupDepth > 0 || pending.length === 0) return null;
      pending = [];
      groupDepth++;
      i++;
      continue;
    }
    if (c === '>' || c === ')') return null;
    // An atom (or "@", "." pieces of an addr-spec).
    const start = i;
    while (i < n && !' \t()"<>,;:'.includes(value[i]!)) i++;
    if (afterAngle) return null;
    const text = value.slice(start, i);
    const prev = pending[pending.length - 1];
    if (prev && !lastWasSpace && !prev.quoted) {
      prev.text += text;
      prev.end = i;
    } else pending.push({ text, start, end: i, quoted: false });
    lastWasSpace = false;
  }
  if (groupDepth !== 0) return null;
  if (!settlePending(false) || !flush()) return null;
  return out;
}

/** Replace addr-specs found by {@link scanAddressList} (spans in `value`) with new text. */
export function rewriteAddresses(value: string, replacements: Array<{ start: number; end: number; text: string }>): string {
  let out = value;
  for (const r of [...replacements].sort((a, b) => b.start - a.start)) out = out.slice(0, r.start) + r.text + out.slice(r.end);
  return out;
}

// ---------------------------------------------------------------------------
// bodies

/** Does a CRLF body have a line longer than {@link MAX_LINE} octets? */
export function hasLongLine(body: Buffer): boolean {
  let start = 0;
  for (;;) {
    const end = body.indexOf('\r\n', start, 'latin1');
    if ((end < 0 ? body.length : end) - start > MAX_LINE) return true;
    if (end < 0) return false;
    start = end + 2;
  }
}

function qpLine(line: Buffer): string {
  const lines: string[] = [];
  let cur = '';
  for (let i = 0; i < line.length; i++) {
    const b = line[i]!;
    const literal = (b >= 33 && b <= 126 && b !== 61) || ((b === 32 || b === 9) && i !== line.length - 1);
    const tok = literal ? String.fromCharCode(b) : `=${b.toString(16).toUpperCase().padStart(2, '0')}`;
    if (cur.length + tok.length > 75) {
      lines.push(`${cur}=`);
      cur = '';
    }
    cur += tok;
  }
  lines.push(cur);
  return lines.join('\r\n');
}

/** Quoted-printable (RFC 2045 §6.7) of a CRLF body: hard line breaks kept, lines of at most 76 characters. */
export function encodeQuotedPrintable(body: Buffer): Buffer {
  const out: string[] = [];
  let start = 0;
  for (;;) {
    const end = body.indexOf('\r\n', start, 'latin1');
    out.push(qpLine(body.subarray(start, end < 0 ? body.length : end)));
    if (end < 0) break;
    start = end + 2;
  }
  return Buffer.from(out.join('\r\n'), 'latin1');
}

/**
 * Label what a local program sent without MIME labels, as sendmail does for unlabeled
 * 8-bit input (EightBitMode=m): an 8-bit body becomes text/plain with its charset
 * (utf-8, else unknown-8bit, RFC 1428) and 8bit; a text body with lines over 998 octets
 * is re-encoded as quoted-printable instead of being refused. Multipart bodies and
 * encoded ones are left alone. Returns what was done, or undefined.
 */
export function mimefy(msg: RawMessage): string | undefined {
  const body = msg.body;
  const long = hasLongLine(body);
  const eightBit = body.length > 0 && !isAscii(body);
  const ct = msg.get('Content-Type');
  const cte = msg.get('Content-Transfer-Encoding')?.toLowerCase();
  const mimeVersion = msg.has('MIME-Version');
  if (ct === undefined && cte === undefined && !mimeVersion) {
    if (!long && !eightBit) return undefined;
    const charset = !eightBit ? 'us-ascii' : isUtf8(body) ? 'utf-8' : 'unknown-8bit';
    msg.add('MIME-Version', '1.0');
    msg.add('Content-Type', `text/plain; charset=${charset}`);
    if (long) {
      msg.body = encodeQuotedPrintable(body);
      msg.add('Content-Transfer-Encoding', 'quoted-printable');
      return `labelled the body text/plain; charset=${charset}, quoted-printable (lines over ${MAX_LINE} octets)`;
    }
    msg.add('Content-Transfer-Encoding', '8bit');
    return `labelled the 8-bit body text/plain; charset=${charset}`;
  }
  const done: string[] = [];
  if (long && (ct === undefined || /^\s*text\//i.test(ct)) && (cte === undefined || cte === '7bit' || cte === '8bit')) {
    msg.body = encodeQuotedPrintable(body);
    if (!msg.replace('Content-Transfer-Encoding', 'quoted-printable')) msg.add('Content-Transfer-Encoding', 'quoted-printable');
    done.push(`re-encoded the body as quoted-printable (lines over ${MAX_LINE} octets)`);
  }
  if (!mimeVersion) {
    msg.add('MIME-Version', '1.0');
    done.push('added MIME-Version');
  }
  return done.length ? done.join('; ') : undefined;
}

/**
 * A raw body as the duplicate and bulk checks see it. Mail libraries make a
 * new random MIME boundary for every message, so without this no two
 * multipart mails would ever have the same content.
 */
export function stableBody(contentType: string | undefined, body: string): string {
  const found: string[] = [];
  for (const text of [contentType ?? '', body]) {
    for (const m of text.matchAll(/\bboundary\s*=\s*(?:"([^"\r\n]+)"|([^\s;"]+))/gi)) {
      const b = m[1] ?? m[2]!;
      if (!found.includes(b)) found.push(b);
      // Real mail nests a few multiparts; a body full of "boundary=" must not cost quadratic time.
      if (found.length >= 16) break;
    }
  }
  // Longest first: one boundary may contain another.
  const order = found.map((b, i) => [b, i] as const).sort((a, b) => b[0].length - a[0].length);
  let out = body;
  for (const [b, i] of order) out = out.split(b).join(`\0boundary-${i}\0`);
  return out;
}

/**
 * Downgrade a message with 8-bit content to 7-bit for a relay that does not
 * offer 8BITMIME (RFC 6152 §3: a client must not send 8-bit data to such a
 * server; it must convert it, as RFC 1652 already required).
 *
 * The MIME tree is walked using the boundaries from the Content-Type headers.
 * Leaf parts whose body has octets above 127 (declared `8bit`, `binary`,
 * `7bit` wrongly, or with no Content-Transfer-Encoding at all) are re-encoded:
 * `text/*` as quoted-printable (stays readable), everything else as base64.
 * Parts that are already 7-bit are left byte-identical. 8-bit octets in a
 * header cannot be fixed here (the header would need RFC 2047 encoding, which
 * is the message layer's job): that is an `EMESSAGE` error.
 */
import { SendwellError } from '../../errors.js';
import { has8bit } from './dotstuff.js';

const HEADER_END = '\r\n\r\n';

interface Field {
  name: string; // lower-case
  raw: string; // the field as it was, folded lines and all, without the final CRLF
}

/** Re-encode all 8-bit leaf parts so the whole message is 7-bit. */
export function to7bit(raw: Buffer): Buffer {
  // latin1 maps octets 1:1 to code units, so string work is binary-safe.
  const text = raw.toString('latin1').replace(/\r\n|\r|\n/g, '\r\n');
  return Buffer.from(convertEntity(text, 'text/plain', true), 'latin1');
}

function messageError(message: string, hint: string): SendwellError {
  return new SendwellError('EMESSAGE', message, { temporary: false, phase: 'data', hint });
}

function splitEntity(entity: string): { headers: string; sep: string; body: string } {
  if (entity.startsWith('\r\n')) return { headers: '', sep: '\r\n', body: entity.slice(2) };
  const i = entity.indexOf(HEADER_END);
  if (i < 0) return { headers: entity, sep: '', body: '' };
  return { headers: entity.slice(0, i), sep: HEADER_END, body: entity.slice(i + HEADER_END.length) };
}

function parseFields(headers: string): Field[] {
  if (headers === '') return [];
  const fields: Field[] = [];
  for (const raw of headers.split(/\r\n(?![ \t])/)) {
    const colon = raw.indexOf(':');
    fields.push({ name: (colon > 0 ? raw.slice(0, colon) : raw).trim().toLowerCase(), raw });
  }
  return fields;
}

function fieldValue(fields: Field[], name: string): string | undefined {
  const f = fields.find((x) => x.name === name);
  if (!f) return undefined;
  return f.raw.slice(f.raw.indexOf(':') + 1).replace(/\r\n[ \t]/g, ' ').trim();
}

interface ContentType {
  type: string; // lower-case type/subtype
  boundary?: string;
}

function parseContentType(value: string | undefined, fallback: string): ContentType {
  if (!value) return { type: fallback };
  const type = (value.split(';')[0] ?? '').trim().toLowerCase();
  const ct: ContentType = { type: /^[a-z0-9!#$&^_.+-]+\/[a-z0-9!#$&^_.+-]+$/.test(type) ? type : fallback };
  const m = /;\s*boundary\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^;\s]+))/i.exec(value);
  if (m) ct.boundary = m[1] !== undefined ? m[1].replace(/\\(.)/g, '$1') : m[2];
  return ct;
}

function convertEntity(entity: string, defaultType: string, top: boolean): string {
  const { headers, sep, body } = splitEntity(entity);
  if (has8bitString(headers)) {
    const name = (/^([^:\r\n]*):[^\r\n]*[\u0080-\u00ff]/m.exec(headers)?.[1] ?? 'a header').trim();
    throw messageError(
      `the relay does not offer 8BITMIME and the header "${name}" has raw 8-bit characters, which cannot be sent as 7-bit`,
      'encode non-ASCII header text as RFC 2047 encoded-words (sendwell\'s message builder does this), or use a relay that offers 8BITMIME and SMTPUTF8',
    );
  }
  const fields = parseFields(headers);
  const ct = parseContentType(fieldValue(fields, 'content-type'), defaultType);
  const cte = (fieldValue(fields, 'content-transfer-encoding') ?? '7bit').toLowerCase();

  if (ct.type.startsWith('multipart/') && ct.boundary) {
    const converted = convertMultipart(body, ct.boundary, ct.type === 'multipart/digest' ? 'message/rfc822' : 'text/plain');
    if (converted === body) return entity;
    return withCte(fields, cte === '8bit' || cte === 'binary' ? '7bit' : undefined, top) + sep + converted;
  }
  if (ct.type === 'message/rfc822' && (cte === '7bit' || cte === '8bit' || cte === 'binary')) {
    const inner = convertEntity(body, 'text/plain', false);
    if (inner === body) return entity;
    return withCte(fields, cte === '7bit' ? undefined : '7bit', top) + sep + inner;
  }
  if (!has8bitString(body)) return entity;
  if (cte === 'base64' || cte === 'quoted-printable') {
    throw messageError(
      `a ${ct.type} part is declared ${cte} but has raw 8-bit octets: it is corrupt`,
      'build the message with sendwell\'s message builder or fix the part\'s encoding',
    );
  }
  if (ct.type.startsWith('text/')) {
    return withCte(fields, 'quoted-printable', top) + (sep || HEADER_END) + encodeQuotedPrintable(body);
  }
  return withCte(fields, 'base64', top) + (sep || HEADER_END) + encodeBase64(body);
}

/** Header block with Content-Transfer-Encoding replaced (or unchanged when `cte` is undefined). */
function withCte(fields: Field[], cte: string | undefined, top: boolean): string {
  if (cte === undefined) return fields.map((f) => f.raw).join('\r\n');
  const kept = fields.filter((f) => f.name !== 'content-transfer-encoding').map((f) => f.raw);
  if (top && !fields.some((f) => f.name === 'mime-version')) kept.push('MIME-Version: 1.0');
  kept.push(`Content-Transfer-Encoding: ${cte}`);
  return kept.join('\r\n');
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

function convertMultipart(body: string, boundary: string, partType: string): string {
  // Delimiter lines: "--boundary" (or "--boundary--" to close), optional
  // transport padding, then CRLF, at the start of the body or after a CRLF.
  const delim = new RegExp(`(^|\\r\\n)--${escapeRegExp(boundary)}(--)?[ \\t]*(\\r\\n|$)`, 'g');
  const out: string[] = [];
  let last = 0;
  let inPart = false;
  let closed = false;
  for (let m = delim.exec(body); m; m = delim.exec(body)) {
    const segment = body.slice(last, m.index);
    out.push(inPart ? convertEntity(segment, partType, false) : stripHighBytes(segment));
    out.push(m[0]);
    last = m.index + m[0].length;
    if (m[0].length === 0) delim.lastIndex++;
    inPart = m[2] === undefined;
    if (!inPart) {
      closed = true;
      break;
    }
  }
  const rest = body.slice(last);
  // After the close delimiter: the epilogue (ignored by readers). Without one, a
  // lenient reader treats the rest as the last part.
  out.push(inPart && !closed ? convertEntity(rest, partType, false) : stripHighBytes(rest));
  return out.join('');
}

/** Preamble and epilogue are ignored by MIME readers (RFC 2046 §5.1.1): replace 8-bit octets. */
function stripHighBytes(s: string): string {
  return s.replace(/[\u0080-\u00ff]/g, '?');
}

function has8bitString(s: string): boolean {
  return /[\u0080-\u00ff]/.test(s);
}

/** RFC 2045 §6.7 quoted-printable of a CRLF text (latin1 string of octets); lines ≤ 76. */
export function encodeQuotedPrintable(text: string): string {
  return text
    .split('\r\n')
    .map((line) => {
      let out = '';
      let len = 0;
      for (let i = 0; i < line.length; i++) {
        const c = line.charCodeAt(i);
        const literal = (c >= 33 && c <= 126 && c !== 61) || ((c === 32 || c === 9) && i < line.length - 1);
        const enc = literal ? line[i]! : '=' + c.toString(16).toUpperCase().padStart(2, '0');
        if (len + enc.length > 75) {
          out += '=\r\n';
          len = 0;
        }
        out += enc;
        len += enc.length;
      }
      return out;
    })
    .join('\r\n');
}

function encodeBase64(body: string): string {
  const b64 = Buffer.from(body, 'latin1').toString('base64');
  const lines: string[] = [];
  for (let i = 0; i < b64.length; i += 76) lines.push(b64.slice(i, i + 76));
  return lines.join('\r\n') + '\r\n';
}

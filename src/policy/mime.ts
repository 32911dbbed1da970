/**
 * A small MIME tree walker over the raw bytes. It reports the structure exactly as
 * written (content types of the real parts, dispositions, transfer encodings, decoded
 * sizes) — what R7 and R9 need and what convenience parsers hide (mailparser, for
 * example, synthesises a `text` body from HTML).
 */
import { parseHeaderValue } from 'nodemailer/lib/mime-funcs';
import { getField, parseHeaderSection, type HeaderField } from './headers.js';

export interface MimePart {
  /** Part path: '' for the message itself, then '1', '1.2', … as in IMAP. */
  path: string;
  headers: HeaderField[];
  /** Lowercased `type/subtype` (default `text/plain`, or `message/rfc822` in a multipart/digest). */
  contentType: string;
  /** Lowercased parameter names → values (boundary, charset, name, …). */
  params: Record<string, string>;
  /** Lowercased Content-Disposition value (`inline`, `attachment`) or undefined. */
  disposition: string | undefined;
  /** File name from Content-Disposition `filename` or Content-Type `name`. */
  filename: string | undefined;
  /** Lowercased Content-Transfer-Encoding (default `7bit`). */
  transferEncoding: string;
  /** The encoded body bytes (for multiparts: the whole body including boundaries). */
  body: Buffer;
  /** 1-based line of the body's first line in the whole message. */
  bodyLine: number;
  children: MimePart[];
  /** Problems found while splitting (missing boundary, unclosed multipart). */
  problems: string[];
}

/** Deeper nesting is not descended into (the part is treated as a leaf). */
export const MAX_MIME_DEPTH = 32;

function lineCount(buf: Buffer, start: number, end: number): number {
  let n = 0;
  for (let i = buf.indexOf(0x0a, start); i >= 0 && i < end; i = buf.indexOf(0x0a, i + 1)) n += 1;
  return n;
}

function parseStructured(field: HeaderField | undefined): { value: string; params: Record<string, string> } | undefined {
  if (!field || field.value === '') return undefined;
  try {
    const parsed = parseHeaderValue(field.value);
    const params: Record<string, string> = {};
    for (const [k, v] of Object.entries(parsed.params)) params[k.toLowerCase()] = String(v);
    return { value: parsed.value.trim().toLowerCase(), params };
  } catch {
    return undefined;
  }
}

/**
 * Split a multipart body at its boundary delimiter lines (RFC 2046 §5.1.1). Returns the
 * [start, end) ranges of the body parts; the line break before each delimiter belongs to
 * the delimiter.
 */
function splitMultipart(buf: Buffer, start: number, end: number, boundary: string): { parts: Array<[number, number]>; closed: boolean } {
  const delimiter = Buffer.from(`--${boundary}`, 'latin1');
  const parts: Array<[number, number]> = [];
  let partStart = -1;
  let closed = false;
  let from = start;
  while (from < end) {
    const hit = buf.indexOf(delimiter, from);
    if (hit < 0 || hit + delimiter.length > end) break;
    from = hit + 1;
    // A delimiter starts a line.
    if (hit !== start && buf[hit - 1] !== 0x0a) continue;
    let lf = buf.indexOf(0x0a, hit + delimiter.length);
    if (lf < 0 || lf >= end) lf = end;
    const rest = buf.subarray(hit + delimiter.length, lf).toString('latin1');
    if (!/^(--)?[ \t\r]*$/.test(rest)) continue;
    if (partStart >= 0) {
      let partEnd = hit;
      if (partEnd > partStart && buf[partEnd - 1] === 0x0a) partEnd -= 1;
      if (partEnd > partStart && buf[partEnd - 1] === 0x0d) partEnd -= 1;
      parts.push([partStart, Math.max(partStart, partEnd)]);
    }
    if (rest.startsWith('--')) {
      closed = true;
      partStart = -1;
      break;
    }
    partStart = lf < end ? lf + 1 : end;
    from = partStart;
  }
  if (partStart >= 0) parts.push([partStart, end]);
  return { parts, closed };
}

function parsePart(buf: Buffer, start: number, end: number, firstLine: number, path: string, depth: number, defaultType: string): MimePart {
  const section = parseHeaderSection(buf, start, end, firstLine);
  const headers = section.fields;
  const ct = parseStructured(getField(headers, 'content-type'));
  let contentType = ct?.value ?? defaultType;
  if (!/^[a-z0-9!#$&^_.+-]+\/[a-z0-9!#$&^_.+-]+$/.test(contentType)) contentType = 'text/plain'; // RFC 2045 §5.2
  const params = ct?.params ?? {};
  const cd = parseStructured(getField(headers, 'content-disposition'));
  const cte = getField(headers, 'content-transfer-encoding')?.value.trim().toLowerCase() || '7bit';
  const body = buf.subarray(section.bodyStart, end);
  const part: MimePart = {
    path,
    headers,
    contentType,
    params,
    disposition: cd?.value || undefined,
    filename: cd?.params['filename'] ?? params['name'],
    transferEncoding: cte,
    body,
    bodyLine: section.bodyLine,
    children: [],
    problems: [],
  };
  if (contentType.startsWith('multipart/') && depth < MAX_MIME_DEPTH) {
    const boundary = params['boundary'];
    if (!boundary) {
      part.problems.push('multipart without a boundary parameter');
      return part;
    }
    const { parts, closed } = splitMultipart(buf, section.bodyStart, end, boundary);
    if (!closed) part.problems.push(`multipart body not closed with --${boundary}--`);
    const childDefault = contentType === 'multipart/digest' ? 'message/rfc822' : 'text/plain';
    let line = section.bodyLine;
    let counted = section.bodyStart;
    parts.forEach(([s, e], i) => {
      line += lineCount(buf, counted, s);
      counted = s;
      part.children.push(parsePart(buf, s, e, line, path ? `${path}.${i + 1}` : String(i + 1), depth + 1, childDefault));
    });
  }
  return part;
}

/** Parse the MIME structure of a whole message. Never throws on malformed input. */
export function parseMime(raw: Buffer): MimePart {
  return parsePart(raw, 0, raw.length, 1, '', 0, 'text/plain');
}

/** All leaf parts (non-multipart), depth first. */
export function leafParts(part: MimePart): MimePart[] {
  if (part.children.length === 0) return [part];
  return part.children.flatMap(leafParts);
}

/** Decode quoted-printable (RFC 2045 §6.7), leniently. */
export function decodeQuotedPrintable(body: Buffer): Buffer {
  const s = body.toString('latin1');
  const out = Buffer.alloc(s.length);
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const ch = s[i]!;
    if (ch === '=') {
      const next2 = s.slice(i + 1, i + 3);
      if (/^[0-9A-Fa-f]{2}$/.test(next2)) {
        out[n++] = parseInt(next2, 16);
        i += 2;
        continue;
      }
      // Soft line break: "=" [whitespace] CRLF
      const soft = /^[ \t]*\r?\n/.exec(s.slice(i + 1, i + 200));
      if (soft) {
        i += soft[0].length;
        continue;
      }
    }
    out[n++] = s.charCodeAt(i) & 0xff;
  }
  return out.subarray(0, n);
}

/** The decoded body bytes of a leaf part. */
export function decodeBody(part: MimePart): Buffer {
  switch (part.transferEncoding) {
    case 'base64':
      // Node's base64 decoder skips line breaks and other non-alphabet characters.
      return Buffer.from(part.body.toString('latin1'), 'base64');
    case 'quoted-printable':
      return decodeQuotedPrintable(part.body);
    default:
      return part.body;
  }
}

/** The decoded body as text (charset from Content-Type, UTF-8 by default). */
export function decodeText(part: MimePart): string {
  const bytes = decodeBody(part);
  const charset = (part.params['charset'] ?? 'utf-8').toLowerCase();
  try {
    return new TextDecoder(charset === 'us-ascii' ? 'utf-8' : charset).decode(bytes);
  } catch {
    return bytes.toString('latin1');
  }
}

/** A body part that a reader sees as the text of the mail (not an attachment). */
export function isBodyText(part: MimePart): boolean {
  return (part.contentType === 'text/plain' || part.contentType === 'text/html') && part.disposition !== 'attachment' && part.filename === undefined;
}

/** Leaf parts counted as attachments for R9 (everything but the text/plain and text/html body). */
export function attachmentParts(root: MimePart): MimePart[] {
  return leafParts(root).filter((p) => !isBodyText(p) && !p.contentType.startsWith('multipart/'));
}

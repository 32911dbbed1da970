/**
 * A raw header parser that keeps the bytes: the lint rules need to see exactly what was
 * written (8-bit bytes, duplicates, folding, invalid names), which normalising parsers hide.
 */
import { isAscii, isUtf8 } from 'node:buffer';

export interface HeaderField {
  /** The field name as written (everything before the first colon; may be invalid). */
  name: string;
  /** The name lowercased, for lookups. */
  key: string;
  /** The value unfolded (line breaks before whitespace removed), decoded (UTF-8 when valid, else Latin-1) and trimmed. */
  value: string;
  /** The field's bytes from the name to the end of its last line, line breaks inside included, final one excluded. */
  raw: Buffer;
  /** 1-based line number of the field's first line in the whole message. */
  line: number;
}

export interface MalformedHeaderLine {
  line: number;
  /** The line (decoded, truncated to 80 characters). */
  text: string;
  reason: string;
}

export interface HeaderSection {
  fields: HeaderField[];
  malformed: MalformedHeaderLine[];
  /** Offset of the first body byte (after the empty line), or `end` when there is no body. */
  bodyStart: number;
  /** 1-based line number of the first body line. */
  bodyLine: number;
  /** Whether an empty line separated the header section from a body. */
  hasSeparator: boolean;
}

/** Is the buffer valid UTF-8? */
export function isValidUtf8(bytes: Uint8Array): boolean {
  return bytes.length === 0 || isUtf8(bytes);
}

/** Does the buffer contain a byte above 0x7F? */
export function has8bit(bytes: Uint8Array): boolean {
  return bytes.length > 0 && !isAscii(bytes);
}

/** Header bytes to text: ASCII as is, valid UTF-8 as UTF-8 (RFC 6532), anything else as Latin-1. */
export function decodeHeaderBytes(bytes: Buffer): string {
  if (!has8bit(bytes)) return bytes.toString('latin1');
  return isValidUtf8(bytes) ? bytes.toString('utf8') : bytes.toString('latin1');
}

function unfold(bytes: Buffer): Buffer {
  const out: number[] = [];
  for (let i = 0; i < bytes.length; i++) {
    const b = bytes[i]!;
    if (b === 0x0d && bytes[i + 1] === 0x0a && (bytes[i + 2] === 0x20 || bytes[i + 2] === 0x09)) {
      i += 1;
      continue;
    }
    if (b === 0x0a && (bytes[i + 1] === 0x20 || bytes[i + 1] === 0x09)) continue;
    out.push(b);
  }
  return Buffer.from(out);
}

function preview(bytes: Buffer): string {
  const s = decodeHeaderBytes(bytes).replace(/[\x00-\x1f\x7f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
  return s.length > 80 ? `${s.slice(0, 77)}...` : s;
}

/**
 * Parse the header section of `buf[start, end)`. Lines end at LF (an optional CR before
 * it belongs to the line break); a bare CR is not a line break. Parsing stops at the
 * first empty line. Never throws.
 */
export function parseHeaderSection(buf: Buffer, start = 0, end = buf.length, firstLine = 1): HeaderSection {
  const fields: HeaderField[] = [];
  const malformed: MalformedHeaderLine[] = [];
  let pos = start;
  let line = firstLine;
  let current: { start: number; end: number; line: number } | undefined;

  const finish = (): void => {
    if (!current) return;
    const raw = buf.subarray(current.start, current.end);
    const colon = raw.indexOf(0x3a);
    const name = raw.subarray(0, colon).toString('latin1');
    fields.push({ name, key: name.toLowerCase(), value: decodeHeaderBytes(unfold(raw.subarray(colon + 1))).trim(), raw, line: current.line });
    current = undefined;
  };

  while (pos < end) {
    let lf = buf.indexOf(0x0a, pos);
    if (lf < 0 || lf >= end) lf = end;
    let contentEnd = lf;
    if (contentEnd > pos && buf[contentEnd - 1] === 0x0d) contentEnd -= 1;
    const next = lf < end ? lf + 1 : end;
    if (contentEnd === pos) {
      // Empty line: end of the header section.
      finish();
      return { fields, malformed, bodyStart: next, bodyLine: line + 1, hasSeparator: true };
    }
    const first = buf[pos];
    if (first === 0x20 || first === 0x09) {
      if (current) current.end = contentEnd;
      else malformed.push({ line, text: preview(buf.subarray(pos, contentEnd)), reason: 'continuation line without a header field before it' });
    } else {
      finish();
      const colon = buf.indexOf(0x3a, pos);
      if (colon < 0 || colon >= contentEnd) {
        malformed.push({ line, text: preview(buf.subarray(pos, contentEnd)), reason: 'line has no colon: neither a header field nor a continuation' });
      } else {
        current = { start: pos, end: contentEnd, line };
      }
    }
    pos = next;
    line += 1;
  }
  finish();
  return { fields, malformed, bodyStart: end, bodyLine: line, hasSeparator: false };
}

/** All fields with this name (case-insensitive), in order. */
export function getFields(fields: readonly HeaderField[], name: string): HeaderField[] {
  const key = name.toLowerCase();
  return fields.filter((f) => f.key === key);
}

/** The first field with this name (case-insensitive). */
export function getField(fields: readonly HeaderField[], name: string): HeaderField | undefined {
  const key = name.toLowerCase();
  return fields.find((f) => f.key === key);
}

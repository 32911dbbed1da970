/**
 * Prepare a message for the SMTP DATA phase (RFC 5321 §4.5.2):
 * every line break becomes CRLF (bare CR and bare LF included, so no
 * `<LF>.<LF>`-style "SMTP smuggling" sequence can end the data early), a
 * line that starts with `.` gets a second `.`, the data ends with CRLF, and the
 * terminating `.CRLF` is appended.
 */

import { isAscii } from 'node:buffer';

const CR = 0x0d;
const LF = 0x0a;
const DOT = 0x2e;
const TERMINATOR = Buffer.from('.\r\n');

const CRLF_TERMINATOR = Buffer.from('\r\n.\r\n');

/**
 * True when every line break is CRLF and no line starts with ".": the common
 * case (sendwell composes CRLF), checked with native searches instead of a
 * loop over every byte.
 */
function alreadyCanonical(raw: Buffer): boolean {
  if (raw[0] === DOT || raw.indexOf('\n.') !== -1) return false;
  for (let i = raw.indexOf(LF); i !== -1; i = raw.indexOf(LF, i + 1)) if (i === 0 || raw[i - 1] !== CR) return false;
  for (let i = raw.indexOf(CR); i !== -1; i = raw.indexOf(CR, i + 1)) if (raw[i + 1] !== LF) return false;
  return true;
}

/** Return the bytes to write after the 354 reply, terminator included. */
export function dotStuff(raw: Buffer): Buffer {
  if (raw.length > 0 && alreadyCanonical(raw)) {
    const ended = raw[raw.length - 1] === LF;
    return Buffer.concat([raw, ended ? TERMINATOR : CRLF_TERMINATOR]);
  }
  return dotStuffBytewise(raw);
}

/** The general case, byte by byte (exported to check the fast path against it). */
export function dotStuffBytewise(raw: Buffer): Buffer {
  // Worst case: every byte is a bare LF/CR needing CRLF plus a dot.
  const out = Buffer.allocUnsafe(raw.length * 2 + 5 + (raw.length === 0 ? 0 : 2));
  let o = 0;
  let lineStart = true;
  for (let i = 0; i < raw.length; i++) {
    const b = raw[i]!;
    if (b === CR || b === LF) {
      out[o++] = CR;
      out[o++] = LF;
      if (b === CR && raw[i + 1] === LF) i++;
      lineStart = true;
      continue;
    }
    if (lineStart && b === DOT) out[o++] = DOT;
    out[o++] = b;
    lineStart = false;
  }
  if (!lineStart) {
    out[o++] = CR;
    out[o++] = LF;
  }
  TERMINATOR.copy(out, o);
  o += TERMINATOR.length;
  return out.subarray(0, o);
}

/** Undo dotStuff (for tests and for servers written in terms of this module). */
export function dotUnstuff(data: Buffer): Buffer {
  const text = data.toString('latin1');
  if (!text.endsWith('.\r\n') || !(text.length === 3 || text.endsWith('\r\n.\r\n'))) {
    throw new RangeError('data does not end with CRLF.CRLF');
  }
  const body = text.slice(0, -3);
  return Buffer.from(body.replace(/(^|\r\n)\./g, '$1'), 'latin1');
}

/** True when the buffer has an octet above 127 (needs 8BITMIME or re-encoding). */
export function has8bit(buf: Buffer): boolean {
  return !isAscii(buf);
}

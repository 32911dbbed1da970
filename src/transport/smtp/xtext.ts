/**
 * xtext (RFC 3461 §4): the encoding of DSN parameters ENVID and ORCPT.
 * Every octet outside `!`..`~`, and `+` and `=` themselves, become `+XX`
 * (upper-case hex). Non-ASCII input is encoded octet by octet as UTF-8.
 */

/** Printable ASCII other than `+` and `=`: such a value is its own xtext (the common case, e.g. addresses). */
const XCHARS_ONLY = /^[\x21-\x2a\x2c-\x3c\x3e-\x7e]*$/;

export function xtextEncode(value: string): string {
  if (XCHARS_ONLY.test(value)) return value;
  let out = '';
  for (const byte of Buffer.from(value, 'utf8')) {
    if (byte >= 0x21 && byte <= 0x7e && byte !== 0x2b && byte !== 0x3d) out += String.fromCharCode(byte);
    else out += '+' + byte.toString(16).toUpperCase().padStart(2, '0');
  }
  return out;
}

/** Decode xtext. Throws a RangeError on a malformed `+XX` sequence. */
export function xtextDecode(value: string): string {
  const bytes: number[] = [];
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if (c === 0x2b) {
      const hex = value.slice(i + 1, i + 3);
      if (!/^[0-9A-F]{2}$/.test(hex)) throw new RangeError(`bad xtext escape at ${i}`);
      bytes.push(parseInt(hex, 16));
      i += 2;
    } else if (c >= 0x21 && c <= 0x7e && c !== 0x3d) {
      bytes.push(c);
    } else {
      throw new RangeError(`character not allowed in xtext at ${i}`);
    }
  }
  return Buffer.from(bytes).toString('utf8');
}

/**
 * Strict address parsing for everything that becomes a header or an SMTP envelope.
 *
 * We accept a conservative subset of RFC 5321/5322 on purpose: no quoted local
 * parts, no comments, no groups, no source routes. Each of those has been used to
 * misroute mail or smuggle SMTP parameters through other libraries
 * (GHSA-mm7p-fcc7-pg87, go-mail #495, nodemailer comment gluing). Input is
 * refused, never "sanitised", and the parsed domain is the one used for RCPT.
 */
import { domainToASCII, domainToUnicode } from 'node:url';
import { SendwellError } from '../errors.js';

/** RFC 5321 §4.5.3.1 limits. */
export const MAX_LOCAL_PART_OCTETS = 64;
export const MAX_DOMAIN_OCTETS = 253;
/** A forward-path is at most 256 octets including the angle brackets. */
export const MAX_ADDRESS_OCTETS = 254;
/** Display names longer than this are refused before any parsing (ReDoS guard). */
export const MAX_MAILBOX_INPUT = 998;

export interface ParsedAddress {
  /** Display name, decoded (never contains CR, LF or NUL). */
  name?: string;
  /** `local@domain` with the domain in Unicode form, lower-cased. */
  address: string;
  local: string;
  /** Domain in Unicode form (U-labels), lower-cased; an IP literal keeps its brackets. */
  domain: string;
  /** Domain as A-labels (punycode), what goes on the wire. */
  asciiDomain: string;
  /** `local@asciiDomain`: the form used in SMTP commands and headers. */
  wire: string;
  /** The local part is not ASCII: needs SMTPUTF8 (RFC 6531) on every hop. */
  needsSmtputf8: boolean;
}

export type AddressInput = string | { name?: string; address: string };

// RFC 5322 atext; single dots between atoms (dot-atom).
const ATEXT = "A-Za-z0-9!#$%&'*+/=?^_`{|}~-";
const DOT_ATOM_ASCII = new RegExp(`^[${ATEXT}]+(\\.[${ATEXT}]+)*$`);
// RFC 6531 extends atext with any non-ASCII UTF-8 character.
const DOT_ATOM_UTF8 = new RegExp(`^[\\u0080-\\u{10FFFF}${ATEXT}]+(\\.[\\u0080-\\u{10FFFF}${ATEXT}]+)*$`, 'u');
const LDH_LABEL = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;
const IPV4 = /^(25[0-5]|2[0-4]\d|1?\d?\d)(\.(25[0-5]|2[0-4]\d|1?\d?\d)){3}$/;
// Control characters anywhere make header or command injection possible.
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u0008\u000a-\u001f\u007f\u0080-\u009f]/;
const LINE_BREAK_OR_NUL = /[\r\n\u0000]/;

function fail(field: string, input: string, why: string, hint: string): never {
  throw new SendwellError('EADDRESS', `${field}: ${JSON.stringify(truncate(input))} ${why}`, { hint });
}

function truncate(s: string): string {
  return s.length > 80 ? `${s.slice(0, 77)}...` : s;
}

/** Refuse CR, LF and NUL (header injection) with the same words everywhere. */
export function assertNoLineBreaks(field: string, value: string, code: 'EADDRESS' | 'EHEADER' = 'EHEADER'): void {
  if (LINE_BREAK_OR_NUL.test(value)) {
    const which = value.includes('\0') ? 'a NUL byte' : 'a line break (CR or LF)';
    throw new SendwellError(code, `${field} contains ${which}, which would let it inject headers or SMTP commands`, {
      hint: 'remove the line break; values that come from users (web forms) must never reach headers unchecked (H1)',
    });
  }
}

/** Validate and normalise a domain. Returns [unicode, ascii]. */
export function parseDomain(field: string, input: string, domain: string): [string, string] {
  if (domain.startsWith('[') && domain.endsWith(']')) {
    const literal = domain.slice(1, -1);
    if (IPV4.test(literal)) return [domain, domain];
    if (/^IPv6:[0-9a-f:.]+$/i.test(literal) && literal.length <= 45) return [domain.toLowerCase(), domain.toLowerCase()];
    fail(field, input, 'has an invalid address literal', 'use [192.0.2.1] or [IPv6:2001:db8::1], or better a host name');
  }
  if (domain.endsWith('.')) fail(field, input, 'has a domain ending in a dot', 'remove the trailing dot');
  // domainToASCII applies UTS #46 (IDNA) mapping and returns '' for invalid input.
  const ascii = domainToASCII(domain).toLowerCase();
  if (!ascii) fail(field, input, 'has an invalid domain', 'check the spelling of the part after the @');
  if (ascii.length > MAX_DOMAIN_OCTETS) fail(field, input, `has a domain longer than ${MAX_DOMAIN_OCTETS} octets`, 'check the domain');
  for (const label of ascii.split('.')) {
    if (!LDH_LABEL.test(label)) {
      fail(field, input, `has an invalid domain label ${JSON.stringify(label)}`, 'domains consist of letters, digits and hyphens, separated by dots');
    }
  }
  if (/^\d+$/.test(ascii.split('.').at(-1) ?? '')) {
    fail(field, input, 'has a numeric top-level domain', 'write an IP address as a literal, e.g. user@[192.0.2.1]');
  }
  return [domainToUnicode(ascii) || ascii, ascii];
}

/** Parse a bare `local@domain` (no display name, no angle brackets). */
export function parseAddrSpec(field: string, addr: string, name?: string): ParsedAddress {
  assertNoLineBreaks(field, addr, 'EADDRESS');
  if (addr.length > MAX_ADDRESS_OCTETS * 4) fail(field, addr, 'is far too long', `an address has at most ${MAX_ADDRESS_OCTETS} octets`);
  if (CONTROL.test(addr)) fail(field, addr, 'contains control characters', 'remove them');
  if (addr.startsWith('"') || addr.includes('"')) {
    fail(field, addr, 'has a quoted local part, which sendwell refuses', 'quoted local parts have been used to misroute mail; use a plain address such as jane.doe@example.org');
  }
  if (/[()]/.test(addr)) fail(field, addr, 'contains a comment in parentheses', 'remove the comment; write a display name as "Name <addr>"');
  if (/\s/.test(addr)) fail(field, addr, 'contains white space', 'remove the spaces');
  if (/[<>,;\\[\]]/.test(addr.replace(/@\[[^\]]*\]$/, '@x'))) {
    fail(field, addr, 'contains characters not allowed in an address (<>,;\\[])', 'give one address per entry, e.g. jane.doe@example.org');
  }
  const at = addr.lastIndexOf('@');
  if (at <= 0 || at === addr.length - 1) fail(field, addr, 'is not an address of the form local@domain', 'write e.g. jane.doe@example.org');
  const local = addr.slice(0, at);
  if (local.includes('@')) fail(field, addr, 'contains more than one @', 'write e.g. jane.doe@example.org');
  const needsSmtputf8 = /[^\x00-\x7f]/.test(local);
  if (!(needsSmtputf8 ? DOT_ATOM_UTF8 : DOT_ATOM_ASCII).test(local)) {
    fail(field, addr, 'has an invalid local part (before the @)', 'use letters, digits and . _ + - only, no leading, trailing or double dots');
  }
  if (Buffer.byteLength(local) > MAX_LOCAL_PART_OCTETS) fail(field, addr, `has a local part longer than ${MAX_LOCAL_PART_OCTETS} octets`, 'shorten it');
  const [domain, asciiDomain] = parseDomain(field, addr, addr.slice(at + 1));
  const wire = `${local}@${asciiDomain}`;
  if (Buffer.byteLength(wire) > MAX_ADDRESS_OCTETS) fail(field, addr, `is longer than ${MAX_ADDRESS_OCTETS} octets`, 'shorten it');
  const parsed: ParsedAddress = { address: `${local}@${domain}`, local, domain, asciiDomain, wire, needsSmtputf8 };
  if (name !== undefined && name !== '') parsed.name = name;
  return parsed;
}

/** Validate a display name: any Unicode text, but no control characters. */
function checkDisplayName(field: string, input: string, name: string): string {
  assertNoLineBreaks(`${field} display name`, name, 'EADDRESS');
  if (CONTROL.test(name)) fail(field, input, 'has control characters in its display name', 'remove them');
  return name.trim();
}

/**
 * Parse one mailbox: `jane@example.org`, `Jane Doe <jane@example.org>`,
 * `"Doe, Jane" <jane@example.org>` or `{ name, address }`.
 */
export function parseMailbox(input: AddressInput, field: string): ParsedAddress {
  if (typeof input === 'object' && input !== null) {
    if (typeof input.address !== 'string') fail(field, String(input.address), 'has no address', 'give { address: "jane@example.org" }');
    const name = input.name === undefined ? undefined : checkDisplayName(field, input.address, input.name);
    return parseAddrSpec(field, input.address.trim(), name);
  }
  if (typeof input !== 'string') fail(field, String(input), 'is not an address', 'give a string such as "Jane Doe <jane@example.org>"');
  assertNoLineBreaks(field, input, 'EADDRESS');
  if (input.length > MAX_MAILBOX_INPUT) fail(field, input, `is longer than ${MAX_MAILBOX_INPUT} characters`, 'shorten it');
  const s = input.trim();
  if (/"\s*@/.test(s)) {
    fail(field, s, 'has a quoted local part, which sendwell refuses', 'quoted local parts have been used to misroute mail; use a plain address such as jane.doe@example.org');
  }
  const lt = s.lastIndexOf('<');
  if (lt === -1) {
    if (s.includes('>')) fail(field, s, 'has a ">" without "<"', 'write "Name <addr>" or just the address');
    return parseAddrSpec(field, s);
  }
  if (!s.endsWith('>')) fail(field, s, 'has text after the closing ">"', 'write "Name <addr>"');
  const addr = s.slice(lt + 1, -1).trim();
  let rawName = s.slice(0, lt).trim();
  if (rawName.startsWith('"')) {
    if (!rawName.endsWith('"') || rawName.length < 2) fail(field, s, 'has an unterminated quoted display name', 'close the quotes');
    const inner = rawName.slice(1, -1);
    if (/(^|[^\\])"/.test(inner)) fail(field, s, 'has a stray quote in its display name', 'escape it as \\" or remove it');
    rawName = inner.replace(/\\(.)/g, '$1');
  } else if (/[<>"@,;:()[\]\\]/.test(rawName)) {
    // Unquoted specials would change how other parsers split the header.
    fail(field, s, 'has special characters in an unquoted display name', 'put the name in double quotes, e.g. "Doe, Jane" <jane@example.org>');
  }
  return parseAddrSpec(field, addr, checkDisplayName(field, s, rawName));
}

/**
 * Parse a list of mailboxes. Strings may hold several comma-separated
 * mailboxes; commas inside quoted display names are respected.
 */
export function parseMailboxList(input: AddressInput | AddressInput[] | undefined, field: string): ParsedAddress[] {
  if (input === undefined) return [];
  const items = Array.isArray(input) ? input : [input];
  const out: ParsedAddress[] = [];
  for (const item of items) {
    if (typeof item === 'string') {
      for (const part of splitList(field, item)) out.push(parseMailbox(part, field));
    } else {
      out.push(parseMailbox(item, field));
    }
  }
  return out;
}

/** Split on commas outside quotes and angle brackets. Groups (`name: a, b;`) are refused. */
function splitList(field: string, s: string): string[] {
  assertNoLineBreaks(field, s, 'EADDRESS');
  const parts: string[] = [];
  let cur = '';
  let quoted = false;
  let angle = false;
  for (let i = 0; i < s.length; i++) {
    const c = s[i]!;
    if (quoted) {
      if (c === '\\') {
        cur += c + (s[i + 1] ?? '');
        i++;
        continue;
      }
      if (c === '"') quoted = false;
    } else if (c === '"') quoted = true;
    else if (c === '<') angle = true;
    else if (c === '>') angle = false;
    else if (c === ',' && !angle) {
      parts.push(cur);
      cur = '';
      continue;
    } else if ((c === ':' || c === ';') && !angle) {
      fail(field, s, 'uses group syntax (name: a, b;), which sendwell does not accept', 'list the addresses one by one');
    }
    cur += c;
  }
  if (quoted) fail(field, s, 'has an unterminated quote', 'close the quotes');
  parts.push(cur);
  const nonEmpty = parts.map((p) => p.trim()).filter((p) => p !== '');
  if (nonEmpty.length === 0) fail(field, s, 'is empty', 'give at least one address');
  return nonEmpty;
}

/**
 * Parse an envelope sender. '' and '<>' are the null reverse-path (RFC 5321
 * §4.5.5), valid for notifications only; policy R3 judges that.
 */
export function parseEnvelopeSender(input: string, field = 'envelope sender'): ParsedAddress | null {
  const s = input.trim();
  if (s === '' || s === '<>') return null;
  return parseAddrSpec(field, s.startsWith('<') && s.endsWith('>') ? s.slice(1, -1) : s);
}

/** Format for a header: RFC 2047 encoding of the name is the composer's job. */
export function formatMailbox(a: ParsedAddress): string {
  return a.name ? `${JSON.stringify(a.name)} <${a.wire}>` : a.wire;
}

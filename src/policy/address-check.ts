/**
 * Strict, conservative address checks used by the lint rules (R2, R3, H1).
 *
 * Pure functions, no I/O, never throw. The accepted grammar is a deliberate subset of
 * RFC 5322 `addr-spec` (see research notes §6.2):
 *
 * - local part: `dot-atom` only (ASCII atext and single dots; no quotes, no comments,
 *   no whitespace). With `utf8: true` (RFC 6531/6532, SMTPUTF8) non-ASCII letters are
 *   atext too.
 * - domain: an LDH host name (labels of letters, digits and inner hyphens) or, in
 *   {@link parseAddress} only, an IPv4/IPv6 address literal (`[192.0.2.1]`, `[IPv6:…]`).
 *
 * {@link parseAddress} checks syntax only (so that a rule can say "unqualified domain"
 * rather than "invalid address"); {@link checkAddress} is the full conservative check
 * for an address that must be usable on the internet (qualified domain, valid TLD).
 */
import { isIPv4, isIPv6 } from '../message/ip.js';
import { domainToASCII } from 'node:url';

/** RFC 5321 §4.5.3.1: a path is at most 256 octets including `<>`, so an address ≤ 254. */
export const MAX_ADDRESS_LENGTH = 254;
export const MAX_LOCAL_PART_LENGTH = 64;
export const MAX_DOMAIN_LENGTH = 253;

export interface AddressCheckOptions {
  /** Accept UTF-8 local parts and U-label domains (only when the relay supports SMTPUTF8). */
  utf8?: boolean;
}

export interface ParsedAddress {
  /** The local part as written. */
  local: string;
  /** The domain as written (brackets included for literals). */
  domain: string;
  /** The domain in ASCII (A-labels), lowercased; for literals the literal as written. */
  asciiDomain: string;
  domainKind: 'hostname' | 'ip-literal';
}

export type AddressCheckResult =
  | { ok: true; address: ParsedAddress }
  | { ok: false; reason: string };

const ATEXT = "A-Za-z0-9!#$%&'*+/=?^_`{|}~-";
const DOT_ATOM_ASCII = new RegExp(`^[${ATEXT}]+(?:\\.[${ATEXT}]+)*$`);
const LDH_LABEL = /^[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/;

function fail(reason: string): AddressCheckResult {
  return { ok: false, reason };
}

/** Describe the first character that no conservative address may contain, if any. */
function forbiddenCharacter(s: string): string | undefined {
  for (const ch of s) {
    const c = ch.codePointAt(0)!;
    if (c === 0x0d || c === 0x0a) return 'contains a line break (CR or LF)';
    if (c === 0x00) return 'contains a NUL character';
    if (c < 0x20 || c === 0x7f || (c >= 0x80 && c <= 0x9f)) return 'contains a control character';
    if (/\s/u.test(ch)) return 'contains whitespace';
    if (ch === '"') return 'contains a quote (quoted local parts are not accepted)';
    if (ch === '(' || ch === ')') return 'contains a comment or parenthesis';
    if (ch === '<' || ch === '>') return 'contains angle brackets';
    if (ch === ',' || ch === ';') return 'contains a list separator (, or ;)';
    if (ch === '\\') return 'contains a backslash';
  }
  return undefined;
}

function isUtf8Atext(ch: string): boolean {
  const c = ch.codePointAt(0)!;
  if (c < 0x80) return ATEXT.includes(ch) || /[A-Za-z0-9]/.test(ch);
  // UTF8-non-ascii (RFC 6532 §3.2), minus whitespace, controls and format characters.
  return c > 0x9f && !/[\s\p{Cc}\p{Cf}\p{Co}\p{Cn}]/u.test(ch);
}

function checkLocalPart(local: string, utf8: boolean): string | undefined {
  if (local.length === 0) return 'has an empty local part';
  if (Buffer.byteLength(local, 'utf8') > MAX_LOCAL_PART_LENGTH) return `local part is longer than ${MAX_LOCAL_PART_LENGTH} octets`;
  if (DOT_ATOM_ASCII.test(local)) return undefined;
  if (local.startsWith('.') || local.endsWith('.') || local.includes('..')) return 'local part has a leading, trailing or double dot';
  if (/[^\x00-\x7f]/.test(local)) {
    if (!utf8) return 'local part contains non-ASCII characters (needs SMTPUTF8)';
    for (const ch of local) if (ch !== '.' && !isUtf8Atext(ch)) return `local part contains the character ${JSON.stringify(ch)}`;
    return undefined;
  }
  const bad = [...local].find((ch) => ch !== '.' && !ATEXT.includes(ch) && !/[A-Za-z0-9]/.test(ch));
  return `local part contains the character ${JSON.stringify(bad ?? local)}`;
}

function checkHostname(domain: string, utf8: boolean): { ascii: string } | { reason: string } {
  if (domain.length === 0) return { reason: 'has an empty domain' };
  let ascii = domain;
  if (/[^\x00-\x7f]/.test(domain)) {
    if (!utf8) return { reason: 'domain contains non-ASCII characters (use the punycode A-label form, or SMTPUTF8)' };
    ascii = domainToASCII(domain);
    if (ascii === '') return { reason: 'domain is not a valid internationalised domain name' };
  }
  if (ascii.length > MAX_DOMAIN_LENGTH) return { reason: `domain is longer than ${MAX_DOMAIN_LENGTH} characters` };
  if (ascii.endsWith('.')) return { reason: 'domain ends with a dot' };
  for (const label of ascii.split('.')) {
    if (label.length === 0) return { reason: 'domain has an empty label (double or leading dot)' };
    if (label.length > 63) return { reason: 'domain has a label longer than 63 characters' };
    if (!LDH_LABEL.test(label)) return { reason: `domain label ${JSON.stringify(label)} is not letters, digits and inner hyphens` };
  }
  return { ascii: ascii.toLowerCase() };
}

function checkLiteral(domain: string): string | undefined {
  const inner = domain.slice(1, -1);
  if (isIPv4(inner)) return undefined;
  if (/^IPv6:/i.test(inner) && isIPv6(inner.slice(5))) return undefined;
  return 'domain literal is not an IPv4 or IPv6 address';
}

/**
 * Syntax check of a bare address (`local@domain`, no angle brackets, no display name).
 * Accepts single-label host names and IP literals, which {@link checkAddress} refuses,
 * so that callers can report those separately.
 */
export function parseAddress(input: string, options: AddressCheckOptions = {}): AddressCheckResult {
  try {
    if (typeof input !== 'string') return fail('is not a string');
    if (input.length === 0) return fail('is empty');
    if (input.length > MAX_ADDRESS_LENGTH * 4 || Buffer.byteLength(input, 'utf8') > MAX_ADDRESS_LENGTH) {
      return fail(`is longer than ${MAX_ADDRESS_LENGTH} octets`);
    }
    const forbidden = forbiddenCharacter(input);
    if (forbidden) return fail(forbidden);
    const at = input.lastIndexOf('@');
    if (at < 0) return fail('has no @domain');
    const local = input.slice(0, at);
    const domain = input.slice(at + 1);
    if (local.includes('@')) return fail('contains more than one @');
    const localProblem = checkLocalPart(local, options.utf8 === true);
    if (localProblem) return fail(localProblem);
    if (domain.startsWith('[')) {
      if (!domain.endsWith(']')) return fail('domain literal is not closed with ]');
      const literalProblem = checkLiteral(domain);
      if (literalProblem) return fail(literalProblem);
      return { ok: true, address: { local, domain, asciiDomain: domain, domainKind: 'ip-literal' } };
    }
    if (domain.includes('[') || domain.includes(']')) return fail('domain contains square brackets');
    const host = checkHostname(domain, options.utf8 === true);
    if ('reason' in host) return fail(host.reason);
    return { ok: true, address: { local, domain, asciiDomain: host.ascii, domainKind: 'hostname' } };
  } catch {
    return fail('could not be checked');
  }
}

/** Is this an acceptable top-level domain label (letters only, or an IDN A-label)? */
export function isValidTld(label: string): boolean {
  return /^[a-z]{2,63}$/i.test(label) || /^xn--[a-z0-9-]{1,59}$/i.test(label);
}

/**
 * The conservative check for an address that must work on the internet: valid syntax
 * ({@link parseAddress}), a host-name domain (no IP literal) with at least one dot and
 * a valid top-level domain. Reserved test domains such as `example.test` pass.
 */
export function checkAddress(input: string, options: AddressCheckOptions = {}): AddressCheckResult {
  const parsed = parseAddress(input, options);
  if (!parsed.ok) return parsed;
  const { asciiDomain, domainKind } = parsed.address;
  if (domainKind === 'ip-literal') return fail('uses an IP address literal instead of a domain');
  if (!asciiDomain.includes('.')) return fail('has an unqualified domain (no dot)');
  const tld = asciiDomain.slice(asciiDomain.lastIndexOf('.') + 1);
  if (!isValidTld(tld)) return fail(`has an invalid top-level domain ${JSON.stringify(tld)}`);
  return parsed;
}

/** Convenience: does {@link checkAddress} accept the input? */
export function isValidAddress(input: string, options: AddressCheckOptions = {}): boolean {
  return checkAddress(input, options).ok;
}

// ---------------------------------------------------------------------------
// R2: senders that cannot receive bounces/replies

/** `noreply`, `no-reply`, `no_reply`, `donotreply`, `do-not-reply`, `jira-noreply`, `noreply+x` … */
const NOREPLY = /(?:^|[-_.])(?:no|do[-_.]?not|dont)[-_.]?reply(?:$|[-_.])/i;

/** Accounts of daemons and web servers: nobody reads their mail. */
export const SYSTEM_ACCOUNTS: readonly string[] = ['nobody', 'www-data', 'wwwrun', '_www', 'apache', 'nginx', 'httpd', 'daemon', 'nogroup'];

/** Local parts that may be a monitored alias on a real mail domain but are a bare system account on a host. */
const LOCAL_ONLY_ACCOUNTS: readonly string[] = ['root'];

export type SenderLocalPartProblem = 'noreply' | 'system';

/**
 * Classify the local part of a sender address for R2. Case-insensitive; a `+tag`
 * (subaddress) is ignored. `root` etc. count only on a local domain (`root@localhost`).
 */
export function senderLocalPartProblem(local: string, domain = ''): SenderLocalPartProblem | undefined {
  const base = local.toLowerCase().split('+')[0] ?? '';
  if (NOREPLY.test(base)) return 'noreply';
  if (SYSTEM_ACCOUNTS.includes(base)) return 'system';
  if (LOCAL_ONLY_ACCOUNTS.includes(base) && senderDomainProblem(domain) !== undefined) return 'system';
  return undefined;
}

export type SenderDomainKind = 'ip-literal' | 'ip-address' | 'unqualified' | 'localhost' | 'reserved-invalid' | 'local-network' | 'invalid-tld';

export interface SenderDomainProblem {
  kind: SenderDomainKind;
  reason: string;
}

/**
 * Classify a sender domain for R2: IP literals, unqualified host names, `localhost`,
 * `*.localhost`, `*.invalid`, `*.local`, `*.localdomain`, invalid TLDs. Returns
 * undefined for a usable domain (including reserved test domains like `example.test`).
 */
export function senderDomainProblem(domain: string): SenderDomainProblem | undefined {
  const d = domain.toLowerCase();
  if (d.startsWith('[')) return { kind: 'ip-literal', reason: 'is an IP address literal' };
  if (d === '') return { kind: 'unqualified', reason: 'is empty' };
  if (isIPv4(d)) return { kind: 'ip-address', reason: 'is an IP address' };
  if (d === 'localhost' || d.endsWith('.localhost')) return { kind: 'localhost', reason: 'is localhost' };
  if (!d.includes('.')) return { kind: 'unqualified', reason: 'is an unqualified host name (no dot)' };
  const tld = d.slice(d.lastIndexOf('.') + 1);
  if (tld === 'invalid') return { kind: 'reserved-invalid', reason: 'is in the reserved .invalid domain' };
  if (tld === 'local' || tld === 'localdomain') return { kind: 'local-network', reason: `is a local-network name (.${tld})` };
  if (!isValidTld(tld)) return { kind: 'invalid-tld', reason: `has an invalid top-level domain .${tld}` };
  return undefined;
}

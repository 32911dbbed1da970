/**
 * `[bounces.imap] url`: its forms and its parsing (no IMAP client here, so that
 * reading the config does not load one).
 */
import { isIPv4, isIPv6 } from '../message/ip.js';
import { SendwellError } from '../errors.js';
import type { PasswordSource } from '../transport/secrets.js';

export interface ImapTarget {
  /** Canonical form, never a password: `imaps://user@host:993`. */
  url: string;
  user: string;
  host: string;
  port: number;
  /** `implicit` (imaps) or `starttls` (imap, required). Always verified. */
  tls: 'implicit' | 'starttls';
}

/** `[bounces.imap]` in the units the code uses. */
export interface ImapSettings extends ImapTarget {
  password: PasswordSource;
  caFile?: string;
  folder: string;
  processedFolder: string;
  pollIntervalMs: number;
}

export const IMAP_PORTS = { imaps: 993, imap: 143 } as const;

const FORMS_HINT = 'valid forms: imaps://user@host[:port] (port 993, implicit TLS, verified); imap://user@host[:port] (port 143, STARTTLS required and verified)';
const HOSTNAME_RE = /^(?=.{1,253}$)[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?(?:\.[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?)*\.?$/;

function configError(shown: string, why: string): SendwellError {
  return new SendwellError('ECONFIG', `invalid bounces.imap.url ${JSON.stringify(shown)}: ${why}`, { hint: FORMS_HINT });
}

/** The URL with anything between "//" and the last "@" hidden (it may hold a password). */
function redact(v: string): string {
  const at = v.lastIndexOf('@');
  const start = v.indexOf('//');
  return start >= 0 && at > start ? `${v.slice(0, start + 2)}***${v.slice(at)}` : v;
}

/** Parse `[bounces.imap] url`. Throws `ECONFIG` (bad form) or `ESECRET` (a password in the URL). */
export function parseImapUrl(value: string): ImapTarget {
  if (typeof value !== 'string' || value.trim() === '') throw configError(String(value), 'it is empty');
  if (/[\u0000-\u001f\u007f]/.test(value)) throw configError(redact(value).replace(/[\u0000-\u001f\u007f]/g, '?'), 'it contains control characters');
  const v = value.trim();
  const m = /^([A-Za-z][A-Za-z0-9+.-]*):\/\/(.*)$/.exec(v);
  if (!m) throw configError(redact(v), 'expected imaps://user@host or imap://user@host');
  const scheme = m[1]!.toLowerCase();
  if (scheme !== 'imaps' && scheme !== 'imap') throw configError(redact(v), `unknown scheme "${scheme}:"`);
  const rest = m[2]!;
  const at = rest.lastIndexOf('@');
  const userinfo = at >= 0 ? rest.slice(0, at) : '';
  // Check for a password before anything else, and never echo it.
  if (userinfo.includes(':')) {
    throw new SendwellError('ESECRET', `bounces.imap.url ${JSON.stringify(redact(v))} contains a password`, {
      rule: 'R11',
      hint: 'never put a password into the URL, where it ends up in shell history, process lists and logs (R11): keep only the user name (imaps://user@host) and give the password as password_file (mode 0600), password_env or password_command',
    });
  }
  if (userinfo === '') throw configError(v, 'the user name is missing, e.g. imaps://bounces@imap.example.org');
  let user: string;
  try {
    user = decodeURIComponent(userinfo);
  } catch {
    throw configError(v, 'the user name is not valid percent-encoding');
  }
  const hm = /^(\[[^\]]*\]|[^:/?#[\]@]*)(?::([^/?#]*))?\/?$/.exec(rest.slice(at + 1));
  if (!hm) throw configError(v, 'it is not of the form scheme://user@host[:port] (no path or parameters)');
  const [, rawHost = '', rawPort] = hm;
  let host: string;
  if (rawHost.startsWith('[')) {
    host = rawHost.slice(1, -1);
    if (!isIPv6(host)) throw configError(v, `"${rawHost}" is not an IPv6 address literal`);
  } else {
    host = rawHost.toLowerCase();
    if (host === '') throw configError(v, 'the host is missing');
    if (!isIPv4(host) && (!HOSTNAME_RE.test(host) || /^[0-9.]+$/.test(host))) throw configError(v, `"${host}" is not a valid host name`);
  }
  let port: number = IMAP_PORTS[scheme];
  if (rawPort !== undefined) {
    if (!/^\d{1,5}$/.test(rawPort) || Number(rawPort) < 1 || Number(rawPort) > 65535) throw configError(v, `port "${rawPort}" is not a number from 1 to 65535`);
    port = Number(rawPort);
  }
  const shownHost = host.includes(':') ? `[${host}]` : host;
  return { url: `${scheme}://${encodeURIComponent(user)}@${shownHost}:${port}`, user, host, port, tls: scheme === 'imaps' ? 'implicit' : 'starttls' };
}

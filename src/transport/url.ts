/**
 * Relay URLs: where and how sendwell hands a message on.
 *
 * | form | meaning |
 * | --- | --- |
 * | `smtp://host[:port]` | port 25; STARTTLS when offered, not verified (opportunistic, RFC 7435) |
 * | `smtp://host[:port]?tls=never` | no STARTTLS at all (a local MTA on localhost:25, rule C1) |
 * | `smtp://host[:port]?tls=verify` | STARTTLS when offered, and then the certificate must verify |
 * | `smtp+starttls://host[:port]` | port 587; STARTTLS required (fails closed), certificate verified (C2) |
 * | `smtps://host[:port]` | port 465; implicit TLS, certificate verified (C2) |
 * | `sendmail:` or `sendmail:/path` | the local sendmail command, default `/usr/sbin/sendmail` (C1) |
 * | `capture:DIR` | write each message into DIR, send nothing (tests, dry runs) |
 *
 * Credentials never go into the URL (rule R11): use password_file, password_env
 * or password_command.
 */
import { isIPv4, isIPv6 } from '../message/ip.js';
import { SendwellError } from '../errors.js';

/** How TLS is used on an SMTP connection. */
export type TlsMode =
  /** never STARTTLS (`?tls=never`) */
  | 'none'
  /** STARTTLS when the relay offers it */
  | 'opportunistic'
  /** STARTTLS required: fail closed if not offered */
  | 'starttls'
  /** TLS from the first byte (smtps) */
  | 'implicit';

export interface SmtpTarget {
  kind: 'smtp';
  /** The URL in canonical form (default port filled in, never credentials). */
  url: string;
  /** Host name or IP address; IPv6 without brackets. */
  host: string;
  port: number;
  tls: TlsMode;
  /** Verify the certificate (host name and chain). Always true for `starttls` and `implicit`. */
  verify: boolean;
}

export interface SendmailTarget {
  kind: 'sendmail';
  url: string;
  path: string;
}

export interface CaptureTarget {
  kind: 'capture';
  url: string;
  dir: string;
}

export type RelayTarget = SmtpTarget | SendmailTarget | CaptureTarget;

export const DEFAULT_PORTS = {
  /** RFC 5321 SMTP relay port: what a local MTA listens on (C1, C3). */
  smtp: 25,
  /** RFC 6409 message submission with STARTTLS (C2). */
  'smtp+starttls': 587,
  /** RFC 8314 submission over implicit TLS (C2). */
  smtps: 465,
} as const;

/** Where the sendmail command usually lives (Postfix, Exim, OpenSMTPD, msmtp-mta). */
export const DEFAULT_SENDMAIL_PATH = '/usr/sbin/sendmail';

export const VALID_FORMS = [
  'smtp://host[:port]  (port 25, STARTTLS if offered; ?tls=never or ?tls=verify)',
  'smtp+starttls://host[:port]  (port 587, STARTTLS required and verified)',
  'smtps://host[:port]  (port 465, implicit TLS, verified)',
  'sendmail:  or  sendmail:/path/to/sendmail',
  'capture:DIR',
];

const FORMS_HINT = `valid forms: ${VALID_FORMS.join('; ')}`;

function configError(value: string, why: string): SendwellError {
  return new SendwellError('ECONFIG', `invalid relay URL ${JSON.stringify(value)}: ${why}`, { hint: FORMS_HINT, details: { value } });
}

/** Remove a password (and user) from a URL before it is shown anywhere. */
export function redactUrl(value: string): string {
  const m = /^([a-z][a-z0-9+.-]*:\/\/)/i.exec(value);
  const at = value.lastIndexOf('@');
  if (!m || at < m[1]!.length) return value;
  return `${m[1]}***@${value.slice(at + 1)}`;
}

const HOSTNAME_RE = /^(?=.{1,253}$)[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?(?:\.[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?)*\.?$/;

/** Parse a relay URL. Throws `ECONFIG` (bad form) or `ESECRET` (credentials in the URL). */
export function parseRelayUrl(value: string): RelayTarget {
  if (typeof value !== 'string' || value.trim() === '') throw configError(String(value), 'it is empty');
  if (/[\u0000-\u001f\u007f]/.test(value)) throw configError(value.replace(/[\u0000-\u001f\u007f]/g, '?'), 'it contains control characters');
  const v = value.trim();

  const schemeMatch = /^([A-Za-z][A-Za-z0-9+.-]*):/.exec(v);
  if (!schemeMatch) throw configError(v, 'it has no scheme');
  const scheme = schemeMatch[1]!.toLowerCase();
  const rest = v.slice(schemeMatch[0].length);

  if (scheme === 'sendmail') {
    const path = rest === '' ? DEFAULT_SENDMAIL_PATH : rest.startsWith('//') ? rest.slice(2) : rest;
    if (!path.startsWith('/')) throw configError(v, 'the sendmail path must be absolute, e.g. sendmail:/usr/sbin/sendmail');
    return { kind: 'sendmail', url: `sendmail:${path}`, path };
  }
  if (scheme === 'capture') {
    const dir = rest.startsWith('//') ? rest.slice(2) : rest;
    if (dir === '') throw configError(v, 'capture: needs a directory, e.g. capture:./outbox');
    return { kind: 'capture', url: `capture:${dir}`, dir };
  }
  if (scheme !== 'smtp' && scheme !== 'smtp+starttls' && scheme !== 'smtps') {
    throw configError(v, `unknown scheme "${scheme}:"`);
  }
  if (!rest.startsWith('//')) throw configError(redactUrl(v), `expected ${scheme}://host`);
  // Host names never contain "@": anything before one is a user name or password,
  // whatever characters it has (so check before any other parsing, and never echo it).
  if (rest.includes('@')) {
    throw new SendwellError('ESECRET', `the relay URL ${JSON.stringify(redactUrl(v))} contains credentials`, {
      rule: 'R11',
      hint: 'never put a user name or password into relay.url, where it ends up in shell history, process lists and logs (R11): set relay.username and give the password as password_file (mode 0600), password_env or password_command',
    });
  }
  const m = /^\/\/(\[[^\]]*\]|[^:/?#[\]]*)(?::([^/?#]*))?\/?(?:\?([^#]*))?$/.exec(rest);
  if (!m) throw configError(v, 'it is not of the form scheme://host[:port]');
  const [, rawHost = '', rawPort, query] = m;

  let host: string;
  if (rawHost.startsWith('[')) {
    host = rawHost.slice(1, -1);
    if (!isIPv6(host)) throw configError(v, `"${rawHost}" is not an IPv6 address literal`);
  } else {
    host = rawHost;
    if (host === '') throw configError(v, 'the host is missing');
    if (!isIPv4(host) && !HOSTNAME_RE.test(host)) throw configError(v, `"${host}" is not a valid host name`);
    if (/^[0-9.]+$/.test(host) && !isIPv4(host)) throw configError(v, `"${host}" is not a valid IPv4 address`);
  }

  let port: number = DEFAULT_PORTS[scheme];
  if (rawPort !== undefined) {
    if (!/^\d{1,5}$/.test(rawPort) || Number(rawPort) < 1 || Number(rawPort) > 65535) {
      throw configError(v, `port "${rawPort}" is not a number from 1 to 65535`);
    }
    port = Number(rawPort);
  }

  let tls: TlsMode = scheme === 'smtps' ? 'implicit' : scheme === 'smtp+starttls' ? 'starttls' : 'opportunistic';
  let verify = scheme !== 'smtp';
  if (query !== undefined && query !== '') {
    for (const pair of query.split('&')) {
      const [k = '', val = ''] = pair.split('=');
      if (k !== 'tls') throw configError(v, `unknown parameter "${k}" (only ?tls=never or ?tls=verify)`);
      if (scheme !== 'smtp') throw configError(v, `?tls= applies to smtp:// only; ${scheme}:// always uses verified TLS`);
      if (val === 'never') {
        tls = 'none';
        verify = false;
      } else if (val === 'verify') {
        verify = true;
      } else {
        throw configError(v, `tls=${val} is not known (use tls=never or tls=verify)`);
      }
    }
  }
  const shownHost = host.includes(':') ? `[${host}]` : host.toLowerCase();
  const q = scheme === 'smtp' && tls === 'none' ? '?tls=never' : scheme === 'smtp' && verify ? '?tls=verify' : '';
  return { kind: 'smtp', url: `${scheme}://${shownHost}:${port}${q}`, host: host.includes(':') ? host : host.toLowerCase(), port, tls, verify };
}

/** One line for logs: what the relay URL means. Never contains secrets. */
export function describeRelay(url: string): string {
  let t: RelayTarget;
  try {
    t = parseRelayUrl(url);
  } catch {
    return `invalid relay URL ${JSON.stringify(redactUrl(url))}`;
  }
  switch (t.kind) {
    case 'sendmail':
      return `the local sendmail command ${t.path}`;
    case 'capture':
      return `capture into ${t.dir} (nothing is sent)`;
    case 'smtp': {
      const where = `${t.host.includes(':') ? `[${t.host}]` : t.host}:${t.port}`;
      const how =
        t.tls === 'none'
          ? 'no TLS'
          : t.tls === 'implicit'
            ? 'implicit TLS, certificate verified'
            : t.tls === 'starttls'
              ? 'STARTTLS required, certificate verified'
              : t.verify
                ? 'STARTTLS if offered, certificate verified'
                : 'STARTTLS if offered, not verified';
      return `SMTP to ${where} (${how})`;
    }
    default: {
      const never: never = t;
      return never;
    }
  }
}

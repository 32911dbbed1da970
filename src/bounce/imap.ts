/**
 * Bounces from an IMAP mailbox (R2, R5): log in over verified TLS, read every
 * message in `folder`, ingest each like `sendwell bounce ingest` does, and
 * move what was handled to `processed_folder`. A message whose ingestion hit
 * temporary trouble stays where it is for the next poll. Nothing is deleted.
 *
 * | form | meaning |
 * | --- | --- |
 * | `imaps://user@host[:port]` | port 993; implicit TLS, certificate verified |
 * | `imap://user@host[:port]` | port 143; STARTTLS required (fails closed), certificate verified |
 *
 * The user name may be percent-encoded (`bounces%40example.org@imap.example.org`).
 * The password never goes into the URL (rule R11): password_file, password_env
 * or password_command, as for the relay.
 */
import { readFileSync } from 'node:fs';
import { rootCertificates } from 'node:tls';
import net from 'node:net';
import { SendwellError } from '../errors.js';
import type { IngestDeps, IngestResult } from './ingest.js';
import { describePasswordSource, resolvePassword, type PasswordSource } from '../transport/secrets.js';

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
    if (!net.isIPv6(host)) throw configError(v, `"${rawHost}" is not an IPv6 address literal`);
  } else {
    host = rawHost.toLowerCase();
    if (host === '') throw configError(v, 'the host is missing');
    if (!net.isIPv4(host) && (!HOSTNAME_RE.test(host) || /^[0-9.]+$/.test(host))) throw configError(v, `"${host}" is not a valid host name`);
  }
  let port: number = IMAP_PORTS[scheme];
  if (rawPort !== undefined) {
    if (!/^\d{1,5}$/.test(rawPort) || Number(rawPort) < 1 || Number(rawPort) > 65535) throw configError(v, `port "${rawPort}" is not a number from 1 to 65535`);
    port = Number(rawPort);
  }
  const shownHost = host.includes(':') ? `[${host}]` : host;
  return { url: `${scheme}://${encodeURIComponent(user)}@${shownHost}:${port}`, user, host, port, tls: scheme === 'imaps' ? 'implicit' : 'starttls' };
}

export interface PolledMessage {
  uid: number;
  /** Moved to the processed folder. */
  moved: boolean;
  result?: IngestResult;
  /** Why it was left in the folder (temporary trouble) or what went wrong. */
  error?: string;
}

export interface PollResult {
  /** The mailbox polled, canonical URL and folder. */
  mailbox: string;
  folder: string;
  processedFolder: string;
  found: number;
  processed: number;
  /** Left in the folder for the next poll. */
  left: number;
  messages: PolledMessage[];
}

export interface PollOptions {
  /** Connection, greeting and socket timeouts (ms). */
  timeoutMs?: number;
  /** Stops a poll between messages (`sendwell serve` shutting down). */
  signal?: AbortSignal;
  env?: NodeJS.ProcessEnv;
}

function loadCa(caFile: string): string[] {
  let pem: string;
  try {
    pem = readFileSync(caFile, 'utf8');
    if (!pem.includes('-----BEGIN CERTIFICATE-----')) throw Object.assign(new Error('no PEM certificate'), { code: 'EBADPEM' });
  } catch (err) {
    throw new SendwellError('ECONFIG', `bounces.imap.ca_file ${caFile} cannot be used (${(err as NodeJS.ErrnoException).code ?? 'error'})`, {
      hint: 'give a readable file with the CA certificate(s) in PEM format',
      cause: err,
    });
  }
  // ca_file adds to the system's CAs; it does not replace them.
  return [...rootCertificates, pem];
}

const TEMPORARY_NET = new Set(['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ENOTFOUND', 'EAI_AGAIN', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'CONNECT_TIMEOUT', 'GREETING_TIMEOUT', 'UPGRADE_TIMEOUT', 'ETIMEOUT', 'NoConnection', 'EConnectionClosed', 'ClosedAfterConnectText', 'ClosedAfterConnectTLS', 'ETHROTTLE']);

/** An imapflow / socket / TLS error as a SendwellError (the password is never part of one). */
export function imapError(err: unknown, target: ImapTarget): SendwellError {
  if (err instanceof SendwellError) return err;
  const e = err as { code?: string; message?: string; authenticationFailed?: boolean; serverResponseCode?: string; responseText?: string };
  const where = `${target.host.includes(':') ? `[${target.host}]` : target.host}:${target.port}`;
  if (e?.authenticationFailed || e?.serverResponseCode === 'AUTHENTICATIONFAILED') {
    return new SendwellError('EAUTH', `the IMAP server ${where} refused the login of ${JSON.stringify(target.user)}${e.responseText ? `: ${e.responseText}` : ''}`, {
      phase: 'auth',
      hint: 'check the user name in bounces.imap.url and the password (password_file / password_env / password_command)',
      cause: err,
    });
  }
  const code = e?.code ?? '';
  if (/CERT|SELF_SIGNED|UNABLE_TO_(GET|VERIFY)|ALTNAME|^ERR_SSL|^ERR_TLS/.test(code) || /STARTTLS/i.test(e?.message ?? '')) {
    return new SendwellError('ETLS', `TLS to the IMAP server ${where} failed (${code || e?.message || 'error'})`, {
      phase: 'tls',
      hint: 'the certificate must be valid for the host name and signed by a trusted CA; for a private CA, set bounces.imap.ca_file',
      cause: err,
    });
  }
  if (TEMPORARY_NET.has(code)) {
    return new SendwellError(/TIMEOUT|ETIMEDOUT/.test(code) ? 'ETIMEDOUT' : code === 'ENOTFOUND' || code === 'EAI_AGAIN' ? 'EDNS' : 'ECONNECTION', `the IMAP server ${where} cannot be reached (${code})`, {
      temporary: true,
      phase: 'connect',
      hint: 'check bounces.imap.url and that the server is up; the next poll tries again',
      cause: err,
    });
  }
  return new SendwellError('EPROTOCOL', `IMAP with ${where} failed: ${e?.responseText ?? e?.message ?? String(err)}`, {
    temporary: true,
    hint: 'the next poll tries again; if it keeps failing, check the folder names and the server log',
    cause: err,
  });
}

/**
 * One poll: every message in `folder` is ingested; handled ones are moved to
 * `processedFolder` (created when missing). Throws a SendwellError when the
 * server cannot be reached (temporary), the login fails (EAUTH) or the
 * configuration is unusable (ECONFIG/ESECRET).
 */
export async function pollImap(settings: ImapSettings, deps: IngestDeps, options: PollOptions = {}): Promise<PollResult> {
  const { ImapFlow } = await import('imapflow');
  const { ingestBounce } = await import('./ingest.js');
  const pass = await resolvePassword(settings.password, options.env ? { env: options.env } : {});
  const ca = settings.caFile ? loadCa(settings.caFile) : undefined;
  const timeout = options.timeoutMs ?? 60_000;
  const client = new ImapFlow({
    host: settings.host,
    port: settings.port,
    secure: settings.tls === 'implicit',
    ...(settings.tls === 'starttls' ? { doSTARTTLS: true } : {}),
    auth: { user: settings.user, pass },
    tls: { rejectUnauthorized: true, minVersion: 'TLSv1.2', ...(ca ? { ca } : {}), ...(net.isIP(settings.host) ? {} : { servername: settings.host }) },
    logger: false,
    disableAutoIdle: true,
    connectionTimeout: timeout,
    greetingTimeout: timeout,
    socketTimeout: timeout * 5,
  });
  // Socket errors after connect() are reported through the commands that fail.
  client.on('error', () => undefined);
  const result: PollResult = { mailbox: settings.url, folder: settings.folder, processedFolder: settings.processedFolder, found: 0, processed: 0, left: 0, messages: [] };
  try {
    await client.connect();
  } catch (err) {
    client.close();
    throw imapError(err, settings);
  }
  try {
    await client.mailboxCreate(settings.processedFolder);
    const lock = await client.getMailboxLock(settings.folder);
    try {
      const uids = (await client.search({ all: true }, { uid: true })) || [];
      result.found = uids.length;
      for (const uid of uids) {
        if (options.signal?.aborted) {
          result.left++;
          result.messages.push({ uid, moved: false, error: 'stopped before this message' });
          continue;
        }
        const msg = await client.fetchOne(String(uid), { source: true }, { uid: true });
        if (!msg || !msg.source) {
          // Expunged by someone else meanwhile.
          result.found--;
          continue;
        }
        const entry: PolledMessage = { uid, moved: false };
        try {
          entry.result = await ingestBounce(msg.source, deps);
        } catch (err) {
          entry.error = (err as Error).message;
          // As `bounce ingest`: a message that can never be read is done with; trouble on our side is not.
          const done = err instanceof SendwellError && !err.temporary && err.code !== 'ECONFIG' && err.code !== 'ESECRET';
          if (!done) {
            result.left++;
            result.messages.push(entry);
            continue;
          }
        }
        const moved = await client.messageMove(String(uid), settings.processedFolder, { uid: true });
        if (moved) {
          entry.moved = true;
          result.processed++;
        } else {
          entry.error = `${entry.error ? `${entry.error}; ` : ''}could not be moved to ${settings.processedFolder}`;
          result.left++;
        }
        result.messages.push(entry);
      }
    } finally {
      lock.release();
    }
  } catch (err) {
    throw imapError(err, settings);
  } finally {
    await client.logout().catch(() => client.close());
  }
  return result;
}

/** One line for logs: the mailbox and how the password is given. Never contains secrets. */
export function describeImap(settings: ImapSettings): string {
  return `${settings.url} folder ${JSON.stringify(settings.folder)} (${settings.tls === 'implicit' ? 'implicit TLS' : 'STARTTLS required'}, certificate verified; ${describePasswordSource(settings.password)})`;
}

/** Summary lines for `sendwell bounce poll` and the daemon's log. */
export function pollSummary(r: PollResult): string[] {
  const lines = [`${r.mailbox} ${r.folder}: ${r.found} message${r.found === 1 ? '' : 's'}, ${r.processed} processed (moved to ${r.processedFolder}), ${r.left} left for the next poll`];
  for (const m of r.messages) {
    if (m.result?.unsubscribed) lines.push(`  uid ${m.uid}: unsubscribed ${m.result.unsubscribed.address} from ${m.result.unsubscribed.list}`);
    else if (m.result?.ignored) lines.push(`  uid ${m.uid}: ignored: ${m.result.ignored}`);
    else if (m.result) for (const x of m.result.recipients) lines.push(`  uid ${m.uid}: ${m.result.kind} ${x.address}${x.queueId ? ` (${x.queueId})` : ' (no queued message found)'}: ${x.category}, ${x.action}`);
    if (m.error) lines.push(`  uid ${m.uid}: ${m.moved ? '' : 'left: '}${m.error}`);
  }
  return lines;
}

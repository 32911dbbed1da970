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
import { describePasswordSource, resolvePassword } from '../transport/secrets.js';
import type { ImapSettings, ImapTarget } from './imap-url.js';

export { IMAP_PORTS, parseImapUrl, type ImapSettings, type ImapTarget } from './imap-url.js';

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

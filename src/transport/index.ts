/**
 * Transports: how a composed message reaches the next hop.
 *
 * @example
 * const t = createTransport({ url: 'smtp+starttls://mail.example.org', username: 'jane', password: { file: '/etc/sendwell/relay.pass' } });
 * const result = await t.send({ from: 'jane@example.org', to: ['bob@example.org'] }, raw);
 * await t.close();
 */
import { promises as fs } from 'node:fs';
import type net from 'node:net';
import { SendwellError } from '../errors.js';
import { CaptureTransport } from './capture.js';
import type { PasswordSource } from './secrets.js';
import { SendmailTransport } from './sendmail.js';
import { DEFAULT_TIMEOUTS, validateHeloName, type Timeouts } from './smtp/session.js';
import { SmtpTransport } from './smtp/transport.js';
import type { DsnOptions, Transport } from './types.js';
import { parseRelayUrl } from './url.js';

export type { DsnOptions, Envelope, RelayInfo, Transport, TransportResult } from './types.js';
export type { PasswordSource } from './secrets.js';
export { resolvePassword, describePasswordSource } from './secrets.js';
export { parseRelayUrl, describeRelay, redactUrl, DEFAULT_PORTS, DEFAULT_SENDMAIL_PATH, type RelayTarget, type SmtpTarget, type SendmailTarget, type CaptureTarget, type TlsMode } from './url.js';
export { DEFAULT_TIMEOUTS, type Timeouts } from './smtp/session.js';
export { SYSEXITS } from './sendmail.js';
export type { CapturedEnvelope } from './capture.js';
export { SmtpTransport } from './smtp/transport.js';
export { SendmailTransport } from './sendmail.js';
export { CaptureTransport } from './capture.js';

export interface RelayOptions {
  /** Relay URL: smtp://, smtp+starttls://, smtps://, sendmail:[path], capture:DIR (see url.ts). */
  url: string;
  /** Log in with this user (SMTP only; needs `password`). */
  username?: string;
  /** Where the password comes from (rule R11). */
  password?: PasswordSource;
  /** Extra CA certificate(s), PEM, trusted besides the system's (e.g. an internal CA). */
  caFile?: string;
  /** EHLO name; default: the host name if fully qualified, else the local address literal. */
  heloName?: string;
  /** Timeouts in ms; unset ones use DEFAULT_TIMEOUTS. */
  timeouts?: Partial<Timeouts>;
  /** DSN parameters for every message (an envelope's own `dsn` wins). Sent only when the relay offers DSN. */
  dsn?: DsnOptions;
  /** Receives the SMTP dialogue line by line (`C: …`/`S: …`), credentials hidden. */
  trace?: (line: string) => void;
  /** DNS lookup for SMTP connections (tests, or custom resolution). */
  lookup?: net.LookupFunction;
}

function checkTimeouts(t: Partial<Timeouts> | undefined): Timeouts {
  const out: Timeouts = { ...DEFAULT_TIMEOUTS };
  for (const [k, v] of Object.entries(t ?? {})) {
    if (v === undefined) continue;
    if (!(k in DEFAULT_TIMEOUTS)) throw new SendwellError('ECONFIG', `unknown timeout "${k}"`, { hint: `known: ${Object.keys(DEFAULT_TIMEOUTS).join(', ')}` });
    if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0 || v > 2_147_483_647) {
      throw new SendwellError('ECONFIG', `timeout ${k} = ${String(v)} is not a positive number of milliseconds`, { hint: 'give milliseconds, e.g. 30000' });
    }
    out[k as keyof Timeouts] = v;
  }
  return out;
}

/**
 * Create the transport for a relay URL. Checks the options now (ECONFIG,
 * ESECRET); connects only when the first message is sent.
 */
export function createTransport(options: RelayOptions): Transport {
  if (!options || typeof options.url !== 'string') {
    throw new SendwellError('ECONFIG', 'relay.url is missing', { hint: 'e.g. smtp://localhost:25 (C1) or smtp+starttls://mail.example.org:587 (C2)' });
  }
  const target = parseRelayUrl(options.url);
  const timeouts = checkTimeouts(options.timeouts);
  const hasUser = options.username !== undefined && options.username !== '';
  if (target.kind !== 'smtp') {
    if (hasUser || options.password) {
      throw new SendwellError('ECONFIG', `relay.username/password do not apply to ${target.kind}: relays`, { hint: 'remove them, or use an smtp relay URL' });
    }
    if (target.kind === 'sendmail') return new SendmailTransport({ path: target.path, url: target.url, timeoutMs: timeouts.sendmailMs, trace: options.trace });
    return new CaptureTransport({ dir: target.dir, url: target.url });
  }
  if (hasUser && /[\r\n\u0000]/.test(options.username!)) {
    throw new SendwellError('ECONFIG', 'relay.username contains a line break or NUL', { hint: 'give the user name on one line' });
  }
  if (hasUser && !options.password) {
    throw new SendwellError('ECONFIG', `relay.username is set but no password source`, { hint: 'set password_file, password_env or password_command (R11)', rule: 'R11' });
  }
  if (!hasUser && options.password) {
    throw new SendwellError('ECONFIG', 'a relay password is configured but relay.username is not', { hint: 'set relay.username, or remove the password settings when the relay needs no login (C1, C2)' });
  }
  if (options.heloName !== undefined) validateHeloName(options.heloName);
  const caFile = options.caFile;
  return new SmtpTransport({
    target,
    heloName: options.heloName,
    username: hasUser ? options.username : undefined,
    password: options.password,
    dsn: options.dsn,
    timeouts,
    trace: options.trace,
    lookup: options.lookup,
    loadCa: caFile
      ? async () => {
          try {
            const pem = await fs.readFile(caFile, 'utf8');
            if (!pem.includes('-----BEGIN CERTIFICATE-----')) throw Object.assign(new Error('no PEM certificate'), { code: 'EBADPEM' });
            return pem;
          } catch (err) {
            throw new SendwellError('ECONFIG', `relay.ca_file ${caFile} cannot be used (${(err as NodeJS.ErrnoException).code ?? 'error'})`, {
              hint: 'give a readable file with the CA certificate(s) in PEM format',
              cause: err,
            });
          }
        }
      : undefined,
  });
}

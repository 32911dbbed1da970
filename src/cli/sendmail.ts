/**
 * The sendmail drop-in: `sendwell sendmail [flags] [recipients…]` and the `sendmail`
 * executable (dist/cli/sendmail-bin.cjs). Reads a message on stdin (or an SMTP
 * dialogue with -bs), treats local senders and recipients as an MTA does
 * (masquerading, aliases, an appended domain), adds what a local submission
 * lacks (Received, Date, Message-ID, From), lints it against the guide and
 * queues it durably before attempting delivery.
 *
 * Start-up matters (cron, PHP's mail()): this module imports what queueing a
 * message needs (the config without zod, the policy, the queue store) and
 * nothing else: the SMTP client, -q and -bp's output are loaded with
 * `await import()` where they are needed. `npm run build` bundles it
 * (scripts/bundle-sendmail.mjs).
 */
import { existsSync, fstatSync, readSync, realpathSync } from 'node:fs';
import { hostname, userInfo } from 'node:os';
import { isAbsolute, join, resolve } from 'node:path';
import type { Readable } from 'node:stream';
import { EXIT, exitCodeFor, isUnknownUser, SendwellError, type ErrorCode } from '../errors.js';
import { CONFIG_SEARCH_PATH, configFromFile, loadConfigFast, type ResolvedConfig } from '../config/resolve.js';
import { defaultIdGenerator, formatDate } from '../message/ids.js';
import { formatReport, lintMessage } from '../policy/index.js';
import { policyError } from '../policy/error.js';
import type { LintReport } from '../policy/types.js';
import { dropMessage, runningMaildrop } from '../queue/maildrop.js';
import { dsnFields, parseNotify, type DsnNotify, type MessageDsn } from '../queue/dsn-params.js';
import { contentHash, QueueService } from '../queue/service.js';
import { randomBytes } from '../random.js';
import type { RecipientRow } from '../queue/store.js';
import { parseAddrSpec, parseMailbox, parseEnvelopeSender, type ParsedAddress } from '../message/address.js';
import { formatMailboxField, mimefy, RawMessage, rewriteAddresses, scanAddressList, stableBody, type RawField } from '../message/raw.js';
import { formatError, processIo, type Io } from './output.js';

// ---------------------------------------------------------------------------
// argv

export type SendmailMode = 'deliver' | 'smtp' | 'print-queue' | 'run-queue' | 'verify' | 'init-aliases' | 'help';
export type DeliveryMode = 'interactive' | 'background' | 'queue';

export interface SendmailArgs {
  mode: SendmailMode;
  /** Recipients from the command line (each may be a comma-separated list). */
  recipients: string[];
  /** -t: recipients from To, Cc and Bcc (or the Resent- headers); Bcc is removed. */
  extractRecipients: boolean;
  /** -i, -oi: a line with a single dot does not end the message. */
  ignoreDots: boolean;
  /** -f, -r: the envelope sender ('' is the null sender <>). */
  sender?: string;
  /** -F: full name for a From that sendwell adds. */
  fullName?: string;
  /** -N: DSN NOTIFY (never, or success/failure/delay), kept with the message. */
  dsnNotify?: DsnNotify;
  /** -R: DSN RET, kept with the message. */
  dsnRet?: 'FULL' | 'HDRS';
  /** -V: DSN envelope ID, kept with the message and sent as ENVID instead of the queue ID. */
  envid?: string;
  /** -B: body type. */
  bodyType?: '7BIT' | '8BITMIME';
  /** -od…, -O DeliveryMode=…: queue only (q, d) or attempt delivery now (i, b). */
  deliveryMode: DeliveryMode;
  /** -n: no alias expansion. */
  noAliases: boolean;
  /** -v */
  verbose: boolean;
  /** Flags that were accepted but have no effect, one warning each (printed on stderr). */
  warnings: string[];
}

/** getopt letters of sendmail(8) that take an argument (glued, `-fADDR`, or the next word). */
const TAKES_ARG = new Set([...'BbCDdeFfhLMNOopQRrVX']);
/** Ignored flags with an argument that every caller may pass: no warning for them. */
const QUIET_WITH_ARG = new Set(['e', 'L', 'p']);
/** Ignored flags without an argument: no effect here, no warning (c: hold connections, m: me too, s: save From lines, U: initial submission, G: gateway). */
const QUIET_FLAGS = new Set([...'cmsUG']);
const IGNORED_WITH_ARG: Record<string, string> = {
  C: 'alternate config file (sendwell reads SENDWELL_CONFIG or /etc/sendwell/sendwell.toml)',
  D: 'debug output file',
  d: 'debug flags',
  h: 'initial hop count',
  M: 'macro definition',
  Q: 'quarantine reason',
  X: 'traffic log file',
};

function usage(message: string, hint: string): SendwellError {
  return new SendwellError('EUSAGE', message, { hint });
}

function stripAngle(s: string): string {
  const t = s.trim();
  return t.startsWith('<') && t.endsWith('>') ? t.slice(1, -1).trim() : t;
}

/**
 * Parse sendmail(8) arguments by hand: getopt-style clusters (`-ti`, `-fADDR`,
 * `-f ADDR`), options before recipients (POSIX: the first non-option ends them,
 * as sendmail does with its `+` optstring), `--` before recipients. Pure.
 */
export function parseSendmailArgs(argv: readonly string[]): SendmailArgs {
  const out: SendmailArgs = {
    mode: 'deliver',
    recipients: [],
    extractRecipients: false,
    ignoreDots: false,
    deliveryMode: 'interactive',
    noAliases: false,
    verbose: false,
    warnings: [],
  };
  let explicitMode: SendmailMode | undefined;
  let queueRun = false;
  const warn = (w: string) => out.warnings.push(w);
  const setMode = (m: SendmailMode): void => {
    explicitMode = m;
  };

  const option = (c: string, v: string): void => {
    switch (c) {
      case 'b':
        switch (v) {
          case 'm':
            return setMode('deliver');
          case 's':
            return setMode('smtp');
          case 'p':
            return setMode('print-queue');
          case 'v':
            return setMode('verify');
          case 'i':
            return setMode('init-aliases');
          case 'd':
          case 'D':
            throw usage(`-b${v}: sendwell has no SMTP daemon mode`, 'run `sendwell worker` to deliver the queue continuously; local programs submit with `sendmail` as before');
          default:
            throw usage(`-b${v} is not supported`, 'supported modes: -bm (deliver, the default), -bs (SMTP on stdin/stdout), -bp (print the queue), -bv (verify recipients), -bi (aliases)');
        }
      case 'f':
      case 'r':
        out.sender = stripAngle(v);
        return;
      case 'F':
        out.fullName = v;
        return;
      case 'N': {
        const notify = parseNotify(v);
        if (!notify) throw usage(`-N ${v} is not a DSN notify list`, 'write -N never, or a comma-separated list of success, failure, delay');
        out.dsnNotify = notify;
        return;
      }
      case 'R': {
        const r = v.toUpperCase();
        if (r !== 'FULL' && r !== 'HDRS') throw usage(`-R ${v} is not a DSN return type`, 'write -R full or -R hdrs');
        out.dsnRet = r;
        return;
      }
      case 'V':
        if (!/^[\x21-\x7e]{1,100}$/.test(v)) throw usage(`-V ${JSON.stringify(v)} is not a valid envelope ID`, 'use 1 to 100 printable ASCII characters without spaces');
        out.envid = v;
        return;
      case 'B': {
        const b = v.toUpperCase();
        if (b === '7BIT' || b === '8BITMIME') out.bodyType = b;
        else warn(`ignored -B ${v} (body types: 7BIT, 8BITMIME)`);
        return;
      }
      case 'o':
        return oOption(v);
      case 'O':
        return bigOOption(v);
      default:
        if (QUIET_WITH_ARG.has(c)) return;
        warn(`ignored -${c} ${v} (${IGNORED_WITH_ARG[c] ?? 'not supported'})`);
    }
  };
  const delivery = (v: string, flag: string): void => {
    const d = v.toLowerCase();
    if (d.startsWith('q') || d.startsWith('d')) out.deliveryMode = 'queue';
    else if (d.startsWith('b')) out.deliveryMode = 'background';
    else if (d.startsWith('i')) out.deliveryMode = 'interactive';
    else warn(`ignored ${flag} (delivery modes: i, b, q, d)`);
  };
  const oOption = (v: string): void => {
    if (v === 'i') out.ignoreDots = true;
    else if (v.startsWith('e') || v === 'm' || v.startsWith('o')) return; // error mode, me too, old headers
    else if (v.startsWith('d')) delivery(v.slice(1), `-o${v}`);
    else warn(`ignored -o${v} (not supported)`);
  };
  const bigOOption = (v: string): void => {
    const m = /^\s*([A-Za-z]+)\s*=\s*(.*)$/.exec(v);
    if (m && m[1]!.toLowerCase() === 'deliverymode') delivery(m[2]!, `-O ${v}`);
    else if (m && m[1]!.toLowerCase() === 'ignoredots') out.ignoreDots = /^(true|t|yes|y|1)?$/i.test(m[2]!.trim());
    else warn(`ignored -O ${v} (not supported)`);
  };

  let i = 0;
  let dashDash = false;
  for (; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--') {
      i++;
      dashDash = true;
      break;
    }
    if (a === '--help') {
      setMode('help');
      continue;
    }
    if (a.startsWith('--')) {
      warn(`ignored unknown option ${a}`);
      continue;
    }
    if (!a.startsWith('-') || a === '-') break;
    for (let j = 1; j < a.length; j++) {
      const c = a[j]!;
      if (c === 'q') {
        // -q runs the queue; -q30m, -qIID, -qRsite, -qf… take only a glued value.
        queueRun = true;
        const v = a.slice(j + 1);
        if (v !== '') warn(`-q${v}: ${/^\d/.test(v) ? 'the interval is ignored (run `sendwell worker` to deliver continuously)' : 'the selection is ignored'}; running the whole queue once`);
        break;
      }
      if (c === 'A') break; // -Ac / -Am: which sendmail.cf to use; glued value, no effect here
      if (TAKES_ARG.has(c)) {
        let v = a.slice(j + 1);
        if (v === '') {
          if (i + 1 >= argv.length) {
            if (IGNORED_WITH_ARG[c] || QUIET_WITH_ARG.has(c)) {
              warn(`ignored -${c} without its argument`);
              break;
            }
            throw usage(`option -${c} needs an argument`, c === 'f' ? 'e.g. -f jane.doe@example.org' : 'see `sendwell sendmail --help`');
          }
          v = argv[++i]!;
        }
        option(c, v);
        break;
      }
      if (c === 't') out.extractRecipients = true;
      else if (c === 'i') out.ignoreDots = true;
      else if (c === 'v') out.verbose = true;
      else if (c === 'n') out.noAliases = true;
      else if (c === 'I') setMode('init-aliases');
      else if (QUIET_FLAGS.has(c)) continue;
      else {
        warn(`ignored unknown flag -${a.slice(j)}`);
        break;
      }
    }
  }
  out.recipients = argv.slice(i);
  const misplaced = dashDash ? undefined : out.recipients.find((r) => r.startsWith('-') && r !== '-');
  if (misplaced !== undefined) {
    throw usage(`${JSON.stringify(misplaced)} comes after the recipients`, 'put options before the recipients, or `--` before recipients that start with "-"');
  }
  if (explicitMode) out.mode = explicitMode;
  else if (queueRun) out.mode = 'run-queue';
  if (queueRun && out.mode !== 'run-queue' && out.mode !== 'help') warn(`-q ignored with -b${out.mode === 'smtp' ? 's' : out.mode === 'print-queue' ? 'p' : out.mode === 'verify' ? 'v' : out.mode === 'init-aliases' ? 'i' : 'm'}`);
  if (out.mode === 'deliver' && !out.extractRecipients && out.recipients.length === 0) {
    throw usage('no recipients given', 'give recipients as arguments (sendmail -i jane@example.org < mail.eml) or use -t to read them from To, Cc and Bcc');
  }
  if (out.mode === 'verify' && out.recipients.length === 0) throw usage('-bv needs recipients to verify', 'e.g. sendmail -bv root');
  if (out.recipients.length > 0 && !['deliver', 'verify'].includes(out.mode)) warn(`recipients ignored in this mode: ${out.recipients.join(' ')}`);
  return out;
}

export const SENDMAIL_HELP = `usage: sendmail [flags] [--] [recipients…] < message
       sendwell sendmail [flags] [--] [recipients…] < message

  -t            recipients from To, Cc, Bcc (Bcc is removed from the message)
  -i, -oi       a line with a single "." does not end the message
  -f ADDR       envelope sender (bounce address, R3); also -r ADDR, -fADDR
  -F NAME       full name for a From header that sendwell adds
  -N DSN        never | success,failure,delay      -R RET   full | hdrs
  -V ENVID      DSN envelope ID (sent instead of the queue ID)
                -N, -R, -V are kept with the message; without them [dsn] applies
  -B TYPE       7BIT | 8BITMIME
  -odq          queue only (deliver later: sendwell worker / sendwell flush)
  -odi, -odb    attempt delivery before exiting (default)
  -oem, -oep…   accepted, no effect (errors go to stderr and the exit status)
  -v            print the queue ID and each recipient's outcome
  -bs           SMTP on stdin/stdout            -bp   print the queue (mailq)
  -q            run the queue once (sendwell flush)
  -bv           verify recipients (aliases)     -bi   check the aliases
Other sendmail flags are accepted and ignored with a warning.

Config: SENDWELL_CONFIG, else /etc/sendwell/sendwell.toml ([sender], [aliases], [sendmail]).
Queue: SENDWELL_STATE_DIR, state_dir, else $XDG_STATE_HOME/sendwell or ~/.local/state/sendwell.
Exit: 0 queued, 64 usage, 65 message or policy error, 67 unknown local user,
      75 nothing could be saved (try again), 78 configuration error.
`;

// ---------------------------------------------------------------------------
// local addresses

const LOCAL_NAME = /^[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*$/;

function domainOf(addr: string): string | undefined {
  const at = addr.lastIndexOf('@');
  return at < 0 ? undefined : addr.slice(at + 1).toLowerCase();
}

function localPartOf(addr: string): string {
  const at = addr.lastIndexOf('@');
  return at < 0 ? addr : addr.slice(0, at);
}

/** A host-local domain: no dot (a short host name), localhost, *.localhost, *.localdomain. */
function isHostLocalDomain(d: string): boolean {
  if (d.startsWith('[')) return false;
  return !d.includes('.') || d === 'localhost' || d.endsWith('.localhost') || d.endsWith('.localdomain');
}

/** The local name of a recipient that is local to this host (`root`, `user@shorthost`, `user@localhost`); undefined for a qualified address. */
export function localRecipient(addr: string): string | undefined {
  const d = domainOf(addr);
  return d === undefined || isHostLocalDomain(d) ? localPartOf(addr) : undefined;
}

/** Is this sender a local account (`root`, `www-data`, `user@shorthost`, `user@localhost`, `user@<this host's FQDN>`)? */
export function isLocalSender(addr: string, localDomains: readonly string[] = []): boolean {
  const d = domainOf(addr);
  if (d === undefined) return LOCAL_NAME.test(addr);
  return isHostLocalDomain(d) || localDomains.includes(d);
}

export type RecipientConfig = Pick<ResolvedConfig, 'aliases' | 'sendmail'>;

function unknownLocalUser(name: string, written: string, via: string[]): SendwellError {
  const chain = via.length ? ` (via alias ${via.join(' → ')})` : '';
  return new SendwellError('EADDRESS', `unknown local user ${JSON.stringify(name)}${chain}: no alias and no [sendmail] append_domain`, {
    hint: `add an alias to sendwell.toml, e.g.\n[aliases]\n${name.toLowerCase()} = "someone@example.org"\nor set [sendmail] append_domain = "example.org" to send to ${name}@example.org`,
    recipients: [{ address: written, status: 'rejected', responseCode: 550, enhancedStatus: '5.1.1', response: 'unknown local user' }],
  });
}

/**
 * Resolve one recipient to envelope addresses, as an MTA does for local mail:
 * qualified addresses are validated strictly; local names go through [aliases]
 * (targets may name other aliases) or get [sendmail] append_domain; an unknown
 * local user is an error (exit 67), never a silent loss.
 */
export function resolveRecipient(input: string, cfg: RecipientConfig, opts: { noAliases?: boolean } = {}, via: string[] = []): string[] {
  const addr = stripAngle(input);
  const local = localRecipient(addr);
  if (local === undefined) return [parseAddrSpec('recipient', addr).wire];
  if (!LOCAL_NAME.test(local)) {
    throw new SendwellError('EADDRESS', `recipient ${JSON.stringify(addr)} is not a valid address or local user name`, { hint: 'write e.g. root or jane.doe@example.org' });
  }
  const key = local.toLowerCase();
  if (!opts.noAliases && Object.hasOwn(cfg.aliases, key)) {
    if (via.includes(key) || via.length >= 10) {
      throw new SendwellError('ECONFIG', `alias loop: ${[...via, key].join(' → ')}`, { hint: 'make every alias end in a qualified address (e.g. admin@example.org)' });
    }
    return cfg.aliases[key]!.flatMap((t) => resolveRecipient(t, cfg, opts, [...via, key]));
  }
  if (cfg.sendmail.appendDomain) return [parseAddrSpec('recipient', `${local}@${cfg.sendmail.appendDomain}`).wire];
  throw unknownLocalUser(local, addr, via);
}

// ---------------------------------------------------------------------------
// preparing a submitted message

/** More sendwell Received headers than this: a loop between the drop-in and its own relay. */
export const MAX_SENDWELL_HOPS = 3;
/** The largest message accepted on stdin or with -bs. */
export const MAX_MESSAGE_BYTES = 64 * 1024 * 1024;

export interface SubmissionInput {
  raw: Buffer;
  /** -f/-r or MAIL FROM; undefined: the caller's login name. '' is the null sender <>. */
  sender?: string;
  /** Command-line or RCPT TO recipients (a command-line entry may be a list). */
  recipients: string[];
  /** -t */
  extract: boolean;
  fullName?: string;
  noAliases?: boolean;
  /** `with` clause of the Received header (-bs). */
  protocol?: 'SMTP' | 'ESMTP';
}

export interface PrepareContext {
  config: Pick<ResolvedConfig, 'sender' | 'aliases' | 'sendmail'>;
  now: Date;
  /** RFC 5322 date in local time (compose.formatDate). */
  formatDate: (d: Date) => string;
  /** Left part of a new Message-ID (compose.defaultIdGenerator). */
  idLeft: () => string;
  /** The `id` of the Received header. */
  receivedId: string;
  /** This host's name in the Received header. */
  host: string;
  uid: number | string;
  /** The caller's login name: the envelope sender when none is given. */
  login: string;
  /** Domains that name this host (its FQDN): senders there are local accounts. */
  localDomains: readonly string[];
}

export interface PreparedMessage {
  raw: Buffer;
  envelopeFrom: string;
  recipients: string[];
  messageId: string;
  subject?: string;
  /** The body, for the duplicate and bulk checks (contentHash), boundaries made stable. */
  bodyText: string;
  /** Some address needs SMTPUTF8. */
  smtputf8: boolean;
  /** What sendwell added or changed, for the notice in the mail log. */
  changes: string[];
}

/** Is this a Received header written by sendwell? */
export function isSendwellReceived(value: string): boolean {
  return /\bby\s+\S+\s+\(sendwell\)/i.test(value);
}

function loopError(message: string): SendwellError {
  return new SendwellError('EMESSAGE', message, {
    hint: 'a mail loop: check that [relay] url does not point back at this sendmail (e.g. sendmail:/usr/sbin/sendmail after installing the drop-in there); use smtp://… to the real MTA or relay',
    details: { loop: true },
  });
}

function decodeRawText(s: string): string {
  if (!/[^\x00-\x7f]/.test(s)) return s;
  const bytes = Buffer.from(s, 'latin1');
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    return s;
  }
}

function parsedOrUndefined(addr: string): ParsedAddress | undefined {
  try {
    return parseAddrSpec('address', addr);
  } catch {
    return undefined;
  }
}

/**
 * Turn a locally submitted message into one fit to queue: recipients resolved,
 * local senders masqueraded, Bcc removed, the missing Date, Message-ID, From and
 * To added, a Received trace header on top. Pure apart from `ctx`.
 */
export function prepareMessage(input: SubmissionInput, ctx: PrepareContext): PreparedMessage {
  const msg = RawMessage.parse(input.raw);
  const cfg = ctx.config;
  const changes: string[] = [];

  // Loops first: nothing else matters for a message that went round in circles.
  const hops = msg.count('Received');
  if (hops > cfg.sendmail.maxHops) throw loopError(`mail loop: the message already has ${hops} Received headers (more than [sendmail] max_hops = ${cfg.sendmail.maxHops})`);
  const ours = msg.count('Received', isSendwellReceived);
  if (ours > MAX_SENDWELL_HOPS) throw loopError(`mail loop: the message already passed sendwell ${ours} times (Received headers "by … (sendwell)")`);

  // Recipients: the command line (or RCPT TO), plus the headers with -t.
  const wanted: string[] = [];
  for (const r of input.recipients) {
    const items = scanAddressList(r);
    if (!items || items.length === 0) throw new SendwellError('EADDRESS', `recipient ${JSON.stringify(r)} is not an address`, { hint: 'write e.g. root or jane.doe@example.org' });
    wanted.push(...items.map((x) => x.address));
  }
  if (input.extract) {
    const resent = ['Resent-To', 'Resent-Cc', 'Resent-Bcc'].some((h) => msg.has(h));
    for (const name of resent ? ['Resent-To', 'Resent-Cc', 'Resent-Bcc'] : ['To', 'Cc', 'Bcc']) {
      for (const value of msg.getAll(name)) {
        const items = scanAddressList(value);
        if (!items) throw new SendwellError('EADDRESS', `the ${name} header cannot be read as an address list: ${JSON.stringify(value.slice(0, 200))}`, { hint: 'write addresses as Name <local@domain> separated by commas (-t reads recipients from it)' });
        wanted.push(...items.map((x) => x.address));
      }
    }
  }
  const recipients: string[] = [];
  let smtputf8 = false;
  for (const w of wanted) {
    for (const addr of resolveRecipient(w, cfg, { noAliases: input.noAliases ?? false })) {
      if (!recipients.some((r) => r.toLowerCase() === addr.toLowerCase())) recipients.push(addr);
      if (/[^\x00-\x7f]/.test(localPartOf(addr))) smtputf8 = true;
    }
  }
  if (recipients.length === 0) {
    throw new SendwellError('EUSAGE', input.extract ? 'no recipients: -t found no addresses in To, Cc or Bcc' : 'no recipients given', {
      hint: 'give recipients as arguments, or add To/Cc/Bcc headers and use -t',
    });
  }

  // Senders: masquerade local accounts as the configured sender (R2, R3).
  let cfgFrom: ParsedAddress | undefined;
  let cfgBounce: string | undefined;
  try {
    if (cfg.sender.from) cfgFrom = parseMailbox(cfg.sender.from, '[sender] from');
    cfgBounce = cfg.sender.envelopeFrom ? (parseEnvelopeSender(cfg.sender.envelopeFrom, '[sender] envelope_from')?.wire ?? undefined) : cfgFrom?.wire;
  } catch (err) {
    throw new SendwellError('ECONFIG', (err as Error).message, { hint: 'fix [sender] in sendwell.toml', cause: err });
  }
  const originals = new Map<string, string[]>();
  const note = (who: string, role: string) => originals.set(who, [...(originals.get(who) ?? []), role]);
  const loginShown = LOCAL_NAME.test(ctx.login) ? ctx.login : `uid ${ctx.uid}`;

  const fromFields = msg.all('From');
  const fromItem = fromFields.length === 1 ? (scanAddressList(msg.get('From') ?? '') ?? [])[0] : undefined;
  const fromIsLocal = fromItem !== undefined && isLocalSender(fromItem.address, ctx.localDomains);
  const fromQualified = fromItem && !fromIsLocal ? parsedOrUndefined(fromItem.address)?.wire : undefined;

  const explicit = input.sender !== undefined;
  const given = explicit ? stripAngle(input.sender!) : ctx.login;
  let envelopeFrom: string;
  let explicitQualified: string | undefined;
  if (explicit && given === '') {
    envelopeFrom = '';
  } else if (!explicit || isLocalSender(given, ctx.localDomains)) {
    const append = cfg.sendmail.appendDomain && LOCAL_NAME.test(localPartOf(given)) ? `${localPartOf(given)}@${cfg.sendmail.appendDomain}` : undefined;
    const replacement = cfgBounce ?? fromQualified ?? append;
    if (replacement) {
      envelopeFrom = replacement;
      note(explicit ? given : loginShown, explicit ? 'envelope sender' : 'login');
      changes.push(`envelope sender ${explicit ? given : loginShown} → ${replacement}`);
    } else {
      envelopeFrom = given; // unqualified: the policy refuses it (R3) with the hint to set [sender] from
    }
  } else {
    envelopeFrom = parseAddrSpec('envelope sender (-f)', given).wire;
    explicitQualified = envelopeFrom;
  }
  if (/[^\x00-\x7f]/.test(localPartOf(envelopeFrom))) smtputf8 = true;
  const envelopeUsable = envelopeFrom !== '' && !isLocalSender(envelopeFrom, ctx.localDomains) ? envelopeFrom : undefined;

  if (fromFields.length === 0) {
    const addr = explicitQualified ?? cfgFrom?.wire ?? envelopeUsable;
    if (addr) {
      const name = input.fullName ?? (addr === cfgFrom?.wire ? cfgFrom.name : undefined);
      msg.add('From', formatMailboxField(name, addr));
      if (addr !== explicitQualified) note(loginShown, 'no From');
      changes.push(`added From ${addr}`);
    }
  } else if (fromItem && fromIsLocal) {
    const addr = cfgFrom?.wire ?? envelopeUsable;
    if (addr) {
      const original = decodeRawText(fromItem.name).trim();
      const name = original || input.fullName || (addr === cfgFrom?.wire ? cfgFrom.name : undefined);
      msg.replace('From', formatMailboxField(name, addr));
      note(fromItem.address, 'From');
      changes.push(`From ${fromItem.address} → ${addr}`);
    }
  }
  if (originals.size > 0) {
    msg.add('X-Sendwell-Original-Sender', [...originals].map(([who, roles]) => `${who} (${roles.join(', ')})`).join(', '));
  }

  // Header recipients: Bcc never leaves; unqualified To/Cc names are written out in full.
  const bcc = msg.remove('Bcc') + msg.remove('Resent-Bcc');
  if (bcc > 0) changes.push('removed Bcc');
  for (const name of ['To', 'Cc', 'Resent-To', 'Resent-Cc']) {
    for (const field of msg.all(name)) {
      const rewritten = qualifyHeaderAddresses(field, cfg, input.noAliases ?? false);
      if (rewritten !== undefined) {
        msg.replaceField(field, rewritten, { keep8bit: true });
        changes.push(`qualified ${name}`);
      }
    }
  }
  if (!msg.has('To') && !msg.has('Cc') && !msg.has('Resent-To') && !msg.has('Resent-Cc')) {
    msg.add('To', 'undisclosed-recipients:;');
    changes.push('added To: undisclosed-recipients:;');
  }

  const mime = mimefy(msg);
  if (mime) changes.push(mime);
  if (!msg.has('Date')) {
    msg.add('Date', ctx.formatDate(ctx.now));
    changes.push('added Date');
  }
  let messageId = msg.get('Message-ID');
  if (messageId === undefined) {
    const finalFrom = (scanAddressList(msg.get('From') ?? '') ?? [])[0]?.address;
    const domain =
      (finalFrom && !isLocalSender(finalFrom, ctx.localDomains) ? parsedOrUndefined(finalFrom)?.asciiDomain : undefined) ??
      (envelopeUsable ? parsedOrUndefined(envelopeUsable)?.asciiDomain : undefined) ??
      cfg.sendmail.appendDomain ??
      ctx.host;
    messageId = `<${ctx.idLeft()}@${domain}>`;
    msg.add('Message-ID', messageId);
    changes.push('added Message-ID');
  }

  const uid = /^[0-9]+$/.test(String(ctx.uid)) ? ctx.uid : 'unknown';
  const host = /^[A-Za-z0-9.-]{1,253}$/.test(ctx.host) ? ctx.host : 'localhost';
  changes.push(`Received id ${ctx.receivedId}`);
  msg.add('Received', `from local (uid ${uid}) by ${host} (sendwell)${input.protocol ? ` with ${input.protocol}` : ''} id ${ctx.receivedId}; ${ctx.formatDate(ctx.now)}`, 'top');

  const subject = msg.get('Subject');
  return {
    raw: msg.toBuffer(),
    envelopeFrom,
    recipients,
    messageId,
    ...(subject !== undefined ? { subject } : {}),
    bodyText: stableBody(msg.get('Content-Type'), msg.body.toString('latin1')),
    smtputf8,
    changes,
  };
}

/** The field's value with unqualified names written out (append_domain, or a single-address alias); undefined when nothing changes. */
function qualifyHeaderAddresses(field: RawField, cfg: RecipientConfig, noAliases: boolean): string | undefined {
  const value = field.text.slice(field.text.indexOf(':') + 1).replace(/\r\n(?=[ \t])/g, '').trim();
  const items = scanAddressList(value);
  if (!items) return undefined;
  const edits: Array<{ start: number; end: number; text: string }> = [];
  for (const item of items) {
    const local = localRecipient(item.address);
    if (local === undefined || !LOCAL_NAME.test(local)) continue;
    let text: string | undefined;
    if (cfg.sendmail.appendDomain) text = `${local}@${cfg.sendmail.appendDomain}`;
    else if (!noAliases) {
      try {
        const targets = resolveRecipient(item.address, cfg, { noAliases });
        if (targets.length === 1) text = targets[0];
      } catch {
        text = undefined;
      }
    }
    if (text) edits.push({ start: item.start, end: item.end, text });
  }
  return edits.length ? rewriteAddresses(value, edits) : undefined;
}

// ---------------------------------------------------------------------------
// reading the message

/**
 * Finds the classic end of input, a line that is a single "." (then LF, CRLF or EOF),
 * in a stream fed chunk by chunk; offsets are from the start of the stream.
 */
export class DotLineScanner {
  private offset = 0;
  private lineStart = true;
  /** 1: a "." at a line start ended the last chunk; 2: ".\r" did. */
  private pending: 0 | 1 | 2 = 0;
  private pendingAt = 0;

  /** Feed the next chunk; returns the offset of the dot line, or -1. */
  feed(c: Buffer): number {
    const base = this.offset;
    this.offset += c.length;
    let p = 0;
    if (this.pending === 1) {
      if (c.length === 0) return -1;
      if (c[0] === 0x0a) return this.pendingAt;
      if (c[0] === 0x0d) {
        this.pending = 2;
        p = 1;
      } else {
        this.pending = 0;
        this.lineStart = false;
      }
    }
    if (this.pending === 2) {
      if (p >= c.length) return -1;
      if (c[p] === 0x0a) return this.pendingAt;
      this.pending = 0;
      this.lineStart = false;
    }
    while (p < c.length) {
      if (this.lineStart && c[p] === 0x2e) {
        const n1 = c[p + 1];
        if (n1 === 0x0a) return base + p;
        if (n1 === undefined) {
          this.pending = 1;
          this.pendingAt = base + p;
          return -1;
        }
        if (n1 === 0x0d) {
          const n2 = c[p + 2];
          if (n2 === 0x0a) return base + p;
          if (n2 === undefined) {
            this.pending = 2;
            this.pendingAt = base + p;
            return -1;
          }
        }
      }
      const lf = c.indexOf(0x0a, p);
      if (lf < 0) {
        this.lineStart = false;
        return -1;
      }
      p = lf + 1;
      this.lineStart = true;
    }
    return -1;
  }

  /** At EOF: a final "." (or ".\r") without a line break also ends the message. */
  end(): number {
    return this.pending ? this.pendingAt : -1;
  }
}

/** Collects the message chunk by chunk: to EOF, or (without -i) to a line with a single dot. */
class MessageCollector {
  private readonly chunks: Buffer[] = [];
  private size = 0;
  private readonly scanner: DotLineScanner | undefined;

  constructor(
    ignoreDots: boolean,
    private readonly max: number,
  ) {
    this.scanner = ignoreDots ? undefined : new DotLineScanner();
  }

  /** Add a chunk; returns the message once a dot line ended it. */
  push(c: Buffer): Buffer | undefined {
    this.chunks.push(c);
    this.size += c.length;
    const dot = this.scanner ? this.scanner.feed(c) : -1;
    // Stop reading at the dot, like sendmail; the rest stays unread.
    if (dot >= 0) return Buffer.concat(this.chunks).subarray(0, dot);
    if (this.size > this.max) {
      throw new SendwellError('EMESSAGE', `the message is larger than ${Math.round(this.max / 1024 / 1024)} MiB`, { hint: 'send large files as links (R9)' });
    }
    return undefined;
  }

  /** At EOF. */
  end(): Buffer {
    const dot = this.scanner ? this.scanner.end() : -1;
    const all = Buffer.concat(this.chunks);
    return dot >= 0 ? all.subarray(0, dot) : all;
  }
}

/** Read the message from stdin: to EOF, or (without -i) to a line with a single dot. */
export async function readMessage(stdin: Readable, ignoreDots: boolean, max = MAX_MESSAGE_BYTES, collector = new MessageCollector(ignoreDots, max)): Promise<Buffer> {
  for await (const chunk of stdin) {
    const done = collector.push(typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer));
    if (done) return done;
  }
  return collector.end();
}

/**
 * readMessage on file descriptor 0 with blocking reads, when it is a pipe, a
 * socket or a file: the same bytes without setting up process.stdin (a stream,
 * which costs start-up time). A read that would block (a non-blocking pipe)
 * hands over to the stream for the rest.
 */
export async function readStdinMessage(ignoreDots: boolean, stdin: () => Readable, max = MAX_MESSAGE_BYTES): Promise<Buffer> {
  const collector = new MessageCollector(ignoreDots, max);
  let st;
  try {
    st = fstatSync(0);
  } catch {
    return readMessage(stdin(), ignoreDots, max, collector);
  }
  if (!st.isFIFO() && !st.isSocket() && !st.isFile()) return readMessage(stdin(), ignoreDots, max, collector);
  for (;;) {
    const buf = Buffer.allocUnsafe(65536);
    let n: number;
    try {
      n = readSync(0, buf, 0, buf.length, null);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'EAGAIN' || code === 'EWOULDBLOCK') return readMessage(stdin(), ignoreDots, max, collector);
      if (code === 'EOF') return collector.end();
      throw err;
    }
    if (n === 0) return collector.end();
    const done = collector.push(buf.subarray(0, n));
    if (done) return done;
  }
}

// ---------------------------------------------------------------------------
// config, state directory, exit codes

/**
 * The drop-in's config: SENDWELL_CONFIG, else the system-wide file. Unlike the
 * other commands it never reads ./sendwell.toml: a web server's cwd may be its
 * document root, where anyone who can upload a file could redirect mail.
 */
export async function loadSendmailConfig(env: NodeJS.ProcessEnv): Promise<ResolvedConfig> {
  // Without zod unless the file has a problem to name (config/resolve.ts): start-up matters here.
  if (env.SENDWELL_CONFIG) return loadConfigFast({ env });
  for (const p of CONFIG_SEARCH_PATH) if (isAbsolute(p) && existsSync(p)) return configFromFile(resolve(p));
  return configFromFile(null);
}

/**
 * The queue directory: SENDWELL_STATE_DIR, state_dir (as `resolveStateDir` in
 * send.ts), else $XDG_STATE_HOME/sendwell or ~/.local/state/sendwell — never the
 * cwd. (Not send.ts's function itself: importing it would load the composer and
 * the transport, which -bp and -odq do not need.)
 */
export function sendmailStateDir(config: Pick<ResolvedConfig, 'stateDir'>, env: NodeJS.ProcessEnv = process.env): string {
  const explicit = env.SENDWELL_STATE_DIR ?? config.stateDir;
  if (explicit) return resolve(explicit);
  const xdg = env.XDG_STATE_HOME;
  if (xdg && isAbsolute(xdg)) return join(xdg, 'sendwell');
  let home = env.HOME;
  if (!home || !isAbsolute(home)) {
    try {
      home = userInfo().homedir;
    } catch {
      home = undefined;
    }
  }
  if (!home || !isAbsolute(home)) {
    throw new SendwellError('ECONFIG', 'no queue directory: HOME is not set and neither SENDWELL_STATE_DIR nor state_dir is configured', {
      hint: 'set state_dir in /etc/sendwell/sendwell.toml (e.g. "/var/spool/sendwell/$USER" per user) or SENDWELL_STATE_DIR',
    });
  }
  return join(home, '.local', 'state', 'sendwell');
}

/** Nothing could be saved: the caller should try again (75). */
function nothingSaved(err: unknown): SendwellError {
  const e = err instanceof SendwellError ? err : undefined;
  return new SendwellError('ECONFIG', e?.message ?? `the message could not be queued: ${(err as Error).message}`, {
    temporary: true,
    hint: `${e?.hint ? `${e.hint}\n` : ''}nothing was queued; it is safe to try again`,
    details: { nothingSaved: true },
    cause: err,
  });
}

/** sysexits for the drop-in: 67 for unknown local users, 75 when nothing could be saved. */
export function sendmailExitCode(err: unknown): number {
  if (err instanceof SendwellError) {
    if ((err.details as { nothingSaved?: boolean } | undefined)?.nothingSaved) return EXIT.TEMPFAIL;
    if (err.code === 'EADDRESS' && err.recipients?.some((r) => isUnknownUser(r))) return EXIT.NOUSER;
  }
  return exitCodeFor(err);
}

/** Is `[relay] url` a sendmail: path that is this drop-in itself? Then every message would loop. */
export function relayLoopsBack(url: string, own: readonly string[] | (() => readonly string[])): string | undefined {
  if (!url.startsWith('sendmail:')) return undefined;
  const path = url.slice('sendmail:'.length).replace(/^\/\//, '') || '/usr/sbin/sendmail';
  let target: string;
  try {
    target = realpathSync(path);
  } catch {
    return undefined;
  }
  return (typeof own === 'function' ? own() : own).some((p) => {
    try {
      return realpathSync(p) === target;
    } catch {
      return false;
    }
  })
    ? path
    : undefined;
}

function ownExecutables(): string[] {
  return ['./sendmail-bin.cjs', './sendmail-bin.js', './bin.cjs', './bin.js'].map((f) => new URL(f, import.meta.url).pathname);
}

// ---------------------------------------------------------------------------
// the submission path, shared by stdin and -bs

export interface SendmailRuntime {
  io: Io;
  env: NodeJS.ProcessEnv;
  stdin: Readable;
  clock: () => Date;
}

class Submitter {
  private queueService: QueueService | undefined;
  private readonly deliveries: Array<Promise<void>> = [];

  constructor(
    readonly config: ResolvedConfig,
    readonly stateDir: string,
    readonly args: SendmailArgs,
    readonly rt: SendmailRuntime,
  ) {}

  private handedToDaemon = false;

  /** -N, -R, -V: this message's DSN parameters (each message of a -bs dialogue gets them too). */
  private get dsn(): MessageDsn {
    const a = this.args;
    return { ...(a.dsnNotify ? { notify: a.dsnNotify } : {}), ...(a.dsnRet ? { ret: a.dsnRet } : {}), ...(a.envid !== undefined ? { envid: a.envid } : {}) };
  }

  private async queue(): Promise<QueueService> {
    if (this.queueService) return this.queueService;
    try {
      this.queueService = QueueService.fromConfig(this.config, this.stateDir);
    } catch (err) {
      throw nothingSaved(err);
    }
    return this.queueService;
  }

  async prepare(input: SubmissionInput): Promise<PreparedMessage> {
    const now = this.rt.clock();
    let login = 'unknown';
    try {
      login = userInfo().username;
    } catch {
      login = this.rt.env.LOGNAME ?? this.rt.env.USER ?? 'unknown';
    }
    const host = hostname();
    return prepareMessage(input, {
      config: this.config,
      now,
      formatDate,
      idLeft: defaultIdGenerator,
      receivedId: randomBytes(6).toString('hex').toUpperCase(),
      host: this.config.relay.heloName ?? host,
      uid: process.getuid?.() ?? 'unknown',
      login,
      localDomains: host.includes('.') ? [host.toLowerCase()] : [],
    });
  }

  /** Lint (65 on errors), queue durably (75 when that fails); returns the queue ID. */
  async submit(p: PreparedMessage): Promise<{ queueId: string; report: LintReport; held: string[] }> {
    const now = this.rt.clock();
    const report = await lintMessage(p.raw, {
      now,
      envelope: { from: p.envelopeFrom, to: p.recipients },
      submission: true,
      policy: this.config.policy,
      ...(p.smtputf8 ? { smtputf8: true } : {}),
    });
    if (!report.ok) {
      const err = policyError(report);
      const senderRules = report.findings.some((f) => f.severity === 'error' && /^(R2|R3|R4)\./.test(f.rule));
      if (senderRules && !this.config.sender.from) {
        const where = this.config.source ?? 'a config file (SENDWELL_CONFIG or /etc/sendwell/sendwell.toml)';
        throw new SendwellError('EPOLICY', err.message, {
          hint: `${err.hint}\nset [sender] from = "Team Name <team@example.org>" in ${where}: mail from local accounts (root, www-data, cron) is then sent as that address`,
          ...(err.rule ? { rule: err.rule } : {}),
          details: err.details,
        });
      }
      throw err;
    }
    // A running `sendwell serve` takes local mail through its maildrop: one queue, one log for all users.
    const drop = runningMaildrop(this.stateDir);
    if (drop) {
      let ack;
      try {
        ack = await dropMessage(drop, { raw: p.raw, envelopeFrom: p.envelopeFrom, recipients: p.recipients, ...(this.dsn.notify || this.dsn.ret || this.dsn.envid ? { dsn: this.dsn } : {}) });
      } catch (err) {
        throw nothingSaved(err);
      }
      if (ack && !ack.ok) throw new SendwellError(ack.error.code as ErrorCode, ack.error.message, { hint: ack.error.hint });
      this.handedToDaemon = true;
      return { queueId: ack?.ok ? ack.queueId : '(maildrop)', report, held: ack?.ok ? ack.held : [] };
    }
    const q = await this.queue();
    let submitted;
    try {
      submitted = q.submit({
        raw: p.raw,
        messageId: p.messageId,
        envelopeFrom: p.envelopeFrom,
        recipients: p.recipients,
        submitter: submitterName(),
        contentHash: contentHash([p.subject, p.bodyText]),
        ...dsnFields(this.dsn),
      });
    } catch (err) {
      throw nothingSaved(err);
    }
    if (p.changes.length) {
      q.log.write({ event: 'notice', time: now.getTime(), queueId: submitted.queueId, level: 'info', text: `sendmail submission: ${p.changes.join('; ')}` });
    }
    return { queueId: submitted.queueId, report, held: submitted.held };
  }

  /** Attempt delivery now (unless -odq); with -bs in the background of the dialogue. */
  deliver(queueId: string): Promise<void> {
    // The daemon's worker delivers what was handed to it.
    if (this.args.deliveryMode === 'queue' || this.handedToDaemon) return Promise.resolve();
    const previous = this.deliveries[this.deliveries.length - 1] ?? Promise.resolve();
    const run = previous.then(async () => {
      const q = await this.queue();
      let rows: RecipientRow[];
      try {
        rows = await q.deliverNow(queueId);
      } catch (err) {
        this.rt.io.stderr(`sendwell: ${queueId} stays queued; the delivery attempt failed: ${(err as Error).message}\n`);
        return;
      }
      await this.report(queueId, rows);
    });
    this.deliveries.push(run);
    return run;
  }

  private async report(queueId: string, rows: RecipientRow[]): Promise<void> {
    const io = this.rt.io;
    if (this.args.verbose) {
      const [{ rowToOutcome }, { formatRecipients }] = await Promise.all([import('../mailer.js'), import('./output.js')]);
      io.stdout(`queued as ${queueId}\n${formatRecipients(rows.map(rowToOutcome))}\n`);
      return;
    }
    for (const r of rows) {
      if (r.state === 'deferred' || r.state === 'queued') {
        io.stderr(`sendwell: ${queueId}: <${r.address}> ${r.state}: ${r.lastReason ?? 'not yet attempted'}; retried by \`sendwell worker\` or \`sendwell flush\` (T1: sendwell sendmail -bp lists it)\n`);
      } else if (r.state === 'bounced' || r.state === 'expired') {
        io.stderr(`sendwell: ${queueId}: <${r.address}> ${r.state}: ${r.lastReason ?? ''}; a notice goes to the sender\n`);
      }
    }
  }

  async close(): Promise<void> {
    await Promise.allSettled(this.deliveries);
    await this.queueService?.close();
  }
}

function submitterName(): string {
  try {
    return `user:${userInfo().username}`;
  } catch {
    return `uid:${process.getuid?.() ?? 'unknown'}`;
  }
}

async function printWarnings(io: Io, report: LintReport): Promise<void> {
  if (report.findings.length === 0) return;
  io.stderr(formatReport(report));
}

// ---------------------------------------------------------------------------
// -bs: SMTP on stdin/stdout

/** Lines from a byte stream; LF or CRLF ends a line; the line is returned without it. */
export class LineReader {
  private buf = Buffer.alloc(0);
  private ended = false;
  private readonly it: AsyncIterator<Buffer | string>;

  constructor(stream: Readable) {
    this.it = stream[Symbol.asyncIterator]() as AsyncIterator<Buffer | string>;
  }

  /** The next line, `{ tooLong: true }` for a line over `max` bytes (discarded), null at EOF. */
  async line(max = Number.POSITIVE_INFINITY): Promise<Buffer | { tooLong: true } | null> {
    let discarding = false;
    for (;;) {
      const lf = this.buf.indexOf(0x0a);
      if (lf >= 0) {
        const line = this.buf.subarray(0, lf > 0 && this.buf[lf - 1] === 0x0d ? lf - 1 : lf);
        this.buf = this.buf.subarray(lf + 1);
        if (discarding || line.length > max) return { tooLong: true };
        return Buffer.from(line);
      }
      if (this.buf.length > max) {
        discarding = true;
        this.buf = Buffer.alloc(0);
      }
      if (this.ended) {
        if (this.buf.length === 0) return discarding ? { tooLong: true } : null;
        const rest = this.buf;
        this.buf = Buffer.alloc(0);
        return discarding ? { tooLong: true } : rest;
      }
      const r = await this.it.next();
      if (r.done) this.ended = true;
      else this.buf = this.buf.length ? Buffer.concat([this.buf, Buffer.from(r.value)]) : Buffer.from(r.value);
    }
  }

  async close(): Promise<void> {
    await this.it.return?.();
  }
}

export interface SmtpHandlers {
  /** Check a MAIL FROM address ('' is the null sender); throws on bad syntax. */
  sender(addr: string): void;
  /** Resolve a RCPT TO address; throws (unknown local user: 550 5.1.1). */
  recipient(addr: string): string[];
  /** Prepare, lint and queue one message; resolves with the queue ID after the durable commit. */
  message(m: { sender: string; recipients: string[]; data: Buffer; protocol: 'SMTP' | 'ESMTP' }): Promise<string>;
}

/** An SMTP reply (one or more lines) for an error. */
export function smtpReplyFor(err: unknown, phase: 'mail' | 'rcpt' | 'data'): string {
  const one = (s: string) => s.replace(/[\x00-\x1f\x7f]+/g, ' ').slice(0, 400);
  const reply = (code: number, enh: string, lines: string[]) =>
    lines.map((l, i) => `${code}${i === lines.length - 1 ? ' ' : '-'}${enh} ${one(l)}`).join('\r\n') + '\r\n';
  if (!(err instanceof SendwellError)) return reply(451, '4.3.0', [`internal error: ${(err as Error)?.message ?? String(err)}`]);
  const hints = err.hint ? err.hint.split('\n').filter(Boolean).map((h) => `hint: ${h}`) : [];
  if ((err.details as { nothingSaved?: boolean } | undefined)?.nothingSaved || err.temporary) return reply(451, '4.3.0', [err.message, ...hints]);
  switch (err.code) {
    case 'EPOLICY':
      return reply(550, '5.7.1', [err.message, ...hints]);
    case 'EADDRESS':
      if (err.recipients?.some((r) => isUnknownUser(r))) return reply(550, '5.1.1', [err.message, ...hints]);
      return reply(phase === 'mail' ? 553 : phase === 'rcpt' ? 553 : 554, phase === 'mail' ? '5.1.7' : phase === 'rcpt' ? '5.1.3' : '5.6.0', [err.message, ...hints]);
    case 'EMESSAGE':
      if ((err.details as { loop?: boolean } | undefined)?.loop) return reply(554, '5.4.6', [err.message, ...hints]);
      return reply(554, '5.6.0', [err.message, ...hints]);
    case 'EHEADER':
      return reply(554, '5.6.0', [err.message, ...hints]);
    case 'EUSAGE':
      return reply(554, '5.5.1', [err.message]);
    case 'ECONFIG':
      return reply(451, '4.3.5', [err.message, ...hints]);
    default:
      return reply(451, '4.3.0', [err.message]);
  }
}

const MAX_RECIPIENTS = 1000;
const MAX_ERRORS = 20;

/**
 * A small, correct SMTP server dialogue (RFC 5321) on a byte stream: greeting,
 * EHLO/HELO, MAIL, RCPT, DATA (dot-unstuffed), RSET, NOOP, VRFY, HELP, QUIT, with
 * enhanced status codes (RFC 3463). The reply to DATA comes after the durable commit.
 */
export async function runSmtpDialogue(input: Readable, write: (s: string) => void, host: string, h: SmtpHandlers): Promise<void> {
  const reader = new LineReader(input);
  const send = (s: string) => write(s.endsWith('\r\n') ? s : `${s}\r\n`);
  send(`220 ${host} ESMTP sendwell (sendmail -bs)`);
  let helo: 'SMTP' | 'ESMTP' | undefined;
  let sender: string | undefined;
  let recipients: string[] = [];
  let errors = 0;
  const reset = () => {
    sender = undefined;
    recipients = [];
  };
  const fail = (s: string) => {
    errors++;
    send(s);
  };
  try {
    for (;;) {
      if (errors >= MAX_ERRORS) {
        send('421 4.7.0 Too many errors, closing the session');
        return;
      }
      const got = await reader.line(2048);
      if (got === null) return;
      if (!Buffer.isBuffer(got)) {
        fail('500 5.5.2 Error: line too long');
        continue;
      }
      const line = got.toString('latin1');
      const m = /^([A-Za-z]+)(?:[ \t]+(.*))?$/.exec(line.trimEnd());
      const verb = m?.[1]?.toUpperCase() ?? '';
      const arg = (m?.[2] ?? '').trim();
      switch (verb) {
        case 'EHLO':
        case 'HELO':
          if (!arg) {
            fail(`501 5.5.4 Syntax: ${verb} hostname`);
            break;
          }
          reset();
          helo = verb === 'EHLO' ? 'ESMTP' : 'SMTP';
          if (verb === 'HELO') send(`250 ${host}`);
          else send([`250-${host}`, '250-PIPELINING', `250-SIZE ${MAX_MESSAGE_BYTES}`, '250-8BITMIME', '250-ENHANCEDSTATUSCODES', '250 HELP'].join('\r\n'));
          break;
        case 'MAIL': {
          if (!helo) {
            fail('503 5.5.1 Error: send HELO/EHLO first');
            break;
          }
          if (sender !== undefined) {
            fail('503 5.5.1 Error: nested MAIL command');
            break;
          }
          const mm = /^FROM:\s*(?:<([^<>]*)>|([^\s<>]+))(.*)$/i.exec(arg);
          if (!mm) {
            fail('501 5.5.4 Syntax: MAIL FROM:<address>');
            break;
          }
          const params = (mm[3] ?? '').trim().split(/\s+/).filter(Boolean);
          const bad = params.find((p) => !/^(BODY=(7BIT|8BITMIME)|SIZE=\d+)$/i.test(p));
          if (bad) {
            fail(`555 5.5.4 Unsupported option: ${bad.replace(/[^\x21-\x7e]/g, '?').slice(0, 80)}`);
            break;
          }
          const size = params.find((p) => /^SIZE=/i.test(p));
          if (size && Number(size.slice(5)) > MAX_MESSAGE_BYTES) {
            fail('552 5.3.4 Message size exceeds fixed limit');
            break;
          }
          const addr = (mm[1] ?? mm[2] ?? '').trim();
          try {
            h.sender(addr);
          } catch (err) {
            fail(smtpReplyFor(err, 'mail'));
            break;
          }
          sender = addr;
          send('250 2.1.0 Ok');
          break;
        }
        case 'RCPT': {
          if (sender === undefined) {
            fail('503 5.5.1 Error: need MAIL command');
            break;
          }
          const mm = /^TO:\s*(?:<([^<>]*)>|([^\s<>]+))(.*)$/i.exec(arg);
          if (!mm) {
            fail('501 5.5.4 Syntax: RCPT TO:<address>');
            break;
          }
          const params = (mm[3] ?? '').trim().split(/\s+/).filter(Boolean);
          if (params.length) {
            fail(`555 5.5.4 Unsupported option: ${params[0]!.replace(/[^\x21-\x7e]/g, '?').slice(0, 80)}`);
            break;
          }
          if (recipients.length >= MAX_RECIPIENTS) {
            send('452 4.5.3 Error: too many recipients');
            break;
          }
          const addr = (mm[1] ?? mm[2] ?? '').trim();
          try {
            for (const r of h.recipient(addr)) if (!recipients.includes(r)) recipients.push(r);
          } catch (err) {
            fail(smtpReplyFor(err, 'rcpt'));
            break;
          }
          send('250 2.1.5 Ok');
          break;
        }
        case 'DATA': {
          if (arg) {
            fail('501 5.5.4 Syntax: DATA');
            break;
          }
          if (sender === undefined) {
            fail('503 5.5.1 Error: need MAIL command');
            break;
          }
          if (recipients.length === 0) {
            fail('554 5.5.1 Error: no valid recipients');
            break;
          }
          send('354 End data with <CR><LF>.<CR><LF>');
          const lines: Buffer[] = [];
          let size = 0;
          let ended = false;
          for (;;) {
            const l = await reader.line();
            if (l === null) break;
            if (!Buffer.isBuffer(l)) continue;
            if (l.length === 1 && l[0] === 0x2e) {
              ended = true;
              break;
            }
            const unstuffed = l[0] === 0x2e ? l.subarray(1) : l;
            size += unstuffed.length + 2;
            if (size <= MAX_MESSAGE_BYTES) lines.push(unstuffed, Buffer.from('\r\n'));
          }
          if (!ended) return; // EOF inside DATA: the client went away; nothing is queued
          const env = { sender, recipients, protocol: helo ?? 'SMTP' } as const;
          reset();
          if (size > MAX_MESSAGE_BYTES) {
            fail('552 5.3.4 Message size exceeds fixed limit');
            break;
          }
          try {
            const id = await h.message({ ...env, data: Buffer.concat(lines) });
            send(`250 2.0.0 Ok: queued as ${id}`);
          } catch (err) {
            fail(smtpReplyFor(err, 'data'));
          }
          break;
        }
        case 'RSET':
          reset();
          send('250 2.0.0 Ok');
          break;
        case 'NOOP':
          send('250 2.0.0 Ok');
          break;
        case 'VRFY':
          send('252 2.0.0 Cannot VRFY user, but will accept the message');
          break;
        case 'HELP':
          send('214 2.0.0 Commands: EHLO HELO MAIL RCPT DATA RSET NOOP VRFY HELP QUIT');
          break;
        case 'QUIT':
          send(`221 2.0.0 ${host} closing the session`);
          return;
        case 'STARTTLS':
        case 'AUTH':
        case 'BDAT':
        case 'EXPN':
        case 'ETRN':
          fail(`502 5.5.1 Error: ${verb} is not offered on a local sendmail -bs session`);
          break;
        default:
          fail('500 5.5.2 Error: command not recognized');
      }
    }
  } finally {
    await reader.close();
  }
}

// ---------------------------------------------------------------------------
// the entry point

let stdinOpened = false;

/** process.stdin, set up on first use only (it costs start-up time; -odq with a piped message reads fd 0 directly). */
function processStdin(): Readable {
  stdinOpened = true;
  return process.stdin;
}

/** Stop waiting for stdin if it was opened (a dot ended the message, or -bs after QUIT). */
export function releaseStdin(): void {
  if (stdinOpened) process.stdin.destroy();
}

/** `sendmail [flags] [recipients…]`: returns the exit code (sysexits). */
export async function sendmailMain(argv: readonly string[], runtime: Partial<SendmailRuntime> = {}): Promise<number> {
  const rt: SendmailRuntime = {
    io: runtime.io ?? processIo,
    env: runtime.env ?? process.env,
    clock: runtime.clock ?? (() => new Date()),
    get stdin() {
      return runtime.stdin ?? processStdin();
    },
  };
  const { io } = rt;
  let args: SendmailArgs;
  try {
    args = parseSendmailArgs(argv);
  } catch (err) {
    io.stderr(formatError(err));
    return sendmailExitCode(err);
  }
  for (const w of args.warnings) io.stderr(`sendwell sendmail: warning: ${w}\n`);
  if (args.mode === 'help') {
    io.stdout(SENDMAIL_HELP);
    return EXIT.OK;
  }
  let submitter: Submitter | undefined;
  let dialogue = false;
  try {
    const config = await loadSendmailConfig(rt.env);
    const loop = relayLoopsBack(config.relay.url, ownExecutables);
    switch (args.mode) {
      case 'print-queue':
        return await printQueue(config, rt);
      case 'run-queue': {
        if (loop) throw relayLoopConfigError(config, loop);
        const { flushCommand } = await import('./queue.js');
        // Same file and queue as this drop-in (flush would otherwise also look in the cwd).
        return await flushCommand({ stateDir: sendmailStateDir(config, rt.env), ...(config.source ? { config: config.source } : {}) }, io);
      }
      case 'init-aliases': {
        const n = Object.keys(config.aliases).length;
        io.stdout(`sendwell: ${n} alias${n === 1 ? '' : 'es'} in [aliases] of ${config.source ?? 'the defaults (no config file)'}; they are read at each submission, nothing to rebuild\n`);
        return EXIT.OK;
      }
      case 'verify':
        return verifyRecipients(args, config, io);
      default:
        break;
    }
    if (loop) throw relayLoopConfigError(config, loop);
    submitter = new Submitter(config, sendmailStateDir(config, rt.env), args, rt);
    if (args.mode === 'smtp') {
      dialogue = true;
      await smtpMode(submitter, rt);
      return EXIT.OK;
    }
    const raw = runtime.stdin ? await readMessage(runtime.stdin, args.ignoreDots) : await readStdinMessage(args.ignoreDots, processStdin);
    const prepared = await submitter.prepare({
      raw,
      ...(args.sender !== undefined ? { sender: args.sender } : {}),
      recipients: args.recipients,
      extract: args.extractRecipients,
      ...(args.fullName !== undefined ? { fullName: args.fullName } : {}),
      noAliases: args.noAliases,
    });
    const { queueId, report, held } = await submitter.submit(prepared);
    await printWarnings(io, report);
    for (const hold of held) io.stderr(`sendwell: ${queueId} held: ${hold}\n`);
    await submitter.deliver(queueId);
    if (args.verbose && args.deliveryMode === 'queue') io.stdout(`queued as ${queueId}\n`);
    return EXIT.OK;
  } catch (err) {
    // An SMTP client (-bs) reads stdout: tell it why there is no session instead of just closing.
    if (args.mode === 'smtp' && !dialogue) io.stdout(smtpReplyFor(err, 'mail').replace(/^\d{3}([- ])\d\.\d+\.\d+/gm, (_m, sep: string) => `421${sep}4.3.0`));
    io.stderr(formatError(err));
    return sendmailExitCode(err);
  } finally {
    await submitter?.close();
  }
}

function relayLoopConfigError(config: ResolvedConfig, path: string): SendwellError {
  return new SendwellError('ECONFIG', `[relay] url = "${config.relay.url}" runs ${path}, which is this sendwell drop-in: every message would loop`, {
    hint: 'point [relay] url at the real MTA or relay instead, e.g. smtp://localhost:25 or smtp+starttls://mail.example.org:587',
  });
}

async function printQueue(config: ResolvedConfig, rt: SendmailRuntime): Promise<number> {
  const stateDir = sendmailStateDir(config, rt.env);
  const [{ openSqliteStore, DB_FILE }, { formatMailq }] = await Promise.all([import('../queue/sqlite/index.js'), import('../queue/inspect.js')]);
  if (!existsSync(join(stateDir, DB_FILE))) {
    rt.io.stdout('Mail queue is empty\n');
    return EXIT.OK;
  }
  const store = openSqliteStore(stateDir);
  try {
    rt.io.stdout(formatMailq(store.pending(), rt.clock().getTime()));
  } finally {
    store.close();
  }
  return EXIT.OK;
}

function verifyRecipients(args: SendmailArgs, config: ResolvedConfig, io: Io): number {
  let code: number = EXIT.OK;
  for (const r of args.recipients) {
    for (const item of scanAddressList(r) ?? [{ address: r }]) {
      try {
        const targets = resolveRecipient(item.address, config, { noAliases: args.noAliases });
        io.stdout(`${item.address}... deliverable: ${targets.join(', ')}\n`);
      } catch (err) {
        io.stdout(`${item.address}... ${err instanceof SendwellError && sendmailExitCode(err) === EXIT.NOUSER ? 'User unknown' : 'not deliverable'}: ${(err as Error).message}\n`);
        if (code === EXIT.OK) code = sendmailExitCode(err);
      }
    }
  }
  return code;
}

async function smtpMode(submitter: Submitter, rt: SendmailRuntime): Promise<void> {
  const { config, args } = submitter;
  const host = /^[A-Za-z0-9.-]{1,253}$/.test(config.relay.heloName ?? hostname()) ? (config.relay.heloName ?? hostname()) : 'localhost';
  await runSmtpDialogue(rt.stdin, rt.io.stdout, host, {
    sender(addr) {
      if (addr === '' || isLocalSender(addr)) return;
      parseAddrSpec('sender', addr);
    },
    recipient(addr) {
      return resolveRecipient(addr, config, { noAliases: args.noAliases });
    },
    async message(m) {
      const prepared = await submitter.prepare({
        raw: m.data,
        sender: m.sender,
        recipients: m.recipients,
        extract: false,
        ...(args.fullName !== undefined ? { fullName: args.fullName } : {}),
        noAliases: args.noAliases,
        protocol: m.protocol,
      });
      const { queueId, report, held } = await submitter.submit(prepared);
      await printWarnings(rt.io, report);
      for (const hold of held) rt.io.stderr(`sendwell: ${queueId} held: ${hold}\n`);
      // The 250 goes out now; the delivery attempt runs while the dialogue continues.
      void submitter.deliver(queueId);
      return queueId;
    },
  });
}

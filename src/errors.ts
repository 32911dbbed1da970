/**
 * One error type for everything sendwell refuses or fails at, with a stable `code`.
 * Users match on `code` (and `temporary`), never on the message text.
 */

/** Where in an SMTP (or sendmail) exchange a failure happened. */
export type Phase = 'connect' | 'tls' | 'auth' | 'mail' | 'rcpt' | 'data';

/** Every stable error code sendwell emits, with what it means. */
export const ERROR_CODES = {
  EUSAGE: 'the command or call was used wrongly',
  ECONFIG: 'the configuration is invalid or incomplete',
  ESECRET: 'a secret (password) is stored or passed unsafely, or cannot be read (R11)',
  EADDRESS: 'an address is malformed or not allowed',
  EHEADER: 'a header name or value is malformed or would inject headers',
  EMESSAGE: 'the message cannot be composed (unreadable attachment, bad body, too large)',
  EPOLICY: 'the message breaks an error-level rule of the guide',
  ECONNECTION: 'the relay could not be reached or dropped the connection',
  EDNS: 'the relay host name could not be resolved',
  ETIMEDOUT: 'the relay did not answer in time',
  ETLS: 'TLS could not be established or the certificate is not trusted',
  EAUTH: 'authentication failed or is not possible safely',
  EPROTOCOL: 'the relay answered something that is not valid SMTP',
  EREJECTED: 'the relay refused the message (MAIL FROM or DATA)',
  ERECIPIENTS: 'the relay refused every recipient',
  ESIZE: 'the message is larger than the relay accepts',
  ESMTPUTF8: 'an address needs SMTPUTF8 but the relay does not offer it',
  ESENDMAIL: 'the sendmail command failed',
  ECAPTURE: 'the capture directory could not be written',
  ECONSENT: 'bulk mail to recipients without a recorded consent for the list (R1)',
} as const;

export type ErrorCode = keyof typeof ERROR_CODES;

/** Outcome for one recipient of one delivery attempt. */
export interface RecipientOutcome {
  address: string;
  status: 'accepted' | 'rejected';
  /** SMTP reply code, e.g. 250 or 550. Absent for transports without replies (capture). */
  responseCode?: number;
  /** RFC 3463 enhanced status code, e.g. `5.1.1`, when the relay sent one. */
  enhancedStatus?: string;
  /** The relay's reply text (all lines joined with a space). */
  response?: string;
  /** For rejections: whether trying again later may succeed. */
  temporary?: boolean;
}

export interface SendwellErrorOptions {
  temporary?: boolean;
  responseCode?: number;
  enhancedStatus?: string;
  response?: string;
  phase?: Phase;
  hint?: string;
  rule?: string;
  recipients?: RecipientOutcome[];
  cause?: unknown;
  details?: unknown;
}

/** Marks SendwellErrors of every copy of this module (see Symbol.hasInstance below). */
const BRAND = Symbol.for('sendwell.SendwellError');

export class SendwellError extends Error {
  /**
   * `instanceof SendwellError` holds for errors from another copy of this
   * module too: the bundled sendmail drop-in (dist/cli/sendmail-bundle.cjs)
   * has its own, and loads the rarely used parts from dist/.
   */
  static override [Symbol.hasInstance](value: unknown): value is SendwellError {
    return typeof value === 'object' && value !== null && (value as { [BRAND]?: unknown })[BRAND] === true;
  }

  declare readonly [BRAND]: true;
  override readonly name = 'SendwellError';
  readonly code: ErrorCode;
  /** True when the same attempt may succeed later (4xx, timeouts, refused connections). */
  readonly temporary: boolean;
  readonly responseCode?: number;
  readonly enhancedStatus?: string;
  /** The relay's full reply text, when there was one. */
  readonly response?: string;
  readonly phase?: Phase;
  /** What to do about it, in words. */
  readonly hint: string;
  /** The guide rule that applies, e.g. `C1` or `R11`. */
  readonly rule?: string;
  /** Per-recipient outcomes when recipients were involved. */
  readonly recipients?: RecipientOutcome[];
  /** Structured extra data (e.g. lint findings for EPOLICY). */
  readonly details?: unknown;

  constructor(code: ErrorCode, message: string, options: SendwellErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.temporary = options.temporary ?? false;
    this.hint = options.hint ?? '';
    if (options.responseCode !== undefined) this.responseCode = options.responseCode;
    if (options.enhancedStatus !== undefined) this.enhancedStatus = options.enhancedStatus;
    if (options.response !== undefined) this.response = options.response;
    if (options.phase !== undefined) this.phase = options.phase;
    if (options.rule !== undefined) this.rule = options.rule;
    if (options.recipients !== undefined) this.recipients = options.recipients;
    if (options.details !== undefined) this.details = options.details;
  }

  /** A plain object for `--json` output and logs. */
  toJSON(): Record<string, unknown> {
    return {
      code: this.code,
      message: this.message,
      temporary: this.temporary,
      responseCode: this.responseCode,
      enhancedStatus: this.enhancedStatus,
      response: this.response,
      phase: this.phase,
      rule: this.rule,
      hint: this.hint,
      recipients: this.recipients,
    };
  }
}

Object.defineProperty(SendwellError.prototype, BRAND, { value: true });

export function isSendwellError(err: unknown): err is SendwellError {
  return err instanceof SendwellError;
}

/** sysexits(3) codes used by the CLI. */
export const EXIT = {
  OK: 0,
  USAGE: 64,
  DATAERR: 65,
  NOINPUT: 66,
  NOUSER: 67,
  UNAVAILABLE: 69,
  SOFTWARE: 70,
  CANTCREAT: 73,
  IOERR: 74,
  TEMPFAIL: 75,
  NOPERM: 77,
  CONFIG: 78,
} as const;

/** Is this enhanced status / reply a "no such user" (67) rather than a general refusal (69)? */
export function isUnknownUser(r: Pick<RecipientOutcome, 'enhancedStatus' | 'responseCode' | 'response'>): boolean {
  if (r.enhancedStatus) return /^5\.1\.(1|2|3|6|10)$/.test(r.enhancedStatus);
  // Relays without enhanced codes: only trust the common wordings.
  return r.responseCode !== undefined && r.responseCode >= 500 && /\b(user unknown|unknown user|no such (user|mailbox)|mailbox unavailable)\b/i.test(r.response ?? '');
}

/** Map an error to the sysexits code the CLI exits with. */
export function exitCodeFor(err: unknown): number {
  if (!(err instanceof SendwellError)) return EXIT.SOFTWARE;
  switch (err.code) {
    case 'EUSAGE':
      return EXIT.USAGE;
    case 'ECONFIG':
      return EXIT.CONFIG;
    case 'ECONSENT':
      return EXIT.NOPERM;
    case 'ESECRET':
    case 'EAUTH':
      return err.temporary ? EXIT.TEMPFAIL : EXIT.NOPERM;
    case 'EADDRESS':
    case 'EHEADER':
    case 'EMESSAGE':
    case 'EPOLICY':
      return EXIT.DATAERR;
    case 'ECAPTURE':
      return EXIT.CANTCREAT;
    case 'ERECIPIENTS': {
      const rejected = (err.recipients ?? []).filter((r) => r.status === 'rejected');
      if (rejected.length > 0 && rejected.every((r) => r.temporary)) return EXIT.TEMPFAIL;
      if (rejected.some((r) => !r.temporary && isUnknownUser(r))) return EXIT.NOUSER;
      return EXIT.UNAVAILABLE;
    }
    default:
      return err.temporary ? EXIT.TEMPFAIL : EXIT.UNAVAILABLE;
  }
}

/**
 * One error type for the HTTP API, mapped to RFC 9457 problem documents
 * (`application/problem+json`). Handlers throw `HttpError`; the server turns
 * it (and any `SendwellError` or unexpected error) into the response.
 */
import { STATUS_CODES } from 'node:http';
import { SendwellError } from '../../errors.js';
import { reportToJSON, type FindingJSON } from '../../policy/index.js';
import type { LintReport } from '../../policy/types.js';

export const PROBLEM_CONTENT_TYPE = 'application/problem+json';

/**
 * Problem types. `about:blank` when the status says it all (RFC 9457 §4.2.1);
 * sendwell's own as URNs: stable identifiers, not links.
 */
export const PROBLEM_TYPES = {
  invalidRequest: 'urn:sendwell:problem:invalid-request',
  policy: 'urn:sendwell:problem:policy',
  queueUnavailable: 'urn:sendwell:problem:queue-unavailable',
  blank: 'about:blank',
} as const;

/** One thing wrong with the request: which field (`to[1]`, as a JSON pointer too) and why. */
export interface FieldError {
  /** The member, e.g. `to[1]`, `headers.X-Ticket`, `attachments[0].content_base64`; `(body)` for the whole body. */
  field: string;
  /** For body members: the same as a JSON pointer fragment (RFC 6901), e.g. `#/to/1`. */
  pointer?: string;
  detail: string;
  /** sendwell's error code (EADDRESS, EHEADER, EMESSAGE) or `EUSAGE` for shape errors. */
  code?: string;
  /** What to do about it. */
  hint?: string;
}

/** The problem document (RFC 9457) with sendwell's extension members. */
export interface Problem {
  type: string;
  title: string;
  status: number;
  detail: string;
  /** sendwell's stable error code (the CLI's `code`), when there is one. */
  code?: string;
  /** What to do about it. */
  hint?: string;
  /** 400: each field that is wrong. */
  errors?: FieldError[];
  /** 422: the lint findings (errors and warnings), as `sendwell lint --json` gives them. */
  findings?: FindingJSON[];
}

export interface HttpErrorOptions {
  type?: string;
  title?: string;
  code?: string;
  hint?: string;
  errors?: FieldError[];
  findings?: FindingJSON[];
  headers?: Record<string, string>;
  cause?: unknown;
}

export class HttpError extends Error {
  override readonly name = 'HttpError';
  readonly status: number;
  readonly headers: Record<string, string>;
  private readonly opts: HttpErrorOptions;

  constructor(status: number, detail: string, options: HttpErrorOptions = {}) {
    super(detail, options.cause === undefined ? undefined : { cause: options.cause });
    this.status = status;
    this.opts = options;
    this.headers = options.headers ?? {};
  }

  toProblem(): Problem {
    const p: Problem = {
      type: this.opts.type ?? PROBLEM_TYPES.blank,
      title: this.opts.title ?? STATUS_CODES[this.status] ?? 'Error',
      status: this.status,
      detail: this.message,
    };
    if (this.opts.code !== undefined) p.code = this.opts.code;
    if (this.opts.hint) p.hint = this.opts.hint;
    if (this.opts.errors) p.errors = this.opts.errors;
    if (this.opts.findings) p.findings = this.opts.findings;
    return p;
  }
}

/** `['to', 1]` → `to[1]`; `['headers', 'X-A']` → `headers.X-A`; `[]` → `(body)`. */
export function fieldName(path: ReadonlyArray<PropertyKey>): string {
  if (path.length === 0) return '(body)';
  let out = '';
  for (const seg of path) {
    if (typeof seg === 'number') out += `[${seg}]`;
    else out += out === '' ? String(seg) : `.${String(seg)}`;
  }
  return out;
}

/** `['to', 1]` → `#/to/1` (RFC 6901 escaping). */
export function jsonPointer(path: ReadonlyArray<PropertyKey>): string {
  return `#${path.map((s) => `/${String(s).replace(/~/g, '~0').replace(/\//g, '~1')}`).join('')}`;
}

export function fieldError(path: ReadonlyArray<PropertyKey>, detail: string, code?: string, hint?: string): FieldError {
  const e: FieldError = { field: fieldName(path), pointer: jsonPointer(path), detail };
  if (code !== undefined) e.code = code;
  if (hint) e.hint = hint;
  return e;
}

export function badRequest(errors: FieldError[], detail?: string): HttpError {
  const one = errors[0];
  const summary =
    detail ??
    (errors.length === 1 && one
      ? one.detail.startsWith(`${one.field}: `) ? one.detail : `${one.field}: ${one.detail}`
      : `${errors.length} fields are invalid: ${errors.map((e) => e.field).join(', ')}`);
  return new HttpError(400, summary, { type: PROBLEM_TYPES.invalidRequest, title: 'Invalid request', code: errors[0]?.code ?? 'EUSAGE', errors });
}

/** The mailer's own camelCase field names as the API spells them. */
const API_FIELD: Record<string, string> = { replyTo: 'reply_to', envelopeFrom: 'envelope_from' };

/** Map what the mailer throws to a response. */
export function fromSendwellError(err: SendwellError): HttpError {
  switch (err.code) {
    case 'EPOLICY': {
      const report = err.details as LintReport | undefined;
      const findings = report ? reportToJSON(report).findings : [];
      return new HttpError(422, err.message, {
        type: PROBLEM_TYPES.policy,
        title: 'Refused by the mail guide',
        code: err.code,
        hint: err.hint,
        findings,
      });
    }
    case 'EADDRESS':
    case 'EHEADER':
    case 'EMESSAGE':
    case 'EUSAGE': {
      // Composer messages start with the field ("to: ..."); "no From address" / "no recipients" name none.
      const m = /^([A-Za-z_]+)(?: display name)?: /.exec(err.message);
      let field = m ? (API_FIELD[m[1]!] ?? m[1]!) : undefined;
      if (!field && /^no From address/.test(err.message)) field = 'from';
      if (!field && /^no recipients/.test(err.message)) field = 'to';
      const path = field ? [field] : [];
      return new HttpError(400, err.message, {
        type: PROBLEM_TYPES.invalidRequest,
        title: 'Invalid request',
        code: err.code,
        hint: err.hint,
        errors: [fieldError(path, err.message, err.code, err.hint)],
      });
    }
    default:
      if (err.temporary) {
        // Nothing was queued (disk full, database locked): the client may retry.
        return new HttpError(503, err.message, {
          type: PROBLEM_TYPES.queueUnavailable,
          title: 'Nothing was queued',
          code: err.code,
          hint: err.hint,
          headers: { 'Retry-After': '30' },
        });
      }
      return new HttpError(500, err.message, { code: err.code, hint: err.hint });
  }
}

/**
 * Composition: a Mail in, RFC 5322 bytes and an SMTP envelope out.
 * MIME encoding is nodemailer's MailComposer; everything that reaches it has
 * been validated here first (addresses, header names and values, attachments).
 */
import { createHash } from 'node:crypto';
import { stat } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import { convert as htmlToText } from 'html-to-text';
import MailComposer from 'nodemailer/lib/mail-composer';
import { SendwellError } from '../errors.js';
import type { DsnOptions, Envelope } from '../transport/types.js';
import {
  assertNoLineBreaks,
  parseEnvelopeSender,
  parseMailbox,
  parseMailboxList,
  type AddressInput,
  type ParsedAddress,
} from './address.js';
import { checkExtraHeaders, checkHeaderValue, type HeaderInput } from './headers.js';
import { defaultIdGenerator, formatDate } from './ids.js';

export { defaultIdGenerator, formatDate };

export interface Attachment {
  /** Read the content from this file. */
  path?: string;
  /** Or give the content directly. */
  content?: Buffer | string | Readable;
  /** Name shown to the recipient; defaults to the file's base name. */
  filename?: string;
  /** e.g. `application/pdf`; guessed from the file name when absent. */
  contentType?: string;
}

/** A mail as scripts describe it. */
export interface Mail {
  from?: AddressInput;
  to?: AddressInput | AddressInput[];
  cc?: AddressInput | AddressInput[];
  bcc?: AddressInput | AddressInput[];
  replyTo?: AddressInput | AddressInput[];
  /** Envelope sender (bounce address, R3). Default: the From address. `''` is the null sender `<>`. */
  envelopeFrom?: string;
  subject?: string;
  text?: string;
  html?: string;
  attachments?: Attachment[];
  /** Extra headers, e.g. `{ 'X-Ticket-Id': '4711' }`. Structural headers are refused. */
  headers?: HeaderInput;
  /** RFC 3834 `Auto-Submitted` value; `false` leaves it out. Default `auto-generated`. */
  autoSubmitted?: string | false;
}

export interface ComposeOptions {
  /** Defaults for fields the mail leaves out (config `[sender]`). */
  defaults?: { from?: AddressInput; envelopeFrom?: string; replyTo?: AddressInput | AddressInput[] };
  /** Injectable clock (H2). */
  clock?: () => Date;
  /** Left-hand side generator for Message-IDs (H3); the right side is the sender's domain. */
  idGenerator?: () => string;
  /** Default Auto-Submitted value; `false` to leave it out. */
  autoSubmitted?: string | false;
  /** DSN parameters to put in the envelope (used when the relay offers DSN). */
  dsn?: DsnOptions;
}

export interface ComposedMessage {
  raw: Buffer;
  envelope: Envelope;
  messageId: string;
  date: Date;
  from: ParsedAddress;
  /** Envelope sender, null for `<>`. */
  envelopeFrom: ParsedAddress | null;
  to: ParsedAddress[];
  cc: ParsedAddress[];
  bcc: ParsedAddress[];
  replyTo: ParsedAddress[];
  /** True when a text part was generated from the HTML (R7). */
  generatedText: boolean;
}

const CONTENT_TYPE = /^[a-z0-9!#$&^_.+-]+\/[a-z0-9!#$&^_.+-]+$/i;

function checkIdLeft(left: string): void {
  // RFC 5322 id-left is dot-atom-text.
  if (!/^[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*$/.test(left)) {
    throw new SendwellError('EMESSAGE', `the Message-ID generator returned ${JSON.stringify(left)}, which is not a valid id-left`, {
      hint: 'return letters, digits and dots only (RFC 5322 §3.6.4)',
      rule: 'H3',
    });
  }
}

async function prepareAttachment(a: Attachment, i: number): Promise<Record<string, unknown>> {
  const label = `attachment ${i + 1}${a.filename ? ` (${a.filename})` : a.path ? ` (${a.path})` : ''}`;
  if (a.filename !== undefined) checkHeaderValue(`${label} filename`, a.filename);
  if (a.contentType !== undefined && !CONTENT_TYPE.test(a.contentType)) {
    throw new SendwellError('EMESSAGE', `${label} has an invalid content type ${JSON.stringify(a.contentType)}`, {
      hint: 'write type/subtype, e.g. application/pdf',
    });
  }
  const out: Record<string, unknown> = {};
  if (a.filename !== undefined) out.filename = a.filename;
  if (a.contentType !== undefined) out.contentType = a.contentType;
  if (a.path !== undefined) {
    if (a.content !== undefined) throw new SendwellError('EMESSAGE', `${label} has both path and content`, { hint: 'give one of them' });
    assertNoLineBreaks(`${label} path`, a.path, 'EHEADER');
    let st;
    try {
      st = await stat(a.path);
    } catch (err) {
      throw new SendwellError('EMESSAGE', `${label}: cannot read ${a.path}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`, {
        hint: 'check the path and the permissions',
        cause: err,
      });
    }
    if (!st.isFile()) throw new SendwellError('EMESSAGE', `${label}: ${a.path} is not a regular file`, { hint: 'attach files, not directories' });
    out.path = a.path;
    return out;
  }
  if (a.content === undefined) throw new SendwellError('EMESSAGE', `${label} has neither path nor content`, { hint: 'give a path or content' });
  out.content = a.content;
  return out;
}

function dedupe(list: ParsedAddress[]): string[] {
  const seen = new Set<string>();
  const out: string[] = [];
  for (const a of list) {
    const key = `${a.local}@${a.asciiDomain}`;
    if (!seen.has(key)) {
      seen.add(key);
      out.push(a.wire);
    }
  }
  return out;
}

function resolveEnvelopeSender(mail: Mail, options: ComposeOptions, from: ParsedAddress): ParsedAddress | null {
  const given = mail.envelopeFrom ?? options.defaults?.envelopeFrom;
  if (given === undefined) return from;
  return parseEnvelopeSender(given, 'envelopeFrom');
}

/**
 * Compose a mail into RFC 5322 bytes (CRLF only, 7-bit safe bodies) and its envelope.
 * Throws `SendwellError` (EADDRESS, EHEADER, EMESSAGE) for anything malformed.
 */
export async function composeMail(mail: Mail, options: ComposeOptions = {}): Promise<ComposedMessage> {
  const clock = options.clock ?? (() => new Date());
  const fromInput = mail.from ?? options.defaults?.from;
  if (fromInput === undefined) {
    throw new SendwellError('EADDRESS', 'no From address', {
      hint: 'pass --from or set [sender] from = "Name <you@example.org>" in sendwell.toml; it must be a valid address that receives replies (R2, R3)',
      rule: 'R3',
    });
  }
  const from = parseMailbox(fromInput, 'from');
  const to = parseMailboxList(mail.to, 'to');
  const cc = parseMailboxList(mail.cc, 'cc');
  const bcc = parseMailboxList(mail.bcc, 'bcc');
  const replyTo = parseMailboxList(mail.replyTo ?? options.defaults?.replyTo, 'replyTo');
  if (to.length + cc.length + bcc.length === 0) {
    throw new SendwellError('EADDRESS', 'no recipients', { hint: 'give at least one of to, cc or bcc' });
  }
  const envelopeFrom = resolveEnvelopeSender(mail, options, from);
  if (mail.subject !== undefined) checkHeaderValue('Subject', mail.subject);
  const extra = checkExtraHeaders(mail.headers);
  for (const [field, body] of [['text', mail.text], ['html', mail.html]] as const) {
    if (body !== undefined && typeof body !== 'string') {
      throw new SendwellError('EMESSAGE', `${field} must be a string`, { hint: `pass the ${field} body as text` });
    }
    if (body?.includes('\0')) throw new SendwellError('EMESSAGE', `${field} contains a NUL byte`, { hint: 'mail bodies are text; send binary data as an attachment' });
  }
  const attachments = await Promise.all((mail.attachments ?? []).map(prepareAttachment));

  const date = clock();
  const left = (options.idGenerator ?? defaultIdGenerator)();
  checkIdLeft(left);
  // Right side: the sender's domain, never the host name or localhost (H3).
  const messageId = `<${left}@${from.asciiDomain}>`;

  // Bare CR or LF must never reach the wire (SMTP smuggling); the composer writes CRLF.
  const normalise = (b: string | undefined) => b?.replace(/\r\n?/g, '\n');
  let text = normalise(mail.text);
  const html = normalise(mail.html);
  let generatedText = false;
  if (html !== undefined && text === undefined) {
    // R7: HTML mail must carry a plain-text version.
    text = htmlToText(html, { wordwrap: 78, selectors: [{ selector: 'img', format: 'skip' }] });
    generatedText = true;
  }

  const autoSubmitted = mail.autoSubmitted ?? options.autoSubmitted ?? 'auto-generated';
  if (autoSubmitted !== false) checkHeaderValue('Auto-Submitted', autoSubmitted);
  const headers: Array<{ key: string; value: string }> = [];
  if (autoSubmitted !== false) headers.push({ key: 'Auto-Submitted', value: autoSubmitted });
  for (const [key, value] of extra) headers.push({ key, value });
  // Bcc-only mail: an empty group keeps To present (RFC 5322 §A.1.3), as spam filters expect.
  if (to.length + cc.length === 0) headers.push({ key: 'To', value: 'undisclosed-recipients:;', prepared: true } as { key: string; value: string });

  const envelope: Envelope = {
    from: envelopeFrom ? envelopeFrom.wire : '',
    to: dedupe([...to, ...cc, ...bcc]),
  };
  if ([from, envelopeFrom, ...to, ...cc, ...bcc, ...replyTo].some((a) => a?.needsSmtputf8)) envelope.smtputf8 = true;
  // ENVID lets a returned DSN be matched to this message (RFC 3461 §4.4).
  if (options.dsn) envelope.dsn = { ...options.dsn, envid: options.dsn.envid ?? messageId.slice(1, -1) };

  const toHeader = (a: ParsedAddress) => (a.name ? { name: a.name, address: a.wire } : a.wire);
  const composer = new MailComposer({
    from: toHeader(from),
    // Empty arrays would overwrite headers set above; pass undefined instead.
    to: to.length ? to.map(toHeader) : undefined,
    cc: cc.length ? cc.map(toHeader) : undefined,
    replyTo: replyTo.length ? replyTo.map(toHeader) : undefined,
    subject: mail.subject ?? '',
    text,
    html,
    attachments,
    headers,
    messageId,
    date: formatDate(date),
    textEncoding: 'quoted-printable',
    newline: '\r\n',
    disableUrlAccess: true,
    // Deterministic boundaries for a given Message-ID keep golden files stable.
    baseBoundary: createHash('sha256').update(messageId).digest('hex').slice(0, 16),
    envelope: { from: envelope.from, to: envelope.to },
  } as ConstructorParameters<typeof MailComposer>[0]);

  const raw = await new Promise<Buffer>((resolve, reject) => {
    composer.compile().build((err, buf) => (err ? reject(err) : resolve(buf)));
  }).catch((err: unknown) => {
    throw new SendwellError('EMESSAGE', `the message could not be composed: ${(err as Error).message ?? String(err)}`, {
      hint: 'check the attachments and bodies',
      cause: err,
    });
  });

  return { raw, envelope, messageId, date, from, envelopeFrom, to, cc, bcc, replyTo, generatedText };
}

/**
 * From a JSON body to a `Mail`: the zod schema checks the shape, then the
 * composer's own checks run on each field with its JSON path, so a 400 names
 * every wrong field (`to[1]`, `headers.X-Ticket`) instead of only the first.
 * The mailer checks everything again when it composes; this layer only
 * makes the errors precise.
 */
import type { z } from 'zod';
import { SendwellError } from '../../errors.js';
import { parseEnvelopeSender, parseMailbox, parseMailboxList, type AddressInput } from '../../message/address.js';
import type { Attachment, Mail } from '../../message/compose.js';
import { checkExtraHeaders, checkHeaderValue } from '../../message/headers.js';
import { badRequest, fieldError, fieldName, type FieldError } from './errors.js';
import { SubmitMessageRequest } from './schemas.js';

type Path = Array<string | number>;

/** zod issues as field errors; unknown members get one error each. */
export function zodIssuesToErrors(issues: z.core.$ZodIssue[]): FieldError[] {
  const out: FieldError[] = [];
  for (const issue of issues) {
    const path = issue.path.map((p) => (typeof p === 'symbol' ? String(p) : p));
    if (issue.code === 'unrecognized_keys') {
      for (const key of issue.keys) out.push(fieldError([...path, key], 'unknown member (see /api/v1/openapi.json for the fields)', 'EUSAGE'));
      continue;
    }
    out.push(fieldError(path, issue.message, 'EUSAGE'));
  }
  return out;
}

/** Run one composer check; a SendwellError becomes a field error at `path`. */
function check(errors: FieldError[], path: Path, fn: () => unknown): void {
  try {
    fn();
  } catch (err) {
    if (!(err instanceof SendwellError)) throw err;
    errors.push(fieldError(path, err.message, err.code, err.hint));
  }
}

function checkList(errors: FieldError[], field: string, value: AddressInput | AddressInput[] | undefined): number {
  if (value === undefined) return 0;
  let n = 0;
  if (Array.isArray(value)) {
    value.forEach((item, i) => check(errors, [field, i], () => (n += parseMailboxList(item, fieldName([field, i])).length)));
  } else {
    check(errors, [field], () => (n += parseMailboxList(value, field).length));
  }
  return n;
}

/** Validate a request body; returns the mail, or throws a 400 listing every bad field. */
export function toMail(body: unknown, opts: { recipientsRequired?: boolean } = {}): Mail {
  let parsed = SubmitMessageRequest.safeParse(body);
  const errors: FieldError[] = [];
  if (!parsed.success && parsed.error.issues.every((i) => i.code === 'unrecognized_keys')) {
    // Only unknown members: report them together with whatever else is wrong.
    errors.push(...zodIssuesToErrors(parsed.error.issues));
    const copy = structuredClone(body) as Record<string, unknown>;
    for (const issue of parsed.error.issues) {
      let node: unknown = copy;
      for (const seg of issue.path) node = (node as Record<PropertyKey, unknown>)[seg as string | number];
      for (const key of (issue as z.core.$ZodIssueUnrecognizedKeys).keys) delete (node as Record<string, unknown>)[key];
    }
    parsed = SubmitMessageRequest.safeParse(copy);
  }
  if (!parsed.success) throw badRequest([...errors, ...zodIssuesToErrors(parsed.error.issues)]);
  const req = parsed.data;

  if (req.from !== undefined) check(errors, ['from'], () => parseMailbox(req.from!, 'from'));
  let recipients = 0;
  recipients += checkList(errors, 'to', req.to);
  recipients += checkList(errors, 'cc', req.cc);
  recipients += checkList(errors, 'bcc', req.bcc);
  checkList(errors, 'reply_to', req.reply_to);
  if (opts.recipientsRequired !== false && recipients === 0 && !errors.some((e) => ['to', 'cc', 'bcc'].includes(e.field.replace(/\[.*$/, '')))) {
    errors.push(fieldError(['to'], 'no recipients', 'EADDRESS', 'give at least one of to, cc or bcc'));
  }
  if (req.envelope_from !== undefined) check(errors, ['envelope_from'], () => parseEnvelopeSender(req.envelope_from!, 'envelope_from'));
  if (req.subject !== undefined) check(errors, ['subject'], () => checkHeaderValue('Subject', req.subject!));
  if (req.text === undefined && req.html === undefined) {
    errors.push(fieldError(['text'], 'no body', 'EMESSAGE', 'give text, html or both (R7: HTML mail gets a generated text part)'));
  }
  for (const field of ['text', 'html'] as const) {
    if (req[field]?.includes('\0')) errors.push(fieldError([field], `${field} contains a NUL byte`, 'EMESSAGE', 'mail bodies are text; send binary data as an attachment'));
  }
  if (req.headers) {
    for (const [name, value] of Object.entries(req.headers)) {
      // checkExtraHeaders looks names up in a plain object: "constructor" & co. would hit Object.prototype.
      if (name.toLowerCase() in Object.prototype) errors.push(fieldError(['headers', name], `header name ${JSON.stringify(name)} is not allowed`, 'EHEADER', 'use an X- header name, e.g. X-Ticket-Id'));
      else check(errors, ['headers', name], () => checkExtraHeaders({ [name]: value }));
    }
  }
  const attachments: Attachment[] = [];
  req.attachments?.forEach((a, i) => {
    check(errors, ['attachments', i, 'filename'], () => checkHeaderValue(`attachments[${i}].filename`, a.filename));
    const att: Attachment = { filename: a.filename, content: Buffer.from(a.content_base64, 'base64') };
    if (a.content_type !== undefined) att.contentType = a.content_type;
    attachments.push(att);
  });
  if (errors.length) throw badRequest(errors);

  const mail: Mail = {};
  if (req.from !== undefined) mail.from = req.from;
  if (req.to !== undefined) mail.to = req.to;
  if (req.cc !== undefined) mail.cc = req.cc;
  if (req.bcc !== undefined) mail.bcc = req.bcc;
  if (req.reply_to !== undefined) mail.replyTo = req.reply_to;
  if (req.envelope_from !== undefined) mail.envelopeFrom = req.envelope_from;
  if (req.subject !== undefined) mail.subject = req.subject;
  if (req.text !== undefined) mail.text = req.text;
  if (req.html !== undefined) mail.html = req.html;
  if (attachments.length) mail.attachments = attachments;
  if (req.headers) mail.headers = req.headers;
  return mail;
}

/**
 * The API's request and response shapes as zod schemas: requests are
 * validated with them, handlers are typed by them, and the OpenAPI document
 * is generated from them (openapi.ts), so the three cannot drift apart.
 */
import { z } from 'zod';
import { RECIPIENT_STATES } from '../../queue/states.js';

/** Schemas that appear under `components.schemas` in the OpenAPI document. */
export const registry = z.registry<{ id: string }>();

export const named = <T extends z.ZodType>(schema: T, id: string, description: string): T => {
  const described = schema.describe(description) as T;
  registry.add(described, { id });
  return described;
};

// ----- request -----

export const Address = named(
  z.union([z.string(), z.strictObject({ name: z.string().optional(), address: z.string() })], {
    error: 'expected an address: a string such as "Jane Doe <jane@example.org>", or { "name": ..., "address": ... }',
  }),
  'Address',
  'A mailbox: "jane@example.org", "Jane Doe <jane@example.org>", or { "name": "Jane Doe", "address": "jane@example.org" }.',
);

export const AddressList = named(
  z.union([Address, z.array(Address)], { error: 'expected an address or an array of addresses' }),
  'AddressList',
  'One address (a string may hold several, comma-separated) or an array of addresses.',
);

/** The content types the composer accepts (type/subtype). */
export const CONTENT_TYPE = /^[a-z0-9!#$&^_.+-]+\/[a-z0-9!#$&^_.+-]+$/i;

export const AttachmentInput = named(
  z.strictObject({
    filename: z.string().min(1).describe('Name shown to the recipient, e.g. "report.pdf".'),
    content_type: z.string().regex(CONTENT_TYPE, 'is not a media type such as application/pdf').optional().describe('e.g. "application/pdf"; guessed from the file name when absent.'),
    content_base64: z.base64('is not valid base64 (RFC 4648, with padding)').describe('The content, base64-encoded.'),
  }),
  'Attachment',
  'An attachment, its content base64-encoded. Prefer links for large files (R9).',
);

export const SubmitMessageRequest = named(
  z.strictObject({
    from: Address.optional().describe('From; default: [sender] from of the server configuration.'),
    to: AddressList.optional(),
    cc: AddressList.optional(),
    bcc: AddressList.optional(),
    reply_to: AddressList.optional().describe('Reply-To (R4: no substitute for a valid From).'),
    envelope_from: z.string().optional().describe('Envelope sender (bounce address, R3); default: [sender] envelope_from, else From. "" is the null sender <>.'),
    subject: z.string().optional(),
    text: z.string().optional().describe('Plain-text body.'),
    html: z.string().optional().describe('HTML body; a text part is generated when text is absent (R7).'),
    attachments: z.array(AttachmentInput).optional(),
    headers: z
      .record(z.string(), z.union([z.string(), z.array(z.string())], { error: 'expected a header value (string) or an array of values' }))
      .optional()
      .describe('Extra headers, e.g. { "X-Ticket-Id": "4711" }. Structural headers (From, To, Date, Message-ID, ...) are refused: use the fields.'),
  }),
  'SubmitMessage',
  'A mail to queue. At least one of to, cc, bcc and one of text, html.',
);
export type SubmitMessageRequest = z.infer<typeof SubmitMessageRequest>;

// ----- responses -----

export const RecipientState = named(z.enum(RECIPIENT_STATES), 'RecipientState', 'A recipient\'s queue state (see `sendwell queue`).');

export const StateMap = named(z.record(z.string(), RecipientState), 'StateMap', 'Queue state per envelope recipient address.');

export const Finding = named(
  z.object({
    rule: z.string().describe('Rule ID, e.g. R2.noreply-sender.'),
    guideRule: z.string().describe('The guide rule, e.g. R2.'),
    severity: z.enum(['error', 'warning']),
    field: z.string().optional(),
    detail: z.string().optional(),
    title: z.string().optional(),
    message: z.string(),
    why: z.string().optional(),
    fix: z.string(),
  }),
  'Finding',
  'A lint finding, as `sendwell lint --json` gives it.',
);

export const SubmitMessageResponse = named(
  z.object({
    queue_id: z.string().describe('The queue ID (GET /api/v1/messages/{queue_id}, `sendwell queue show`).'),
    message_id: z.string().describe('The Message-ID header, with angle brackets.'),
    state: StateMap,
    warnings: z.array(Finding).describe('Warning-level lint findings (errors would have refused the mail with 422).'),
    held: z.array(z.string()).describe('Why (some of) the mail is held instead of queued (flood brake, duplicate); usually empty.'),
    existing: z.boolean().describe('True when the Idempotency-Key had been used: nothing new was queued (status 200).'),
  }),
  'SubmitMessageResult',
  'A queued mail.',
);
export type SubmitMessageResponse = z.infer<typeof SubmitMessageResponse>;

const time = z.iso.datetime().describe('RFC 3339 UTC time.');

export const RecipientStatus = named(
  z.object({
    address: z.string(),
    state: RecipientState,
    attempts: z.number().int(),
    next_attempt_at: time.nullable().describe('When a queued or deferred recipient is tried next; null otherwise.'),
    last_code: z.number().int().nullable(),
    last_dsn: z.string().nullable(),
    last_reason: z.string().nullable(),
    relay_queue_id: z.string().nullable().describe('The relay\'s queue ID, to find the mail in its log (T2).'),
    updated_at: time,
  }),
  'RecipientStatus',
  'One envelope recipient.',
);

export const Attempt = named(
  z.object({
    address: z.string(),
    at: time,
    status: z.string().describe('sent, deferred, bounced, expired, ...'),
    code: z.number().int().nullable(),
    dsn: z.string().nullable(),
    reply: z.string().nullable(),
    relay: z.string().nullable(),
    relay_queue_id: z.string().nullable(),
    delay_ms: z.number().int(),
  }),
  'Attempt',
  'One delivery attempt for one recipient.',
);

export const MessageStatus = named(
  z.object({
    queue_id: z.string(),
    message_id: z.string(),
    sender: z.string().describe('Envelope sender; "" for <>.'),
    size: z.number().int(),
    created_at: time,
    submitter: z.string().describe('Who queued it: api:<token name>, user:<name>, smtp:<...>.'),
    category: z.enum(['transactional', 'bulk']).describe('Bulk mail was sent to a list (R1).'),
    list: z.string().nullable().describe('The list of bulk mail.'),
    state: StateMap,
    recipients: z.array(RecipientStatus),
    attempts: z.array(Attempt),
  }),
  'MessageStatus',
  'A queued (or delivered, until its retention ends) mail.',
);
export type MessageStatus = z.infer<typeof MessageStatus>;

export const QueueEntry = named(
  z.object({
    queue_id: z.string(),
    message_id: z.string(),
    sender: z.string(),
    size: z.number().int(),
    created_at: time,
    submitter: z.string(),
    recipients: z.array(
      z.object({
        address: z.string(),
        state: RecipientState,
        attempts: z.number().int(),
        next_attempt_at: time.nullable(),
        reason: z.string().nullable().describe('Why it waits, in words (as `sendwell queue` shows it).'),
      }),
    ).describe('The recipients still waiting (queued, active, deferred, held).'),
  }),
  'QueueEntry',
  'A message with recipients still waiting.',
);

export const QueueResponse = named(
  z.object({
    count: z.number().int().describe('How many messages wait in all.'),
    truncated: z.boolean().describe('True when more than `limit` messages wait; the oldest are listed.'),
    messages: z.array(QueueEntry),
  }),
  'Queue',
  'The pending queue, oldest first (like `sendwell queue --json`).',
);
export type QueueResponse = z.infer<typeof QueueResponse>;

export const Health = named(
  z.object({
    ok: z.boolean(),
    relay: z.string().describe('The relay mail goes to (credentials never shown), e.g. smtp://relay.example.org:587 or capture:DIR.'),
    capture: z.boolean().describe('True when no relay is configured: mail is captured into files, not sent.'),
    warnings: z.array(z.string()),
  }),
  'Health',
  'Liveness and the relay mode; 503 when not ok.',
);
export type Health = z.infer<typeof Health>;

export const FieldErrorSchema = named(
  z.object({
    field: z.string().describe('The member, e.g. to[1], headers.X-Ticket, attachments[0].content_base64; (body) for the whole body; a header or query parameter by its name.'),
    pointer: z.string().optional().describe('For body members: JSON pointer (RFC 6901) to the member, as a URI fragment, e.g. #/to/1.'),
    detail: z.string(),
    code: z.string().optional(),
    hint: z.string().optional(),
  }),
  'FieldError',
  'One invalid request member.',
);

export const ProblemSchema = named(
  z.object({
    type: z.string(),
    title: z.string(),
    status: z.number().int(),
    detail: z.string(),
    code: z.string().optional().describe('sendwell\'s stable error code (EPOLICY, EADDRESS, ...), as the CLI reports it.'),
    hint: z.string().optional(),
    errors: z.array(FieldErrorSchema).optional().describe('400: each invalid member.'),
    findings: z.array(Finding).optional().describe('422: every lint finding, errors and warnings.'),
  }),
  'Problem',
  'An RFC 9457 problem document (application/problem+json).',
);

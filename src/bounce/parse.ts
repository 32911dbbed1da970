/**
 * Bounce parser (guide R2, R5): what came back to the bounce address, and
 * about which recipients.
 *
 * The MIME structure comes from mailparser; this module reads the reports:
 *
 *   1. ARF feedback reports (RFC 5965, `multipart/report; report-type=
 *      feedback-report`) → kind `complaint` (`not-a-bounce` for the
 *      `not-spam` and `auth-failure` types, which are no complaint about a
 *      recipient).
 *   2. Delivery status notifications (RFC 3464, a `message/delivery-status`
 *      part, RFC 6533 `message/global-delivery-status` too): per-message and
 *      per-recipient fields with folded lines. Any `Action: failed` → kind
 *      `bounce`; only `delayed` → `delay` (a warning, not final); only
 *      `delivered`/`relayed`/`expanded` → `not-a-bounce`. `recipients` holds
 *      the recipients the kind is about (the failed ones of a bounce).
 *   3. Read receipts (RFC 8098 `report-type=disposition-notification`) →
 *      `not-a-bounce`.
 *   4. Heuristics for notices without a machine-readable part, only when the
 *      notice comes from a mailer daemon or has a bounce subject: Postfix,
 *      Exim, qmail, Sendmail, Microsoft Exchange/Outlook (also German and
 *      French) and Gmail texts, then any "undeliverable" text in English,
 *      German or French (addresses plus SMTP reply and enhanced codes found in
 *      the text, else a reason in words next to the address). These set
 *      `confident: false`.
 *   5. Automatic replies (RFC 3834 `Auto-Submitted: auto-replied`,
 *      `X-Autoreply`, `Precedence: auto_reply`, out-of-office subjects and
 *      texts such as "Ich bin bis … nicht im Büro") →
 *      `auto-reply`. They come after the bounce checks because Postfix and
 *      Exim mark their bounces `Auto-Submitted: auto-replied` too.
 *   6. Anything else → `not-a-bounce`.
 *
 * `format` names what the result was read from: `rfc3464` and `arf` for the
 * standard parts (whatever MTA wrote them), a flavour name for a heuristic
 * parse of that MTA's text, `plain` for the generic text heuristic.
 */
import { simpleParser, type ParsedMail, type SimpleParserOptions } from 'mailparser';
import { findEnhancedStatus, matchRule } from './classify.js';

export type BounceKind = 'bounce' | 'delay' | 'complaint' | 'auto-reply' | 'not-a-bounce';

export interface BounceRecipient {
  /** Final-Recipient (domain lower-cased), or the address found in the text. */
  address: string;
  /** Original-Recipient (the ORCPT sent with the message). */
  originalRecipient?: string;
  action?: 'failed' | 'delayed' | 'delivered' | 'relayed' | 'expanded';
  /** RFC 3463 enhanced status code, x.y.z. */
  status?: string;
  /** Diagnostic-Code as written (`smtp; 550 5.1.1 ...`), or the server's reply found in the text. */
  diagnostic?: string;
  remoteMta?: string;
}

export interface ParsedBounce {
  kind: BounceKind;
  format: 'rfc3464' | 'arf' | 'exim' | 'exchange' | 'gmail' | 'qmail' | 'postfix' | 'sendmail' | 'plain' | 'auto-reply' | 'none';
  /** True when read from standard fields (DSN with recipient-level Action and Status, ARF, RFC 3834); false for heuristics. */
  confident: boolean;
  recipients: BounceRecipient[];
  /** Original-Envelope-Id (ENVID); sendwell sends its queue ID as ENVID. */
  envelopeId?: string;
  /** Message-ID of the returned original (`<...>`): returned headers or message, or quoted text. */
  originalMessageId?: string;
  reportingMta?: string;
  /** Subject of the notice itself. */
  subject?: string;
  /** The envelope recipient of the notice itself (the VERP address it was sent to), if a header names it. */
  deliveredTo?: string;
}

type Format = ParsedBounce['format'];
type Action = NonNullable<BounceRecipient['action']>;

/** Cap on a diagnostic taken from free text. */
const MAX_DIAGNOSTIC = 1000;

// --- small helpers ---------------------------------------------------------------------------

/** Drop keys whose value is undefined, so results compare equal to their JSON form. */
function clean<T extends object>(o: T): T {
  for (const k of Object.keys(o) as (keyof T)[]) if (o[k] === undefined) delete o[k];
  return o;
}

/**
 * An addr-spec as it appears in notices: dot-atom local part and domain, with
 * Unicode letters allowed (RFC 6531/6532), so `jürgen@example.org` is never cut
 * to `rgen@example.org`. Used with the `u` flag.
 */
const ADDRESS_SRC = String.raw`[\p{L}\p{N}\p{M}.!#$%&'*+/=?^_\x60{|}~-]+@[\p{L}\p{N}\p{M}](?:[\p{L}\p{N}\p{M}-]*[\p{L}\p{N}\p{M}])?(?:\.[\p{L}\p{N}\p{M}](?:[\p{L}\p{N}\p{M}-]*[\p{L}\p{N}\p{M}])?)+`;
const ADDRESS_RE = new RegExp(ADDRESS_SRC, 'u');
const ADDRESS_G = new RegExp(`(?<![\\p{L}\\p{N}\\p{M}_.+-])${ADDRESS_SRC}`, 'gu');

/** `Local@Example.ORG` → `Local@example.org` (the local part may be case-sensitive, the domain is not). */
function lowerDomain(a: string): string {
  const at = a.lastIndexOf('@');
  return at < 0 ? a : a.slice(0, at + 1) + a.slice(at + 1).toLowerCase();
}

/** An address from a field or a line: angle brackets and trailing punctuation removed. */
function bareAddress(s: string | undefined): string | undefined {
  if (!s) return undefined;
  const t = s.trim().replace(/^<|>$/g, '').trim();
  if (!t) return undefined;
  // A field that holds just an address is taken whole; otherwise the address inside it.
  if (/^[^\s<>@]+@[^\s<>@]+$/.test(t)) return lowerDomain(t);
  const m = ADDRESS_RE.exec(t);
  return m ? lowerDomain(m[0]) : t;
}

/** The value of a typed DSN field (`rfc822; a@b`, `dns; mx.example.org`) without its type. */
function typedValue(v: string | undefined): string | undefined {
  if (v === undefined) return undefined;
  const m = /^\s*[A-Za-z0-9][A-Za-z0-9.-]*\s*;\s*(.*)$/s.exec(v);
  const out = (m ? m[1] : v).trim().replace(/^<(.*)>$/, '$1').trim();
  return out || undefined;
}

/** A Message-ID as `<id@host>`. */
function messageId(v: string | undefined): string | undefined {
  if (!v) return undefined;
  const m = /<[^<>\s]+>/.exec(v);
  if (m) return m[0];
  const t = v.trim();
  return /^[^\s<>]+@[^\s<>]+$/.test(t) ? `<${t}>` : undefined;
}

const unfold = (s: string) => s.replace(/\r?\n[ \t]+/g, ' ');
const collapse = (s: string) => s.replace(/\s+/g, ' ').trim();

// --- header-style field blocks (delivery-status, feedback-report, returned headers) ----------

type Fields = Map<string, string[]>;

/**
 * RFC 822-style field groups separated by blank lines (RFC 3464 §2.1):
 * names lower-cased, folded lines joined, repeated fields kept in order.
 */
function fieldBlocks(text: string): Fields[] {
  const blocks: Fields[] = [];
  let cur: Fields | null = null;
  let last: { name: string; i: number } | null = null;
  for (const line of text.replace(/\r\n?/g, '\n').split('\n')) {
    if (line.trim() === '') {
      cur = null;
      last = null;
      continue;
    }
    if (/^[ \t]/.test(line)) {
      if (cur && last) {
        const vals = cur.get(last.name)!;
        vals[last.i] = `${vals[last.i]} ${line.trim()}`.trim();
      }
      continue;
    }
    const m = /^([A-Za-z0-9][A-Za-z0-9-]*)[ \t]*:[ \t]*(.*)$/.exec(line);
    if (!m) continue;
    if (!cur) {
      cur = new Map();
      blocks.push(cur);
    }
    const name = m[1].toLowerCase();
    const vals = cur.get(name) ?? [];
    vals.push(m[2].trim());
    cur.set(name, vals);
    last = { name, i: vals.length - 1 };
  }
  return blocks;
}

const first = (f: Fields | undefined, name: string) => f?.get(name)?.[0];

/** The header section of a returned message or of text/rfc822-headers. */
function headerSection(text: string): Fields {
  const t = text.replace(/\r\n?/g, '\n').replace(/^\n+/, '');
  const end = t.indexOf('\n\n');
  return fieldBlocks(end < 0 ? t : t.slice(0, end))[0] ?? new Map();
}

// --- the notice as a whole ---------------------------------------------------------------------

interface Part {
  type: string;
  text: string;
}

interface Notice {
  mail: ParsedMail;
  header(name: string): string | undefined;
  headers(name: string): string[];
  subject?: string;
  fromAddress: string;
  fromName: string;
  reportType?: string;
  parts: Part[];
  /** The human-readable text up to the quoted original. */
  body: string;
  /** The quoted original message, if the text carries one. */
  quoted: string;
  deliveredTo?: string;
  /** Addresses of the notice itself (From, To, Return-Path, ...), never a failed recipient. */
  own: Set<string>;
}

const RETURNED_MESSAGE = ['message/rfc822', 'message/global'];
const RETURNED_HEADERS = ['text/rfc822-headers', 'message/global-headers'];

/** Where a notice starts quoting the original message. */
const QUOTE_MARKER =
  /^[ \t]*(?:-{2,}[ \t]*(?:This is a copy of the message|Below this line is a copy of the message|Original message follows|Message header follows|Original message headers|Returned message|Original message|Unsent message below|Enclosed are the original headers|Ursprüngliche Nachricht|Originalnachricht|Message d['’]origine|Message original)|Original message headers:|Ursprüngliche Nachrichtenkopfzeilen:|En-têtes (?:du|de) message d['’]origine\s*:|-{2,}[ \t]*Original Message[ \t]*-{2,}).*$/im;

function stripMboxFrom(buf: Buffer): Buffer {
  // A message cut from an mbox starts with "From sender date"; it is no header.
  if (buf.subarray(0, 5).toString('latin1') !== 'From ') return buf;
  const nl = buf.indexOf(0x0a);
  const line = buf.subarray(0, nl < 0 ? buf.length : nl).toString('latin1');
  if (/^From\s*:/.test(line)) return buf;
  return nl < 0 ? Buffer.alloc(0) : buf.subarray(nl + 1);
}

function addressesIn(value: string | undefined): string[] {
  if (!value) return [];
  return [...value.matchAll(ADDRESS_G)].map((m) => lowerDomain(m[0]));
}

async function readNotice(raw: Buffer | string): Promise<Notice> {
  const buf = stripMboxFrom(typeof raw === 'string' ? Buffer.from(raw, 'utf8') : raw);
  const options: SimpleParserOptions & { ignoreEmbedded: boolean } = {
    // The report part as an attachment, not mixed into the text.
    keepDeliveryStatus: true,
    // Passed on to mailsplit: an inline message/rfc822 (common in ARF reports) stays one raw
    // attachment with all its headers, instead of being rendered into the text without its Message-ID.
    ignoreEmbedded: true,
    skipImageLinks: true,
    skipTextToHtml: true,
    skipTextLinks: true,
    maxHtmlLengthToParse: 2_000_000,
  };
  const mail = await simpleParser(buf, options);
  const lines = mail.headerLines.map((h) => ({ key: h.key.toLowerCase(), value: unfold(h.line.slice(h.line.indexOf(':') + 1)).trim() }));
  const headers = (name: string) => lines.filter((l) => l.key === name).map((l) => l.value);
  const header = (name: string) => headers(name)[0];

  const from = mail.from?.value[0];
  const ct = mail.headers.get('content-type');
  const reportType = ct && typeof ct === 'object' && 'params' in ct ? (ct.params as Record<string, string>)['report-type']?.toLowerCase() : undefined;

  const parts = mail.attachments.map((a) => ({ type: a.contentType.toLowerCase(), text: a.content.toString('utf8') }));
  let text = (mail.text ?? '').replace(/\r\n?/g, '\n');
  if (!text.trim() && typeof mail.html === 'string') text = mail.html.replace(/<[^>]*>/g, ' ');
  const cut = QUOTE_MARKER.exec(text);
  const body = cut ? text.slice(0, cut.index) : text;
  const quoted = cut ? text.slice(cut.index) : '';

  // The envelope recipient of the notice: X-Original-To (before aliasing), the earliest
  // Delivered-To (headers are prepended), Envelope-To (Exim), then To.
  const deliveredTo =
    bareAddress(header('x-original-to')) ??
    bareAddress(headers('delivered-to').at(-1)) ??
    bareAddress(header('envelope-to')) ??
    (mail.to ? bareAddress((Array.isArray(mail.to) ? mail.to[0] : mail.to)?.value[0]?.address) : undefined);

  const own = new Set<string>();
  for (const name of ['from', 'to', 'cc', 'reply-to', 'return-path', 'sender', 'x-original-to', 'delivered-to', 'envelope-to']) {
    for (const v of headers(name)) for (const a of addressesIn(v)) own.add(a.toLowerCase());
  }

  return {
    mail,
    header,
    headers,
    ...(mail.subject !== undefined ? { subject: mail.subject } : {}),
    fromAddress: (from?.address ?? '').toLowerCase(),
    fromName: from?.name ?? '',
    ...(reportType ? { reportType } : {}),
    parts,
    body,
    quoted,
    ...(deliveredTo ? { deliveredTo } : {}),
    own,
  };
}

/** The Message-ID of the returned original: a returned part first, then the quoted text. */
function originalMessageId(n: Notice): string | undefined {
  for (const p of n.parts) {
    if (RETURNED_HEADERS.includes(p.type) || RETURNED_MESSAGE.includes(p.type)) {
      const id = messageId(first(headerSection(p.text), 'message-id'));
      if (id) return id;
    }
  }
  const quotedId = /^[ \t>]*Message-ID:[ \t]*(?:\n[ \t]+)?(<[^<>\s]+>)/im;
  // Last resort, prose such as "Message-ID of your message: <...>".
  const mentioned = /\bMessage-?ID\b[^<\n]{0,40}(<[^<>\s]+@[^<>\s]+>)/i;
  return (quotedId.exec(n.quoted) ?? quotedId.exec(n.body) ?? mentioned.exec(n.body))?.[1];
}

function common(n: Notice): Pick<ParsedBounce, 'subject' | 'deliveredTo' | 'originalMessageId'> {
  return clean({ subject: n.subject, deliveredTo: n.deliveredTo, originalMessageId: originalMessageId(n) });
}

// --- 1. ARF ------------------------------------------------------------------------------------

function parseArf(n: Notice): ParsedBounce | null {
  const part = n.parts.find((p) => p.type === 'message/feedback-report');
  if (!part && n.reportType !== 'feedback-report') return null;
  const f: Fields = new Map();
  for (const b of fieldBlocks(part?.text ?? '')) for (const [k, v] of b) f.set(k, [...(f.get(k) ?? []), ...v]);
  const type = first(f, 'feedback-type')?.toLowerCase().split(/[\s;]/)[0];
  const diagnostic = type ? `Feedback-Type: ${type}` : undefined;
  const recipients: BounceRecipient[] = [];
  for (const v of f.get('original-rcpt-to') ?? []) {
    const address = bareAddress(typedValue(v));
    if (address && !recipients.some((r) => r.address === address)) recipients.push(clean({ address, diagnostic }));
  }
  if (recipients.length === 0) {
    // No Original-Rcpt-To: the To of the returned message, unless it was redacted (RFC 6590).
    const ret = n.parts.find((p) => RETURNED_MESSAGE.includes(p.type) || RETURNED_HEADERS.includes(p.type));
    const to = addressesIn(first(ret && headerSection(ret.text), 'to'));
    if (to.length === 1 && !/^(?:redacted|x+|\*+|-+)@/i.test(to[0])) recipients.push(clean({ address: to[0], diagnostic }));
  }
  return clean({
    kind: type === 'not-spam' || type === 'auth-failure' ? 'not-a-bounce' : 'complaint',
    format: 'arf',
    confident: Boolean(part && type),
    recipients,
    envelopeId: first(f, 'original-envelope-id'),
    reportingMta: typedValue(first(f, 'reporting-mta')),
    ...common(n),
  } satisfies ParsedBounce);
}

// --- 2. RFC 3464 DSN -----------------------------------------------------------------------------

const ACTIONS: readonly Action[] = ['failed', 'delayed', 'delivered', 'relayed', 'expanded'];

function parseDsn(n: Notice): ParsedBounce | null {
  const part = n.parts.find((p) => p.type === 'message/delivery-status' || p.type === 'message/global-delivery-status');
  if (!part) return null;
  const blocks = fieldBlocks(part.text);
  const perMessage: Fields = new Map();
  const found: { r: BounceRecipient; exact: boolean }[] = [];
  for (const b of blocks) {
    const isRecipient = b.has('final-recipient') || b.has('original-recipient');
    if (!isRecipient || b.has('reporting-mta')) for (const [k, v] of b) if (!perMessage.has(k)) perMessage.set(k, v);
    if (!isRecipient) continue;
    const original = bareAddress(typedValue(first(b, 'original-recipient')));
    const address = bareAddress(typedValue(first(b, 'final-recipient'))) ?? original;
    if (!address) continue;
    const status = findEnhancedStatus(first(b, 'status'));
    const actionWord = first(b, 'action')?.toLowerCase().split(/[\s(;]/)[0];
    let action = ACTIONS.find((a) => a === actionWord);
    const exact = Boolean(action && status && b.has('final-recipient'));
    // No usable Action: read it from the status class (not confident).
    if (!action && status) action = status[0] === '5' ? 'failed' : status[0] === '4' ? 'delayed' : 'delivered';
    const diagnostic = first(b, 'diagnostic-code');
    found.push({
      r: clean({
        address,
        originalRecipient: original,
        action,
        status,
        diagnostic: diagnostic ? collapse(diagnostic) : undefined,
        remoteMta: typedValue(first(b, 'remote-mta')),
      }),
      exact,
    });
  }
  const having = (...as: Action[]) => found.filter((x) => x.r.action && as.includes(x.r.action));
  let kind: BounceKind;
  let chosen = having('failed');
  if (chosen.length > 0) kind = 'bounce';
  else if ((chosen = having('delayed')).length > 0) kind = 'delay';
  else if ((chosen = having('delivered', 'relayed', 'expanded')).length > 0) kind = 'not-a-bounce';
  else return null; // a report part without usable recipients: try the text

  // A recipient without Diagnostic-Code may be explained in the human-readable part.
  const human = chosen.some((x) => !x.r.diagnostic) ? flavourRecipients(n) : [];
  for (const x of chosen) {
    if (x.r.diagnostic) continue;
    const h = human.find((f) => f.address.toLowerCase() === x.r.address.toLowerCase());
    if (h?.diagnostic) x.r.diagnostic = h.diagnostic;
  }

  return clean({
    kind,
    format: 'rfc3464',
    confident: chosen.every((x) => x.exact),
    recipients: chosen.map((x) => x.r),
    envelopeId: first(perMessage, 'original-envelope-id'),
    reportingMta: typedValue(first(perMessage, 'reporting-mta')),
    ...common(n),
  } satisfies ParsedBounce);
}

// --- 4. heuristics for the common non-standard notices ------------------------------------------

interface Found {
  address: string;
  /** The raw text about this recipient (cleaned by finish()). */
  text?: string;
}

interface Flavour {
  format: Format;
  /** A sentence only this MTA writes. */
  signature: RegExp;
  /** Texts that make it a delay warning rather than a failure. */
  delay?: RegExp;
  recipients(body: string, n: Notice): Found[];
  reportingMta?(body: string): string | undefined;
}

const LINE_ADDRESS = new RegExp(`^<?(${ADDRESS_SRC})>?$`, 'u');
const ANGLE_PARAGRAPH = new RegExp(`^<(${ADDRESS_SRC})>(?: \\(expanded from <[^>]*>\\))?:\\s*(.*)$`, 'u');

/** The address when a line holds nothing else (`a@b`, `<a@b>`, `a@b.`). */
const lineAddress = (line: string) => {
  const m = LINE_ADDRESS.exec(line.trim().replace(/[.,;:]$/, ''));
  return m ? lowerDomain(m[1]) : undefined;
};

/** Paragraphs that start with `<address>:` (Postfix, qmail) and their indented or following lines. */
function angleParagraphs(body: string, sameLine: boolean): Found[] {
  const out: Found[] = [];
  const lines = body.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const m = ANGLE_PARAGRAPH.exec(lines[i]);
    if (!m) continue;
    const text = [m[2]];
    for (let j = i + 1; j < lines.length && lines[j].trim() !== ''; j++) {
      if (sameLine && !/^[ \t]/.test(lines[j])) break;
      if (/^<[^>]+@[^>]+>:/.test(lines[j])) break;
      text.push(lines[j]);
    }
    out.push({ address: lowerDomain(m[1]), text: text.join('\n') });
  }
  return out;
}

/** Exim's list: an address on a line indented by at most 3, its details indented by 4 or more. */
function indentedBlocks(section: string): Found[] {
  const out: Found[] = [];
  let cur: Found | null = null;
  for (const line of section.split('\n')) {
    if (line.trim() === '') continue;
    const indent = /^[ \t]*/.exec(line)![0].replace(/\t/g, '    ').length;
    const head = line.trim().replace(/^<(.*)>:?$/, '$1').replace(/\s+\((?:generated from|expanded from|ultimately generated from)[^)]*\)$/i, '');
    const address = indent <= 3 ? lineAddress(head) : undefined;
    if (address) {
      cur = { address, text: '' };
      out.push(cur);
    } else if (cur && indent >= 4) {
      cur.text = `${cur.text}\n${line.trim()}`;
    } else if (indent <= 3) {
      cur = null;
    }
  }
  return out;
}

const POSTFIX: Flavour = {
  format: 'postfix',
  signature: /This is the (?:mail system|Postfix program) at host|I'm sorry to have to inform you that your message could not/i,
  delay: /THIS IS A WARNING ONLY|Your message could not be delivered for more than|Delayed Mail \(still being retried\)/i,
  recipients: (body) => angleParagraphs(body, true),
  reportingMta: (body) => /This is the (?:mail system|Postfix program) at host (\S+?)\.?[ \t]*$/im.exec(body)?.[1],
};

const EXIM: Flavour = {
  format: 'exim',
  signature: /This message was created automatically by mail delivery software/i,
  delay: /has not yet been delivered to one or more of its recipients|Warning: message \S+ delayed|No action is required on your part/i,
  recipients(body) {
    // The address list follows "The following address(es) failed:" (or "... have not yet been delivered:").
    const start = /^.*address\(es\).*$/im.exec(body);
    return indentedBlocks(start ? body.slice(start.index + start[0].length) : body);
  },
};

const QMAIL: Flavour = {
  format: 'qmail',
  signature: /This is the qmail-send program at/i,
  recipients: (body) =>
    angleParagraphs(body, false).map((f) => ({ ...f, text: f.text?.replace(/^(?:Giving up on .*|I'm not going to try again.*)$/gim, '') })),
  reportingMta: (body) => /qmail-send program at (\S+?)\.?[ \t]*$/im.exec(body)?.[1],
};

const SENDMAIL: Flavour = {
  format: 'sendmail',
  signature: /-{3,}[ \t]*The following addresses (?:had|have) (?:permanent fatal|transient non-fatal) errors[ \t]*-{3,}|-{3,}[ \t]*Transcript of session follows[ \t]*-{3,}/i,
  delay: /^(?![\s\S]*permanent fatal errors)[\s\S]*(?:transient non-fatal errors|Warning: could not send message for past)/i,
  recipients(body) {
    const out: Found[] = [];
    const sections = body.split(/^[ \t]*-{3,}[ \t]*(.*?)[ \t]*-{3,}[ \t]*$/m);
    // split() with a capture group alternates: text, heading, text, heading, text ...
    for (let i = 1; i < sections.length; i += 2) {
      if (!/following addresses (?:had|have) (?:permanent fatal|transient non-fatal) errors/i.test(sections[i])) continue;
      let cur: Found | null = null;
      for (const line of (sections[i + 1] ?? '').split('\n')) {
        const address = lineAddress(line);
        if (address) out.push((cur = { address, text: '' }));
        else if (cur) {
          const reason = /^\s*\(reason:\s*(.*?)\)?\s*$/i.exec(line);
          if (reason) cur.text = reason[1];
        }
      }
    }
    // No "(reason: ...)": the reply about the address in the session transcript.
    const transcript = sections.findIndex((s, i) => i % 2 === 1 && /Transcript of session follows/i.test(s));
    if (transcript > 0) {
      const lines = (sections[transcript + 1] ?? '').split('\n');
      for (const f of out) {
        if (f.text) continue;
        const line = lines.find((l) => /^\s*(?:<<<\s*)?[45]\d\d[ -]/.test(l) && l.toLowerCase().includes(f.address.toLowerCase()));
        if (line) f.text = line.replace(/^\s*<<<\s*/, '');
      }
    }
    return out;
  },
};

/** Exchange's headings in English, German and French (localised servers write their own). */
const EXCHANGE_FAILED = /Delivery has failed to these recipients or groups|Die Zustellung an (?:die )?folgende(?:n)? Empfänger oder Gruppen ist fehlgeschlagen|La remise aux destinataires ou groupes suivants a échoué/i;
const EXCHANGE_DELAYED = /Delivery is delayed to these recipients or groups|Die Zustellung an (?:die )?folgende(?:n)? Empfänger oder Gruppen (?:verzögert sich|wurde verzögert)|La remise aux destinataires ou groupes suivants (?:a été |est )(?:retardée|différée)/i;
const EXCHANGE_DIAGNOSTIC = /Diagnostic information for administrators|Diagnoseinformationen für Administratoren|Informations de diagnostic pour les administrateurs/i;
/** Exchange quotes the remote server's reply: `Remote Server returned '550 ...'`. */
const EXCHANGE_RETURNED_LEAD = String.raw`(?:Remote Server returned|Vom Remoteserver zurückgegeben|Remoteserver hat zurückgegeben|Le serveur distant a (?:retourné|renvoyé))\s*:?\s*'`;
const EXCHANGE_RETURNED = new RegExp(`${EXCHANGE_RETURNED_LEAD}(.*)'\\s*$`, 'i');

const EXCHANGE: Flavour = {
  format: 'exchange',
  signature: new RegExp(
    [
      EXCHANGE_FAILED.source,
      EXCHANGE_DELAYED.source,
      EXCHANGE_DIAGNOSTIC.source,
      EXCHANGE_RETURNED_LEAD,
      "Your message did not reach some or all of the intended recipients|Ihre Nachricht hat einige oder alle Empfänger nicht erreicht|Votre message n['’]a pas atteint (?:certains|une partie|la totalité)",
    ].join('|'),
    'i',
  ),
  delay: EXCHANGE_DELAYED,
  recipients(body) {
    const out: Found[] = [];
    const diag = EXCHANGE_DIAGNOSTIC.exec(body);
    if (diag) {
      let cur: Found | null = null;
      for (const line of body.slice(diag.index).split('\n')) {
        const address = lineAddress(line);
        if (address) {
          cur = out.find((f) => f.address === address) ?? { address, text: '' };
          if (!out.includes(cur)) out.push(cur);
          continue;
        }
        const returned = EXCHANGE_RETURNED.exec(line) ?? /^\s*#(\d{3}[ -].*?)\s*#*\s*$/.exec(line);
        if (cur && returned) cur.text = returned[1].replace(/^<\s*|\s*>$/g, '');
      }
    }
    if (out.length > 0) return out;
    const list = new RegExp(`(?:${EXCHANGE_FAILED.source}|${EXCHANGE_DELAYED.source})\\s*:?`, 'i').exec(body);
    if (!list) return out;
    // Without the administrators' section: each address line, with the explanation that follows it.
    let cur: Found | null = null;
    for (const line of body.slice(list.index + list[0].length).split('\n')) {
      const address = lineAddress(line) ?? lineAddress(/\(([^()\s]+@[^()\s]+)\)\s*$/.exec(line)?.[1] ?? '');
      if (address) {
        cur = out.find((f) => f.address === address) ?? null;
        if (!cur) out.push((cur = { address }));
      } else if (line.trim() === '') cur = null;
      else if (cur) cur.text = cur.text ? `${cur.text}\n${line}` : line;
    }
    return out;
  },
  reportingMta: (body) => /(?:Generating server|Generierender Server|Serveur de génération)\s*:\s*(\S+)/i.exec(body)?.[1],
};

const GMAIL: Flavour = {
  format: 'gmail',
  signature:
    /\*\* ?(?:Address not found|Message not delivered|Message blocked|Delivery incomplete|Mail not delivered) ?\*\*|Your message wasn't delivered to|Delivery to the following recipients? (?:failed permanently|has been delayed)|The response from the remote server was:|There was a temporary problem delivering your message/i,
  delay: /\*\* ?Delivery incomplete ?\*\*|There was a temporary problem delivering|Delivery to the following recipients? has been delayed|will (?:retry|keep trying)/i,
  recipients(body) {
    const out: Found[] = [];
    const who = new RegExp(
      `(?:wasn't delivered to|problem delivering your message to|Your message to|failed permanently:|has been delayed:)\\s*<?(${ADDRESS_SRC})`,
      'giu',
    );
    for (const m of body.matchAll(who)) {
      const address = lowerDomain(m[1].replace(/\.$/, ''));
      if (!out.some((f) => f.address === address)) out.push({ address });
    }
    const said = /(?:The response (?:from the remote server )?was|The error that the other server returned was):?[ \t]*\n?([\s\S]*?)(?:\n[ \t]*\n|$)/i.exec(body);
    if (said) for (const f of out) f.text = said[1];
    return out;
  },
};

/** Order matters only where two signatures could meet; each is specific to one MTA. */
const FLAVOURS: readonly Flavour[] = [POSTFIX, EXIM, QMAIL, SENDMAIL, EXCHANGE, GMAIL];

/** Generic: every address in the text (not the notice's own) and the nearest line with a reply code. */
function plainRecipients(body: string, n: Notice): Found[] {
  const lines = body.split('\n');
  const hasCode = (l: string) => /(?<![\w.:/[-])[45][0-5]\d(?=[ -]+(?:#?[45]\.\d{1,3}\.\d{1,3}|[^\d\s]))|(?<![\d.])#?[45]\.\d{1,3}\.\d{1,3}(?!\.?\d)/.test(l);
  const out: Found[] = [];
  lines.forEach((line, i) => {
    if (/^\s*(?:in-reply-to|references|from|return-path|sender|reply-to)\s*:|message[- ]?id/i.test(line)) return;
    for (const m of line.matchAll(ADDRESS_G)) {
      const address = lowerDomain(m[0].replace(/\.$/, ''));
      if (n.own.has(address.toLowerCase()) || /^(?:postmaster|mailer-daemon|mail-daemon)@/i.test(address)) continue;
      if (out.some((f) => f.address.toLowerCase() === address.toLowerCase())) continue;
      let text: string | undefined;
      for (let j = i; j < Math.min(lines.length, i + 6) && text === undefined; j++) if (hasCode(lines[j])) text = lines[j];
      text ??= reasonNear(lines, i, m.index! + m[0].length);
      out.push(clean({ address, text }));
    }
  });
  if (out.length === 1 && out[0].text === undefined) {
    const line = lines.find(hasCode);
    if (line) out[0].text = line;
  }
  return out;
}

/**
 * Without a reply code: a reason in words (`Benutzer unbekannt`, `Boîte aux lettres pleine`) after
 * the address on its line or on the next two lines, before the next address. A line counts as a
 * reason when a specific rule of the rule table recognises it.
 */
function reasonNear(lines: string[], i: number, after: number): string | undefined {
  const candidates = [lines[i]!.slice(after)];
  for (let j = i + 1; j < Math.min(lines.length, i + 3); j++) {
    if (ADDRESS_RE.test(lines[j]!)) break;
    candidates.push(lines[j]!);
  }
  for (const c of candidates) {
    const t = c.replace(/^[\s>:;,.–-]+/, '').trim();
    if (t && !GENERIC_RULES.has(matchRule({ diagnostic: t }).id)) return t;
  }
  return undefined;
}
/** Rules that match any text of a class; a line that only reaches these names no reason. */
const GENERIC_RULES = new Set(['B.5', 'B.4', 'B.other']);

/** The server's words: from the reply code on when prose precedes it ("host x said: 550 ..."). */
function cleanDiagnostic(text: string | undefined): string | undefined {
  if (!text) return undefined;
  let t = collapse(text);
  const code = /(?<![\w.:/[-])[45][0-5]\d(?=[ -]+(?:#?[45]\.\d{1,3}\.\d{1,3}|[^\d\s]))/.exec(t);
  if (code && code.index > 0) t = t.slice(code.index);
  t = t.replace(/^Delay reason:\s*/i, '');
  return t ? t.slice(0, MAX_DIAGNOSTIC) : undefined;
}

function remoteMtaIn(text: string | undefined): string | undefined {
  if (!text) return undefined;
  return (/\bhost ([\p{L}\p{N}.-]+\.\p{L}{2,})\s?\[/iu.exec(text) ?? /(\S+) does not like recipient/i.exec(text))?.[1];
}

function finish(found: Found[], action: Action): BounceRecipient[] {
  return found.map((f) => {
    const diagnostic = cleanDiagnostic(f.text);
    return clean({ address: f.address, action, status: findEnhancedStatus(diagnostic), diagnostic, remoteMta: remoteMtaIn(f.text) });
  });
}

/** Recipients from the human-readable part by the MTA flavour, for DSNs that lack a Diagnostic-Code. */
function flavourRecipients(n: Notice): BounceRecipient[] {
  const flavour = FLAVOURS.find((f) => f.signature.test(n.body));
  return flavour ? finish(flavour.recipients(n.body, n), 'failed') : [];
}

const DAEMON_LOCAL = /^(?:mailer-?daemon|mail-?daemon|postmaster|mail-?delivery(?:-?system|-?subsystem)?|mdaemon|microsoftexchange[0-9a-f]*)$/i;
const DAEMON_NAME = /mail delivery|mailer-daemon|postmaster|delivery (?:subsystem|system|status)|zustellsystem|système de (?:distribution|remise)/i;
// English, German ("Unzustellbar: ...", Exchange), French ("Non remis : ...", Exchange).
const BOUNCE_SUBJECT =
  /undeliver|delivery (?:status notification|failure|failed|has failed|problem|report|incomplete|delayed)|returned mail|failure notice|mail delivery failed|non-?delivery|could not be delivered|returned to sender|warning: could not send|delayed mail|mail system error|unzustellbar|nicht zustellbar|zustellung (?:fehlgeschlagen|gescheitert|verzögert)|konnte nicht zugestellt werden|non remis|non distribuable|non délivré|échec de (?:la )?(?:remise|distribution|livraison)|remise différée/i;
const REPLY_SUBJECT = /^\s*(?:re|fwd?|aw|wg|sv|vs|tr)\s*:/i;
const SUCCESS = /\((?:Success|Relay(?:ed)?)\)|successfully delivered|delivery (?:has )?succeeded|^(?:Delivered|Relayed)\s*:/i;
const DELAY_TEXT =
  /delivery (?:is |has been )?delayed|has not yet been delivered|will (?:continue to )?(?:retry|try)|still (?:being )?(?:retried|trying)|\(Delay\)|transient non-fatal|THIS IS A WARNING ONLY|Zustellung (?:hat sich |wurde |ist )?verzögert|noch nicht zugestellt|wird (?:weiterhin|erneut) versucht|remise (?:a été |est )?(?:différée|retardée)|pas encore été (?:remis|distribué)|nouvelles tentatives/i;
const DELAY_SUBJECT = /\bdelay|verzögert|différée|retardée/i;
const OOO_SUBJECT =
  /^(?:(?:re|aw|fwd?)\s*:\s*)?(?:auto(?:matic|matische)?[ _-]?(?:reply|response|antwort|answer)|autoreply|auto\s*:|out of (?:the )?office|abwesen|absence|away from|vacation|on leave|réponse automatique|risposta automatica|respuesta automática|message d['’]absence|absente? du bureau)|\bout of (?:the )?office\b|nicht im büro/i;
/** An out-of-office text from a responder that sets no header and no telling subject. */
const OOO_BODY =
  /\b(?:I am|I'm|I will be|ich bin|je suis|je serai)\b[\s\S]{0,80}?(?:\bout of (?:the )?office|\bon (?:vacation|leave|holiday)|nicht im Büro|außer Haus|\babwesend|im Urlaub|\babsente? (?:du bureau|jusqu)|en congés?\b)/i;

function fromDaemon(n: Notice): boolean {
  const at = n.fromAddress.lastIndexOf('@');
  const local = at < 0 ? n.fromAddress : n.fromAddress.slice(0, at);
  return n.header('return-path')?.replace(/\s/g, '') === '<>' || DAEMON_LOCAL.test(local) || DAEMON_NAME.test(n.fromName);
}

function autoReply(n: Notice): { confident: boolean } | null {
  const submitted = (n.header('auto-submitted') ?? '').toLowerCase().split(/[\s;(]/)[0];
  if (submitted === 'auto-replied') return { confident: true };
  const precedence = (n.header('precedence') ?? '').toLowerCase().trim();
  if (n.header('x-autoreply') !== undefined || n.header('x-autorespond') !== undefined || precedence === 'auto_reply') return { confident: false };
  if (n.subject && OOO_SUBJECT.test(n.subject)) return { confident: false };
  if (OOO_BODY.test(n.body.slice(0, 2000))) return { confident: false };
  return null;
}

function heuristic(n: Notice): ParsedBounce {
  const daemon = fromDaemon(n);
  const bounceSubject = Boolean(n.subject && BOUNCE_SUBJECT.test(n.subject) && !REPLY_SUBJECT.test(n.subject));
  const base = common(n);
  if (daemon || bounceSubject) {
    const flavour = FLAVOURS.find((f) => f.signature.test(n.body));
    if (flavour) {
      const delay = Boolean(flavour.delay && (flavour.delay.test(n.body) || flavour.delay.test(n.subject ?? '')));
      let found = flavour.recipients(n.body, n);
      if (found.length === 0) found = plainRecipients(n.body, n);
      return clean({
        kind: delay ? 'delay' : 'bounce',
        format: flavour.format,
        confident: false,
        recipients: finish(found, delay ? 'delayed' : 'failed'),
        reportingMta: flavour.reportingMta?.(n.body),
        ...base,
      } satisfies ParsedBounce);
    }
    if (SUCCESS.test(n.subject ?? '')) return clean({ kind: 'not-a-bounce', format: 'none', confident: false, recipients: [], ...base } satisfies ParsedBounce);
    // An out-of-office whose subject merely quotes "undeliverable" stays an auto-reply;
    // a daemon's notice with Auto-Submitted (as Postfix and Exim send) is still a bounce.
    if (daemon || !autoReply(n)) {
      const delay = DELAY_TEXT.test(n.body) || DELAY_SUBJECT.test(n.subject ?? '');
      return clean({
        kind: delay ? 'delay' : 'bounce',
        format: 'plain',
        confident: false,
        recipients: finish(plainRecipients(n.body, n), delay ? 'delayed' : 'failed'),
        ...base,
      } satisfies ParsedBounce);
    }
  }
  const auto = autoReply(n);
  if (auto) {
    return clean({
      kind: 'auto-reply',
      format: 'auto-reply',
      confident: auto.confident,
      recipients: n.fromAddress ? [{ address: lowerDomain(n.fromAddress) }] : [],
      subject: n.subject,
      deliveredTo: n.deliveredTo,
    } satisfies ParsedBounce);
  }
  return clean({ kind: 'not-a-bounce', format: 'none', confident: false, recipients: [], subject: n.subject, deliveredTo: n.deliveredTo } satisfies ParsedBounce);
}

/**
 * Parse one message that arrived at the bounce address.
 *
 * Accepts CRLF or LF line endings and a leading mbox `From ` line. Never
 * throws on odd content; an unreadable message comes back as `not-a-bounce`.
 *
 * @example
 *   const b = await parseBounce(readFileSync('dsn.eml'));
 *   if (b.kind === 'bounce') for (const r of b.recipients) classify({ ...r, kind: b.kind, confident: b.confident });
 */
export async function parseBounce(raw: Buffer | string): Promise<ParsedBounce> {
  let n: Notice;
  try {
    n = await readNotice(raw);
  } catch {
    return { kind: 'not-a-bounce', format: 'none', confident: false, recipients: [] };
  }
  if (n.reportType === 'disposition-notification' || n.parts.some((p) => p.type === 'message/disposition-notification')) {
    return clean({ kind: 'not-a-bounce', format: 'none', confident: true, recipients: [], subject: n.subject, deliveredTo: n.deliveredTo } satisfies ParsedBounce);
  }
  return parseArf(n) ?? parseDsn(n) ?? heuristic(n);
}

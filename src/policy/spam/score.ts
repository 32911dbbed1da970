/**
 * The built-in spam scorer: the rules of ./rules.ts applied to a raw message.
 * Pure and synchronous (no network); never throws on malformed input.
 */
import { parseAddressList } from '../address-list.js';
import { parseRfc5322Date } from '../date.js';
import { getField, parseHeaderSection, type HeaderField } from '../headers.js';
import { decodeText, isBodyText, leafParts, parseMime, type MimePart } from '../mime.js';
import { decodeEncodedWords } from '../rfc2047.js';
import { getSpamRule, SPAM_RULES, type SpamRuleDefinition } from './rules.js';

/** One built-in rule that fired. */
export interface SpamHit extends SpamRuleDefinition {
  /** The evidence, short. */
  detail?: string;
}

export interface BuiltinScore {
  /** Sum of the points of all hits, rounded to 0.1. */
  score: number;
  /** Hits, highest points first. */
  hits: SpamHit[];
}

export interface ScoreOptions {
  /** The time the mail is (about to be) sent: date rules compare Date with it. */
  now: Date;
  /** The envelope sender, when known. */
  envelopeFrom?: string;
}

const HOUR = 3_600_000;
const MESSAGE_ID = /^<([^<>\\\s\x80-\xff]+)@([^<>\\\s\x80-\xff]+)>$/;
/** Service accounts (rspamd compromised_hosts.lua), plus root/daemon/postmaster-style system senders. */
const SERVICE_ACCOUNTS = new Set(['www-data', 'www', 'web', 'apache', 'apache2', 'nginx', 'httpd', 'nobody', 'ftp', 'guest', 'anonymous', 'root', 'daemon', 'cron', 'php', 'wwwrun', 'http']);
const SHORTENERS = new Set([
  'bit.ly', 'bitly.com', 'tinyurl.com', 'goo.gl', 't.co', 'ow.ly', 'is.gd', 'buff.ly', 'rebrand.ly', 'cutt.ly', 'shorturl.at', 'tiny.cc', 'rb.gy', 'v.gd', 't.ly', 'bl.ink', 'lnkd.in', 'shorte.st', 'adf.ly', 'tr.im', 'x.co', 's.id', 'qr.ae', 'soo.gd', 'clck.ru', 'urlz.fr', 'bit.do',
]);
/** Template placeholders: {{name}}, {% … %}, ${name}, %NAME%, [object Object]. */
const TEMPLATE = /\{\{[^{}\n]{0,80}\}\}|\{%[^%\n]{0,80}%\}|\$\{[A-Za-z_][^}\n]{0,80}\}|%[A-Z][A-Z0-9_]{1,40}%|\[object Object\]/;
/** SpamAssassin's UNRESOLVED_TEMPLATE header pattern (headers other than these). */
const SA_TEMPLATE = /%[A-Z][A-Z_-]/;
const SA_TEMPLATE_EXEMPT = new Set(['to', 'cc', 'from', 'subject', 'references', 'in-reply-to', 'message-id']);
const SUBJECT_PREFIX = /^(?:\s*(?:re|fwd?|aw|wg|sv|vs|antw|tr|rif|r)\s*(?:\[\d+\])?\s*:\s*)+/i;
const DEAR = /\bdear\s+(?:valued\s+)?(?:customer|client|user|member|friend|sir(?:\s*(?:\/|or)\s*madam)?|madam|account\s*holder|beneficiary|recipient|subscriber|email\s*user)s?\b/i;
const URL = /\b(?:https?|ftp):\/\/([^\s/?#"'<>)\]]+)[^\s"'<>)\]]*/gi;

function round(n: number): number {
  return Math.round(n * 10) / 10;
}

function short(s: string, max = 80): string {
  const clean = s.replace(/[\x00-\x1f\x7f]/g, ' ');
  return clean.length > max ? `${clean.slice(0, max - 3)}...` : clean;
}

/** HTML to text, roughly: drop head/style/script and tags, decode common entities. */
export function htmlToWords(html: string): string {
  return html
    .replace(/<!--[\s\S]*?-->/g, ' ')
    .replace(/<(head|style|script|title)\b[\s\S]*?<\/\1\s*>/gi, ' ')
    .replace(/<[^>]*>/g, ' ')
    .replace(/&nbsp;/gi, ' ')
    .replace(/&amp;/gi, '&')
    .replace(/&lt;/gi, '<')
    .replace(/&gt;/gi, '>')
    .replace(/&quot;/gi, '"')
    .replace(/&#(\d+);/g, (_, n: string) => String.fromCodePoint(Number(n) % 0x110000))
    .replace(/&[a-z]+;/gi, ' ')
    .replace(/\s+/g, ' ')
    .trim();
}

/** Lowercased word tokens (letters and digits, 2+ characters). */
export function words(text: string): string[] {
  return (text.toLowerCase().match(/[\p{L}\p{N}]{2,}/gu) ?? []);
}

function hostOf(authority: string): string {
  const noUser = authority.includes('@') ? authority.slice(authority.lastIndexOf('@') + 1) : authority;
  const host = noUser.startsWith('[') ? noUser.slice(0, noUser.indexOf(']') + 1) : noUser.replace(/:\d*$/, '');
  return host.toLowerCase().replace(/\.$/, '');
}

function isIpHost(host: string): boolean {
  return /^\d{1,3}(?:\.\d{1,3}){3}$/.test(host) || /^\[[0-9a-f:.]+\]$/.test(host) || /^(?:0x[0-9a-f]+|\d{8,10})$/.test(host);
}

function localPart(address: string): string {
  const at = address.lastIndexOf('@');
  return (at < 0 ? address : address.slice(0, at)).toLowerCase();
}

/** Is this encoded-word header text plain ASCII once decoded (so it need not be encoded)? */
function excessEncoding(value: string): string | undefined {
  const words = value.match(/=\?[^?\s]+\?([BbQq])\?[^?\s]*\?=/g);
  if (!words) return undefined;
  const decoded = decodeEncodedWords(value);
  if (decoded === value) return undefined;
  return /^[\x20-\x7e\t]*$/.test(decoded) ? decoded : undefined;
}

class Hits {
  readonly list: SpamHit[] = [];
  add(id: string, detail?: string): void {
    if (this.list.some((h) => h.id === id)) return;
    const r = getSpamRule(id);
    if (!r) throw new Error(`unknown spam rule ${id}`);
    this.list.push({ id: r.id, mirrors: r.mirrors, points: r.points, title: r.title, why: r.why, fix: r.fix, ...(detail !== undefined ? { detail: short(detail) } : {}) });
  }
}

function textOfParts(parts: MimePart[], type: string): string {
  return parts
    .filter((p) => p.contentType === type)
    .map((p) => decodeText(p))
    .join('\n');
}

/** Score a raw RFC 5322 message with the built-in rules. */
export function scoreMessage(raw: Buffer | string, options: ScoreOptions): BuiltinScore {
  const buf = typeof raw === 'string' ? Buffer.from(raw, 'utf8') : raw;
  const hits = new Hits();
  const { fields } = parseHeaderSection(buf);
  const value = (name: string): string | undefined => getField(fields, name)?.value;

  // --- Date
  const date = value('Date');
  if (date === undefined || date === '') hits.add('SPAM.MISSING_DATE');
  else {
    const parsed = parseRfc5322Date(date);
    if (!parsed.ok) hits.add('SPAM.INVALID_DATE', `Date: ${date} (${parsed.reason})`);
    else {
      const diff = parsed.date.getTime() - options.now.getTime();
      if (diff > 2 * HOUR) hits.add('SPAM.DATE_IN_FUTURE', `Date: ${date} is ${(diff / HOUR).toFixed(1)} h ahead`);
      else if (diff < -3 * HOUR) hits.add('SPAM.DATE_IN_PAST', `Date: ${date} is ${(-diff / HOUR).toFixed(1)} h old`);
    }
  }

  // --- Message-ID
  const mid = value('Message-ID');
  if (mid === undefined || mid === '') hits.add('SPAM.MISSING_MID');
  else {
    const m = MESSAGE_ID.exec(mid.replace(/\s*\([^)]*\)\s*$/, ''));
    const right = m?.[2]?.toLowerCase() ?? '';
    if (!m) hits.add('SPAM.INVALID_MSGID', `Message-ID: ${mid} (not <left@right>)`);
    else if (mid.length <= 15 || m[1]!.length <= 4) hits.add('SPAM.INVALID_MSGID', `Message-ID: ${mid} (very short)`);
    else if (!right.startsWith('[') && (!right.includes('.') || right === 'localhost' || /\.(?:localhost|localdomain|local)$/.test(right))) {
      hits.add('SPAM.INVALID_MSGID', `Message-ID: ${mid} (right side is not a domain name)`);
    }
  }

  // --- To
  if (!getField(fields, 'To')) hits.add('SPAM.MISSING_TO');

  // --- From and envelope sender
  const from = getField(fields, 'From');
  const senders: string[] = [];
  if (from) {
    const parsed = parseAddressList(from.value);
    for (const mb of parsed.mailboxes) senders.push(`From: ${mb.address}`);
    if (/^\s*""\s*</.test(from.value)) hits.add('SPAM.FROM_BLANK_NAME', `From: ${from.value}`);
    const excess = excessEncoding(from.value);
    if (excess !== undefined) hits.add('SPAM.EXCESS_ENCODED_HEADER', `From: ${from.value} is just "${excess}"`);
  }
  if (options.envelopeFrom) senders.push(`envelope sender: ${options.envelopeFrom}`);
  const service = senders.find((s) => SERVICE_ACCOUNTS.has(localPart(s.slice(s.indexOf(': ') + 2))));
  if (service) hits.add('SPAM.FROM_SERVICE_ACCT', service);

  // --- Subject
  const subjectRaw = value('Subject');
  const subject = subjectRaw === undefined ? undefined : decodeEncodedWords(subjectRaw);
  if (subject === undefined || subject.trim() === '') hits.add('SPAM.MISSING_SUBJECT');
  else {
    const stripped = subject.replace(SUBJECT_PREFIX, '').trim();
    const letters = stripped.match(/\p{L}/gu) ?? [];
    if (letters.length >= 10 && /\s/.test(stripped) && !/\p{Ll}/u.test(stripped) && /\p{Lu}/u.test(stripped)) hits.add('SPAM.SUBJ_ALL_CAPS', `Subject: ${subject}`);
    if (/\b(?:https?:\/\/|www\.)\S+/i.test(subject)) hits.add('SPAM.URL_IN_SUBJECT', `Subject: ${subject}`);
    const excess = excessEncoding(subjectRaw!);
    if (excess !== undefined) hits.add('SPAM.EXCESS_ENCODED_HEADER', `Subject is just "${excess}"`);
  }
  if (getField(fields, 'X-Priority') || /^\s*high\s*$/i.test(value('Importance') ?? '') || /^\s*urgent\s*$/i.test(value('Priority') ?? '')) {
    hits.add('SPAM.XPRIO', `X-Priority: ${value('X-Priority') ?? value('Importance') ?? value('Priority')}`);
  }

  // --- templates: headers (SpamAssassin's rule) and Subject/body (broader patterns)
  const templateHeader = fields.find((f: HeaderField) => !SA_TEMPLATE_EXEMPT.has(f.key) && SA_TEMPLATE.test(f.value));
  if (templateHeader) hits.add('SPAM.UNRESOLVED_TEMPLATE', `${templateHeader.name}: ${templateHeader.value}`);
  const subjectTemplate = subject !== undefined ? TEMPLATE.exec(subject) : null;
  if (subjectTemplate) hits.add('SPAM.UNRESOLVED_TEMPLATE', `Subject: ${subjectTemplate[0]}`);

  // --- MIME and body
  if (getField(fields, 'Content-Type') && !getField(fields, 'MIME-Version')) hits.add('SPAM.MISSING_MIME_VERSION', `Content-Type: ${value('Content-Type')}`);
  const root = parseMime(buf);
  const leaves = leafParts(root);
  const bodyParts = leaves.filter(isBodyText);
  const attachments = leaves.filter((p) => !isBodyText(p) && !p.contentType.startsWith('multipart/'));
  const text = textOfParts(bodyParts, 'text/plain');
  const html = textOfParts(bodyParts, 'text/html');
  const htmlText = htmlToWords(html);
  const readable = `${text}\n${htmlText}`;

  const bodyTemplate = TEMPLATE.exec(readable) ?? TEMPLATE.exec(html.replace(/<(style|script)\b[\s\S]*?<\/\1\s*>/gi, ' '));
  if (bodyTemplate) hits.add('SPAM.UNRESOLVED_TEMPLATE', `body: ${bodyTemplate[0]}`);

  const hasText = bodyParts.some((p) => p.contentType === 'text/plain');
  const hasHtml = bodyParts.some((p) => p.contentType === 'text/html');
  if (readable.trim() === '' && attachments.length === 0 && !/<img\b/i.test(html)) hits.add('SPAM.EMPTY_MESSAGE');
  if (hasHtml && !hasText) hits.add('SPAM.MIME_HTML_ONLY', bodyParts.length > 1 ? `${bodyParts.length} text/html parts` : 'text/html');

  if (hasHtml && hasText) {
    const htmlWords = new Set(words(htmlText));
    const textWords = new Set(words(text));
    if (htmlWords.size >= 10) {
      const missing = [...htmlWords].filter((w) => !textWords.has(w)).length;
      const ratio = missing / htmlWords.size;
      if (ratio >= 0.5) hits.add('SPAM.MPART_ALT_DIFF', `${Math.round(ratio * 100)}% of the HTML part's words are missing from the text part`);
      else if (textWords.size > 3 * htmlWords.size) hits.add('SPAM.MPART_ALT_DIFF', `the text part has ${textWords.size} distinct words, the HTML part ${htmlWords.size}`);
    }
  }

  const images = (html.match(/<img\b/gi) ?? []).length;
  const htmlTextChars = htmlText.replace(/\s/g, '').length;
  if (images > 0 && htmlTextChars < 400) hits.add('SPAM.HTML_IMAGE_ONLY', `${images} image${images === 1 ? '' : 's'}, ${htmlTextChars} characters of text`);

  const caps = (readable.match(/\p{Lu}/gu) ?? []).length;
  const lower = (readable.match(/\p{Ll}/gu) ?? []).length;
  if (caps + lower >= 40 && caps / (caps + lower) > 0.5) hits.add('SPAM.UPPERCASE_BODY', `${Math.round((caps / (caps + lower)) * 100)}% capitals`);

  const dear = DEAR.exec(readable);
  if (dear) hits.add('SPAM.DEAR_SOMETHING', dear[0]);

  // --- URLs (text, HTML text and href/src attributes)
  const urlSource = `${text}\n${html.replace(/&amp;/gi, '&')}`;
  for (const m of urlSource.matchAll(URL)) {
    const host = hostOf(m[1]!);
    if (isIpHost(host)) hits.add('SPAM.HTTP_TO_IP', m[0]);
    const bare = host.replace(/^www\./, '');
    if (SHORTENERS.has(bare)) hits.add('SPAM.URL_SHORTENER', m[0]);
  }

  const list = hits.list.sort((a, b) => b.points - a.points || ruleIndex(a.id) - ruleIndex(b.id));
  return { score: round(list.reduce((s, h) => s + h.points, 0)), hits: list };
}

const INDEX = new Map(SPAM_RULES.map((r, i) => [r.id, i]));
function ruleIndex(id: string): number {
  return INDEX.get(id) ?? SPAM_RULES.length;
}


/**
 * lintMessage: check a raw RFC 5322 message against the guide's rules.
 *
 * Headers are parsed from the raw bytes (headers.ts) so that 8-bit bytes, bare line
 * endings, long lines, duplicates and invalid names are seen exactly as they will be sent;
 * the MIME structure comes from our own walker (mime.ts), which reports the real parts.
 */
import addressparser from 'nodemailer/lib/addressparser';
import { parseAddress, checkAddress, senderDomainProblem, senderLocalPartProblem, type ParsedAddress } from './address-check.js';
import { parseAddressList, type Mailbox } from './address-list.js';
import { parseRfc5322Date } from './date.js';
import { resolvePolicy } from './defaults.js';
import { getField, getFields, has8bit, isValidUtf8, parseHeaderSection, type HeaderField } from './headers.js';
import { attachmentParts, decodeBody, decodeText, isBodyText, parseMime, type MimePart } from './mime.js';
import { decodeEncodedWords } from './rfc2047.js';
import { getRule, ruleOrder, type RuleId } from './rules.js';
import type { Finding, LintContext, LintReport, PolicyOptions, Severity } from './types.js';

/** RFC 5322 §2.1.1: at most 998 octets per line, CRLF excluded. */
export const MAX_LINE_OCTETS = 998;

/** Headers that may appear at most once (RFC 5322 §3.6, RFC 2045). Canonical spelling. */
export const SINGLE_INSTANCE_HEADERS: readonly string[] = [
  'From',
  'Sender',
  'Reply-To',
  'To',
  'Cc',
  'Bcc',
  'Subject',
  'Date',
  'Message-ID',
  'In-Reply-To',
  'References',
  'MIME-Version',
  'Content-Type',
  'Content-Transfer-Encoding',
];

const FIELD_NAME = /^[!-9;-~]+$/;
const CONTROL_CHAR = /[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]/;
const ADDRESS_LIKE = /[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+/;
const TEMPLATE = /\{\{[^}]*\}\}|\$\{[^}]*\}|%[A-Za-z_][A-Za-z0-9_]*%|\[object Object\]|\bundefined\b/;
const DOT_ATOM_TEXT = "[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*";
const MESSAGE_ID = new RegExp(`^<(${DOT_ATOM_TEXT})@(${DOT_ATOM_TEXT}|\\[[\\x21-\\x5a\\x5e-\\x7e]*\\])>$`);

// ---------------------------------------------------------------------------
// formatting helpers

/** `1.5 MiB`, `800 KiB`, `12 bytes`. */
export function formatBytes(n: number): string {
  if (n >= 1024 * 1024) return `${(n / (1024 * 1024)).toFixed(1).replace(/\.0$/, '')} MiB`;
  if (n >= 1024) return `${(n / 1024).toFixed(1).replace(/\.0$/, '')} KiB`;
  return `${n} ${n === 1 ? 'byte' : 'bytes'}`;
}

/** `2 d 3 h`, `2 h 5 min`, `20 min`, `45 s`. */
export function formatDuration(ms: number): string {
  const s = Math.round(Math.abs(ms) / 1000);
  const d = Math.floor(s / 86400);
  const h = Math.floor((s % 86400) / 3600);
  const m = Math.floor((s % 3600) / 60);
  if (d > 0) return h > 0 ? `${d} d ${h} h` : `${d} d`;
  if (h > 0) return m > 0 ? `${h} h ${m} min` : `${h} h`;
  if (m > 0) return `${m} min`;
  return `${s} s`;
}

function quote(s: string, max = 80): string {
  const clean = s.replace(/[\x00-\x1f\x7f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
  return clean.length > max ? `${clean.slice(0, max - 3)}...` : clean;
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

// ---------------------------------------------------------------------------
// findings

class Findings {
  readonly list: Finding[] = [];
  constructor(private readonly policy: PolicyOptions) {}

  /** The effective severity of a rule, or 'off'. Exact ID beats guide rule (`R2`) beats default. */
  severityOf(id: RuleId): Severity | 'off' {
    const rule = getRule(id)!;
    return this.policy.severity[id] ?? this.policy.severity[rule.guideRule] ?? rule.severity;
  }

  add(id: RuleId, where: { field?: string; detail?: string } = {}): Finding | undefined {
    const rule = getRule(id)!;
    const severity = this.severityOf(id);
    if (severity === 'off') return undefined;
    const locus = where.field && where.detail ? `${where.field}: ${where.detail}` : (where.field ?? where.detail);
    const finding: Finding = {
      rule: rule.id,
      guideRule: rule.guideRule,
      severity,
      message: `${rule.title}${locus ? ` (${locus})` : ''}. ${rule.why}`,
      fix: rule.fix,
      ...(where.field !== undefined ? { field: where.field } : {}),
      ...(where.detail !== undefined ? { detail: where.detail } : {}),
      title: rule.title,
      why: rule.why,
    };
    this.list.push(finding);
    return finding;
  }
}

/** Build a report from findings: errors first, then table order, then discovery order. */
export function buildReport(findings: readonly Finding[]): LintReport {
  const sorted = findings
    .map((f, i) => ({ f, i }))
    .sort((a, b) => {
      const sa = a.f.severity === 'error' ? 0 : 1;
      const sb = b.f.severity === 'error' ? 0 : 1;
      return sa - sb || ruleOrder(a.f.rule) - ruleOrder(b.f.rule) || a.i - b.i;
    })
    .map(({ f }) => f);
  const errors = sorted.filter((f) => f.severity === 'error').length;
  return { findings: sorted, errors, warnings: sorted.length - errors, ok: errors === 0 };
}

// ---------------------------------------------------------------------------
// whole-message scans

interface LineScan {
  bareLf: number;
  firstBareLfLine: number;
  bareCr: number;
  firstBareCrLine: number;
  longLines: number;
  firstLongLine: number;
  firstLongLength: number;
}

function scanLines(buf: Buffer): LineScan {
  const r: LineScan = { bareLf: 0, firstBareLfLine: 0, bareCr: 0, firstBareCrLine: 0, longLines: 0, firstLongLine: 0, firstLongLength: 0 };
  let line = 1;
  let lineStart = 0;
  const checkLength = (len: number): void => {
    if (len > MAX_LINE_OCTETS) {
      r.longLines += 1;
      if (r.firstLongLine === 0) {
        r.firstLongLine = line;
        r.firstLongLength = len;
      }
    }
  };
  for (let lf = buf.indexOf(0x0a); lf >= 0; lf = buf.indexOf(0x0a, lf + 1)) {
    const crlf = lf > 0 && buf[lf - 1] === 0x0d;
    if (!crlf) {
      r.bareLf += 1;
      if (r.firstBareLfLine === 0) r.firstBareLfLine = line;
    }
    checkLength((crlf ? lf - 1 : lf) - lineStart);
    line += 1;
    lineStart = lf + 1;
  }
  if (lineStart < buf.length) checkLength(buf.length - lineStart);
  // Bare CRs: count separately, with their line numbers.
  let crLine = 1;
  let scanned = 0;
  for (let cr = buf.indexOf(0x0d); cr >= 0; cr = buf.indexOf(0x0d, cr + 1)) {
    if (buf[cr + 1] === 0x0a) continue;
    r.bareCr += 1;
    if (r.firstBareCrLine === 0) {
      for (let i = buf.indexOf(0x0a, scanned); i >= 0 && i < cr; i = buf.indexOf(0x0a, i + 1)) crLine += 1;
      scanned = cr;
      r.firstBareCrLine = crLine;
    }
  }
  return r;
}

// ---------------------------------------------------------------------------
// helpers on the MIME tree

/** Leaves with their ancestors (root first). */
function leavesWithAncestors(part: MimePart, ancestors: MimePart[] = []): Array<{ leaf: MimePart; ancestors: MimePart[] }> {
  if (part.children.length === 0) return [{ leaf: part, ancestors }];
  return part.children.flatMap((c) => leavesWithAncestors(c, [...ancestors, part]));
}

function describePart(p: MimePart): string {
  return p.path === '' ? p.contentType : `part ${p.path} (${p.contentType})`;
}

function isAutoReplied(fields: readonly HeaderField[]): boolean {
  const v = getField(fields, 'Auto-Submitted')?.value ?? '';
  return /^\s*auto-replied\b/i.test(v.replace(/\([^)]*\)/g, ' '));
}

function isLocalIdRight(right: string): boolean {
  const d = right.toLowerCase();
  if (d.startsWith('[')) return false;
  return d === 'localhost' || d.endsWith('.localhost') || !d.includes('.') || d.endsWith('.localdomain') || d.endsWith('.local');
}

// ---------------------------------------------------------------------------

/**
 * Lint a raw RFC 5322 message (from sendwell or any other software) against the guide.
 * Findings are sorted errors first. Never throws on malformed input.
 */
export async function lintMessage(raw: Buffer | string, ctx: LintContext): Promise<LintReport> {
  const buf = typeof raw === 'string' ? Buffer.from(raw, 'utf8') : raw;
  const policy = resolvePolicy(ctx.policy);
  const out = new Findings(policy);
  const utf8 = ctx.smtputf8 === true;

  // --- line structure (H1)
  const scan = scanLines(buf);
  if (scan.bareLf > 0 || scan.bareCr > 0) {
    const parts: string[] = [];
    if (scan.bareLf > 0) parts.push(`${plural(scan.bareLf, 'bare LF')}, first at line ${scan.firstBareLfLine}`);
    if (scan.bareCr > 0) parts.push(`${plural(scan.bareCr, 'bare CR')}, first at line ${scan.firstBareCrLine}`);
    out.add('H1.bare-newline', { detail: parts.join('; ') });
  }
  if (scan.longLines > 0) {
    out.add('H1.line-too-long', {
      detail: `line ${scan.firstLongLine} is ${scan.firstLongLength} octets${scan.longLines > 1 ? ` (${scan.longLines} lines over ${MAX_LINE_OCTETS})` : ''}`,
    });
  }

  // --- header section (H1)
  const section = parseHeaderSection(buf);
  const fields = section.fields;
  if (section.malformed.length > 0) {
    const first = section.malformed[0]!;
    const more = section.malformed.length > 1 ? ` (and ${section.malformed.length - 1} more)` : '';
    out.add('H1.malformed-header', { detail: `line ${first.line}: "${first.text}" — ${first.reason}${more}` });
  }
  for (const f of fields) {
    if (!FIELD_NAME.test(f.name)) out.add('H1.header-name-invalid', { field: quote(JSON.stringify(f.name)), detail: `line ${f.line}` });
    if (has8bit(f.raw)) {
      if (!utf8) {
        out.add('H1.raw-8bit-header', {
          field: FIELD_NAME.test(f.name) ? f.name : undefined,
          detail:
            ctx.smtputf8 === false
              ? `line ${f.line} has raw 8-bit bytes and the relay does not support SMTPUTF8: use RFC 2047 encoding`
              : `line ${f.line} has raw 8-bit bytes; the relay must support SMTPUTF8 (RFC 6532), otherwise use RFC 2047 encoding`,
        });
      } else if (!isValidUtf8(f.raw)) {
        out.add('H1.raw-8bit-header', { field: FIELD_NAME.test(f.name) ? f.name : undefined, detail: `line ${f.line} has 8-bit bytes that are not valid UTF-8 (RFC 6532 allows only UTF-8)` });
      }
    }
    if (CONTROL_CHAR.test(f.raw.toString('latin1'))) out.add('H1.header-control-char', { field: FIELD_NAME.test(f.name) ? f.name : undefined, detail: `line ${f.line}` });
  }
  for (const name of SINGLE_INSTANCE_HEADERS) {
    const all = getFields(fields, name);
    if (all.length > 1) out.add('H1.duplicate-header', { field: name, detail: `${all.length} times (lines ${all.map((f) => f.line).join(', ')})` });
  }

  // --- MIME structure (needed for R3 null sender, R7, R9, H1)
  const root = parseMime(buf);
  const isMime = getField(fields, 'Content-Type') !== undefined || getField(fields, 'Content-Transfer-Encoding') !== undefined || has8bit(buf.subarray(section.bodyStart));

  // --- senders (R2, R3, R4, H1, H5)
  const senderErrors: string[] = [];
  const noteSender = (finding: Finding | undefined, field: string): void => {
    if (finding?.severity === 'error' && !senderErrors.includes(field)) senderErrors.push(field);
  };
  const allowed = new Set(policy.allowSenders.map((a) => a.toLowerCase()));
  const checkSender = (address: ParsedAddress, written: string, field: string): void => {
    if (allowed.has(written.toLowerCase())) return;
    const local = senderLocalPartProblem(address.local, address.asciiDomain);
    if (local === 'noreply') noteSender(out.add('R2.noreply-sender', { field, detail: written }), field);
    else if (local === 'system') noteSender(out.add('R2.system-sender', { field, detail: written }), field);
    const domain = senderDomainProblem(address.asciiDomain);
    if (domain) noteSender(out.add('R2.sender-domain', { field, detail: `${written} (domain ${domain.reason})` }), field);
  };

  const fromField = getField(fields, 'From');
  if (!fromField) {
    noteSender(out.add('R3.from-missing', { field: 'From' }), 'From');
  } else {
    const parsed = parseAddressList(fromField.value);
    if (!parsed.ok) {
      noteSender(out.add('R3.from-invalid', { field: 'From', detail: `${quote(fromField.value)} (${parsed.reason})` }), 'From');
    } else {
      const mailboxes = parsed.mailboxes;
      if (mailboxes.length > 1 && !getField(fields, 'Sender')) {
        out.add('H1.multiple-from-without-sender', { field: 'From', detail: mailboxes.map((m) => m.address).join(', ') });
      }
      // Cross-check with a second parser: refuse input two parsers read differently.
      let other: string[] = [];
      try {
        other = addressparser(fromField.value, { flatten: true }).map((a) => a.address.toLowerCase());
      } catch {
        other = [];
      }
      const mine = mailboxes.map((m) => m.address.toLowerCase());
      const agree = other.length === mine.length && other.every((a, i) => a === mine[i]);
      for (const m of mailboxes) {
        const check = parseAddress(m.address, { utf8 });
        if (!check.ok) {
          noteSender(out.add('R3.from-invalid', { field: 'From', detail: `${quote(m.address)} (${check.reason})` }), 'From');
        } else if (!agree) {
          noteSender(out.add('R3.from-invalid', { field: 'From', detail: `${quote(fromField.value)} (other software parses it as ${quote(other.join(', ') || 'no address')})` }), 'From');
          break;
        } else {
          checkSender(check.address, m.address, 'From');
        }
      }
      const named = mailboxes.find((m) => ADDRESS_LIKE.test(m.name));
      if (named) out.add('H1.from-display-name-address', { field: 'From', detail: quote(`"${named.name}" <${named.address}>`) });
      if (mailboxes.length === 1 && mailboxes[0]!.name.trim() === '') out.add('H5.from-without-name', { field: 'From', detail: mailboxes[0]!.address });
    }
  }

  if (ctx.envelope) {
    const from = ctx.envelope.from.trim();
    if (from === '' || from === '<>') {
      const allowedNull = root.contentType === 'multipart/report' || isAutoReplied(fields);
      if (!allowedNull) noteSender(out.add('R3.null-envelope-sender', { field: 'envelope.from', detail: '<>' }), 'envelope.from');
    } else if (!from.includes('@') && !/[\s"(),:;<>@[\\\]\x00-\x1f\x7f]/.test(from)) {
      noteSender(out.add('R3.envelope-sender-unqualified', { field: 'envelope.from', detail: quote(from) }), 'envelope.from');
    } else {
      const check = parseAddress(from, { utf8 });
      if (!check.ok) noteSender(out.add('R3.envelope-sender-invalid', { field: 'envelope.from', detail: `${quote(from)} (${check.reason})` }), 'envelope.from');
      else checkSender(check.address, from, 'envelope.from');
    }
  }

  const replyTo = getField(fields, 'Reply-To');
  if (replyTo && senderErrors.length > 0) {
    out.add('R4.reply-to-not-substitute', { field: 'Reply-To', detail: `${quote(replyTo.value)}, while ${senderErrors.join(' and ')} ${senderErrors.length > 1 ? 'are' : 'is'} not valid` });
  }

  // --- other address fields (H1) and recipient counts (R1, R9)
  const countOf: Record<string, number> = {};
  for (const name of ['Sender', 'Reply-To', 'To', 'Cc', 'Bcc']) {
    const field = getField(fields, name);
    if (!field) continue;
    const single = name === 'Sender';
    const parsed = parseAddressList(field.value, { allowGroups: !single });
    countOf[name] = parsed.mailboxes.length;
    if (!parsed.ok) {
      out.add('H1.address-syntax', { field: name, detail: `${quote(field.value)} (${parsed.reason})` });
      continue;
    }
    if (single && parsed.mailboxes.length !== 1) {
      out.add('H1.address-syntax', { field: name, detail: `${quote(field.value)} (Sender must be exactly one address)` });
      continue;
    }
    const bad = parsed.mailboxes
      .map((m: Mailbox) => ({ m, check: checkAddress(m.address, { utf8 }) }))
      .filter((x) => !x.check.ok);
    if (bad.length > 0) {
      const first = bad[0]!;
      const reason = first.check.ok ? '' : first.check.reason;
      out.add('H1.address-syntax', { field: name, detail: `${quote(first.m.address)} (${reason})${bad.length > 1 ? ` and ${bad.length - 1} more` : ''}` });
    }
  }
  const visible = (countOf['To'] ?? 0) + (countOf['Cc'] ?? 0);
  if (visible > policy.maxVisibleRecipients) {
    out.add('R1.visible-recipients', { field: 'To/Cc', detail: `${visible} addresses visible to every recipient (limit ${policy.maxVisibleRecipients})` });
  }

  // --- required headers (H1, H2, H3, H5)
  const dateField = getField(fields, 'Date');
  const idField = getField(fields, 'Message-ID');
  if (!dateField) {
    if (ctx.submission) out.add('H2.date-missing', { field: 'Date' });
    else out.add('H1.missing-header', { field: 'Date' });
  } else if (ctx.submission) {
    const parsed = parseRfc5322Date(dateField.value);
    if (!parsed.ok) {
      out.add('H2.date-invalid', { field: 'Date', detail: `${quote(dateField.value)} ${parsed.reason}` });
    } else {
      const now = ctx.now instanceof Date && !Number.isNaN(ctx.now.getTime()) ? ctx.now : new Date();
      const skew = parsed.date.getTime() - now.getTime();
      if (Math.abs(skew) > policy.maxDateSkewMs) {
        out.add('H2.date-skew', {
          field: 'Date',
          detail: `${quote(dateField.value)} is ${formatDuration(skew)} ${skew < 0 ? 'in the past' : 'in the future'} (allowed ±${formatDuration(policy.maxDateSkewMs)})`,
        });
      }
    }
  }
  if (!idField) {
    if (ctx.submission) out.add('H3.message-id-missing', { field: 'Message-ID' });
    else out.add('H1.missing-header', { field: 'Message-ID' });
  } else if (ctx.submission) {
    const m = MESSAGE_ID.exec(idField.value.trim());
    if (!m) out.add('H3.message-id-invalid', { field: 'Message-ID', detail: quote(idField.value) || '(empty)' });
    else if (isLocalIdRight(m[2]!)) out.add('H3.message-id-domain', { field: 'Message-ID', detail: idField.value.trim() });
  }
  if (isMime && !getField(fields, 'MIME-Version')) {
    out.add('H1.missing-header', { field: 'MIME-Version', detail: 'the message uses MIME (Content-Type, transfer encoding or 8-bit body)' });
  }
  const subject = getField(fields, 'Subject');
  if (!subject || decodeEncodedWords(subject.value).trim() === '') out.add('H5.subject-missing', { field: 'Subject' });
  if (!getField(fields, 'To')) out.add('H5.to-missing', { field: 'To' });

  for (const name of ['Subject', 'From', 'To', 'Cc', 'Reply-To']) {
    const field = getField(fields, name);
    if (!field) continue;
    const m = TEMPLATE.exec(decodeEncodedWords(field.value));
    if (m) out.add('H1.unresolved-template', { field: name, detail: quote(m[0]) });
  }

  // --- MIME content (R7, R9, H1)
  const leaves = leavesWithAncestors(root);
  const htmlWithoutText: MimePart[] = [];
  const emptyText: MimePart[] = [];
  for (const { leaf, ancestors } of leaves) {
    if (leaf.contentType !== 'text/html' || !isBodyText(leaf)) continue;
    const alternative = [...ancestors].reverse().find((a) => a.contentType === 'multipart/alternative');
    const texts = alternative ? leavesWithAncestors(alternative).map((x) => x.leaf).filter((p) => p.contentType === 'text/plain' && isBodyText(p)) : [];
    if (texts.length === 0) htmlWithoutText.push(leaf);
    else if (texts.every((t) => decodeText(t).trim() === '') && decodeText(leaf).replace(/<[^>]*>/g, '').trim() !== '') emptyText.push(texts[0]!);
  }
  if (htmlWithoutText.length > 0) {
    const first = htmlWithoutText[0]!;
    const where = first.path === '' ? 'the message is text/html only' : `${describePart(first)} has no text/plain alternative in a multipart/alternative`;
    out.add('R7.html-without-text', { detail: htmlWithoutText.length > 1 ? `${where} (and ${htmlWithoutText.length - 1} more HTML parts)` : where });
  }
  if (emptyText.length > 0) out.add('R7.empty-text-alternative', { detail: `${describePart(emptyText[0]!)} is empty` });

  const attachments = attachmentParts(root);
  if (attachments.length > 0) {
    const total = attachments.reduce((sum, p) => sum + decodeBody(p).length, 0);
    const recipients = Math.max(1, ctx.envelope && ctx.envelope.to.length > 0 ? ctx.envelope.to.length : (countOf['To'] ?? 0) + (countOf['Cc'] ?? 0) + (countOf['Bcc'] ?? 0));
    const load = total * recipients;
    const detail = (limit: number): string =>
      `${plural(attachments.length, 'attachment')}, ${formatBytes(total)} × ${plural(recipients, 'recipient')} = ${formatBytes(load)} (limit ${formatBytes(limit)})`;
    if (load > policy.attachmentMaxBytes) out.add('R9.attachments-too-large', { detail: detail(policy.attachmentMaxBytes) });
    else if (load > policy.attachmentWarnBytes) out.add('R9.large-attachments', { detail: detail(policy.attachmentWarnBytes) });
  }

  const undeclared = leaves.map((x) => x.leaf).filter((p) => !['8bit', 'binary'].includes(p.transferEncoding) && has8bit(p.body));
  if (undeclared.length > 0) {
    const p = undeclared[0]!;
    out.add('H1.undeclared-8bit-body', {
      field: 'Content-Transfer-Encoding',
      detail: `${p.path === '' ? 'the body' : describePart(p)} has 8-bit bytes but is declared ${p.transferEncoding}${undeclared.length > 1 ? ` (and ${undeclared.length - 1} more parts)` : ''}`,
    });
  }

  return buildReport(out.list);
}

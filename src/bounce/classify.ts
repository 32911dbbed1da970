/**
 * What a bounce means: a category and two decisions, read from the rule table
 * in rules.ts (classification as data; the first matching rule wins).
 *
 * The same function serves asynchronous bounces (a parsed DSN recipient) and
 * synchronous refusals at RCPT/DATA (an SMTP reply), so both lead to the same
 * suppression decision.
 *
 * @example
 *   const [r] = parsed.recipients;
 *   classify({ status: r.status, diagnostic: r.diagnostic, kind: parsed.kind, confident: parsed.confident });
 *   // → { category: 'unknown-user', retry: false, blame: 'recipient', suppress: 'now', rule: 'B.5.1.1', … }
 *   classify({ code: 554, diagnostic: '554 5.7.1 Client host [192.0.2.10] blocked using zen.spamhaus.org', confident: true });
 *   // → { category: 'policy-block', blame: 'sender-setup', suppress: 'never', rule: 'B.blocklist', … }
 */
import { BOUNCE_RULES, type BounceRule, type ClassifyInput, type StatusClass } from './rules.js';

export { BOUNCE_RULES, type BounceRule, type ClassifyInput } from './rules.js';

export type BounceCategory =
  | 'unknown-user'
  | 'unknown-domain'
  | 'mailbox-full'
  | 'message-too-large'
  | 'policy-block'
  | 'rate-limited'
  | 'temporary'
  | 'complaint'
  | 'other';

export interface Classification {
  category: BounceCategory;
  /** Axis 1: would sending again (later) help? */
  retry: boolean;
  /** Axis 2: whose problem is it? `sender-setup` means ours: alert the operator, keep the recipient. */
  blame: 'recipient' | 'sender-setup' | 'content' | 'transient' | 'unknown';
  /** `now` only for a hard failure from a confident source; heuristic parses and soft failures `count`. */
  suppress: 'now' | 'count' | 'never';
  /** ID of the matching rule in BOUNCE_RULES, e.g. `B.5.1.1`. */
  rule: string;
  reason: string;
}

/** What the rules are matched against, derived once from the input. */
interface Facts {
  kind: NonNullable<ClassifyInput['kind']>;
  status?: string;
  code?: number;
  cls: StatusClass;
  text: string;
}

/** An RFC 3463 code anywhere in a text; not part of an IP address or a version number. */
const ENHANCED = /(?<![\d.])([245])\.(\d{1,3})\.(\d{1,3})(?!\.?\d)/;

/** The first RFC 3463 enhanced status code in `s` (`5.1.1`), if any. */
export function findEnhancedStatus(s: string | undefined): string | undefined {
  const m = s ? ENHANCED.exec(s) : null;
  return m ? `${m[1]}.${Number(m[2])}.${Number(m[3])}` : undefined;
}

/**
 * The SMTP reply code in a server's text: one in front of an enhanced code
 * ("550 5.1.1", "550-5.1.1", "#550 5.1.1"), else one that opens the text or
 * follows "said:", "returned", "smtp;", "<<<" and the like.
 */
export function findReplyCode(s: string | undefined): number | undefined {
  if (!s) return undefined;
  const paired = /(?<![\w.:/-])([245][0-5]\d)[ -]+#?[245]\.\d{1,3}\.\d{1,3}(?!\.?\d)/.exec(s);
  if (paired) return Number(paired[1]);
  const led = /(?:^|\n|said:|returned:?|error:|reply:|response:|reason:|smtp;|<<<|#|')\s*'?([245][0-5]\d)(?=[ -]|$)/i.exec(s);
  return led ? Number(led[1]) : undefined;
}

/** Strip a DSN diagnostic type (`smtp; `, `X-Postfix; `) so texts and codes are seen as the server sent them. */
function diagnosticText(s: string | undefined): string {
  return (s ?? '').replace(/^\s*[A-Za-z][\w-]*;\s*/, '').replace(/\s+/g, ' ').trim();
}

/**
 * A DSN's Status is often generic (Exim and sendwell's own notices write
 * 5.0.0) while the server's reply in the Diagnostic-Code names the real
 * reason (550 5.1.1). The diagnostic's code wins when it refines the status:
 * same class, and the status is x.0.0 or x.y.0 with the same subject.
 */
function effectiveStatus(status: string | undefined, text: string): string | undefined {
  const fromText = findEnhancedStatus(text);
  if (!status) return fromText;
  if (!fromText) return status;
  const [c, s, d] = status.split('.');
  const [tc, ts] = fromText.split('.');
  if (c !== tc) return status;
  if (s === '0' || (s === ts && d === '0')) return fromText;
  return status;
}

function facts(input: ClassifyInput): Facts {
  const text = diagnosticText(input.diagnostic);
  const status = effectiveStatus(findEnhancedStatus(input.status), text);
  const code = input.code ?? findReplyCode(text);
  const first = status?.[0] ?? (code !== undefined ? String(code)[0] : undefined);
  const cls: StatusClass = first === '2' || first === '4' || first === '5' ? first : 'none';
  return { kind: input.kind ?? 'bounce', ...(status ? { status } : {}), ...(code !== undefined ? { code } : {}), cls, text };
}

function statusMatches(patterns: readonly string[], status: string | undefined): boolean {
  if (!status) return false;
  return patterns.some((p) => (p.endsWith('.*') ? status.startsWith(p.slice(0, -1)) : p === status));
}

function matches(rule: BounceRule, f: Facts): boolean {
  const m = rule.match;
  if (m.kind && !m.kind.includes(f.kind)) return false;
  if (m.status && !statusMatches(m.status, f.status)) return false;
  if (m.code && (f.code === undefined || !m.code.includes(f.code))) return false;
  if (m.cls && !m.cls.includes(f.cls)) return false;
  if (m.text && !m.text.test(f.text)) return false;
  return true;
}

/** The first rule of BOUNCE_RULES that matches (the table ends with a catch-all). */
export function matchRule(input: ClassifyInput): BounceRule {
  const f = facts(input);
  const rule = BOUNCE_RULES.find((r) => matches(r, f));
  if (!rule) throw new Error('BOUNCE_RULES has no catch-all rule');
  return rule;
}

/**
 * Classify one failed recipient: a DSN recipient (`status`, `diagnostic`) or an
 * SMTP refusal (`code`, reply text as `diagnostic`).
 *
 * `confident` says the input is a standard DSN field or the server's own
 * reply; leave it out (false) for heuristic parses: a hard failure then only
 * counts towards the threshold instead of suppressing at once.
 */
export function classify(input: ClassifyInput): Classification {
  const rule = matchRule(input);
  const suppress = rule.suppress === 'now' && input.confident !== true ? 'count' : rule.suppress;
  return { category: rule.category, retry: rule.retry, blame: rule.blame, suppress, rule: rule.id, reason: rule.reason };
}

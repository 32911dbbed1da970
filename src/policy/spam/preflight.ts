/**
 * The spam preflight (guide rule R6): the built-in score plus, when configured, what
 * spamd and rspamd say — turned into a warning finding or an EPOLICY refusal.
 */
import { SendwellError } from '../../errors.js';
import type { Finding } from '../types.js';
import { scoreMessage, type SpamHit } from './score.js';
import { rspamdCheck, spamdCheck, type ScannerRule, type ScannerScore } from './scanners.js';

/** Config `[spam]`, in the units the code uses. */
export interface SpamOptions {
  /** spamd "host:port" (spamc protocol), optional. */
  spamd?: string;
  /** rspamd base URL (`POST /checkv2`), optional. */
  rspamd?: string;
  /** Above this score `send` warns or refuses (default 5.0, SpamAssassin's required_score). */
  threshold: number;
  /** What `send` does above the threshold (default `warn`). */
  action: 'warn' | 'refuse';
  /** Per-scanner time-out (default 10 s). */
  timeoutMs?: number;
}

export const DEFAULT_SPAM: Readonly<SpamOptions> = Object.freeze({ threshold: 5.0, action: 'warn' });

/** One configured scanner's answer (or why there is none). */
export interface ScannerAnswer extends ScannerScore {
  scanner: 'spamd' | 'rspamd';
  target: string;
  ok: true;
}
export interface ScannerFailure {
  scanner: 'spamd' | 'rspamd';
  target: string;
  ok: false;
  error: string;
}
export type ScannerReport = ScannerAnswer | ScannerFailure;

export interface SpamReport {
  /** The built-in score. */
  score: number;
  threshold: number;
  action: 'warn' | 'refuse';
  /** Built-in rule hits, highest points first. */
  hits: SpamHit[];
  /** Configured scanners, in config order (spamd, rspamd). */
  scanners: ScannerReport[];
  /** The highest score of the built-in scorer and the scanners that answered. */
  maxScore: number;
  /** maxScore is above the threshold. */
  over: boolean;
}

export interface PreflightContext {
  now: Date;
  envelope?: { from: string; to: string[] };
  /** Skip the configured scanners (built-in rules only). */
  builtinOnly?: boolean;
}

/** Run the built-in rules and the configured scanners. Never throws for scanner problems. */
export async function spamPreflight(raw: Buffer | string, options: Partial<SpamOptions>, ctx: PreflightContext): Promise<SpamReport> {
  const buf = typeof raw === 'string' ? Buffer.from(raw, 'utf8') : raw;
  const threshold = options.threshold ?? DEFAULT_SPAM.threshold;
  const action = options.action ?? DEFAULT_SPAM.action;
  const builtin = scoreMessage(buf, { now: ctx.now, ...(ctx.envelope ? { envelopeFrom: ctx.envelope.from } : {}) });
  const jobs: Array<Promise<ScannerReport>> = [];
  const ask = async (scanner: 'spamd' | 'rspamd', target: string, run: () => Promise<ScannerScore>): Promise<ScannerReport> => {
    try {
      return { scanner, target, ok: true, ...(await run()) };
    } catch (err) {
      const message = (err as Error).message;
      return { scanner, target, ok: false, error: message.startsWith(`${scanner} at `) ? message : `${scanner} at ${target}: ${message}` };
    }
  };
  if (!ctx.builtinOnly) {
    const timeout = options.timeoutMs !== undefined ? { timeoutMs: options.timeoutMs } : {};
    if (options.spamd) {
      const spamd = options.spamd;
      jobs.push(ask('spamd', spamd, () => spamdCheck(buf, { spamd, now: ctx.now, ...timeout })));
    }
    if (options.rspamd) {
      const rspamd = options.rspamd;
      jobs.push(ask('rspamd', rspamd, () => rspamdCheck(buf, { rspamd, now: ctx.now, ...timeout, ...(ctx.envelope ? { envelope: ctx.envelope } : {}) })));
    }
  }
  const scanners = await Promise.all(jobs);
  const maxScore = Math.max(builtin.score, ...scanners.filter((s) => s.ok).map((s) => s.score));
  return { score: builtin.score, threshold, action, hits: builtin.hits, scanners, maxScore, over: maxScore > threshold };
}

function ruleList(rules: ScannerRule[], n = 5): string {
  return rules
    .filter((r) => r.score === undefined || r.score > 0)
    .slice(0, n)
    .map((r) => (r.score !== undefined ? `${r.name} ${r.score}` : r.name))
    .join(', ');
}

/** The top reasons, as one line: `SPAM.MISSING_DATE (+1.4), …; spamd 6.2: MISSING_DATE 2.7, …`. */
export function topReasons(report: SpamReport, n = 3): string {
  const parts: string[] = [];
  if (report.hits.length > 0) parts.push(report.hits.slice(0, n).map((h) => `${h.id} (+${h.points})${h.detail ? ` ${h.detail}` : ''}`).join('; '));
  for (const s of report.scanners) if (s.ok && s.score > report.threshold) parts.push(`${s.scanner} ${s.score}: ${ruleList(s.rules, n)}`);
  return parts.join('; ');
}

function whoSays(report: SpamReport): string {
  const over = [`built-in ${report.score}`, ...report.scanners.filter((s) => s.ok).map((s) => `${s.scanner} ${s.score}`)];
  return over.join(', ');
}

/**
 * Warning findings for `send()`'s result and `lint`: one when the score is above the
 * threshold, one per scanner that could not be asked.
 */
export function spamFindings(report: SpamReport): Finding[] {
  const out: Finding[] = [];
  if (report.over) {
    const fixes = [...new Set(report.hits.slice(0, 3).map((h) => h.fix))];
    out.push({
      rule: 'R6.spam-score',
      guideRule: 'R6',
      severity: 'warning',
      title: 'Spam score above the threshold',
      why: 'Receiving filters would likely classify this mail as spam; test before you send (R6).',
      message: `Spam score ${report.maxScore} is above the threshold ${report.threshold} (${whoSays(report)}): ${topReasons(report)}. Receiving filters would likely classify this mail as spam (R6).`,
      fix: fixes.length > 0 ? fixes.join(' ') : 'Look at the rules the scanner reports and fix the message.',
      detail: `score ${report.maxScore} > ${report.threshold}`,
    });
  }
  for (const s of report.scanners) {
    if (!s.ok) {
      out.push({
        rule: 'R6.spam-scanner-unavailable',
        guideRule: 'R6',
        severity: 'warning',
        title: 'Spam scanner could not be asked',
        why: 'The configured scanner did not answer, so only the built-in rules were checked (R6).',
        message: `${s.error}; only the built-in rules were checked (R6).`,
        fix: `Start ${s.scanner} or fix spam.${s.scanner} in the config (or remove it).`,
        field: `spam.${s.scanner}`,
        detail: s.target,
      });
    }
  }
  return out;
}

/** EPOLICY for `action = "refuse"`: the score, the top reasons and their fixes. */
export function spamRefusal(report: SpamReport): SendwellError {
  const fixes = report.hits.slice(0, 3).map((h) => `${h.id}: ${h.fix}`);
  const scannerRules = report.scanners.filter((s): s is ScannerAnswer => s.ok && s.score > report.threshold).map((s) => `${s.scanner}: look at ${ruleList(s.rules)}`);
  return new SendwellError('EPOLICY', `refused by policy: spam score ${report.maxScore} is above the threshold ${report.threshold} (${whoSays(report)}): ${topReasons(report)}`, {
    hint: [...fixes, ...scannerRules].join('\n') || 'fix the message until the spam score is below the threshold',
    rule: 'R6',
    details: report,
  });
}

/** The `--json` shape of the spam part of `sendwell lint`. */
export function spamReportToJSON(report: SpamReport): Record<string, unknown> {
  return {
    score: report.score,
    threshold: report.threshold,
    action: report.action,
    over: report.over,
    rules: report.hits.map((h) => ({ id: h.id, points: h.points, mirrors: h.mirrors, title: h.title, ...(h.detail !== undefined ? { detail: h.detail } : {}), fix: h.fix })),
    scanners: report.scanners.map((s) =>
      s.ok
        ? { scanner: s.scanner, target: s.target, ok: true, score: s.score, ...(s.required !== undefined ? { required: s.required } : {}), spam: s.spam, rules: s.rules.map((r) => r.name), details: s.rules }
        : { scanner: s.scanner, target: s.target, ok: false, error: s.error },
    ),
  };
}

/** Human lines for `sendwell lint`: the score and the top reasons. */
export function formatSpamReport(report: SpamReport): string {
  const lines = [`spam score ${report.score} (built-in; threshold ${report.threshold}, action ${report.action})${report.over ? ' — ABOVE THE THRESHOLD' : ''}`];
  for (const h of report.hits.slice(0, 5)) lines.push(`  +${h.points.toFixed(1)} ${h.id}${h.detail ? `  ${h.detail}` : ''}\n        fix: ${h.fix}`);
  if (report.hits.length > 5) lines.push(`  (${report.hits.length - 5} more rules, see --json)`);
  for (const s of report.scanners) {
    if (s.ok) lines.push(`${s.scanner} ${s.target}: score ${s.score}${s.required !== undefined ? ` / ${s.required}` : ''}${s.rules.length ? `: ${ruleList(s.rules, 8)}` : ''}`);
    else lines.push(`${s.scanner}: ${s.error}`);
  }
  return lines.join('\n') + '\n';
}

/** Human and JSON output of a lint report. Both are public surface: keep them stable. */
import { getRule } from './rules.js';
import type { Finding, LintReport, Severity } from './types.js';

export interface FormatOptions {
  /** Use ANSI colours (the CLI sets this when writing to a terminal and NO_COLOR is unset). */
  color?: boolean;
}

const INDENT = '        ';

const ANSI = {
  reset: '\x1b[0m',
  bold: '\x1b[1m',
  dim: '\x1b[2m',
  red: '\x1b[31m',
  yellow: '\x1b[33m',
  green: '\x1b[32m',
};

function paint(on: boolean, codes: string, text: string): string {
  return on ? `${codes}${text}${ANSI.reset}` : text;
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

/** `2 errors, 1 warning`. */
export function summaryLine(report: Pick<LintReport, 'errors' | 'warnings'>): string {
  return `${plural(report.errors, 'error')}, ${plural(report.warnings, 'warning')}`;
}

/** Where the finding is: `From: noreply@example.org`, `Subject`, or the detail alone. */
export function findingLocus(f: Pick<Finding, 'field' | 'detail'>): string {
  if (f.field !== undefined && f.detail !== undefined) return `${f.field}: ${f.detail}`;
  return f.field ?? f.detail ?? '';
}

function severityColor(s: Severity): string {
  return s === 'error' ? ANSI.red + ANSI.bold : ANSI.yellow + ANSI.bold;
}

/**
 * The human report: one block per finding —
 *
 * ```
 * error   R2.noreply-sender  From: noreply@example.org
 *         Sender is a no-reply address. Some providers rate …
 *         fix: Send from a real, monitored mailbox …
 * ```
 *
 * blocks separated by an empty line, then the summary line `2 errors, 1 warning`.
 */
export function formatReport(report: LintReport, options: FormatOptions = {}): string {
  const color = options.color === true;
  const blocks = report.findings.map((f) => {
    const rule = getRule(f.rule);
    const title = f.title ?? rule?.title;
    const why = f.why ?? rule?.why;
    const explanation = title !== undefined && why !== undefined ? `${title}. ${why}` : f.message;
    const locus = findingLocus(f);
    const head = `${paint(color, severityColor(f.severity), f.severity.padEnd(7))} ${paint(color, ANSI.bold, f.rule)}${locus ? `  ${locus}` : ''}`;
    return [head, `${INDENT}${explanation}`, `${INDENT}${paint(color, ANSI.green, 'fix:')} ${f.fix}`].join('\n');
  });
  const summary = summaryLine(report);
  const last = paint(color, report.errors > 0 ? ANSI.red + ANSI.bold : report.warnings > 0 ? ANSI.yellow : ANSI.green, summary);
  return [...blocks, last].join('\n\n') + '\n';
}

/** One finding in the `--json` output. */
export interface FindingJSON {
  rule: string;
  guideRule: string;
  severity: Severity;
  field?: string;
  detail?: string;
  title?: string;
  message: string;
  why?: string;
  fix: string;
}

/** The `--json` shape. */
export interface LintReportJSON {
  ok: boolean;
  errors: number;
  warnings: number;
  findings: FindingJSON[];
}

/** The `--json` shape of a report: `{ ok, errors, warnings, findings: [...] }` (a plain object, stable key order). */
export function reportToJSON(report: LintReport): LintReportJSON {
  return {
    ok: report.ok,
    errors: report.errors,
    warnings: report.warnings,
    findings: report.findings.map((f) => {
      const rule = getRule(f.rule);
      const title = f.title ?? rule?.title;
      const why = f.why ?? rule?.why;
      const j: FindingJSON = {
        rule: f.rule,
        guideRule: f.guideRule,
        severity: f.severity,
        ...(f.field !== undefined ? { field: f.field } : {}),
        ...(f.detail !== undefined ? { detail: f.detail } : {}),
        ...(title !== undefined ? { title } : {}),
        message: f.message,
        ...(why !== undefined ? { why } : {}),
        fix: f.fix,
      };
      return j;
    }),
  };
}

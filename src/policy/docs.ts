/** Rule documentation generated from the rule table (README section, `sendwell rules`). */
import { RULES, type RuleDefinition } from './rules.js';

export const RULES_START_MARKER = '<!-- rules:start -->';
export const RULES_END_MARKER = '<!-- rules:end -->';

function cell(s: string): string {
  return s.replace(/\\/g, '\\\\').replace(/\|/g, '\\|').replace(/\r?\n/g, ' ');
}

/** The Markdown table of all rules: ID | severity | what | fix. Ends with a newline. */
export function rulesMarkdown(rules: readonly RuleDefinition[] = RULES): string {
  const lines = ['| ID | severity | what | fix |', '| --- | --- | --- | --- |'];
  for (const r of rules) {
    const when = r.submissionOnly ? ' (checked at submission only)' : '';
    lines.push(`| \`${r.id}\` | ${r.severity} | ${cell(`**${r.title}**${when}. ${r.why}`)} | ${cell(r.fix)} |`);
  }
  return lines.join('\n') + '\n';
}

/**
 * Replace the text between the rules markers in `document` with `table`. Returns
 * undefined when the markers are missing (or in the wrong order).
 */
export function replaceRulesSection(document: string, table: string = rulesMarkdown()): string | undefined {
  const start = document.indexOf(RULES_START_MARKER);
  const end = document.indexOf(RULES_END_MARKER, start < 0 ? 0 : start);
  if (start < 0 || end < 0) return undefined;
  const eol = document.includes('\r\n') ? '\r\n' : '\n';
  const body = table.replace(/\n/g, eol);
  return `${document.slice(0, start + RULES_START_MARKER.length)}${eol}${eol}${body}${eol}${document.slice(end)}`;
}

/** Is the rules section of `document` up to date? (undefined when there are no markers) */
export function rulesSectionUpToDate(document: string): boolean | undefined {
  const replaced = replaceRulesSection(document);
  return replaced === undefined ? undefined : replaced === document;
}

/** The README table of the built-in spam rules, generated from the rule data. */
import { SPAM_RULES, type SpamRuleDefinition } from './rules.js';

export const SPAM_START_MARKER = '<!-- spam:start -->';
export const SPAM_END_MARKER = '<!-- spam:end -->';

function cell(s: string): string {
  return s.replace(/\\/g, '\\\\').replace(/\|/g, '\\|').replace(/\r?\n/g, ' ');
}

/** ID | points | what | mirrors | fix. Ends with a newline. */
export function spamRulesMarkdown(rules: readonly SpamRuleDefinition[] = SPAM_RULES): string {
  const lines = ['| ID | points | what | mirrors | fix |', '| --- | ---: | --- | --- | --- |'];
  for (const r of rules) lines.push(`| \`${r.id}\` | ${r.points.toFixed(1)} | ${cell(`**${r.title}**. ${r.why}`)} | ${cell(r.mirrors)} | ${cell(r.fix)} |`);
  return lines.join('\n') + '\n';
}

/** Replace the text between the spam markers (undefined without them). */
export function replaceSpamSection(document: string, table: string = spamRulesMarkdown()): string | undefined {
  const start = document.indexOf(SPAM_START_MARKER);
  const end = document.indexOf(SPAM_END_MARKER, start < 0 ? 0 : start);
  if (start < 0 || end < 0) return undefined;
  return `${document.slice(0, start + SPAM_START_MARKER.length)}\n\n${table}\n${document.slice(end)}`;
}

/** Is the spam section of `document` up to date? (undefined without markers) */
export function spamSectionUpToDate(document: string): boolean | undefined {
  const replaced = replaceSpamSection(document);
  return replaced === undefined ? undefined : replaced === document;
}

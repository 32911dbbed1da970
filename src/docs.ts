/** README sections generated from the code's own tables, so the docs cannot drift. */
import { ERROR_CODES } from './errors.js';
import { replaceRulesSection } from './policy/docs.js';

export const ERRORS_START_MARKER = '<!-- errors:start -->';
export const ERRORS_END_MARKER = '<!-- errors:end -->';

/** Rows of the error-code table (the header row stays in the README). */
export function errorsMarkdown(): string {
  return Object.entries(ERROR_CODES)
    .map(([code, meaning]) => `| \`${code}\` | ${meaning} |`)
    .join('\n') + '\n';
}

function replaceBetween(doc: string, start: string, end: string, body: string): string | undefined {
  const a = doc.indexOf(start);
  const b = doc.indexOf(end, a < 0 ? 0 : a);
  if (a < 0 || b < 0) return undefined;
  return `${doc.slice(0, a + start.length)}\n${body}${doc.slice(b)}`;
}

/** The document with every generated section brought up to date (undefined without the rules markers). */
export function updateReadme(doc: string): string | undefined {
  const withRules = replaceRulesSection(doc);
  if (withRules === undefined) return undefined;
  return replaceBetween(withRules, ERRORS_START_MARKER, ERRORS_END_MARKER, errorsMarkdown()) ?? withRules;
}

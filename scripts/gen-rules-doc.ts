/**
 * Print the lint rules as a Markdown table (ID | severity | what | fix), generated from
 * the rule table in src/policy/rules.ts; --write/--check also cover the error-code table.
 *
 *   tsx scripts/gen-rules-doc.ts                    print the table
 *   tsx scripts/gen-rules-doc.ts --write README.md  replace the text between
 *                                                   <!-- rules:start --> and <!-- rules:end -->
 *   tsx scripts/gen-rules-doc.ts --check README.md  exit 1 when that section is out of date
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { updateReadme } from '../src/docs.js';
import { RULES_END_MARKER, RULES_START_MARKER, rulesMarkdown } from '../src/policy/docs.js';

function usage(): never {
  process.stderr.write('usage: gen-rules-doc.ts [--write FILE | --check FILE]\n');
  process.exit(64);
}

function main(argv: string[]): number {
  if (argv.length === 0) {
    process.stdout.write(rulesMarkdown());
    return 0;
  }
  const [mode, file, ...rest] = argv;
  if ((mode !== '--write' && mode !== '--check') || !file || rest.length > 0) usage();
  const doc = readFileSync(file, 'utf8');
  const updated = updateReadme(doc);
  if (updated === undefined) {
    process.stderr.write(`${file}: no ${RULES_START_MARKER} … ${RULES_END_MARKER} markers; nothing to ${mode === '--write' ? 'replace' : 'check'}\n`);
    return mode === '--check' ? 1 : 0;
  }
  if (mode === '--check') {
    if (updated !== doc) {
      process.stderr.write(`${file}: the rules section is out of date; run: npm run docs:rules -- --write ${file}\n`);
      return 1;
    }
    return 0;
  }
  if (updated !== doc) writeFileSync(file, updated);
  process.stderr.write(`${file}: rules section ${updated === doc ? 'already up to date' : 'updated'}\n`);
  return 0;
}

process.exitCode = main(process.argv.slice(2));

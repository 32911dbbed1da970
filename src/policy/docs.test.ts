import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { DEFAULT_POLICY, GUIDE_RULES, MIB, RULES, getRule, isRuleId, replaceRulesSection, rulesMarkdown, rulesSectionUpToDate } from './index.js';

/** The guide's rule IDs (the guide's RULES.md): C1–C3, R1–R11, H1–H5, T1–T3. */
const guideIds = new Set([
  ...['C1', 'C2', 'C3', 'H1', 'H2', 'H3', 'H4', 'H5', 'T1', 'T2', 'T3'],
  ...Array.from({ length: 11 }, (_, i) => `R${i + 1}`),
]);

describe('RULES table', () => {
  it('has unique IDs prefixed by an existing guide rule', () => {
    const ids = RULES.map((r) => r.id);
    assert.equal(new Set(ids).size, ids.length);
    for (const r of RULES) {
      assert.match(r.id, /^[A-Z]\d+\.[a-z0-9]+(?:-[a-z0-9]+)*$/);
      assert.ok(r.id.startsWith(`${r.guideRule}.`), r.id);
      assert.ok(guideIds.has(r.guideRule), `${r.guideRule} is not a rule of the guide`);
    }
  });

  it('has a severity, title, why and fix for every rule, and the why names the guide rule', () => {
    for (const r of RULES) {
      assert.ok(r.severity === 'error' || r.severity === 'warning');
      assert.ok(r.title.length > 5 && !r.title.endsWith('.'), r.id);
      assert.ok(r.why.includes(`(${r.guideRule})`) || r.why.includes(`${r.guideRule})`) || r.why.includes(r.guideRule), `${r.id}: why should cite ${r.guideRule}`);
      assert.ok(r.fix.length > 10 && r.fix.endsWith('.'), r.id);
    }
  });

  it('is frozen data', () => {
    assert.ok(Object.isFrozen(RULES));
    assert.ok(RULES.every((r) => Object.isFrozen(r)));
  });

  it('has the required rules', () => {
    for (const id of ['R1.visible-recipients', 'R2.noreply-sender', 'R3.null-envelope-sender', 'R4.reply-to-not-substitute', 'R7.html-without-text', 'R9.large-attachments', 'R9.attachments-too-large', 'H1.duplicate-header', 'H2.date-skew', 'H3.message-id-domain', 'H5.subject-missing']) {
      assert.ok(isRuleId(id), id);
    }
    assert.equal(getRule('H3.message-id-domain')?.severity, 'warning');
    assert.equal(getRule('nope'), undefined);
    assert.ok(GUIDE_RULES.includes('R2') && GUIDE_RULES.includes('H1'));
  });

  it('DEFAULT_POLICY has the documented defaults', () => {
    assert.deepEqual(DEFAULT_POLICY, { allowSenders: [], maxDateSkewMs: 15 * 60_000, attachmentWarnBytes: MIB, attachmentMaxBytes: 10 * MIB, maxVisibleRecipients: 10, severity: {} });
    assert.ok(Object.isFrozen(DEFAULT_POLICY));
  });
});

describe('rulesMarkdown', () => {
  it('is a table with one row per rule', () => {
    const md = rulesMarkdown();
    const lines = md.trimEnd().split('\n');
    assert.equal(lines[0], '| ID | severity | what | fix |');
    assert.equal(lines.length, RULES.length + 2);
    for (const r of RULES) assert.ok(md.includes(`| \`${r.id}\` | ${r.severity} |`), r.id);
    // Every row has exactly four cells (no unescaped pipes in the text).
    for (const l of lines.slice(2)) assert.equal(l.replace(/\\\|/g, '').split('|').length, 6, l);
  });

  it('replaces only the text between the markers', () => {
    const doc = 'intro\n<!-- rules:start -->\nold\n<!-- rules:end -->\noutro\n';
    const out = replaceRulesSection(doc, '| t |\n')!;
    assert.equal(out, 'intro\n<!-- rules:start -->\n\n| t |\n\n<!-- rules:end -->\noutro\n');
    assert.equal(replaceRulesSection(out, '| t |\n'), out, 'idempotent');
    assert.equal(replaceRulesSection('no markers'), undefined);
    assert.equal(rulesSectionUpToDate('no markers'), undefined);
    assert.equal(rulesSectionUpToDate(replaceRulesSection(doc)!), true);
    assert.equal(rulesSectionUpToDate(doc), false);
  });

  it('the script prints the table and writes/checks a file with markers', () => {
    const script = new URL('../../scripts/gen-rules-doc.ts', import.meta.url).pathname;
    const run = (...args: string[]) => spawnSync(process.execPath, ['--import', 'tsx', script, ...args], { encoding: 'utf8' });
    const printed = run();
    assert.equal(printed.status, 0, printed.stderr);
    assert.equal(printed.stdout, rulesMarkdown());

    const dir = mkdtempSync(join(tmpdir(), 'sendwell-rules-'));
    const file = join(dir, 'README.md');
    writeFileSync(file, '# x\n\n<!-- rules:start -->\n<!-- rules:end -->\n\nend\n');
    assert.equal(run('--check', file).status, 1);
    assert.equal(run('--write', file).status, 0);
    assert.ok(readFileSync(file, 'utf8').includes(rulesMarkdown()));
    assert.ok(readFileSync(file, 'utf8').endsWith('<!-- rules:end -->\n\nend\n'));
    assert.equal(run('--check', file).status, 0);

    writeFileSync(file, 'no markers\n');
    assert.equal(run('--write', file).status, 0);
    assert.equal(readFileSync(file, 'utf8'), 'no markers\n');
  });
});

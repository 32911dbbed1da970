import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { CLEAN_ENVELOPE, FIXTURE_NOW, build } from '../../test/fixtures/lint/fixtures.js';
import { FIXTURE_DIR } from '../../test/fixtures/lint/generate.js';
import { DEFAULT_POLICY, RULES, buildReport, formatReport, lintMessage, reportToJSON, type LintReport } from './index.js';

const GOLDEN_DIR = join(FIXTURE_DIR, 'golden');
const UPDATE = process.env['UPDATE_GOLDEN'] === '1';

/** Compare with a golden file; `UPDATE_GOLDEN=1` rewrites it. */
function golden(name: string, actual: string): void {
  const file = join(GOLDEN_DIR, name);
  if (UPDATE || !existsSync(file)) {
    mkdirSync(GOLDEN_DIR, { recursive: true });
    writeFileSync(file, actual);
    if (!UPDATE) assert.fail(`golden file ${name} was missing and has been written; check it and run again`);
  }
  assert.equal(actual, readFileSync(file, 'utf8'));
}

async function sampleReport(): Promise<LintReport> {
  const raw = build({ set: { From: 'Summer School <noreply@example.org>', 'Reply-To': 'Jane Doe <jane.doe@example.test>', Subject: null } });
  return lintMessage(raw, { now: FIXTURE_NOW, submission: true, envelope: CLEAN_ENVELOPE, policy: DEFAULT_POLICY });
}

const strip = (s: string) => s.replace(/\x1b\[[0-9;]*m/g, '');

describe('formatReport', () => {
  it('matches the golden output (plain)', async () => {
    golden('report.txt', formatReport(await sampleReport()));
  });

  it('matches the golden output (colour), which is the plain output plus ANSI codes', async () => {
    const report = await sampleReport();
    const colored = formatReport(report, { color: true });
    golden('report.color.txt', colored);
    assert.match(colored, /\x1b\[31m/);
    assert.equal(strip(colored), formatReport(report));
  });

  it('has one block per finding: headline, why, fix; then the summary', async () => {
    const out = formatReport(await sampleReport());
    const blocks = out.trimEnd().split('\n\n');
    assert.equal(blocks.length, 4);
    const lines = blocks[0]!.split('\n');
    assert.equal(lines.length, 3);
    assert.equal(lines[0], 'error   R2.noreply-sender  From: noreply@example.org');
    assert.ok(lines[1]!.startsWith('        Sender is a no-reply address. Some providers'));
    assert.ok(lines[2]!.startsWith('        fix: Send from a real, monitored mailbox'));
    assert.match(blocks[2]!, /^warning H5\.subject-missing  Subject$/m);
    assert.equal(blocks[3], '2 errors, 1 warning');
    assert.ok(out.endsWith('\n'));
  });

  it('summary pluralises and handles an empty report', () => {
    assert.equal(formatReport(buildReport([])), '0 errors, 0 warnings\n');
    const one = buildReport([{ rule: 'H5.subject-missing', guideRule: 'H5', severity: 'warning', message: 'm', fix: 'f' }]);
    assert.equal(formatReport(one), 'warning H5.subject-missing\n        Subject missing or empty. ' + RULES.find((r) => r.id === 'H5.subject-missing')!.why + '\n        fix: f\n\n0 errors, 1 warning\n');
  });

  it('falls back on the message for unknown rules', () => {
    const r = buildReport([{ rule: 'X9.custom', guideRule: 'X9', severity: 'error', message: 'Something custom.', fix: 'Do it.', field: 'X-Foo' }]);
    assert.equal(formatReport(r), 'error   X9.custom  X-Foo\n        Something custom.\n        fix: Do it.\n\n1 error, 0 warnings\n');
  });
});

describe('reportToJSON', () => {
  it('has the --json shape and matches the golden output', async () => {
    const j = reportToJSON(await sampleReport());
    assert.deepEqual(Object.keys(j), ['ok', 'errors', 'warnings', 'findings']);
    assert.equal(j.ok, false);
    assert.equal(j.errors, 2);
    assert.equal(j.warnings, 1);
    for (const f of j.findings) {
      assert.ok(f.rule && f.guideRule && f.severity && f.message && f.fix);
      assert.ok(f.rule.startsWith(`${f.guideRule}.`));
    }
    golden('report.json', JSON.stringify(j, null, 2) + '\n');
  });

  it('is plain JSON (round-trips)', async () => {
    const j = reportToJSON(await sampleReport());
    assert.deepEqual(JSON.parse(JSON.stringify(j)), j);
  });
});

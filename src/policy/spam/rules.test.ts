import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { describe, it } from 'node:test';
import { composeMail } from '../../message/compose.js';
import { replaceSpamSection, scoreMessage, SPAM_RULES, spamRulesMarkdown, spamSectionUpToDate, getSpamRule } from './index.js';

const DIR = new URL('../../../test/fixtures/spam/', import.meta.url);
const expected = JSON.parse(readFileSync(new URL('expected.json', DIR), 'utf8')) as { now: string; fixtures: Record<string, string[]> };
const now = new Date(expected.now);
const score = (name: string) => scoreMessage(readFileSync(new URL(name, DIR)), { now });

describe('SPAM_RULES table', () => {
  it('has unique SPAM.* IDs, points, a mirrored SpamAssassin/rspamd rule, why and fix', () => {
    const ids = SPAM_RULES.map((r) => r.id);
    assert.equal(new Set(ids).size, ids.length);
    for (const r of SPAM_RULES) {
      assert.match(r.id, /^SPAM\.[A-Z0-9_]+$/);
      assert.ok(r.points > 0 && r.points <= 5, r.id);
      assert.match(r.mirrors, /\b(SA|rspamd) [A-Z][A-Z0-9_]+/, r.id);
      assert.ok(r.title.length > 5 && !r.title.endsWith('.'), r.id);
      assert.ok(r.why.endsWith('.') && r.fix.endsWith('.'), r.id);
      assert.equal(getSpamRule(r.id), r);
    }
    assert.ok(Object.isFrozen(SPAM_RULES) && SPAM_RULES.every((r) => Object.isFrozen(r)));
  });

  it('every rule has its own golden fixture', () => {
    const covered = new Set(Object.values(expected.fixtures).flat());
    for (const r of SPAM_RULES) assert.ok(covered.has(r.id), `${r.id} has no fixture in test/fixtures/spam/expected.json`);
  });
});

describe('built-in rules: golden fixtures (test/fixtures/spam)', () => {
  const files = readdirSync(DIR).filter((f) => f.endsWith('.eml'));
  for (const [file, want] of Object.entries(expected.fixtures)) {
    it(`${file} → ${want.length ? want.join(', ') : 'nothing'}`, () => {
      assert.ok(files.includes(file), file);
      const r = score(file);
      assert.deepEqual(r.hits.map((h) => h.id).sort(), [...want].sort());
      assert.equal(r.score, Math.round(want.reduce((s, id) => s + getSpamRule(id)!.points, 0) * 10) / 10);
      for (const h of r.hits) assert.equal(h.points, getSpamRule(h.id)!.points);
    });
  }

  it('clean messages score low (< 1)', () => {
    assert.ok(score('clean.eml').score < 1);
    assert.ok(score('clean-text-only.eml').score < 1);
  });

  it('the spammy sample adds up well above the threshold, highest points first', () => {
    const r = score('spammy.eml');
    assert.ok(r.score > 10, String(r.score));
    assert.ok(r.hits.length >= 8);
    for (let i = 1; i < r.hits.length; i++) assert.ok(r.hits[i - 1]!.points >= r.hits[i]!.points);
  });

  it('a message composed by sendwell scores 0', async () => {
    const m = await composeMail(
      { from: 'Jane Doe <jane.doe@example.org>', to: 'bob@example.org', subject: 'Nightly backup report', text: 'The backup finished without errors.', html: '<p>The backup finished <b>without</b> errors.</p>' },
      { clock: () => now },
    );
    const r = scoreMessage(m.raw, { now, envelopeFrom: m.envelope.from });
    assert.deepEqual(r.hits.map((h) => h.id), []);
    assert.equal(r.score, 0);
  });

  it('envelope sender counts for the service-account rule; subjects follow SpamAssassin\'s all-caps limits', () => {
    const raw = readFileSync(new URL('clean.eml', DIR));
    assert.deepEqual(scoreMessage(raw, { now, envelopeFrom: 'root@host.example.org' }).hits.map((h) => h.id), ['SPAM.FROM_SERVICE_ACCT']);
    const subj = (s: string) => scoreMessage(raw.toString('latin1').replace(/^Subject: .*$/m, `Subject: ${s}`), { now }).hits.map((h) => h.id);
    assert.deepEqual(subj('RE: BACKUP'), [], 'fewer than 10 letters');
    assert.deepEqual(subj('BACKUPREPORTDONE'), [], 'no space');
    assert.deepEqual(subj('Re: BACKUP REPORT DONE'), ['SPAM.SUBJ_ALL_CAPS'], 'Re: stripped');
  });

  it('never throws on garbage', () => {
    for (const g of ['', '\r\n\r\n', 'no colon here', 'Content-Type: multipart/mixed\r\n\r\n--x', Buffer.from([0xff, 0xfe, 0x00, 0x0a])]) {
      const r = scoreMessage(g, { now });
      assert.equal(typeof r.score, 'number');
    }
  });
});

describe('README table of the built-in rules', () => {
  it('is generated from the data (README between <!-- spam:start --> and <!-- spam:end -->)', () => {
    const md = spamRulesMarkdown();
    const lines = md.trimEnd().split('\n');
    assert.equal(lines.length, SPAM_RULES.length + 2);
    for (const l of lines.slice(2)) assert.equal(l.replace(/\\\|/g, '').split('|').length, 7, l);
    const readme = readFileSync(new URL('../../../README.md', import.meta.url), 'utf8');
    assert.equal(spamSectionUpToDate(readme), true, 'README spam table is out of date: put spamRulesMarkdown() (src/policy/spam/docs.ts) between the markers');
  });

  it('replaces only the text between the markers', () => {
    const doc = 'a\n<!-- spam:start -->\nold\n<!-- spam:end -->\nb\n';
    const out = replaceSpamSection(doc, '| t |\n')!;
    assert.equal(out, 'a\n<!-- spam:start -->\n\n| t |\n\n<!-- spam:end -->\nb\n');
    assert.equal(replaceSpamSection('none'), undefined);
  });
});

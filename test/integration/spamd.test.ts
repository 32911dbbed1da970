/**
 * Against a real SpamAssassin spamd on 127.0.0.1:783 (set up by .ci/setup-spamd.sh,
 * local tests only). Run with SENDWELL_IT_SPAMD=1 (CI does).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { composeMail } from '../../src/message/compose.js';
import { createMailer } from '../../src/mailer.js';
import { spamdCheck, spamPreflight, spamFindings } from '../../src/policy/spam/index.js';

const enabled = process.env.SENDWELL_IT_SPAMD === '1';
const SPAMD = process.env.SENDWELL_SPAMD ?? '127.0.0.1:783';

const SPAMMY = [
  'From: www-data@example.test',
  'Subject: URGENT ACCOUNT VERIFICATION REQUIRED NOW',
  'X-Priority: 1',
  'Content-Type: text/html',
  '',
  '<p>Dear customer, click <a href="http://203.0.113.7/login">here</a> or <a href="https://bit.ly/3xYz9Q">here</a>.</p><img src="http://203.0.113.7/x.png">',
  '',
].join('\r\n');

describe('spam preflight against a real spamd', { skip: !enabled && 'set SENDWELL_IT_SPAMD=1 (needs .ci/setup-spamd.sh)' }, () => {
  it('a clean composed message scores low, a spammy one high, and spamd names the rules', async () => {
    const now = new Date();
    const clean = await composeMail(
      { from: 'Jane Doe <jane.doe@example.test>', to: 'Bob Smith <bob.smith@example.test>', subject: 'Nightly backup report', text: 'The nightly backup finished at 03:12 without errors.\n\nJane', html: '<p>The nightly backup finished at 03:12 without errors.</p><p>Jane</p>' },
      { clock: () => now },
    );
    const good = await spamdCheck(clean.raw, { spamd: SPAMD, now });
    const bad = await spamdCheck(Buffer.from(SPAMMY), { spamd: SPAMD, now });
    console.log(`clean: ${good.score} ${good.rules.map((r) => r.name).join(',')}`);
    console.log(`spammy: ${bad.score} ${bad.rules.map((r) => `${r.name}=${r.score}`).join(',')}`);
    assert.equal(good.required, 5);
    assert.ok(good.score < 2, `clean scored ${good.score}`);
    assert.ok(bad.score > good.score + 3, `spammy ${bad.score} vs clean ${good.score}`);
    const names = bad.rules.map((r) => r.name);
    for (const rule of ['MISSING_DATE', 'MISSING_MID', 'SUBJ_ALL_CAPS']) assert.ok(names.includes(rule), `${rule} not in ${names.join(',')}`);
    assert.ok(bad.rules.every((r) => typeof r.score === 'number'));
    const symbols = await spamdCheck(Buffer.from(SPAMMY), { spamd: SPAMD, now, command: 'SYMBOLS' });
    assert.deepEqual(symbols.rules.map((r) => r.name).sort(), [...names].sort());
  });

  it('the synthetic Received header makes the date rules work', async () => {
    const now = new Date();
    const stale = new Date(now.getTime() - 8 * 3_600_000);
    const m = await composeMail({ from: 'Jane Doe <jane.doe@example.test>', to: 'bob@example.test', subject: 'Nightly backup report', text: 'Done.' }, { clock: () => stale });
    const r = await spamdCheck(m.raw, { spamd: SPAMD, now });
    assert.ok(r.rules.some((x) => x.name === 'DATE_IN_PAST_06_12'), r.rules.map((x) => x.name).join(','));
  });

  it('the mailer reports spamd next to the built-in score; an unreachable rspamd is only a warning', async () => {
    const mailer = createMailer({ spam: { spamd: SPAMD, rspamd: 'http://127.0.0.1:11399', threshold: 5, action: 'warn' } });
    const report = await mailer.spamCheck(Buffer.from(SPAMMY));
    const spamd = report.scanners.find((s) => s.scanner === 'spamd');
    assert.ok(spamd?.ok && spamd.score > 5 && spamd.spam, JSON.stringify(spamd));
    assert.ok(report.score > 5);
    const rules = spamFindings(report).map((f) => f.rule);
    assert.deepEqual(rules, ['R6.spam-score', 'R6.spam-scanner-unavailable']);
    const direct = await spamPreflight(SPAMMY, { spamd: SPAMD }, { now: new Date() });
    assert.ok(direct.over);
    await mailer.close();
  });
});

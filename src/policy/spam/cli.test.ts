import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { lintCommand } from '../../cli/commands.js';

function capture() {
  let out = '';
  return { io: { stdout: (s: string) => void (out += s), stderr: () => undefined }, get out() { return out; } };
}

const dir = mkdtempSync(join(tmpdir(), 'sendwell-spam-cli-'));
const date = new Date().toUTCString().replace('GMT', '+0000');
const clean = ['From: Jane Doe <jane.doe@example.test>', 'To: bob@example.test', 'Subject: Nightly backup report', `Date: ${date}`, 'Message-ID: <20261204.4f3a9c1e7b@example.test>', 'MIME-Version: 1.0', 'Content-Type: text/plain; charset=utf-8', '', 'The backup finished without errors.', ''].join('\r\n');
const spammy = clean.replace('Nightly backup report', 'URGENT ACCOUNT VERIFICATION REQUIRED {{name}}').replace('The backup finished without errors.', 'Dear customer, verify at http://203.0.113.7/login or https://bit.ly/3xYz9Q').replace('MIME-Version', 'X-Priority: 1\r\nMIME-Version');
const cleanFile = join(dir, 'clean.eml');
const spammyFile = join(dir, 'spammy.eml');
writeFileSync(cleanFile, clean);
writeFileSync(spammyFile, spammy);
const noConfig = join(dir, 'none.toml');
writeFileSync(noConfig, '');

describe('sendwell lint: the spam score (R6)', () => {
  it('--json has score, the built-in hits and per scanner its score and rule names', async () => {
    const refuse = join(dir, 'refuse.toml');
    writeFileSync(refuse, '[spam]\naction = "refuse"\nspamd = "127.0.0.1:1"\n');
    const c = capture();
    const code = await lintCommand(spammyFile, { json: true, config: refuse }, c.io);
    const j = JSON.parse(c.out);
    assert.equal(typeof j.score, 'number');
    assert.ok(j.score > 5, String(j.score));
    assert.equal(j.spam.threshold, 5);
    assert.equal(j.spam.over, true, JSON.stringify(j.spam));
    assert.ok(j.spam.rules.some((r: { id: string }) => r.id === 'SPAM.UNRESOLVED_TEMPLATE'));
    assert.deepEqual(j.spam.scanners.map((s: { scanner: string; ok: boolean }) => [s.scanner, s.ok]), [['spamd', false]]);
    assert.ok(j.findings.some((f: { rule: string }) => f.rule === 'R6.spam-score'));
    assert.equal(j.ok, false, 'refuse: lint fails like send would');
    assert.equal(code, 65);
  });

  it('human output shows the score and the top reasons; warn keeps exit 0', async () => {
    const c = capture();
    assert.equal(await lintCommand(spammyFile, { config: noConfig }, c.io), 0);
    assert.match(c.out, /^spam score [\d.]+ \(built-in; threshold 5, action warn\) — ABOVE THE THRESHOLD$/m);
    assert.match(c.out, /^  \+\d\.\d SPAM\.[A-Z_]+/m);
    assert.match(c.out, /fix: /);
    const ok = capture();
    assert.equal(await lintCommand(cleanFile, { config: noConfig }, ok.io), 0);
    assert.match(ok.out, /^spam score 0 \(built-in; threshold 5, action warn\)$/m);
  });
});

import assert from 'node:assert/strict';
import { createServer, type AddressInfo } from 'node:net';
import { describe, it } from 'node:test';
import { loadConfig } from '../../config/load.js';
import { SendwellError } from '../../errors.js';
import { createMailer } from '../../mailer.js';
import type { Envelope, Transport } from '../../transport/types.js';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

function fakeTransport(): Transport & { sent: Buffer[] } {
  const sent: Buffer[] = [];
  return {
    name: 'fake',
    sent,
    async send(envelope: Envelope, raw: Buffer) {
      sent.push(raw);
      return { recipients: envelope.to.map((address) => ({ address, status: 'accepted' as const, responseCode: 250 })), response: '250 ok', info: { relay: 'fake' } };
    },
    async close() {},
  };
}

const CLEAN = { from: 'Jane Doe <jane.doe@example.org>', to: 'bob@example.org', subject: 'Nightly backup report', text: 'The backup finished without errors.' };
// Lint-clean (warnings at most) but spammy: all-caps subject, generic salutation, raw IP and shortener links, X-Priority, template left over.
const SPAMMY = {
  ...CLEAN,
  subject: 'URGENT ACCOUNT VERIFICATION REQUIRED {{name}}',
  text: 'Dear customer, verify at http://203.0.113.7/login or https://bit.ly/3xYz9Q',
  headers: { 'X-Priority': '1' },
};

async function closedPort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as AddressInfo).port;
  await new Promise((r) => s.close(r));
  return port;
}

describe('send(): the spam preflight (R6)', () => {
  it('a clean mail goes out without spam findings', async () => {
    const t = fakeTransport();
    const m = createMailer({ transport: t });
    const r = await m.send(CLEAN);
    assert.deepEqual(r.findings.filter((f) => f.guideRule === 'R6'), []);
    assert.equal(t.sent.length, 1);
  });

  it('above the threshold: warn (default) adds R6.spam-score and sends', async () => {
    const t = fakeTransport();
    const m = createMailer({ transport: t });
    const report = await m.spamCheck(SPAMMY);
    assert.ok(report.score > 5, `${report.score}: ${report.hits.map((h) => h.id).join(',')}`);
    const r = await m.send(SPAMMY);
    const f = r.findings.find((x) => x.rule === 'R6.spam-score');
    assert.ok(f && f.severity === 'warning', JSON.stringify(r.findings));
    assert.match(f.message, /SPAM\./);
    assert.equal(t.sent.length, 1);
  });

  it('action = "refuse" throws EPOLICY with the top reasons and fixes, and sends nothing', async () => {
    const t = fakeTransport();
    const m = createMailer({ transport: t, spam: { action: 'refuse' } });
    await assert.rejects(m.send(SPAMMY), (e: unknown) => {
      assert.ok(e instanceof SendwellError);
      assert.equal(e.code, 'EPOLICY');
      assert.equal(e.rule, 'R6');
      assert.match(e.message, /spam score [\d.]+ is above the threshold 5/);
      assert.match(e.hint, /^SPAM\.[A-Z_]+: /m);
      return true;
    });
    assert.equal(t.sent.length, 0);
    // A higher threshold lets it through.
    const lenient = createMailer({ transport: t, spam: { action: 'refuse', threshold: 50 } });
    await lenient.send(SPAMMY);
    assert.equal(t.sent.length, 1);
  });

  it('an unreachable scanner is a warning, even with action = "refuse", and never blocks a clean mail', async () => {
    const t = fakeTransport();
    const m = createMailer({ transport: t, spam: { action: 'refuse', spamd: `127.0.0.1:${await closedPort()}`, rspamd: `http://127.0.0.1:${await closedPort()}`, timeoutMs: 2000 } });
    const r = await m.send(CLEAN);
    assert.deepEqual(r.findings.filter((f) => f.guideRule === 'R6').map((f) => `${f.rule} ${f.severity} ${f.field}`), [
      'R6.spam-scanner-unavailable warning spam.spamd',
      'R6.spam-scanner-unavailable warning spam.rspamd',
    ]);
    assert.equal(t.sent.length, 1);
  });

  it('[spam] in sendwell.toml: defaults, values, and clear errors', () => {
    const dir = mkdtempSync(join(tmpdir(), 'sendwell-spam-'));
    const file = join(dir, 'sendwell.toml');
    writeFileSync(file, '');
    assert.deepEqual(loadConfig({ path: file }).spam, { threshold: 5, action: 'warn' });
    writeFileSync(file, '[spam]\nspamd = "127.0.0.1:783"\nrspamd = "http://127.0.0.1:11333"\nthreshold = 7.5\naction = "refuse"\n');
    assert.deepEqual(loadConfig({ path: file }).spam, { threshold: 7.5, action: 'refuse', spamd: '127.0.0.1:783', rspamd: 'http://127.0.0.1:11333' });
    writeFileSync(file, '[spam]\nspamd = "127.0.0.1 783"\n');
    assert.throws(() => loadConfig({ path: file }), /spam\.spamd = "127\.0\.0\.1 783" is not "host:port"/);
    writeFileSync(file, '[spam]\nrspamd = "127.0.0.1:11333"\n');
    assert.throws(() => loadConfig({ path: file }), /spam\.rspamd .* is not an http:\/\/ URL/);
    writeFileSync(file, '[spam]\naction = "block"\n');
    assert.throws(() => loadConfig({ path: file }), /spam\.action/);
    writeFileSync(file, '[spam]\nthreshhold = 3\n');
    assert.throws(() => loadConfig({ path: file }), /unknown key "threshhold" in \[spam\]/);
  });
});

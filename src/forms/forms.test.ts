import assert from 'node:assert/strict';
import { createHash, createHmac } from 'node:crypto';
import { mkdtempSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { validateConfig } from '../config/load.js';
import { contentScore } from './score.js';
import { resolveForm } from './settings.js';
import { checkTimeToken, createChallenge, issueTimeToken, loadFormKey, verifySolution } from './tokens.js';

const KEY = Buffer.alloc(32, 1);
const form = (extra: Record<string, unknown>) => validateConfig({ forms: { contact: { recipients: ['office@example.org'], fields: ['name', 'email', 'message'], ...extra } } }, 'test.toml');

describe('[forms.NAME] config', () => {
  it('fills in secure defaults and field types from the names', () => {
    const s = resolveForm('contact', form({}).forms.contact!, { senderFrom: 'www@example.org', publicUrl: 'https://mail.example.org/sw' });
    assert.deepEqual(s.fields, [
      { name: 'name', type: 'text', maxLength: 200, required: true },
      { name: 'email', type: 'email', maxLength: 254, required: true },
      { name: 'message', type: 'textarea', maxLength: 5000, required: true },
    ]);
    assert.equal(s.honeypot, 'website');
    assert.equal(s.minFillMs, 3000);
    assert.equal(s.tokenMaxAgeMs, 7_200_000);
    assert.equal(s.pow, true);
    assert.equal(s.receipt, false);
    assert.deepEqual(s.allowedOrigins, ['https://mail.example.org']);
    assert.equal(s.receiptField, 'email');
  });

  it('takes typed fields with lengths', () => {
    const s = resolveForm('contact', form({ fields: ['email', { name: 'phone', max_length: 40, required: false }, { name: 'about', type: 'textarea' }] }).forms.contact!, { senderFrom: 'www@example.org' });
    assert.deepEqual(s.fields[1], { name: 'phone', type: 'text', maxLength: 40, required: false });
    assert.equal(s.fields[2]!.type, 'textarea');
  });

  it('refuses a receipt without an email field, fields named like the protections, and no From', () => {
    assert.throws(() => form({ receipt: true, fields: ['name', 'message'] }), /forms.contact.receipt = true is invalid: needs a field of type email/);
    assert.throws(() => form({ fields: ['name', 'website'] }), /"website" is used by the form's protection/);
    assert.throws(() => form({ fields: ['altcha'] }), /used by the form's protection/);
    assert.throws(() => form({ recipients: [] }), /recipients/);
    assert.throws(() => resolveForm('contact', form({}).forms.contact!, {}), /no From address/);
    assert.throws(() => resolveForm('contact', form({ min_fill_time: '3h' }).forms.contact!, { senderFrom: 'a@example.org' }), /token_max_age must be longer/);
  });

  it('a sign-up form needs no recipients but an email field; other forms need recipients', () => {
    const signup = (extra: Record<string, unknown>) => validateConfig({ forms: { news: { fields: ['email'], ...extra } } }, 'test.toml');
    const s = resolveForm('news', signup({ subscribe: 'newsletter', consent_text: 'v2' }).forms.news!, { senderFrom: 'www@example.org' });
    assert.equal(s.subscribe, 'newsletter');
    assert.equal(s.consentText, 'v2');
    assert.deepEqual(s.recipients, []);
    assert.throws(() => signup({}), /forms\.news\.recipients is missing: give the fixed recipients/);
    assert.throws(() => signup({ subscribe: 'newsletter', fields: ['name'] }), /subscribe = "newsletter" is invalid: needs a field of type email/);
  });
});

describe('tokens', () => {
  it('the time token: too fast, valid, expired, forged, other form', () => {
    const t = issueTimeToken(KEY, 'contact', 1_000_000);
    assert.deepEqual(checkTimeToken(KEY, 'contact', t, 1_002_000, 3000, 60_000), { ok: false, reason: 'too-fast' });
    assert.equal(checkTimeToken(KEY, 'contact', t, 1_004_000, 3000, 60_000).ok, true);
    assert.deepEqual(checkTimeToken(KEY, 'contact', t, 1_061_000, 3000, 60_000), { ok: false, reason: 'token-expired' });
    assert.deepEqual(checkTimeToken(Buffer.alloc(32, 2), 'contact', t, 1_004_000, 3000, 60_000), { ok: false, reason: 'token-invalid' });
    assert.deepEqual(checkTimeToken(KEY, 'other', t, 1_004_000, 3000, 60_000), { ok: false, reason: 'token-invalid' });
    // A backdated issue time does not carry the MAC.
    const forged = t.replace(/^t1\.[0-9a-z]+\./, `t1.${(900_000).toString(36)}.`);
    assert.deepEqual(checkTimeToken(KEY, 'contact', forged, 1_004_000, 3000, 60_000), { ok: false, reason: 'token-invalid' });
  });

  it('the challenge is ALTCHA v1: sha256(salt+number), HMAC-SHA-256 signature, expiry in the salt', () => {
    const c = createChallenge(KEY, 'contact', 5000, Date.UTC(2026, 0, 1));
    assert.equal(c.algorithm, 'SHA-256');
    assert.match(c.salt, /^[0-9a-f]{24}\?expires=1767225600&form=contact$/);
    assert.equal(c.signature, createHmac('sha256', KEY).update(c.challenge).digest('hex'));
    let number = -1;
    for (let n = 0; n <= 5000 && number < 0; n++) if (createHash('sha256').update(c.salt + n).digest('hex') === c.challenge) number = n;
    assert.ok(number >= 0);
    // The payload the ALTCHA widget posts.
    const payload = Buffer.from(JSON.stringify({ algorithm: 'SHA-256', challenge: c.challenge, number, salt: c.salt, signature: c.signature, took: 812 })).toString('base64');
    assert.deepEqual(verifySolution(KEY, 'contact', payload, Date.UTC(2025, 11, 31)), { ok: true, challenge: c.challenge, expiresAt: Date.UTC(2026, 0, 1) });
    assert.deepEqual(verifySolution(KEY, 'contact', payload, Date.UTC(2026, 0, 2)), { ok: false, reason: 'pow-expired' });
    assert.deepEqual(verifySolution(KEY, 'other', payload, Date.UTC(2025, 11, 31)), { ok: false, reason: 'pow-wrong-form' });
    assert.deepEqual(verifySolution(KEY, 'contact', 'bm9wZQ==', 0), { ok: false, reason: 'pow-malformed' });
    assert.deepEqual(verifySolution(KEY, 'contact', undefined, 0), { ok: false, reason: 'pow-missing' });
  });

  it('creates the key 0600 in the state dir and keeps it', () => {
    const dir = mkdtempSync(join(tmpdir(), 'sendwell-formkey-'));
    const a = loadFormKey(dir);
    assert.equal(statSync(join(dir, 'forms.key')).mode & 0o777, 0o600);
    assert.deepEqual(loadFormKey(dir), a);
    assert.equal(a.length, 32);
  });
});

describe('content score', () => {
  const specs = resolveForm('c', form({}).forms.contact!, { senderFrom: 'a@example.org' }).fields;
  const signals = { origin: 'https://www.example.org', allowedOrigins: ['https://www.example.org'] };
  it('a plain question scores 0, one link 1', () => {
    assert.deepEqual(contentScore({ name: 'Erika', email: 'e@example.org', message: 'When are you open?' }, specs, signals), { score: 0, reasons: [] });
    assert.equal(contentScore({ name: 'Erika', email: 'e@example.org', message: 'The page https://www.example.org/x is broken.' }, specs, signals).score, 1);
  });
  it('URLs in a name, link lists, shorteners, IP links, markup and advertising add up', () => {
    const r = contentScore({ name: 'www.cheap.example', email: 'e@example.org', message: 'Best prices! <a href="http://bit.ly/a">SEO</a> http://192.0.2.1/x http://c.example' }, specs, signals);
    assert.ok(r.score >= 10, JSON.stringify(r));
    for (const p of ['url-in-name', 'markup-in-message', 'urls:4', 'url-to-ip', 'url-shortener', 'advertising:']) assert.ok(r.reasons.some((x) => x.startsWith(p)), p);
  });
  it('origin signals: missing +1 (privacy browsers), foreign +3; Referer stands in for Origin', () => {
    const f = { name: 'Erika', email: 'e@example.org', message: 'Hello' };
    assert.deepEqual(contentScore(f, specs, { allowedOrigins: ['https://www.example.org'] }).reasons, ['no-origin(+1)']);
    assert.deepEqual(contentScore(f, specs, { origin: 'null', allowedOrigins: [] }).reasons, ['no-origin(+1)']);
    assert.deepEqual(contentScore(f, specs, { origin: 'https://evil.example', allowedOrigins: ['https://www.example.org'] }).reasons, ['foreign-origin(+3)']);
    assert.deepEqual(contentScore(f, specs, { referer: 'https://www.example.org/contact.html', allowedOrigins: ['https://www.example.org'] }).reasons, []);
  });
});

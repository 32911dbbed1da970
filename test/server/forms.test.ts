/**
 * Web forms (R10) over real HTTP: a real state directory, the form routes on
 * the HTTP API, and a relay pointing to an in-process SMTP sink, so every
 * mail that would leave is seen. The clock is the test's: fill times and
 * expiry are set, not waited for.
 */
import assert from 'node:assert/strict';
import { chmodSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { simpleParser } from 'mailparser';
import { createChallenge, solveChallenge, solutionPayload, type AltchaChallenge } from '../../src/forms/tokens.js';
import { startForms, type FormsHarness } from '../helpers/forms.js';

const FORM = `
[forms.contact]
recipients = ["office@example.test"]
fields = ["name", "email", "message"]
receipt = true
title = "Contact form"
per_ip_per_hour = 1000

# The defaults, for the per-IP limit.
[forms.support]
recipients = ["support@example.test"]
fields = ["name", "email", "message"]
`;

let clock = Date.UTC(2026, 0, 5, 10, 0, 0);
const tick = (ms: number) => (clock += ms);

interface Challenge extends Partial<AltchaChallenge> {
  token: string;
}

async function challenge(h: FormsHarness, form = 'contact'): Promise<Challenge> {
  const r = await fetch(`${h.base}/forms/${form}/challenge`);
  assert.equal(r.status, 200);
  return (await r.json()) as Challenge;
}

/** What the widget does: token and a solved challenge. */
async function prepared(h: FormsHarness, form = 'contact'): Promise<Record<string, string>> {
  const c = await challenge(h, form);
  const out: Record<string, string> = { _token: c.token };
  if (c.challenge) out.altcha = solutionPayload(c as AltchaChallenge, solveChallenge(c as AltchaChallenge)!);
  return out;
}

async function post(h: FormsHarness, fields: Record<string, string>, headers: Record<string, string> = {}, form = 'contact') {
  const r = await fetch(`${h.base}/forms/${form}`, {
    method: 'POST',
    redirect: 'manual',
    headers: { 'content-type': 'application/x-www-form-urlencoded', origin: h.base, accept: 'text/html', ...headers },
    body: new URLSearchParams(fields).toString(),
  });
  return { status: r.status, headers: r.headers, text: await r.text() };
}

const person = (i: number) => ({ name: `Erika Muster ${i}`, email: `erika${i}@example.test`, message: `Hello,\n\nwhen is the library open on Saturdays? (${i})\n\nThanks` });

describe('web forms over HTTP', () => {
  let h: FormsHarness;
  before(async () => {
    h = await startForms(FORM, { clock: () => clock });
  });
  after(() => h.close());

  it('a prepared, human-paced submission goes to the fixed recipient only', async () => {
    const t = await prepared(h);
    tick(8000);
    const r = await post(h, { ...t, ...person(1), to: 'victim@example.test', recipients: 'victim@example.test', _replyto: 'x@example.test', website: '' });
    assert.equal(r.status, 200, r.text);
    assert.match(r.text, /Your message via Contact form was received/);
    await h.settle();
    const mails = h.sink.messages.filter((m) => m.to.includes('office@example.test'));
    assert.equal(mails.length, 1);
    assert.deepEqual(mails[0]!.to, ['office@example.test']);
    const parsed = await simpleParser(mails[0]!.raw);
    assert.equal(parsed.subject, 'Web form Contact form');
    assert.equal(parsed.replyTo?.value[0]?.address, 'erika1@example.test');
    assert.match(parsed.text!, /when is the library open on Saturdays\? \(1\)/);
    assert.ok(!h.sink.messages.some((m) => m.to.includes('victim@example.test')));
    assert.ok(h.logs.some((l) => /form contact: ip=127\.0\.0\.1 verdict=accepted score=0 reasons=- id=/.test(l)), h.logs.join('\n'));
  });

  it('the honeypot gets the same answer as a person, and nothing is mailed', async () => {
    const before = h.sink.messages.length;
    const t = await prepared(h);
    tick(8000);
    const r = await post(h, { ...t, ...person(2), website: 'http://spam.example.test' });
    assert.equal(r.status, 200);
    assert.match(r.text, /Your message via Contact form was received/);
    await h.settle();
    assert.equal(h.sink.messages.length, before);
    const row = h.forms.store.list('contact', { verdict: 'quarantined' })[0]!;
    assert.deepEqual(row.reasons, ['honeypot']);
    assert.equal(row.fields.email, 'erika2@example.test');
  });

  it('refuses a submission sooner than min_fill_time, without a token, or with a forged one', async () => {
    const t = await prepared(h);
    tick(1000);
    let r = await post(h, { ...t, ...person(3) });
    assert.equal(r.status, 403);
    assert.match(r.text, /sent too quickly/);
    const { _token, ...noToken } = t;
    tick(5000);
    r = await post(h, { ...noToken, ...person(3) });
    assert.equal(r.status, 403);
    assert.match(r.text, /needs JavaScript/);
    r = await post(h, { ...t, _token: t._token!.replace(/.$/, (c) => (c === 'A' ? 'B' : 'A')), ...person(3) });
    assert.equal(r.status, 403);
    assert.match(r.text, /could not be verified/);
    // Still unspent: the person who waited can send it.
    r = await post(h, { ...t, ...person(3) });
    assert.equal(r.status, 200, r.text);
  });

  it('refuses a missing, wrong or reused proof of work', async () => {
    const t = await prepared(h);
    tick(5000);
    let r = await post(h, { _token: t._token!, ...person(4) }, { accept: 'application/json' });
    assert.equal(r.status, 403);
    assert.equal(JSON.parse(r.text).reason, 'pow-missing');
    // Solved, but signed with another key.
    const foreign = createChallenge(Buffer.alloc(32, 7), 'contact', 1000, clock + 60_000);
    r = await post(h, { _token: t._token!, altcha: solutionPayload(foreign, solveChallenge(foreign)!), ...person(4) }, { accept: 'application/json' });
    assert.equal(JSON.parse(r.text).reason, 'pow-invalid-signature');
    // Wrong number.
    const c = JSON.parse(Buffer.from(t.altcha!, 'base64').toString()) as { number: number };
    r = await post(h, { _token: t._token!, altcha: Buffer.from(JSON.stringify({ ...JSON.parse(Buffer.from(t.altcha!, 'base64').toString()), number: c.number + 1 })).toString('base64'), ...person(4) }, { accept: 'application/json' });
    assert.equal(JSON.parse(r.text).reason, 'pow-invalid-solution');
    r = await post(h, { ...t, ...person(4) }, { accept: 'application/json' });
    assert.equal(r.status, 200);
    assert.deepEqual(JSON.parse(r.text), { status: 'received' });
    // The same token and solution again: a replay.
    r = await post(h, { ...t, ...person(4) }, { accept: 'application/json' });
    assert.equal(r.status, 403);
    assert.equal(JSON.parse(r.text).reason, 'token-replay');
    // A fresh token with the spent solution.
    const t2 = await prepared(h);
    tick(5000);
    r = await post(h, { _token: t2._token!, altcha: t.altcha!, ...person(4) }, { accept: 'application/json' });
    assert.equal(JSON.parse(r.text).reason, 'pow-replay');
  });

  it('refuses an expired form', async () => {
    const t = await prepared(h);
    tick(2 * 3_600_000 + 1000);
    const r = await post(h, { ...t, ...person(5) }, { accept: 'application/json' });
    assert.equal(r.status, 403);
    assert.equal(JSON.parse(r.text).reason, 'token-expired');
  });

  it('names invalid fields and sends nothing; the token stays usable', async () => {
    const before = h.sink.messages.length;
    const t = await prepared(h);
    tick(5000);
    let r = await post(h, { ...t, name: 'A\r\nBcc: victim@example.test', email: 'a@example.test, victim@example.test', message: 'x'.repeat(5001) }, { accept: 'application/json' });
    assert.equal(r.status, 400);
    const p = JSON.parse(r.text) as { errors: Array<{ field: string; detail: string }> };
    assert.deepEqual(p.errors.map((e) => e.field), ['name', 'email', 'message']);
    // Shaped like an address but not one the mail can be built with: a field error now, not a 503 later.
    for (const email of ['a..b@example.test', '.a@example.test', 'a@x..test', 'a@-x.test']) {
      const bad = await post(h, { ...t, ...person(6), email }, { accept: 'application/json' });
      assert.equal(bad.status, 400, email);
      assert.deepEqual((JSON.parse(bad.text) as { errors: Array<{ field: string }> }).errors.map((e) => e.field), ['email'], email);
    }
    r = await post(h, { ...t, ...person(6) });
    assert.equal(r.status, 200);
    await h.settle();
    assert.equal(h.sink.messages.filter((m) => m.to.includes('victim@example.test')).length, 0);
    assert.equal(h.sink.messages.length, before + 2, 'the owner mail and the receipt confirmation');
  });

  it('keeps URL and advertising spam for review with a fake success', async () => {
    const before = h.sink.messages.length;
    const t = await prepared(h);
    tick(5000);
    const r = await post(h, { ...t, name: 'Best SEO http://seo.example.test', email: 'seo@example.test', message: 'Boost your website traffic! Backlinks: http://bit.ly/x http://192.0.2.7/buy http://a.example.test http://b.example.test' });
    assert.equal(r.status, 200);
    assert.match(r.text, /was received/);
    await h.settle();
    assert.equal(h.sink.messages.length, before);
    const row = h.forms.store.list('contact', { verdict: 'quarantined' })[0]!;
    assert.ok(row.score >= 5, String(row.score));
    assert.ok(row.reasons.includes('url-in-name(+4)') && row.reasons.includes('url-shortener(+2)') && row.reasons.includes('url-to-ip(+2)'), row.reasons.join());
  });

  it('a single link from an allowed origin passes; a missing origin only adds a point', async () => {
    let t = await prepared(h);
    tick(5000);
    let r = await post(h, { ...t, ...person(7), message: 'The broken page is https://www.example.test/library/hours, please fix it.' });
    assert.equal(r.status, 200);
    assert.equal(h.forms.store.list('contact', { limit: 1 })[0]!.verdict, 'accepted');
    t = await prepared(h);
    tick(5000);
    r = await post(h, { ...t, ...person(8) }, { origin: '' });
    assert.equal(r.status, 200);
    const row = h.forms.store.list('contact', { limit: 1 })[0]!;
    assert.equal(row.verdict, 'accepted');
    assert.deepEqual(row.reasons, ['no-origin(+1)']);
    t = await prepared(h);
    tick(5000);
    r = await post(h, { ...t, ...person(9), message: 'see http://x.example.test' }, { origin: 'https://evil.example.test' });
    assert.equal(h.forms.store.list('contact', { limit: 1 })[0]!.verdict, 'quarantined', 'foreign origin + only a URL');
  });

  it('limits submissions per address per day', async () => {
    const codes: number[] = [];
    for (let i = 0; i < 4; i++) {
      const t = await prepared(h);
      tick(5000);
      codes.push((await post(h, { ...t, ...person(10), message: `Question number ${i} about the opening hours.` })).status);
    }
    assert.deepEqual(codes, [200, 200, 200, 429]);
  });

  it('the review list needs a token and shows every verdict', async () => {
    let r = await fetch(`${h.base}/api/v1/forms/contact/submissions`);
    assert.equal(r.status, 401);
    r = await fetch(`${h.base}/api/v1/forms/contact/submissions?verdict=quarantined`, { headers: { authorization: `Bearer ${h.token}` } });
    assert.equal(r.status, 200);
    const body = (await r.json()) as { submissions: Array<{ verdict: string; reasons: string[] }> };
    assert.ok(body.submissions.length >= 2);
    assert.ok(body.submissions.every((s) => s.verdict === 'quarantined'));
  });

  it('serves the example form, its script and a CORS challenge', async () => {
    let r = await fetch(`${h.base}/forms/contact`);
    assert.equal(r.status, 200);
    const html = await r.text();
    assert.match(html, /<form method="post" action="http:\/\/127\.0\.0\.1:\d+\/forms\/contact">/);
    assert.match(html, /name="website" tabindex="-1"/);
    assert.match(html, /<textarea name="message" id="sw-message" maxlength="5000" required/);
    assert.match(r.headers.get('content-security-policy')!, /script-src 'self'/);
    r = await fetch(`${h.base}/forms/contact/widget.js`);
    assert.match(r.headers.get('content-type')!, /text\/javascript/);
    assert.match(await r.text(), /crypto\.subtle\.digest\('SHA-256'/);
    r = await fetch(`${h.base}/forms/contact/challenge`, { headers: { origin: h.base } });
    assert.equal(r.headers.get('access-control-allow-origin'), h.base);
    const c = (await r.json()) as Record<string, unknown>;
    assert.deepEqual(Object.keys(c).sort(), ['algorithm', 'challenge', 'maxnumber', 'salt', 'signature', 'token']);
    assert.equal(c.maxnumber, 100000);
    r = await fetch(`${h.base}/forms/nope/challenge`);
    assert.equal(r.status, 404);
  });

  it('receipt: only after the address is confirmed, and without anything the visitor typed', async () => {
    tick(3_600_000); // a fresh per-IP hour
    const t = await prepared(h);
    tick(5000);
    const before = h.sink.messages.length;
    const r = await post(h, { ...t, name: 'Visitor Name', email: 'receipt@example.test', message: 'Secret words and https://link.example.test/path here' });
    assert.equal(r.status, 200);
    await h.settle();
    const toVisitor = () => h.sink.messages.slice(before).filter((m) => m.to.includes('receipt@example.test'));
    assert.equal(toVisitor().length, 1, 'only the confirmation request');
    const confirm = await simpleParser(toVisitor()[0]!.raw);
    const link = /(http:\/\/127\.0\.0\.1:\d+\/confirm\/\S+)/.exec(confirm.text!)![1]!;
    for (const typed of ['Visitor', 'Secret', 'link.example.test']) assert.ok(!confirm.text!.includes(typed), `confirmation mail carries ${typed}`);
    const g = await fetch(link);
    assert.match(await g.text(), /<button type="submit">Confirm<\/button>/);
    await h.settle();
    assert.equal(toVisitor().length, 1, 'GET confirms nothing');
    assert.equal((await fetch(link, { method: 'POST' })).status, 200);
    await h.settle();
    assert.equal(toVisitor().length, 2);
    const receipt = await simpleParser(toVisitor()[1]!.raw);
    assert.match(receipt.text!, /we received your message sent on 2026-01-05 \d\d:\d\d UTC via Contact form\./);
    for (const typed of ['Visitor', 'Secret', 'link.example.test', 'http']) assert.ok(!receipt.text!.includes(typed) && !receipt.subject!.includes(typed), typed);
    assert.equal(h.forms.store.list('contact', { limit: 1 })[0]!.receipt, 'sent');
  });

  it('limits submissions per IP per hour', async () => {
    // Earlier tests used the hour already; a new hour starts clean.
    tick(3_600_000);
    const codes: number[] = [];
    for (let i = 0; i < 11; i++) {
      const t = await prepared(h, 'support');
      tick(5000);
      codes.push((await post(h, { ...t, ...person(100 + i) }, {}, 'support')).status);
    }
    assert.deepEqual(codes, [...Array(10).fill(200), 429]);
  });

  it('fails closed when the form key cannot be used', async () => {
    const before = h.sink.messages.length;
    tick(3_600_000);
    const t = await prepared(h);
    tick(5000);
    const file = join(h.stateDir, 'forms.key');
    chmodSync(file, 0o644);
    try {
      let r = await post(h, { ...t, ...person(200) });
      assert.equal(r.status, 503);
      assert.match(r.text, /cannot be checked right now/);
      assert.equal((await fetch(`${h.base}/forms/contact/challenge`)).status, 503);
      chmodSync(file, 0o600);
      writeFileSync(file, 'not a key\n');
      r = await post(h, { ...t, ...person(200) });
      assert.equal(r.status, 503);
    } finally {
      chmodSync(file, 0o600);
    }
    await h.settle();
    assert.equal(h.sink.messages.length, before);
    assert.ok(h.logs.some((l) => /error: form contact: the form key cannot be used, submissions are refused: .*can be read by other users/.test(l)));
  });
});

describe('web forms in sendwell serve', () => {
  it('the daemon serves [forms.NAME] and the worker delivers the submission to the fixed recipient', async () => {
    const { Daemon } = await import('../../src/server/daemon.js');
    const { parseConfigText, resolveConfig, validateConfig } = await import('../../src/config/load.js');
    const { startSmtpServer } = await import('../helpers/smtp-server.js');
    const { mkdtempSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const sink = await startSmtpServer();
    const stateDir = mkdtempSync(join(tmpdir(), 'sendwell-forms-daemon-'));
    const text = `[relay]\nurl = "${sink.url('smtp', 'tls=never')}"\n[sender]\nfrom = "Web site <www@example.test>"\n[http]\nlisten = "127.0.0.1:0"\npublic_url = "http://127.0.0.1:9"\n${FORM}\nmin_fill_time = "1s"\n`.replace('\n[forms.support]', '\nmin_fill_time = "1s"\n[forms.support]');
    const config = resolveConfig(validateConfig(parseConfigText(text, 't.toml'), 't.toml'), 't.toml');
    const logs: string[] = [];
    const d = await Daemon.start({ config, stateDir, smtp: false, relay: sink.url('smtp', 'tls=never'), log: (_l, line) => logs.push(line) });
    try {
      const base = `http://127.0.0.1:${d.addresses.http!.port}`;
      assert.equal((await fetch(`${base}/forms/contact`)).status, 200);
      const c = (await (await fetch(`${base}/forms/contact/challenge`)).json()) as AltchaChallenge & { token: string };
      await new Promise((r) => setTimeout(r, 1100));
      const r = await fetch(`${base}/forms/contact`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', origin: 'http://127.0.0.1:9' },
        body: new URLSearchParams({ _token: c.token, altcha: solutionPayload(c, solveChallenge(c)!), ...person(1) }).toString(),
      });
      assert.equal(r.status, 200, await r.text());
      const deadline = Date.now() + 10_000;
      while (!sink.messages.some((m) => m.to.includes('office@example.test')) && Date.now() < deadline) await new Promise((res) => setTimeout(res, 50));
      assert.deepEqual(sink.messages.find((m) => m.to.includes('office@example.test'))?.to, ['office@example.test'], logs.join('\n'));
      assert.ok(logs.some((l) => /form contact: ip=127\.0\.0\.1 verdict=accepted/.test(l)), logs.join('\n'));
    } finally {
      await d.stop(1000);
      await sink.close();
    }
  });
});

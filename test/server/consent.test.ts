/**
 * Consent through the running daemon (R1): lists and sign-ups over the API,
 * the confirmation page (GET shows, POST confirms), list mail, one-click
 * unsubscribe (RFC 8058), the unsubscribe page, and unsubscribe by mail
 * through the SMTP listener. Real HTTP and SMTP on 127.0.0.1, a real SQLite
 * state directory, a real SMTP server as the relay.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { simpleParser } from 'mailparser';
import { SuppressionList } from '../../src/bounce/suppression.js';
import { loadConfig } from '../../src/config/load.js';
import { Daemon } from '../../src/server/daemon.js';
import { startSmtpServer, type ReceivedMessage, type TestServer } from '../helpers/smtp-server.js';
import { RawSmtp } from './smtp/client.js';

const work = mkdtempSync(join(tmpdir(), 'sendwell-consent-http-'));

async function waitFor<T>(what: string, fn: () => T | undefined, ms = 10_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = fn();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(25);
  }
}

describe('consent over HTTP and SMTP (sendwell serve)', () => {
  let relay: TestServer;
  let daemon: Daemon;
  let base: string;
  let token: string;
  const logs: string[] = [];

  before(async () => {
    relay = await startSmtpServer();
    const file = join(work, 'sendwell.toml');
    writeFileSync(
      file,
      `state_dir = "${join(work, 'state')}"
[relay]
url = "${relay.url('smtp', 'tls=never')}"
[sender]
from = "Institute <news@example.test>"
[http]
listen = "127.0.0.1:0"
public_url = "https://mail.example.test/sw"
trusted_proxies = ["127.0.0.1/32"]
[smtp]
listen = ["127.0.0.1:0"]
[bounces]
address = "bounces@bounces.example.test"
[lists.news]
reason = "You receive this because you subscribed to the institute news on our website."
description = "Institute news"
`,
    );
    const config = loadConfig({ path: file, env: {} });
    daemon = await Daemon.start({ config, stateDir: join(work, 'state'), log: (level, text) => logs.push(`${level}: ${text}`) });
    base = `http://127.0.0.1:${daemon.addresses.http!.port}`;
    token = daemon.credentials.createToken('website').token;
  });
  after(async () => {
    await daemon.stop(2000);
    await relay.close();
  });

  const api = async (method: string, path: string, body?: unknown, headers: Record<string, string> = {}) => {
    const res = await fetch(`${base}${path}`, {
      method,
      headers: { authorization: `Bearer ${token}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}), ...headers },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
    const text = await res.text();
    return { status: res.status, headers: res.headers, text, json: /json/.test(res.headers.get('content-type') ?? '') ? JSON.parse(text) : undefined };
  };
  const mailTo = (addr: string, subject: RegExp) =>
    waitFor(`mail to ${addr}`, () => relay.messages.find((m) => m.to.includes(addr) && subject.test(m.raw.toString('latin1'))));
  const textOf = async (m: ReceivedMessage) => (await simpleParser(m.raw)).text ?? '';

  it('a sign-up over the API is confirmed only by the POST of the confirmation page', async () => {
    const created = await api('POST', '/api/v1/lists', { name: 'staff', reason: 'You receive this as a member of staff of the institute.', double_opt_in: true });
    assert.equal(created.status, 201);
    const lists = await api('GET', '/api/v1/lists');
    assert.deepEqual(lists.json.lists.map((l: { name: string }) => l.name), ['news', 'staff']);
    assert.equal(lists.json.lists[0].from_config, true);

    const r = await api('POST', '/api/v1/lists/news/subscribers', { email: 'ann@example.test', source: 'https://www.example.test/news', consent_text: 'v1', ip: '192.0.2.10' });
    assert.equal(r.status, 202, r.text);
    assert.deepEqual(r.json, { status: 'pending', confirmation_sent: true });
    const confirmMail = await mailTo('ann@example.test', /Please confirm/);
    const link = /https:\/\/mail\.example\.test\/sw(\/confirm\/[A-Za-z0-9_-]+)/.exec(await textOf(confirmMail))!;
    assert.ok(link, 'the mail links to public_url');

    // A link scanner's GET (and HEAD) changes nothing.
    const get = await fetch(`${base}${link[1]}`);
    const page = await get.text();
    assert.equal(get.status, 200);
    assert.match(page, /<form method="post"><button type="submit">Confirm<\/button><\/form>/);
    assert.match(get.headers.get('content-security-policy')!, /default-src 'none'/);
    assert.equal((await fetch(`${base}${link[1]}`, { method: 'HEAD' })).status, 200);
    const pending = await api('GET', '/api/v1/lists/news/subscribers');
    assert.equal(pending.json.subscribers[0].status, 'pending');

    const post = await fetch(`${base}${link[1]}`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-forwarded-for': '198.51.100.20', 'user-agent': 'Firefox/140' }, body: '' });
    assert.equal(post.status, 200);
    assert.match(await post.text(), /Thank you: confirmed/);
    const again = await fetch(`${base}${link[1]}`, { method: 'POST', body: '' });
    assert.equal(again.status, 410, 'single use');
    const subs = (await api('GET', '/api/v1/lists/news/subscribers?status=confirmed')).json.subscribers;
    assert.equal(subs.length, 1);
    assert.equal(subs[0].confirm_method, 'post-button');
    assert.equal(subs[0].confirm_ip, '198.51.100.20', 'X-Forwarded-For from a trusted proxy is believed');
    assert.equal(subs[0].signup_ip, '192.0.2.10');
    const csv = await api('GET', '/api/v1/lists/news/subscribers?format=csv');
    assert.match(csv.headers.get('content-type')!, /^text\/csv/);
    assert.match(csv.text, /^email,status,source,channel,consent_text,signup_at/);
    assert.match(csv.text, /\nann@example\.test,confirmed,https:\/\/www\.example\.test\/news,api,v1,/);
  });

  it('list mail over the API reaches consenting subscribers only; one-click POST unsubscribes, GET does not', async () => {
    const r = await api('POST', '/api/v1/lists/news/messages', { subject: 'News of the week', text: 'The canteen is open.', to: ['ann@example.test', 'bob@example.test'] });
    assert.equal(r.status, 202, r.text);
    assert.deepEqual(r.json.sent.map((s: { address: string }) => s.address), ['ann@example.test']);
    assert.equal(r.json.refused[0].address, 'bob@example.test');
    assert.match(r.json.refused[0].reason, /no recorded consent for news/);
    const status = await api('GET', `/api/v1/messages/${r.json.sent[0].queue_id}`);
    assert.equal(status.json.category, 'bulk');
    assert.equal(status.json.list, 'news');
    const m = await mailTo('ann@example.test', /News of the week/);
    const head = m.raw.toString('latin1').split('\r\n\r\n')[0]!.replace(/\r\n[ \t]+/g, ' ');
    const url = /List-Unsubscribe: .*<(https:\/\/mail\.example\.test\/sw\/u\/[a-z2-7]{26})>/.exec(head)![1]!;
    assert.match(head, /\r\nList-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n/);
    assert.match(await textOf(m), /You receive this because you subscribed to the institute news/);
    const path = new URL(url).pathname.replace(/^\/sw/, '');

    const view = await fetch(`${base}${path}`);
    assert.equal(view.status, 200);
    assert.match(await view.text(), /Stop mail from Institute news to <b>ann@example\.test<\/b>\?/);
    assert.equal((await api('GET', '/api/v1/lists/news/subscribers?status=confirmed')).json.subscribers.length, 1, 'GET did not unsubscribe');

    // What a mailbox provider sends (RFC 8058 §3.2): no cookies, no auth, this body.
    const one = await fetch(`${base}${path}`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'List-Unsubscribe=One-Click', redirect: 'manual' });
    assert.equal(one.status, 200);
    assert.equal(one.headers.get('location'), null);
    assert.equal(one.headers.get('set-cookie'), null);
    const sub = (await api('GET', '/api/v1/lists/news/subscribers')).json.subscribers.find((s: { email: string }) => s.email === 'ann@example.test');
    assert.equal(sub.status, 'unsubscribed');
    assert.equal(sub.unsubscribe_method, 'one-click');
    const after = await api('POST', '/api/v1/lists/news/messages', { subject: 'More news', text: 'x' });
    assert.deepEqual(after.json.sent, [], 'nobody left to send to');
    assert.equal((await fetch(`${base}/u/${'a'.repeat(26)}`, { method: 'POST', body: 'List-Unsubscribe=One-Click' })).status, 404);
  });

  it('a mail to the List-Unsubscribe mailto address, through the SMTP listener, unsubscribes', async () => {
    const c = await api('POST', '/api/v1/lists', { name: 'events', reason: 'You receive this because you asked for event announcements.', double_opt_in: false });
    assert.equal(c.status, 201);
    assert.equal((await api('POST', '/api/v1/lists/events/subscribers', { email: 'carl@example.test' })).json.status, 'confirmed');
    const r = await api('POST', '/api/v1/lists/events/messages', { subject: 'Open day', text: 'Come along.' });
    const m = await mailTo('carl@example.test', /Open day/);
    assert.equal(r.json.sent.length, 1);
    const head = m.raw.toString('latin1').split('\r\n\r\n')[0]!.replace(/\r\n[ \t]+/g, ' ');
    const mailto = /<mailto:([^?>]+)\?subject=unsubscribe>/.exec(head)![1]!;
    assert.match(mailto, /^bounces\+unsubscribe\.[a-z2-7]{26}@bounces\.example\.test$/);

    const smtp = await RawSmtp.connect(daemon.addresses.smtp[0]!.port);
    await smtp.reply();
    await smtp.cmd('EHLO client.example.test');
    assert.equal((await smtp.cmd('MAIL FROM:<carl@example.test>')).code, 250);
    assert.equal((await smtp.cmd(`RCPT TO:<${mailto}>`)).code, 250);
    assert.equal((await smtp.cmd('DATA')).code, 354);
    const done = await smtp.data(`From: carl@example.test\r\nTo: ${mailto}\r\nSubject: unsubscribe\r\nDate: ${new Date().toUTCString()}\r\nMessage-ID: <u1@example.test>\r\n\r\nunsubscribe\r\n`);
    assert.equal(done.code, 250, done.text);
    await smtp.cmd('QUIT');
    smtp.close();
    const sub = (await api('GET', '/api/v1/lists/events/subscribers')).json.subscribers[0];
    assert.equal(sub.status, 'unsubscribed');
    assert.equal(sub.unsubscribe_method, 'mailto');
    assert.ok(logs.some((l) => /unsubscribe by mail|unsubscribed from events \(mailto\)/.test(l)), logs.join('\n'));
  });

  it('a forged bounce to a made-up unsubscribe address suppresses nobody', async () => {
    // Strangers may mail unsubscribe addresses (people unsubscribe from their own address), but that is no way in for bounces.
    const fake = `bounces+unsubscribe.${'a'.repeat(26)}@bounces.example.test`;
    const dsn =
      `From: MAILER-DAEMON@evil.example\r\nTo: ${fake}\r\nSubject: Undelivered Mail Returned to Sender\r\nDate: ${new Date().toUTCString()}\r\nMessage-ID: <f1@evil.example>\r\n` +
      'MIME-Version: 1.0\r\nContent-Type: multipart/report; report-type=delivery-status; boundary="b"\r\n\r\n' +
      '--b\r\nContent-Type: text/plain\r\n\r\nfailed\r\n' +
      '--b\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx.evil.example\r\n\r\nFinal-Recipient: rfc822; victim@example.org\r\nAction: failed\r\nStatus: 5.1.1\r\nDiagnostic-Code: smtp; 550 5.1.1 user unknown\r\n' +
      '--b--\r\n';
    const smtp = await RawSmtp.connect(daemon.addresses.smtp[0]!.port);
    await smtp.reply();
    await smtp.cmd('EHLO mx.evil.example');
    assert.equal((await smtp.cmd('MAIL FROM:<mallory@evil.example>')).code, 250);
    assert.equal((await smtp.cmd(`RCPT TO:<${fake}>`)).code, 250);
    assert.equal((await smtp.cmd('DATA')).code, 354);
    await smtp.data(dsn);
    await smtp.cmd('QUIT');
    smtp.close();
    const suppression = new SuppressionList(join(work, 'state'));
    try {
      assert.deepEqual(suppression.list().map((s) => s.address), []);
    } finally {
      suppression.close();
    }
  });

  it('imports CSV with proof over the API, all rows or none', async () => {
    const csv = (text: string) => fetch(`${base}/api/v1/lists/staff/subscribers`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'text/csv' }, body: text });
    const bad = await csv('email,signup_at,confirmed_at\neve@example.test,2026-01-01T00:00:00Z,2026-01-01T00:05:00Z\nfay@example.test,,\n');
    assert.equal(bad.status, 422);
    assert.match(((await bad.json()) as { hint: string }).hint, /line 3 \(fay@example\.test\): signup_at is missing/);
    assert.equal((await api('GET', '/api/v1/lists/staff/subscribers')).json.subscribers.some((s: { email: string }) => s.email === 'eve@example.test'), false, 'nothing imported');
    const ok = await csv('email,signup_at,confirmed_at\neve@example.test,2026-01-01T00:00:00Z,2026-01-01T00:05:00Z\n');
    assert.equal(ok.status, 200);
    assert.deepEqual(await ok.json(), { imported: 1, updated: 0 });
    const eve = (await api('GET', '/api/v1/lists/staff/subscribers')).json.subscribers.find((s: { email: string }) => s.email === 'eve@example.test');
    assert.equal(eve.status, 'confirmed');
    assert.equal(eve.source, 'api:website');
  });

  it('API errors: unknown list 404, bad list name 400, revoke 200 then 404', async () => {
    assert.equal((await api('POST', '/api/v1/lists/nope/subscribers', { email: 'x@example.test' })).status, 404);
    const bad = await api('POST', '/api/v1/lists', { name: 'Bad Name', reason: 'long enough reason text' });
    assert.equal(bad.status, 400);
    assert.match(bad.text, /not a list name/);
    const multi = await api('POST', '/api/v1/lists', { name: 'multi', reason: 'long enough reason text', description: 'Two\r\nBcc: x@example.test' });
    assert.equal(multi.status, 400);
    assert.match(multi.text, /must be one line/);
    await api('POST', '/api/v1/lists/staff/subscribers', { email: 'dora@example.test' });
    const del = await api('DELETE', '/api/v1/lists/staff/subscribers/dora@example.test');
    assert.equal(del.status, 200);
    assert.equal(del.json.status, 'unsubscribed');
    assert.equal((await api('DELETE', '/api/v1/lists/staff/subscribers/nobody@example.test')).status, 404);
    assert.equal((await fetch(`${base}/api/v1/lists`)).status, 401, 'the lists API needs a token');
  });
});

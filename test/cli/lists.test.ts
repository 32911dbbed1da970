/**
 * Lists, consent and list mail from the command line (R1): real child
 * processes, a real SQLite state directory, a real SMTP server on 127.0.0.1.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { simpleParser } from 'mailparser';
import { startSmtpServer, type TestServer } from '../helpers/smtp-server.js';
import { runCli } from '../helpers/cli.js';

const work = mkdtempSync(join(tmpdir(), 'sendwell-lists-cli-'));

describe('sendwell lists, consent and send --list', () => {
  let srv: TestServer;
  let cfg: string;
  const run = (args: string[], stdin?: string) => runCli([...args, '--config', cfg], { cwd: work, ...(stdin !== undefined ? { stdin } : {}) });

  before(async () => {
    srv = await startSmtpServer();
    cfg = join(work, 'sendwell.toml');
    writeFileSync(
      cfg,
      `state_dir = "${join(work, 'state')}"
[relay]
url = "${srv.url('smtp', 'tls=never')}"
[sender]
from = "Institute <news@example.test>"
[http]
public_url = "https://mail.example.test"
[bounces]
address = "bounces@bounces.example.test"
`,
    );
  });
  after(() => srv.close());

  it('lists create and list; a list needs a reason', async () => {
    const noReason = await run(['lists', 'create', 'news']);
    assert.equal(noReason.code, 64);
    assert.match(noReason.stderr, /--reason is missing/);
    const c = await run(['lists', 'create', 'news', '--reason', 'You receive this because you subscribed to the institute news.', '--description', 'Institute news']);
    assert.equal(c.code, 0, c.stderr);
    assert.match(c.stdout, /list news created \(double opt-in\)/);
    const l = await run(['lists', 'list', '--json']);
    assert.deepEqual(JSON.parse(l.stdout).map((x: { name: string; double_opt_in: boolean }) => [x.name, x.double_opt_in]), [['news', true]]);
  });

  it('consent import is all or nothing unless --allow-invalid; export round-trips the proof', async () => {
    const bad = join(work, 'bad.csv');
    writeFileSync(bad, 'email,signup_at,confirmed_at,signup_ip\nann@example.test,2026-02-01T09:00:00Z,2026-02-01T09:03:00Z,192.0.2.1\nno-date@example.test,,,\n');
    const r1 = await run(['consent', 'import', 'news', bad]);
    assert.equal(r1.code, 65);
    assert.match(r1.stderr, /bad\.csv:3: no-date@example\.test: signup_at is missing/);
    assert.match(r1.stdout, /nothing imported/);
    assert.equal(JSON.parse((await run(['consent', 'list', 'news', '--json'])).stdout).length, 0);
    const r2 = await run(['consent', 'import', 'news', bad, '--allow-invalid']);
    assert.equal(r2.code, 65);
    assert.match(r2.stdout, /news: 1 imported, 0 updated, 1 invalid/);
    const good = 'email,signup_at,confirmed_at\nbea@example.test,2026-02-02T09:00:00Z,2026-02-02T09:10:00Z\ncid@example.test,2026-02-03T09:00:00Z,\n';
    const r3 = await run(['consent', 'import', 'news', '-'], good);
    assert.equal(r3.code, 0, r3.stderr);
    const list = JSON.parse((await run(['consent', 'list', 'news', '--json'])).stdout) as Array<{ email: string; status: string; signup_ip: string | null }>;
    assert.deepEqual(list.map((s) => [s.email, s.status]), [['ann@example.test', 'confirmed'], ['bea@example.test', 'confirmed'], ['cid@example.test', 'pending']]);
    assert.equal(list[0]!.signup_ip, '192.0.2.1');
    const csv = (await run(['consent', 'export', 'news', '--status', 'confirmed'])).stdout;
    assert.match(csv, /^email,status,source,channel,consent_text,signup_at,signup_ip/);
    assert.match(csv, /\nann@example\.test,confirmed,import:.*bad\.csv,import,,2026-02-01T09:00:00\.000Z,192\.0\.2\.1,/);
    assert.equal(csv.trim().split('\n').length, 3);
  });

  it('send --list mails each consenting subscriber; --to refuses those without consent with 77', async () => {
    const before = srv.messages.length;
    const r = await run(['send', '--list', 'news', '--subject', 'Spring news', '--text', 'The garden opens in April.']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /list news: 2 message\(s\) queued, 0 address\(es\) without consent refused/);
    const got = srv.messages.slice(before);
    assert.deepEqual(got.map((m) => m.to[0]).sort(), ['ann@example.test', 'bea@example.test']);
    const text = (await simpleParser(got[0]!.raw)).text ?? '';
    assert.match(text, /You receive this because you subscribed to the institute news\.\nUnsubscribe: https:\/\/mail\.example\.test\/u\/[a-z2-7]{26}/);

    const refused = await run(['send', '--list', 'news', '--to', 'cid@example.test', '--to', 'dan@example.test', '--subject', 'x', '--text', 'y']);
    assert.equal(refused.code, 77);
    assert.match(refused.stderr, /not sent to cid@example\.test: signed up for news but has not confirmed/);
    assert.match(refused.stderr, /not sent to dan@example\.test: has no recorded consent for news/);
    assert.match(refused.stderr, /nothing sent: no recipient has a recorded consent for list news/);
    const mixed = await run(['send', '--list', 'news', '--to', 'ann@example.test', '--to', 'dan@example.test', '--subject', 'x2', '--text', 'y2', '--queue-only']);
    assert.equal(mixed.code, 0, 'sent to those with consent, the rest reported');
    assert.match(mixed.stderr, /not sent to dan@example\.test/);
    assert.equal((await run(['send', '--list', 'nope', '--subject', 'x', '--text', 'y'])).code, 64);
    const cc = await run(['send', '--list', 'news', '--cc', 'x@example.test', '--subject', 'x', '--text', 'y']);
    assert.equal(cc.code, 64);
    assert.match(cc.stderr, /--list cannot be combined with --cc/);
  });

  it('a mail to the List-Unsubscribe mailto address through `bounce ingest` unsubscribes; revoke works too', async () => {
    const m = srv.messages.find((x) => x.to[0] === 'bea@example.test')!;
    const head = m.raw.toString('latin1').split('\r\n\r\n')[0]!.replace(/\r\n[ \t]+/g, ' ');
    const mailto = /<mailto:([^?>]+)\?subject=unsubscribe>/.exec(head)![1]!;
    const unsub = `From: bea@example.test\r\nTo: <${mailto}>\r\nSubject: unsubscribe\r\nDate: Fri, 4 Dec 2026 10:00:00 +0000\r\nMessage-ID: <u2@example.test>\r\n\r\nunsubscribe\r\n`;
    const r = await run(['bounce', 'ingest'], unsub);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /unsubscribed bea@example\.test from news/);
    const rv = await run(['consent', 'revoke', 'news', 'ann@example.test']);
    assert.equal(rv.code, 0, rv.stderr);
    const list = JSON.parse((await run(['consent', 'list', 'news', '--json', '--status', 'unsubscribed'])).stdout) as Array<{ email: string; unsubscribe_method: string }>;
    assert.deepEqual(list.map((s) => [s.email, s.unsubscribe_method]), [['ann@example.test', 'admin'], ['bea@example.test', 'mailto']]);
    const none = await run(['send', '--list', 'news', '--subject', 'Summer', '--text', 'x']);
    assert.equal(none.code, 0);
    assert.match(none.stderr, /has no confirmed subscribers: nothing sent/);
  });
});

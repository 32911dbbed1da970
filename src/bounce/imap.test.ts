import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { SendwellError } from '../errors.js';
import { loadConfig } from '../config/load.js';
import { nullMailLog } from '../queue/maillog.js';
import { openSqliteStore } from '../queue/sqlite/index.js';
import { imapError, parseImapUrl, pollImap, type ImapSettings } from './imap.js';
import { SuppressionList } from './suppression.js';

const dir = mkdtempSync(join(tmpdir(), 'sendwell-imap-'));

/** fn throws a SendwellError with this code, a message matching pattern and a hint; returns it. */
function rejects(fn: () => unknown, code: string, pattern: RegExp): SendwellError {
  const e = (() => {
    try {
      fn();
    } catch (err) {
      return err;
    }
    return assert.fail('no error was thrown');
  })();
  assert.ok(e instanceof SendwellError && e.hint, String(e));
  assert.deepEqual([e.code, pattern.test(e.message)], [code, true], e.message);
  return e;
}

function config(toml: string) {
  const p = join(dir, `c-${Math.random().toString(36).slice(2)}.toml`);
  writeFileSync(p, toml, { mode: 0o600 });
  return () => loadConfig({ path: p, env: {} });
}

describe('IMAP URL', () => {
  it('imaps:// is implicit TLS on 993, imap:// STARTTLS required on 143', () => {
    assert.deepEqual(parseImapUrl('imaps://bounces@imap.example.test'), { url: 'imaps://bounces@imap.example.test:993', user: 'bounces', host: 'imap.example.test', port: 993, tls: 'implicit' });
    assert.deepEqual(parseImapUrl('imap://bounces@IMAP.example.test:1143/'), { url: 'imap://bounces@imap.example.test:1143', user: 'bounces', host: 'imap.example.test', port: 1143, tls: 'starttls' });
    assert.equal(parseImapUrl('imaps://[::1]:993'.replace('//', '//u@')).host, '::1');
  });

  it('reads a percent-encoded user name (an address as login)', () => {
    const t = parseImapUrl('imaps://bounces%40example.test@imap.example.test');
    assert.equal(t.user, 'bounces@example.test');
    assert.equal(t.url, 'imaps://bounces%40example.test@imap.example.test:993');
  });

  it('refuses a password in the URL (R11) and never echoes it', () => {
    const e = rejects(() => parseImapUrl('imaps://bounces:hunter2@imap.example.test'), 'ESECRET', /contains a password/);
    assert.equal(e.rule, 'R11');
    assert.doesNotMatch(`${e.message} ${e.hint}`, /hunter2/);
    assert.doesNotMatch(rejects(() => parseImapUrl('imaps://b:p@ss@imap.example.test'), 'ESECRET', /password/).message, /p@ss|ss@/);
  });

  it('refuses other forms with the valid ones in the hint', () => {
    const e = rejects(() => parseImapUrl('pop3://u@mail.example.test'), 'ECONFIG', /unknown scheme/);
    assert.match(e.hint, /imaps:\/\/user@host/);
    rejects(() => parseImapUrl('imaps://imap.example.test'), 'ECONFIG', /user name is missing/);
    rejects(() => parseImapUrl('imaps://u@'), 'ECONFIG', /host is missing/);
    rejects(() => parseImapUrl('imaps://u@imap.example.test:0'), 'ECONFIG', /port "0"/);
    rejects(() => parseImapUrl('imaps://u@imap.example.test/INBOX'), 'ECONFIG', /no path/);
    rejects(() => parseImapUrl('imaps://u@imap.example.test?tls=never'), 'ECONFIG', /no path or parameters/);
    rejects(() => parseImapUrl('imaps://u@bad_host!'), 'ECONFIG', /not a valid host name/);
    rejects(() => parseImapUrl(''), 'ECONFIG', /empty/);
  });
});

describe('[bounces.imap] config', () => {
  it('has defaults for folder, processed_folder and poll_interval; files are relative to the config file', () => {
    const c = config('[bounces.imap]\nurl = "imaps://bounces@imap.example.test"\npassword_file = "imap.pass"\nca_file = "ca.pem"\n')();
    const imap = c.bounces.imap!;
    assert.equal(imap.url, 'imaps://bounces@imap.example.test:993');
    assert.equal(imap.folder, 'INBOX');
    assert.equal(imap.processedFolder, 'sendwell-processed');
    assert.equal(imap.pollIntervalMs, 5 * 60_000);
    assert.deepEqual(imap.password, { file: join(dir, 'imap.pass') });
    assert.equal(imap.caFile, join(dir, 'ca.pem'));
  });

  it('takes folder names, a poll interval and password_env / password_command', () => {
    const c = config('[bounces.imap]\nurl = "imap://b@imap.example.test"\npassword_env = "IMAP_PW"\nfolder = "Bounces"\nprocessed_folder = "Bounces/done"\npoll_interval = "30s"\n')();
    assert.deepEqual(c.bounces.imap!.password, { env: 'IMAP_PW' });
    assert.equal(c.bounces.imap!.tls, 'starttls');
    assert.equal(c.bounces.imap!.processedFolder, 'Bounces/done');
    assert.equal(c.bounces.imap!.pollIntervalMs, 30_000);
    assert.deepEqual(config('[bounces.imap]\nurl = "imaps://b@imap.example.test"\npassword_command = "pass show imap"\n')().bounces.imap!.password, { command: 'pass show imap' });
  });

  it('is absent unless configured', () => {
    assert.equal(config('[bounces]\naddress = "bounces@bounces.example.test"\n')().bounces.imap, undefined);
  });

  it('refuses a password in the URL, a missing password, two password sources, unknown keys and one folder for both', () => {
    rejects(config('[bounces.imap]\nurl = "imaps://b:secret@imap.example.test"\npassword_env = "X"\n'), 'ESECRET', /contains a password/);
    rejects(config('[bounces.imap]\nurl = "imaps://b@imap.example.test"\n'), 'ECONFIG', /no password/);
    rejects(config('[bounces.imap]\nurl = "imaps://b@imap.example.test"\npassword_env = "X"\npassword_file = "f"\n'), 'ECONFIG', /give only one/);
    rejects(config('[bounces.imap]\nurl = "imaps://b@imap.example.test"\npassword = "x"\n'), 'ECONFIG', /unknown key "password"/);
    rejects(config('[bounces.imap]\nurl = "imaps://b@imap.example.test"\npassword_env = "X"\nprocessed_folder = "INBOX"\n'), 'ECONFIG', /both "INBOX"/);
    rejects(config('[bounces.imap]\nurl = "imaps://b@imap.example.test"\npassword_env = "X"\npoll_interval = "often"\n'), 'ECONFIG', /poll_interval = "often" is not a duration/);
    rejects(config('[bounces.imap]\nurl = "smtps://b@imap.example.test"\npassword_env = "X"\n'), 'ECONFIG', /unknown scheme/);
  });
});

describe('IMAP errors', () => {
  const target = parseImapUrl('imaps://bounces@imap.example.test');
  it('maps login failures, TLS failures and unreachable servers', () => {
    const auth = imapError(Object.assign(new Error('Command failed'), { authenticationFailed: true, responseText: 'Authentication failed.' }), target);
    assert.equal(auth.code, 'EAUTH');
    assert.equal(auth.temporary, false);
    const tls = imapError(Object.assign(new Error('self-signed certificate'), { code: 'DEPTH_ZERO_SELF_SIGNED_CERT' }), target);
    assert.equal(tls.code, 'ETLS');
    assert.match(tls.hint, /ca_file/);
    const refused = imapError(Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }), target);
    assert.equal(refused.code, 'ECONNECTION');
    assert.equal(refused.temporary, true);
    assert.equal(imapError(Object.assign(new Error('t'), { code: 'CONNECT_TIMEOUT' }), target).code, 'ETIMEDOUT');
  });

  it('a server that cannot be reached is temporary, and the password is resolved first (R11)', async () => {
    // A port that was free a moment ago: nothing listens there.
    const port = await new Promise<number>((resolve) => {
      const s = createServer().listen(0, '127.0.0.1', () => {
        const p = (s.address() as { port: number }).port;
        s.close(() => resolve(p));
      });
    });
    const store = openSqliteStore(dir);
    const suppression = new SuppressionList(dir);
    const settings: ImapSettings = { ...parseImapUrl(`imaps://bounces@127.0.0.1:${port}`), password: { env: 'SENDWELL_TEST_IMAP_PW' }, folder: 'INBOX', processedFolder: 'done', pollIntervalMs: 60_000 };
    try {
      await assert.rejects(pollImap(settings, { store, suppression, log: nullMailLog }, { env: {} }), (e: unknown) => e instanceof SendwellError && e.code === 'ESECRET');
      await assert.rejects(pollImap(settings, { store, suppression, log: nullMailLog }, { env: { SENDWELL_TEST_IMAP_PW: 'x' }, timeoutMs: 5000 }), (e: unknown) => e instanceof SendwellError && e.code === 'ECONNECTION' && e.temporary);
    } finally {
      store.close();
      suppression.close();
    }
  });
});

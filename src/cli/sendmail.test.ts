import assert from 'node:assert/strict';
import { mkdtempSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import { describe, it } from 'node:test';
import { SendwellError } from '../errors.js';
import { resolveConfig, validateConfig, type ResolvedConfig } from '../config/load.js';
import { formatDate } from '../message/compose.js';
import { lintMessage, DEFAULT_POLICY } from '../policy/index.js';
import { resolveStateDir } from './state-dir.js';
import {
  DotLineScanner,
  isLocalSender,
  isSendwellReceived,
  localRecipient,
  parseSendmailArgs,
  prepareMessage,
  readMessage,
  relayLoopsBack,
  resolveRecipient,
  runSmtpDialogue,
  sendmailExitCode,
  sendmailStateDir,
  smtpReplyFor,
  type PrepareContext,
  type SmtpHandlers,
  type SubmissionInput,
} from './sendmail.js';

function usageError(fn: () => unknown, pattern: RegExp): void {
  assert.throws(fn, (e: unknown) => e instanceof SendwellError && e.code === 'EUSAGE' && pattern.test(e.message) && e.hint !== '');
}

describe('parseSendmailArgs', () => {
  it('the real callers: cron, PHP, mailutils, bsd mail, git send-email, logwatch, smartd', () => {
    const cron = parseSendmailArgs(['-FCronDaemon', '-i', '-B8BITMIME', '-oem', 'user']);
    assert.deepEqual(
      { full: cron.fullName, dots: cron.ignoreDots, body: cron.bodyType, rcpt: cron.recipients, warnings: cron.warnings, mode: cron.mode },
      { full: 'CronDaemon', dots: true, body: '8BITMIME', rcpt: ['user'], warnings: [], mode: 'deliver' },
    );
    const php = parseSendmailArgs(['-t', '-i']);
    assert.equal(php.extractRecipients, true);
    assert.equal(php.ignoreDots, true);
    assert.deepEqual(php.recipients, []);
    const mailutils = parseSendmailArgs(['-oi', '-t']);
    assert.equal(mailutils.ignoreDots && mailutils.extractRecipients, true);
    const bsd = parseSendmailArgs(['-i', '--', '-weird@example.test']);
    assert.deepEqual(bsd.recipients, ['-weird@example.test']);
    const git = parseSendmailArgs(['-i', '-f', 'from@example.test', 'rcpt1@example.test', 'rcpt2@example.test']);
    assert.equal(git.sender, 'from@example.test');
    assert.deepEqual(git.recipients, ['rcpt1@example.test', 'rcpt2@example.test']);
    const logwatch = parseSendmailArgs(['-t']);
    assert.equal(logwatch.ignoreDots, false, 'without -i a lone dot ends the message');
    assert.deepEqual(parseSendmailArgs(['-i', 'root', 'admin@example.test']).recipients, ['root', 'admin@example.test']);
  });

  it('getopt clusters and glued or separate arguments', () => {
    const a = parseSendmailArgs(['-tif', 'jane@example.test']);
    assert.equal(a.extractRecipients && a.ignoreDots, true);
    assert.equal(a.sender, 'jane@example.test');
    assert.equal(parseSendmailArgs(['-fjane@example.test', 'x']).sender, 'jane@example.test');
    assert.equal(parseSendmailArgs(['-r', '<jane@example.test>', 'x']).sender, 'jane@example.test');
    assert.equal(parseSendmailArgs(['-f', '<>', 'x']).sender, '');
    assert.equal(parseSendmailArgs(['-F', 'Jane Doe', 'x']).fullName, 'Jane Doe');
    assert.equal(parseSendmailArgs(['-o', 'i', 'x']).ignoreDots, true);
    assert.equal(parseSendmailArgs(['-vt']).verbose, true);
  });

  it('DSN flags are validated (64 on nonsense)', () => {
    const a = parseSendmailArgs(['-N', 'success,FAILURE', '-R', 'hdrs', '-V', 'env-1', 'x']);
    assert.deepEqual(a.dsnNotify, ['SUCCESS', 'FAILURE']);
    assert.equal(a.dsnRet, 'HDRS');
    assert.equal(a.envid, 'env-1');
    assert.deepEqual(parseSendmailArgs(['-Nnever', 'x']).dsnNotify, ['NEVER']);
    usageError(() => parseSendmailArgs(['-N', 'sometimes', 'x']), /-N sometimes/);
    usageError(() => parseSendmailArgs(['-N', 'never,failure', 'x']), /-N/);
    usageError(() => parseSendmailArgs(['-R', 'body', 'x']), /-R body/);
    usageError(() => parseSendmailArgs(['-V', 'has space', 'x']), /-V/);
  });

  it('delivery modes: -odq/-odd queue only, -odi/-odb attempt now, -O DeliveryMode=q', () => {
    assert.equal(parseSendmailArgs(['-odq', 'x']).deliveryMode, 'queue');
    assert.equal(parseSendmailArgs(['-odd', 'x']).deliveryMode, 'queue');
    assert.equal(parseSendmailArgs(['-odb', 'x']).deliveryMode, 'background');
    assert.equal(parseSendmailArgs(['-odi', 'x']).deliveryMode, 'interactive');
    assert.equal(parseSendmailArgs(['-O', 'DeliveryMode=q', 'x']).deliveryMode, 'queue');
    assert.equal(parseSendmailArgs(['x']).deliveryMode, 'interactive');
  });

  it('modes: -bs, -bp, -bv, -bi/-I, -bm, -q (and -q30m), --help; -bd and others are usage errors', () => {
    assert.equal(parseSendmailArgs(['-bs']).mode, 'smtp');
    assert.equal(parseSendmailArgs(['-bp']).mode, 'print-queue');
    assert.equal(parseSendmailArgs(['-b', 'p']).mode, 'print-queue');
    assert.equal(parseSendmailArgs(['-bv', 'root']).mode, 'verify');
    assert.equal(parseSendmailArgs(['-bi']).mode, 'init-aliases');
    assert.equal(parseSendmailArgs(['-I']).mode, 'init-aliases');
    assert.equal(parseSendmailArgs(['-bm', 'x']).mode, 'deliver');
    assert.equal(parseSendmailArgs(['-q']).mode, 'run-queue');
    const q30 = parseSendmailArgs(['-q30m']);
    assert.equal(q30.mode, 'run-queue');
    assert.match(q30.warnings[0]!, /interval is ignored/);
    assert.match(parseSendmailArgs(['-qIABC']).warnings[0]!, /selection is ignored/);
    assert.equal(parseSendmailArgs(['--help']).mode, 'help');
    usageError(() => parseSendmailArgs(['-bd', '-q30m']), /daemon/);
    usageError(() => parseSendmailArgs(['-bt']), /-bt is not supported/);
    usageError(() => parseSendmailArgs(['-bv']), /-bv needs recipients/);
    assert.match(parseSendmailArgs(['-bp', 'root']).warnings[0]!, /recipients ignored/);
  });

  it('ignored flags with an argument still consume it (never a recipient), with a warning', () => {
    for (const [flag, value] of [['-C', '/etc/mail/sendmail.cf'], ['-X', '/var/www/html/shell.php'], ['-h', '17'], ['-O', 'Timeout.queuereturn=1d'], ['-D', '/tmp/debug'], ['-d', '0.1'], ['-M', 'rs'], ['-Q', 'reason']] as const) {
      const sep = parseSendmailArgs([flag, value, 'jane@example.test']);
      assert.deepEqual(sep.recipients, ['jane@example.test'], `${flag} ${value}`);
      assert.equal(sep.warnings.length, 1, flag);
      const glued = parseSendmailArgs([`${flag}${value}`, 'jane@example.test']);
      assert.deepEqual(glued.recipients, ['jane@example.test'], `${flag}${value}`);
    }
    const quiet = parseSendmailArgs(['-L', 'label', '-pESMTP', '-e', 'm', '-oem', '-om', '-m', '-U', '-c', '-s', '-Am', 'x']);
    assert.deepEqual(quiet.recipients, ['x']);
    assert.deepEqual(quiet.warnings, []);
  });

  it('unknown flags are ignored with a warning, never a crash; a missing argument of an ignored flag too', () => {
    const a = parseSendmailArgs(['-Zzz', '--version', '-oQ/var/spool/mqueue', '-Bbinarymime', '-O', 'Bogus', 'x']);
    assert.deepEqual(a.recipients, ['x']);
    assert.equal(a.warnings.length, 5, a.warnings.join('\n'));
    assert.match(a.warnings[0]!, /unknown flag -Zzz/);
    assert.deepEqual(parseSendmailArgs(['-t', '-X']).warnings, ['ignored -X without its argument']);
  });

  it('usage errors (64): no recipients, a missing -f argument, an option after the recipients', () => {
    usageError(() => parseSendmailArgs([]), /no recipients/);
    usageError(() => parseSendmailArgs(['-i']), /no recipients/);
    usageError(() => parseSendmailArgs(['-i', '-f']), /-f needs an argument/);
    usageError(() => parseSendmailArgs(['jane@example.test', '-oi']), /after the recipients/);
  });

  it('is pure: the same argv gives the same result and argv is not changed', () => {
    const argv = ['-t', '-f', 'a@example.test', '-X', 'log'];
    const copy = [...argv];
    assert.deepEqual(parseSendmailArgs(argv), parseSendmailArgs(argv));
    assert.deepEqual(argv, copy);
  });
});

function config(extra: Record<string, unknown> = {}): ResolvedConfig {
  return resolveConfig(validateConfig({ sender: { from: 'Ops Team <ops@example.test>' }, aliases: { root: 'admin@example.test', postmaster: 'root', team: ['a@example.test', 'b@example.test'] }, ...extra }, 'test'), null);
}

describe('config: [aliases] and [sendmail]', () => {
  const invalid = (raw: Record<string, unknown>, pattern: RegExp) =>
    assert.throws(() => resolveConfig(validateConfig(raw, 'x.toml'), 'x.toml'), (e: unknown) => e instanceof SendwellError && e.code === 'ECONFIG' && pattern.test(e.message));

  it('defaults: no aliases, max_hops 25, no append_domain', () => {
    const c = resolveConfig(validateConfig({}, 'defaults'), null);
    assert.deepEqual(c.aliases, {});
    assert.deepEqual(c.sendmail, { maxHops: 25 });
  });

  it('aliases: a string or a list, names case-insensitive; append_domain lower-cased', () => {
    const c = resolveConfig(validateConfig({ aliases: { Root: 'admin@example.org', backup: ['a@example.org', 'root'] }, sendmail: { append_domain: 'Example.ORG', max_hops: 10 } }, 'x.toml'), null);
    assert.deepEqual(c.aliases, { root: ['admin@example.org'], backup: ['a@example.org', 'root'] });
    assert.deepEqual(c.sendmail, { maxHops: 10, appendDomain: 'example.org' });
  });

  it('names the key, the value and the fix for bad entries', () => {
    invalid({ aliases: { 'bad name': 'x@example.org' } }, /aliases\.bad name: the key is not a local user name/);
    invalid({ aliases: { root: '|/usr/bin/procmail' } }, /aliases\.root = "\|\/usr\/bin\/procmail" is not an address or a local name/);
    invalid({ aliases: { root: '/var/mail/root' } }, /pipes and files are not supported/);
    invalid({ aliases: { root: [] } }, /aliases\.root/);
    invalid({ aliases: { Root: 'a@example.org', root: 'b@example.org' } }, /"root" twice/);
    invalid({ sendmail: { append_domain: 'localhost' } }, /sendmail\.append_domain = "localhost" is not a domain/);
    invalid({ sendmail: { max_hops: 0 } }, /sendmail\.max_hops/);
    invalid({ sendmail: { maxhops: 3 } }, /unknown key "maxhops" in \[sendmail\]/);
  });
});

describe('local recipients and senders', () => {
  it('classifies local recipients: no @, a short host name, localhost', () => {
    assert.equal(localRecipient('root'), 'root');
    assert.equal(localRecipient('user@shorthost'), 'user');
    assert.equal(localRecipient('user@localhost'), 'user');
    assert.equal(localRecipient('user@box.localdomain'), 'user');
    assert.equal(localRecipient('user@example.test'), undefined);
    assert.equal(localRecipient('user@[192.0.2.1]'), undefined);
  });

  it('classifies local senders, including this host by its FQDN', () => {
    for (const s of ['root', 'www-data', 'user@shorthost', 'root@localhost', 'jane@web1.example.test']) assert.equal(isLocalSender(s, ['web1.example.test']), true, s);
    for (const s of ['jane@example.test', 'a b', '']) assert.equal(isLocalSender(s, ['web1.example.test']), false, s);
  });

  it('resolves aliases (chains, lists, case-insensitive), append_domain, and refuses unknown local users (67)', () => {
    const c = config();
    assert.deepEqual(resolveRecipient('root', c), ['admin@example.test']);
    assert.deepEqual(resolveRecipient('ROOT@localhost', c), ['admin@example.test']);
    assert.deepEqual(resolveRecipient('postmaster', c), ['admin@example.test']);
    assert.deepEqual(resolveRecipient('team', c), ['a@example.test', 'b@example.test']);
    assert.deepEqual(resolveRecipient('<Jane.Doe@Example.TEST>', c), ['Jane.Doe@example.test']);
    assert.throws(
      () => resolveRecipient('cronuser', c),
      (e: unknown) => e instanceof SendwellError && e.code === 'EADDRESS' && /unknown local user "cronuser"/.test(e.message) && /\[aliases\]/.test(e.hint) && sendmailExitCode(e) === 67,
    );
    assert.deepEqual(resolveRecipient('cronuser', config({ sendmail: { append_domain: 'example.org' } })), ['cronuser@example.org']);
    assert.throws(() => resolveRecipient('root', c, { noAliases: true }), /unknown local user/);
    assert.throws(() => resolveRecipient('"a b"@example.test', c), (e: unknown) => e instanceof SendwellError && sendmailExitCode(e) === 65);
    const loop = config({ aliases: { a: 'b', b: 'a' } });
    assert.throws(() => resolveRecipient('a', loop), /alias loop: a → b → a/);
  });
});

const NOW = new Date('2026-12-04T17:00:00Z');
function ctx(c: ResolvedConfig = config(), over: Partial<PrepareContext> = {}): PrepareContext {
  return {
    config: c,
    now: NOW,
    formatDate,
    idLeft: () => 'left.1',
    receivedId: 'ABCDEF123456',
    host: 'web1.example.test',
    uid: 1000,
    login: 'www-data',
    localDomains: ['web1.example.test'],
    ...over,
  };
}
function input(raw: string, over: Partial<SubmissionInput> = {}): SubmissionInput {
  return { raw: Buffer.from(raw), recipients: [], extract: false, ...over };
}
const header = (raw: Buffer, name: string) => new RegExp(`^${name}: (.*(?:\\r\\n[ \\t].*)*)\\r$`, 'mi').exec(raw.toString('utf8'))?.[1]?.replace(/\r\n[ \t]/g, ' ');

describe('prepareMessage', () => {
  it('cron: From root is masqueraded, the original kept; To user qualified via the alias; Date, Message-ID, Received added', async () => {
    const cron = 'From: root (Cron Daemon)\nTo: root\nSubject: Cron <root@web1> backup\nMIME-Version: 1.0\nContent-Type: text/plain; charset=UTF-8\nContent-Transfer-Encoding: 8bit\n\nall fine\n';
    const p = prepareMessage(input(cron, { recipients: ['root'], fullName: 'CronDaemon' }), ctx(config(), { login: 'root' }));
    assert.equal(p.envelopeFrom, 'ops@example.test');
    assert.deepEqual(p.recipients, ['admin@example.test']);
    assert.equal(header(p.raw, 'From'), 'Cron Daemon <ops@example.test>');
    assert.equal(header(p.raw, 'X-Sendwell-Original-Sender'), 'root (login, From)');
    assert.equal(header(p.raw, 'To'), 'admin@example.test');
    assert.equal(header(p.raw, 'Date'), formatDate(NOW));
    assert.equal(header(p.raw, 'Message-ID'), '<left.1@example.test>');
    assert.equal(p.messageId, '<left.1@example.test>');
    assert.equal(header(p.raw, 'Received'), `from local (uid 1000) by web1.example.test (sendwell) id ABCDEF123456; ${formatDate(NOW)}`);
    assert.match(p.raw.toString(), /^Received: /, 'Received is the first header');
    assert.ok(p.changes.includes('added Date') && p.changes.includes('added Message-ID'));
    assert.match(p.raw.toString(), /\r\n\r\nall fine\r\n$/);
    // The result passes the guide.
    const report = await lintMessage(p.raw, { now: NOW, envelope: { from: p.envelopeFrom, to: p.recipients }, submission: true, policy: DEFAULT_POLICY });
    assert.equal(report.ok, true, JSON.stringify(report.findings));
  });

  it('no From at all: adds the configured sender with -F as the name', () => {
    const p = prepareMessage(input('Subject: hi\n\nbody\n', { recipients: ['jane@example.test'], fullName: 'Backup Job' }), ctx());
    assert.equal(header(p.raw, 'From'), 'Backup Job <ops@example.test>');
    assert.equal(header(p.raw, 'X-Sendwell-Original-Sender'), 'www-data (login, no From)');
    assert.equal(header(p.raw, 'To'), 'undisclosed-recipients:;');
  });

  it('a qualified From (PHP) stays; the login envelope sender becomes the configured bounce address', () => {
    const p = prepareMessage(input('To: bob@example.test\nSubject: Order 42\nFrom: Shop <shop@example.test>\n\nThanks\n', { extract: true }), ctx());
    assert.equal(header(p.raw, 'From'), 'Shop <shop@example.test>');
    assert.equal(p.envelopeFrom, 'ops@example.test');
    assert.deepEqual(p.recipients, ['bob@example.test']);
  });

  it('without [sender] from: the envelope follows a qualified From; an explicit -f is kept and used for a missing From', () => {
    const bare = config({ sender: {} });
    const p = prepareMessage(input('From: Shop <shop@example.test>\nSubject: s\n\nx\n', { recipients: ['bob@example.test'] }), ctx(bare));
    assert.equal(p.envelopeFrom, 'shop@example.test');
    const f = prepareMessage(input('Subject: s\n\nx\n', { recipients: ['bob@example.test'], sender: 'jane@example.test', fullName: 'Jane' }), ctx(bare));
    assert.equal(f.envelopeFrom, 'jane@example.test');
    assert.equal(header(f.raw, 'From'), 'Jane <jane@example.test>');
    assert.equal(header(f.raw, 'X-Sendwell-Original-Sender'), undefined);
    // Nothing to masquerade with: left as is, the policy refuses it (R3) later.
    const none = prepareMessage(input('Subject: s\n\nx\n', { recipients: ['bob@example.test'] }), ctx(bare));
    assert.equal(none.envelopeFrom, 'www-data');
    assert.equal(header(none.raw, 'From'), undefined);
  });

  it('-f with a local account is masqueraded too; -f <> keeps the null sender', () => {
    const p = prepareMessage(input('From: www-data@web1.example.test\nSubject: s\n\nx\n', { recipients: ['bob@example.test'], sender: 'www-data' }), ctx());
    assert.equal(p.envelopeFrom, 'ops@example.test');
    assert.equal(header(p.raw, 'From'), 'Ops Team <ops@example.test>');
    assert.equal(header(p.raw, 'X-Sendwell-Original-Sender'), 'www-data (envelope sender), www-data@web1.example.test (From)');
    assert.equal(prepareMessage(input('From: a@example.test\n\nx\n', { recipients: ['b@example.test'], sender: '' }), ctx()).envelopeFrom, '');
  });

  it('-t: recipients from To, Cc and Bcc (deduplicated, aliases applied); Bcc removed; Resent- headers win', () => {
    const p = prepareMessage(
      input('From: a@example.test\nTo: Bob <bob@example.test>, root\nCc: bob@example.test\nBcc: audit@example.test\nSubject: s\n\nx\n', { extract: true, recipients: ['extra@example.test'] }),
      ctx(),
    );
    assert.deepEqual(p.recipients, ['extra@example.test', 'bob@example.test', 'admin@example.test', 'audit@example.test']);
    assert.equal(header(p.raw, 'Bcc'), undefined);
    assert.equal(header(p.raw, 'To'), 'Bob <bob@example.test>, admin@example.test');
    const resent = prepareMessage(input('From: a@example.test\nTo: bob@example.test\nResent-To: carol@example.test\nResent-Bcc: dave@example.test\n\nx\n', { extract: true }), ctx());
    assert.deepEqual(resent.recipients, ['carol@example.test', 'dave@example.test']);
    assert.doesNotMatch(resent.raw.toString(), /Resent-Bcc/);
  });

  it('refuses: no recipients (64), an unknown local recipient (67), an unreadable To with -t (65)', () => {
    assert.throws(() => prepareMessage(input('Subject: s\n\nx\n', { extract: true }), ctx()), (e: unknown) => e instanceof SendwellError && sendmailExitCode(e) === 64);
    assert.throws(() => prepareMessage(input('To: cronuser\n\nx\n', { extract: true }), ctx()), (e: unknown) => e instanceof SendwellError && sendmailExitCode(e) === 67);
    assert.throws(() => prepareMessage(input('To: "unterminated\n\nx\n', { extract: true }), ctx()), (e: unknown) => e instanceof SendwellError && sendmailExitCode(e) === 65);
  });

  it('keeps an existing Date and Message-ID, and every other header byte for byte', () => {
    const raw = 'From: Jane <jane@example.test>\r\nTo: bob@example.test\r\nDate: Fri, 04 Dec 2026 17:00:00 +0000\r\nMessage-ID: <x@example.test>\r\nX-Mailer: git-send-email 2.43.0\r\nSubject: [PATCH] fix\r\n\r\nbody\r\n';
    const p = prepareMessage(input(raw, { recipients: ['bob@example.test'], sender: 'jane@example.test' }), ctx());
    const text = p.raw.toString();
    assert.equal(text.slice(text.indexOf('\r\nFrom: ') + 2), raw);
    assert.equal(p.messageId, '<x@example.test>');
    assert.deepEqual(p.changes, ['Received id ABCDEF123456']);
  });

  it('refuses mail loops: more than max_hops Received headers, or more than 3 by sendwell', () => {
    const ours = (n: number) => Array.from({ length: n }, (_, i) => `Received: from local (uid 1) by h${i} (sendwell) id X; Fri, 04 Dec 2026 17:00:00 +0000\n`).join('');
    assert.ok(isSendwellReceived('from local (uid 1) by h (sendwell) id X; date'));
    assert.ok(!isSendwellReceived('from mx by mail.example.test (Postfix) id X; date'));
    const ok = prepareMessage(input(`${ours(3)}From: a@example.test\n\nx\n`, { recipients: ['b@example.test'] }), ctx());
    assert.equal(ok.raw.toString().match(/\(sendwell\)/g)!.length, 4);
    const loop = (e: unknown) => e instanceof SendwellError && e.code === 'EMESSAGE' && /mail loop/.test(e.message) && /relay/.test(e.hint) && sendmailExitCode(e) === 65;
    assert.throws(() => prepareMessage(input(`${ours(4)}From: a@example.test\n\nx\n`, { recipients: ['b@example.test'] }), ctx()), loop);
    const others = (n: number) => Array.from({ length: n }, (_, i) => `Received: from a by mx${i}.example.test (Postfix) id Y;\n\tFri, 04 Dec 2026 17:00:00 +0000\n`).join('');
    assert.throws(() => prepareMessage(input(`${others(26)}From: a@example.test\n\nx\n`, { recipients: ['b@example.test'] }), ctx()), loop);
    assert.doesNotThrow(() => prepareMessage(input(`${others(25)}From: a@example.test\n\nx\n`, { recipients: ['b@example.test'] }), ctx()));
    assert.throws(() => prepareMessage(input(`${others(3)}From: a@example.test\n\nx\n`, { recipients: ['b@example.test'] }), ctx(config({ sendmail: { max_hops: 2 } }))), loop);
  });

  it('refuses header injection through -F', () => {
    assert.throws(() => prepareMessage(input('Subject: s\n\nx\n', { recipients: ['b@example.test'], fullName: 'x\r\nBcc: victim@example.test' }), ctx()), (e: unknown) => e instanceof SendwellError && e.code === 'EHEADER');
  });
});

describe('reading stdin', () => {
  const scan = (chunks: string[]) => {
    const s = new DotLineScanner();
    for (const c of chunks) {
      const at = s.feed(Buffer.from(c));
      if (at >= 0) return at;
    }
    return s.end();
  };

  it('finds a line with a single dot (LF, CRLF or at EOF), across chunk borders', () => {
    const text = 'Subject: x\n\nline\n.\nafter\n';
    const expected = text.indexOf('\n.\n') + 1;
    assert.equal(scan([text]), expected);
    for (let i = 1; i < text.length; i++) assert.equal(scan([text.slice(0, i), text.slice(i)]), expected, `split at ${i}`);
    assert.equal(scan(text.split('')), expected, 'byte by byte');
    assert.equal(scan(['a\r\n.\r\nb']), 3);
    assert.equal(scan(['a\n.']), 2);
    assert.equal(scan(['a\n.\r']), 2);
    assert.equal(scan(['.\n']), 0);
    for (const no of ['a\n..\n', 'a\n. \n', 'a.\n', 'a\n.x\n', 'a\n.\rb\n', '']) assert.equal(scan([no]), -1, JSON.stringify(no));
  });

  it('readMessage stops at the dot without -i and reads to EOF with -i', async () => {
    const text = 'Subject: x\n\nline\n.\nafter\n';
    assert.equal((await readMessage(Readable.from([Buffer.from(text)]), false)).toString(), 'Subject: x\n\nline\n');
    assert.equal((await readMessage(Readable.from([Buffer.from(text)]), true)).toString(), text);
    await assert.rejects(readMessage(Readable.from([Buffer.alloc(100)]), true, 50), /larger than/);
  });
});

describe('state directory and config', () => {
  it('SENDWELL_STATE_DIR and state_dir as in resolveStateDir; else XDG_STATE_HOME or ~/.local/state, never the cwd', () => {
    const c = config();
    const withDir = { ...c, stateDir: '/srv/sendwell' };
    assert.equal(sendmailStateDir(withDir, {}), resolveStateDir(undefined, withDir, {}));
    assert.equal(sendmailStateDir(c, { SENDWELL_STATE_DIR: 'rel/dir' }), resolveStateDir(undefined, c, { SENDWELL_STATE_DIR: 'rel/dir' }));
    assert.equal(sendmailStateDir(withDir, { SENDWELL_STATE_DIR: '/env' }), '/env');
    assert.equal(sendmailStateDir(c, { XDG_STATE_HOME: '/xdg', HOME: '/home/jane' }), '/xdg/sendwell');
    assert.equal(sendmailStateDir(c, { XDG_STATE_HOME: 'relative', HOME: '/home/jane' }), '/home/jane/.local/state/sendwell');
    assert.equal(sendmailStateDir(c, { HOME: '/home/jane' }), '/home/jane/.local/state/sendwell');
    assert.ok(!sendmailStateDir(c, {}).startsWith(resolve('.')) || resolve('.') === '/', 'not the cwd');
  });

  it('detects a relay that is this drop-in (sendmail: pointing back at it)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'sendwell-loop-'));
    const own = join(dir, 'sendmail-bin.js');
    writeFileSync(own, '');
    symlinkSync(own, join(dir, 'sendmail'));
    assert.equal(relayLoopsBack(`sendmail:${join(dir, 'sendmail')}`, [own]), join(dir, 'sendmail'));
    assert.equal(relayLoopsBack('sendmail:/nonexistent/sendmail', [own]), undefined);
    assert.equal(relayLoopsBack('smtp://localhost:25', [own]), undefined);
  });

  it('exit codes: 75 when nothing could be saved, else the usual sysexits', () => {
    assert.equal(sendmailExitCode(new SendwellError('ECONFIG', 'x', { details: { nothingSaved: true }, temporary: true })), 75);
    assert.equal(sendmailExitCode(new SendwellError('ECONFIG', 'x')), 78);
    assert.equal(sendmailExitCode(new SendwellError('EPOLICY', 'x')), 65);
    assert.equal(sendmailExitCode(new SendwellError('EUSAGE', 'x')), 64);
  });
});

describe('-bs: the SMTP dialogue', () => {
  interface Queued {
    sender: string;
    recipients: string[];
    data: string;
    protocol: string;
  }
  function session(overrides: Partial<SmtpHandlers> = {}) {
    const input = new PassThrough();
    let output = '';
    const queued: Queued[] = [];
    const c = config();
    const handlers: SmtpHandlers = {
      sender(addr) {
        if (addr !== '' && !isLocalSender(addr)) resolveRecipient(addr, c);
      },
      recipient: (addr) => resolveRecipient(addr, c),
      async message(m) {
        queued.push({ ...m, data: m.data.toString('latin1') });
        return `QID${queued.length}`;
      },
      ...overrides,
    };
    const done = runSmtpDialogue(input, (s) => (output += s), 'host.example.test', handlers);
    return {
      queued,
      done,
      output: () => output,
      async say(text: string) {
        input.write(text);
        await new Promise((r) => setImmediate(r));
        await new Promise((r) => setImmediate(r));
      },
      end: () => input.end(),
    };
  }
  const replies = (out: string) => out.split('\r\n').filter(Boolean);
  /** The last line of each reply (multi-line replies have "-" after the code). */
  const finals = (out: string) => replies(out).filter((l) => l[3] !== '-');

  it('a full transaction with dot-unstuffing, pipelined commands and enhanced codes', async () => {
    const s = session();
    await s.say('EHLO client.example.test\r\nMAIL FROM:<jane@example.test> BODY=8BITMIME\r\nRCPT TO:<root>\r\nRCPT TO:<bob@example.test>\r\nDATA\r\n');
    await s.say('Subject: hi\r\n\r\n..leading dot\r\n.\r\n');
    await s.say('QUIT\r\n');
    await s.done;
    assert.deepEqual(replies(s.output()), [
      '220 host.example.test ESMTP sendwell (sendmail -bs)',
      '250-host.example.test',
      '250-PIPELINING',
      `250-SIZE ${64 * 1024 * 1024}`,
      '250-8BITMIME',
      '250-ENHANCEDSTATUSCODES',
      '250 HELP',
      '250 2.1.0 Ok',
      '250 2.1.5 Ok',
      '250 2.1.5 Ok',
      '354 End data with <CR><LF>.<CR><LF>',
      '250 2.0.0 Ok: queued as QID1',
      '221 2.0.0 host.example.test closing the session',
    ]);
    assert.deepEqual(s.queued, [{ sender: 'jane@example.test', recipients: ['admin@example.test', 'bob@example.test'], data: 'Subject: hi\r\n\r\n.leading dot\r\n', protocol: 'ESMTP' }]);
  });

  it('sequence errors, unknown users, bad syntax, RSET, NOOP, VRFY, unsupported extensions', async () => {
    const s = session();
    await s.say('MAIL FROM:<a@example.test>\r\n');
    await s.say('EHLO\r\nHELO client\r\nRCPT TO:<b@example.test>\r\nDATA\r\nMAIL FROM:<a@example.test> SMTPUTF8\r\nMAIL FROM:<\"a b\"@example.test>\r\n');
    await s.say('MAIL FROM:<>\r\nMAIL FROM:<a@example.test>\r\nRCPT TO:<cronuser>\r\nRCPT TO:<b@example.test> NOTIFY=NEVER\r\nDATA\r\nRSET\r\nNOOP\r\nVRFY root\r\nSTARTTLS\r\nBOGUS\r\nQUIT\r\n');
    await s.done;
    const r = finals(s.output());
    assert.deepEqual(
      r.map((l) => l.slice(0, 9)),
      ['220 host.', '503 5.5.1', '501 5.5.4', '250 host.', '503 5.5.1', '503 5.5.1', '555 5.5.4', '553 5.1.7', '250 2.1.0', '503 5.5.1', '550 5.1.1', '555 5.5.4', '554 5.5.1', '250 2.0.0', '250 2.0.0', '252 2.0.0', '502 5.5.1', '500 5.5.2', '221 2.0.0'],
      r.join('\n'),
    );
    assert.match(s.output(), /550-5\.1\.1 unknown local user "cronuser"/);
    assert.equal(s.queued.length, 0);
  });

  it('refusals at DATA keep the session usable; EOF inside DATA queues nothing', async () => {
    const s = session({
      async message() {
        throw new SendwellError('EPOLICY', 'refused by policy: R2.noreply-sender: Sender is a no-reply address', { hint: 'R2.noreply-sender: send from a real mailbox' });
      },
    });
    await s.say('HELO c\r\nMAIL FROM:<noreply@example.test>\r\nRCPT TO:<b@example.test>\r\nDATA\r\nSubject: x\r\n\r\nx\r\n.\r\nRSET\r\nMAIL FROM:<a@example.test>\r\nRCPT TO:<b@example.test>\r\nDATA\r\npartial\r\n');
    s.end();
    await s.done;
    const r = replies(s.output());
    assert.ok(r.includes('550-5.7.1 refused by policy: R2.noreply-sender: Sender is a no-reply address'), r.join('\n'));
    assert.ok(r.includes('550 5.7.1 hint: R2.noreply-sender: send from a real mailbox'), r.join('\n'));
    assert.equal(r.at(-1), '354 End data with <CR><LF>.<CR><LF>');
  });

  it('replies for errors: temporary 451, loop 554 5.4.6, never a line break inside a reply line', () => {
    assert.match(smtpReplyFor(new SendwellError('ECONFIG', 'disk full', { temporary: true, details: { nothingSaved: true } }), 'data'), /^451 4\.3\.0 disk full\r\n$/);
    assert.match(smtpReplyFor(new SendwellError('EMESSAGE', 'mail loop', { details: { loop: true } }), 'data'), /^554 5\.4\.6 mail loop/);
    assert.match(smtpReplyFor(new Error('boom'), 'data'), /^451 4\.3\.0 internal error: boom\r\n$/);
    const multi = smtpReplyFor(new SendwellError('EHEADER', 'a\rb\nc', { hint: 'x\ny' }), 'data');
    assert.deepEqual(multi.split('\r\n'), ['554-5.6.0 a b c', '554-5.6.0 hint: x', '554 5.6.0 hint: y', '']);
  });

  it('a command line over 2048 bytes is refused and the session goes on', async () => {
    const s = session();
    await s.say(`NOOP ${'x'.repeat(5000)}\r\nNOOP\r\nQUIT\r\n`);
    await s.done;
    assert.deepEqual(replies(s.output()).slice(1), ['500 5.5.2 Error: line too long', '250 2.0.0 Ok', '221 2.0.0 host.example.test closing the session']);
  });
});

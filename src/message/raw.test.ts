import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { SendwellError } from '../errors.js';
import { decodeQuotedPrintable } from '../policy/mime.js';
import { decodeEncodedWords } from '../policy/rfc2047.js';
import {
  encodeQuotedPrintable,
  encodeWords,
  FOLD_AT,
  foldField,
  formatMailboxField,
  hasLongLine,
  mimefy,
  normalizeLineEndings,
  RawMessage,
  rewriteAddresses,
  scanAddressList,
  unfold,
} from './raw.js';

const b = (s: string) => Buffer.from(s, 'latin1');

describe('raw messages: line endings, header section, body', () => {
  it('normalises LF, CRLF and bare CR to CRLF, and leaves clean input untouched', () => {
    assert.equal(normalizeLineEndings(b('a\nb\r\nc\rd\r\r\ne')).toString('latin1'), 'a\r\nb\r\nc\r\nd\r\n\r\ne');
    const clean = b('a\r\nb\r\n');
    assert.equal(normalizeLineEndings(clean), clean, 'same buffer back');
    assert.equal(normalizeLineEndings(b('')).length, 0);
  });

  it('splits on the first empty line (LFLF or CRLFCRLF) and keeps folded fields whole', () => {
    for (const nl of ['\n', '\r\n']) {
      const m = RawMessage.parse(b(['Subject: a long', '\tsubject', 'To: bob@example.test', '', 'Body', '', 'Subject: not a header', ''].join(nl)));
      assert.deepEqual(m.fields.map((f) => f.name), ['Subject', 'To']);
      assert.equal(m.get('subject'), 'a long\tsubject');
      assert.equal(m.body.toString('latin1'), 'Body\r\n\r\nSubject: not a header\r\n');
    }
  });

  it('a line that is no header starts the body (as an MTA does); a leading mbox From line is dropped', () => {
    const m = RawMessage.parse(b('From jane Tue Dec  1 10:00:00 2026\nSubject: x\nthis is text\nmore\n'));
    assert.deepEqual(m.fields.map((f) => f.name), ['Subject']);
    assert.equal(m.body.toString('latin1'), 'this is text\r\nmore\r\n');
    assert.match(m.toBuffer().toString('latin1'), /^Subject: x\r\n\r\nthis is text\r\n/);
  });

  it('headers only, no body; a body without a final newline gets one', () => {
    assert.equal(RawMessage.parse(b('Subject: x\n')).toBuffer().toString('latin1'), 'Subject: x\r\n\r\n');
    assert.equal(RawMessage.parse(b('Subject: x\n\nno newline')).toBuffer().toString('latin1'), 'Subject: x\r\n\r\nno newline\r\n');
    assert.equal(RawMessage.parse(b('')).toBuffer().toString('latin1'), '\r\n');
  });

  it('keeps 8-bit header bytes exactly (UTF-8 and Latin-1 alike)', () => {
    const input = Buffer.concat([b('Subject: '), Buffer.from('Grüße', 'utf8'), b('\nX-Old: '), Buffer.from([0xe4]), b('\n\nbody\n')]);
    const out = RawMessage.parse(input).toBuffer();
    assert.ok(out.includes(Buffer.from('Subject: Grüße\r\n', 'utf8')));
    assert.ok(out.includes(Buffer.concat([b('X-Old: '), Buffer.from([0xe4]), b('\r\n')])));
  });

  it('accepts the obsolete space before the colon as a field (the linter judges it)', () => {
    const m = RawMessage.parse(b('Subject : x\n\nb\n'));
    assert.equal(m.fields[0]!.name, 'Subject');
    assert.equal(m.body.toString(), 'b\r\n');
  });
});

describe('raw messages: lookup and editing', () => {
  const msg = () => RawMessage.parse(b('Received: from a\n by b; date\nTo: x@example.test\nBcc: hidden@example.test\nReceived: from c\nSubject: s\n\nbody\n'));

  it('looks fields up case-insensitively, unfolded', () => {
    const m = msg();
    assert.equal(m.get('RECEIVED'), 'from a by b; date');
    assert.deepEqual(m.getAll('received'), ['from a by b; date', 'from c']);
    assert.equal(m.count('Received'), 2);
    assert.equal(m.count('Received', (v) => v.includes('by b')), 1);
    assert.equal(m.has('Date'), false);
    assert.equal(m.get('Date'), undefined);
  });

  it('adds at the top or the bottom, removes and replaces, and leaves the rest byte for byte', () => {
    const m = msg();
    m.add('Received', 'from local (uid 1) by h (sendwell) id X; Fri, 04 Dec 2026 17:00:00 +0000', 'top');
    m.add('Date', 'Fri, 04 Dec 2026 17:00:00 +0000');
    assert.equal(m.remove('bcc'), 1);
    assert.equal(m.replace('Subject', 'new'), true);
    assert.equal(m.replace('Nope', 'x'), false);
    assert.equal(
      m.toBuffer().toString('latin1'),
      'Received: from local (uid 1) by h (sendwell) id X;\r\n\tFri, 04 Dec 2026 17:00:00 +0000\r\n' +
        'Received: from a\r\n by b; date\r\nTo: x@example.test\r\nReceived: from c\r\nSubject: new\r\n' +
        'Date: Fri, 04 Dec 2026 17:00:00 +0000\r\n\r\nbody\r\n',
    );
  });

  it('refuses header injection: CR, LF, NUL and control characters in added values and names', () => {
    const m = msg();
    for (const v of ['x\r\nBcc: victim@example.test', 'x\nBcc: v', 'x\rBcc: v', 'x\0y', 'x\x1by']) {
      assert.throws(() => m.add('X-Test', v), (e: unknown) => e instanceof SendwellError && e.code === 'EHEADER');
      assert.throws(() => m.replace('Subject', v), (e: unknown) => e instanceof SendwellError && e.code === 'EHEADER');
    }
    assert.throws(() => m.add('X Bad', 'v'), (e: unknown) => e instanceof SendwellError && e.code === 'EHEADER');
    assert.throws(() => m.add('X-Bad:', 'v'), (e: unknown) => e instanceof SendwellError && e.code === 'EHEADER');
    assert.throws(() => m.add('X-Utf8', 'Grüße'), (e: unknown) => e instanceof SendwellError && /8-bit/.test(e.message));
    assert.equal(m.count('Bcc'), 1, 'nothing was added by the refused calls');
  });

  it('replaceField keeps 8-bit bytes that came from the message when asked to', () => {
    const m = RawMessage.parse(Buffer.concat([b('To: '), Buffer.from('Jürgen', 'utf8'), b(' <root>\n\nx\n')]));
    const f = m.all('To')[0]!;
    m.replaceField(f, m.get('To')!.replace('root', 'root@example.test'), { keep8bit: true });
    assert.ok(m.toBuffer().includes(Buffer.from('To: Jürgen <root@example.test>\r\n', 'utf8')));
    assert.throws(() => m.replaceField(f, 'a\r\nb: c', { keep8bit: true }), /line break/);
  });
});

describe('folding', () => {
  it('keeps short values on one line and folds long ones at "; " first, then at spaces', () => {
    assert.equal(foldField('Subject', 'short'), 'Subject: short');
    const r = foldField('Received', 'from local (uid 0) by vm (sendwell) id E5F82D1373AE; Fri, 04 Dec 2026 17:37:16 +0000');
    assert.equal(r, 'Received: from local (uid 0) by vm (sendwell) id E5F82D1373AE;\r\n\tFri, 04 Dec 2026 17:37:16 +0000');
    const long = foldField('To', Array.from({ length: 12 }, (_, i) => `user${i}@example.test`).join(', '));
    for (const line of long.split('\r\n')) assert.ok(line.length <= FOLD_AT, line);
    assert.equal(unfold(long).replace(/\t/g, ' '), `To: ${Array.from({ length: 12 }, (_, i) => `user${i}@example.test`).join(', ')}`);
  });

  it('refuses a value whose unbreakable word would pass 998 octets', () => {
    assert.throws(() => foldField('X-Long', 'a'.repeat(1000)), (e: unknown) => e instanceof SendwellError && e.code === 'EHEADER');
  });
});

describe('display names', () => {
  it('writes atoms as they are, quotes specials, RFC 2047-encodes non-ASCII', () => {
    assert.equal(formatMailboxField(undefined, 'ops@example.test'), 'ops@example.test');
    assert.equal(formatMailboxField('  ', 'ops@example.test'), 'ops@example.test');
    assert.equal(formatMailboxField('Cron Daemon', 'ops@example.test'), 'Cron Daemon <ops@example.test>');
    assert.equal(formatMailboxField('Doe, Jane "JD"', 'j@example.test'), '"Doe, Jane \\"JD\\"" <j@example.test>');
    const enc = formatMailboxField('Jürgen Groß', 'j@example.test');
    assert.match(enc, /^=\?UTF-8\?B\?[A-Za-z0-9+/=]+\?= <j@example\.test>$/);
    assert.equal(decodeEncodedWords(enc.replace(/ <.*$/, '')), 'Jürgen Groß');
    assert.throws(() => formatMailboxField('a\r\nBcc: x', 'j@example.test'), (e: unknown) => e instanceof SendwellError && e.code === 'EHEADER');
  });

  it('splits long non-ASCII names into encoded-words of at most 75 characters that decode back', () => {
    const name = 'Ünïcödé '.repeat(12).trim();
    const words = encodeWords(name);
    for (const w of words.split(' ')) assert.ok(w.length <= 75, w);
    assert.equal(decodeEncodedWords(words), name);
    assert.equal(encodeWords('plain'), 'plain');
  });
});

describe('scanAddressList', () => {
  const addrs = (v: string) => scanAddressList(v)?.map((x) => [x.address, x.name]);

  it('reads local names, bare addresses, Name <addr>, comments, quoted names and groups', () => {
    assert.deepEqual(addrs('root'), [['root', '']]);
    assert.deepEqual(addrs('root (Cron Daemon)'), [['root', 'Cron Daemon']]);
    assert.deepEqual(addrs('Jane Doe <jane@example.test>, bob@example.test'), [['jane@example.test', 'Jane Doe'], ['bob@example.test', '']]);
    assert.deepEqual(addrs('"Doe, Jane" <jane@example.test>'), [['jane@example.test', 'Doe, Jane']]);
    assert.deepEqual(addrs('"Cron Daemon" <root>'), [['root', 'Cron Daemon']]);
    assert.deepEqual(addrs('user@shorthost'), [['user@shorthost', '']]);
    assert.deepEqual(addrs('undisclosed-recipients:;'), []);
    assert.deepEqual(addrs('team: a@example.test, b; , c@example.test'), [['a@example.test', ''], ['b', ''], ['c@example.test', '']]);
    assert.deepEqual(addrs('x@example.test (nested (comment))'), [['x@example.test', 'nested (comment)']]);
    assert.deepEqual(addrs('=?UTF-8?B?SsO8cmdlbg==?= <j@example.test>'), [['j@example.test', '=?UTF-8?B?SsO8cmdlbg==?=']]);
  });

  it('returns null for what is not an address list', () => {
    for (const bad of ['Jane Doe', '"unterminated', '<a@example.test', 'a@example.test)', '(open', 'a <b@example.test> c', 'x;', 'group: a', '<>', 'a <b> <c>']) {
      assert.equal(scanAddressList(bad), null, bad);
    }
  });

  it('gives spans to rewrite addresses in place, leaving names and comments', () => {
    const v = 'root (Cron Daemon), Jane <jane>, bob@example.test';
    const items = scanAddressList(v)!;
    const out = rewriteAddresses(
      v,
      items.filter((x) => !x.address.includes('@')).map((x) => ({ start: x.start, end: x.end, text: `${x.address}@example.org` })),
    );
    assert.equal(out, 'root@example.org (Cron Daemon), Jane <jane@example.org>, bob@example.test');
  });
});

describe('bodies: quoted-printable and labelling unlabelled input', () => {
  it('encodes to lines of at most 76 characters that decode back byte for byte', () => {
    const body = Buffer.concat([Buffer.from(`${'x'.repeat(1500)}\r\nGröße = 3 \r\n.dot\r\ntab\tend\t\r\n`, 'utf8'), Buffer.from([0x00, 0xff, 0x0d, 0x0a])]);
    const qp = encodeQuotedPrintable(body);
    for (const line of qp.toString('latin1').split('\r\n')) {
      assert.ok(line.length <= 76, line);
      assert.doesNotMatch(line, /[ \t]$/, 'no trailing white space');
      assert.match(line, /^[\x21-\x7e \t]*$/);
    }
    assert.deepEqual(decodeQuotedPrintable(qp), body);
    assert.equal(encodeQuotedPrintable(Buffer.alloc(0)).length, 0);
  });

  it('hasLongLine counts octets between CRLFs', () => {
    assert.equal(hasLongLine(Buffer.from(`${'a'.repeat(998)}\r\nb\r\n`)), false);
    assert.equal(hasLongLine(Buffer.from(`b\r\n${'a'.repeat(999)}\r\n`)), true);
    assert.equal(hasLongLine(Buffer.from('a'.repeat(999))), true);
  });

  it('labels an unlabelled 8-bit body with its charset, like sendmail (EightBitMode=m)', () => {
    const m = RawMessage.parse(Buffer.from('Subject: s\n\nGröße\n', 'utf8'));
    assert.match(mimefy(m)!, /charset=utf-8/);
    assert.equal(m.get('MIME-Version'), '1.0');
    assert.equal(m.get('Content-Type'), 'text/plain; charset=utf-8');
    assert.equal(m.get('Content-Transfer-Encoding'), '8bit');
    assert.equal(m.body.toString('utf8'), 'Größe\r\n');
    const latin = RawMessage.parse(Buffer.concat([b('Subject: s\n\nGr'), Buffer.from([0xf6]), b('\n')]));
    mimefy(latin);
    assert.equal(latin.get('Content-Type'), 'text/plain; charset=unknown-8bit');
    const ascii = RawMessage.parse(b('Subject: s\n\nplain\n'));
    assert.equal(mimefy(ascii), undefined);
    assert.equal(ascii.has('MIME-Version'), false);
  });

  it('re-encodes text with lines over 998 octets as quoted-printable; leaves multipart and encoded bodies', () => {
    const long = 'x'.repeat(1200);
    const plain = RawMessage.parse(b(`Subject: s\n\n${long}\n`));
    assert.match(mimefy(plain)!, /quoted-printable/);
    assert.equal(plain.get('Content-Transfer-Encoding'), 'quoted-printable');
    assert.equal(decodeQuotedPrintable(plain.body).toString(), `${long}\r\n`);
    const declared = RawMessage.parse(b(`MIME-Version: 1.0\nContent-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: 8bit\n\n${long}\n`));
    mimefy(declared);
    assert.deepEqual(declared.getAll('Content-Transfer-Encoding'), ['quoted-printable']);
    const multi = RawMessage.parse(b(`MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=x\n\n--x\n\n${long}\n--x--\n`));
    assert.equal(mimefy(multi), undefined);
    const b64 = RawMessage.parse(b(`MIME-Version: 1.0\nContent-Type: text/plain\nContent-Transfer-Encoding: base64\n\n${long}\n`));
    assert.equal(mimefy(b64), undefined);
    const noVersion = RawMessage.parse(b('Content-Type: text/plain; charset=utf-8\n\nx\n'));
    assert.equal(mimefy(noVersion), 'added MIME-Version');
  });
});

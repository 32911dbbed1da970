import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { simpleParser } from 'mailparser';
import { FIXTURES, build, withAttachment } from '../../test/fixtures/lint/fixtures.js';
import { getField, getFields, parseHeaderSection } from './headers.js';
import { attachmentParts, decodeBody, decodeQuotedPrintable, decodeText, leafParts, parseMime } from './mime.js';
import { decodeEncodedWords } from './rfc2047.js';

const crlf = (...lines: string[]) => Buffer.from(lines.join('\r\n'), 'utf8');

describe('parseHeaderSection', () => {
  it('unfolds, keeps raw bytes and line numbers, finds the body', () => {
    const buf = crlf('Subject: a long', '\tsubject', 'X-A: 1', '', 'body', '');
    const s = parseHeaderSection(buf);
    assert.deepEqual(s.fields.map((f) => [f.name, f.value, f.line]), [['Subject', 'a long\tsubject', 1], ['X-A', '1', 3]]);
    assert.equal(s.fields[0]!.raw.toString(), 'Subject: a long\r\n\tsubject');
    assert.equal(buf.subarray(s.bodyStart).toString(), 'body\r\n');
    assert.equal(s.bodyLine, 5);
    assert.equal(s.hasSeparator, true);
  });
  it('handles LF-only input and headers without a body', () => {
    const s = parseHeaderSection(Buffer.from('A: 1\nB: 2\n'));
    assert.deepEqual(s.fields.map((f) => f.value), ['1', '2']);
    assert.equal(s.hasSeparator, false);
  });
  it('reports malformed lines and keeps going', () => {
    const s = parseHeaderSection(crlf(' leading continuation', 'A: 1', 'no colon here', 'B: 2', '', ''));
    assert.deepEqual(s.malformed.map((m) => m.line), [1, 3]);
    assert.deepEqual(s.fields.map((f) => f.name), ['A', 'B']);
  });
  it('decodes UTF-8 values, falls back to Latin-1, and looks up case-insensitively', () => {
    const s = parseHeaderSection(Buffer.concat([Buffer.from('Subject: Grüße\r\nX-L: '), Buffer.from([0xe4]), Buffer.from('\r\nsubject: again\r\n\r\n')]));
    assert.equal(getField(s.fields, 'SUBJECT')!.value, 'Grüße');
    assert.equal(getField(s.fields, 'x-l')!.value, 'ä');
    assert.equal(getFields(s.fields, 'Subject').length, 2);
  });
});

describe('decodeEncodedWords', () => {
  it('decodes B and Q words, drops whitespace between adjacent words, keeps others', () => {
    assert.equal(decodeEncodedWords('=?UTF-8?B?R3LDvMOfZQ==?='), 'Grüße');
    assert.equal(decodeEncodedWords('=?iso-8859-1?q?Gr=FC=DFe_aus?= =?utf-8?q?_M=C3=BCnchen?='), 'Grüße aus München');
    assert.equal(decodeEncodedWords('plain =?utf-8?q?x?= text'), 'plain x text');
    assert.equal(decodeEncodedWords('=?utf-8*de?q?x?='), 'x');
    assert.equal(decodeEncodedWords('=?unknown-charset?q?abc?='), 'abc');
    assert.equal(decodeEncodedWords('=?utf-8?x?abc?='), '=?utf-8?x?abc?=');
  });
});

describe('parseMime', () => {
  it('walks nested multiparts with IMAP-style paths', () => {
    const root = parseMime(withAttachment(10));
    assert.equal(root.contentType, 'multipart/mixed');
    assert.deepEqual(leafParts(root).map((p) => [p.path, p.contentType]), [['1.1', 'text/plain'], ['1.2', 'text/html'], ['2', 'application/pdf']]);
    const [pdf] = attachmentParts(root);
    assert.equal(pdf!.filename, 'programme.pdf');
    assert.equal(decodeBody(pdf!).length, 10);
  });
  it('ignores preamble and epilogue, handles LF-only and transport padding, records problems', () => {
    const root = parseMime(Buffer.from('Content-Type: multipart/mixed; boundary=b\n\npreamble\n--b  \nContent-Type: text/plain\n\none\n--b\n\ntwo\n--b--\nepilogue\n'));
    assert.deepEqual(root.children.map((c) => decodeText(c)), ['one', 'two']);
    assert.deepEqual(root.problems, []);
    const unclosed = parseMime(crlf('Content-Type: multipart/mixed; boundary=b', '', '--b', '', 'x'));
    assert.equal(unclosed.children.length, 1);
    assert.match(unclosed.problems[0]!, /not closed/);
    assert.match(parseMime(crlf('Content-Type: multipart/mixed', '', 'x')).problems[0]!, /without a boundary/);
  });
  it('does not take a longer boundary for the delimiter', () => {
    const root = parseMime(crlf('Content-Type: multipart/mixed; boundary=b', '', '--b', '', 'x', '--bb', 'y', '--b--', ''));
    assert.equal(root.children.length, 1);
    assert.equal(decodeText(root.children[0]!), 'x\r\n--bb\r\ny');
  });
  it('defaults: text/plain, message/rfc822 in a digest, text/plain for an invalid type', () => {
    assert.equal(parseMime(crlf('Subject: x', '', 'body')).contentType, 'text/plain');
    assert.equal(parseMime(crlf('Content-Type: garbage', '', 'body')).contentType, 'text/plain');
    const digest = parseMime(crlf('Content-Type: multipart/digest; boundary=d', '', '--d', '', 'Subject: inner', '', 'x', '--d--', ''));
    assert.equal(digest.children[0]!.contentType, 'message/rfc822');
  });
  it('decodes quoted-printable', () => {
    assert.equal(decodeQuotedPrintable(Buffer.from('Gr=C3=BC=C3=9Fe =\r\nan alle=3D=\nx')).toString('utf8'), 'Grüße an alle=x');
  });

  it('agrees with mailparser on attachment sizes', async () => {
    for (const raw of [withAttachment(600), withAttachment(100_000), ...FIXTURES.filter((f) => f.name.startsWith('R9')).map((f) => f.raw)]) {
      const mine = attachmentParts(parseMime(raw)).reduce((n, p) => n + decodeBody(p).length, 0);
      const theirs = (await simpleParser(raw)).attachments.reduce((n, a) => n + a.size, 0);
      assert.equal(mine, theirs);
    }
  });

  it('sees the real parts where mailparser synthesises text from HTML', async () => {
    const raw = build({ set: { 'Content-Type': 'text/html; charset=utf-8' }, body: ['<p>Hello</p>', ''] });
    const parsed = await simpleParser(raw);
    assert.ok(typeof parsed.text === 'string' && parsed.text.includes('Hello'), 'mailparser offers a text version');
    assert.deepEqual(leafParts(parseMime(raw)).map((p) => p.contentType), ['text/html']);
  });
});

import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { simpleParser } from 'mailparser';
import { SendwellError } from '../errors.js';
import { composeMail, formatDate, type Mail } from './compose.js';

// Golden files are written in this zone; H5 wants local time in Date.
process.env.TZ = 'Europe/Berlin';
const GOLDEN = new URL('../../test/fixtures/golden/', import.meta.url);
const fixed = { clock: () => new Date('2026-12-04T16:30:00Z'), idGenerator: () => 'golden.0001' };

async function golden(name: string, mail: Mail): Promise<Buffer> {
  const { raw } = await composeMail(mail, fixed);
  const file = new URL(`${name}.eml`, GOLDEN);
  if (process.env.UPDATE_GOLDEN || !existsSync(file)) writeFileSync(file, raw);
  assert.equal(raw.toString('utf8'), readFileSync(file, 'utf8'), `golden file ${name}.eml differs (UPDATE_GOLDEN=1 to rewrite after review)`);
  return raw;
}

function assertWireSafe(raw: Buffer): void {
  const s = raw.toString('latin1');
  assert.doesNotMatch(s, /\r(?!\n)|(?<!\r)\n/, 'CRLF only: no bare CR or LF');
  for (const line of s.split('\r\n')) assert.ok(Buffer.byteLength(line, 'latin1') <= 998, `line over 998 octets: ${line.slice(0, 40)}`);
}

describe('composeMail', () => {
  it('writes the guide sample (H5): UTF-8 text as quoted-printable, Name <addr>, local Date, Message-ID on the sender domain', async () => {
    const raw = await golden('h5-sample', {
      from: 'Jürgen Müller <juergen.mueller@example.test>',
      to: 'Erika Mustermann <erika@example.test>',
      subject: 'Grüße aus München',
      text: 'Hallo Erika,\n\ndie nächtliche Sicherung ist fertig: 12 Volumes, 0 Fehler.\n\nViele Grüße\n',
    });
    assertWireSafe(raw);
    const s = raw.toString();
    assert.match(s, /^Date: Fri, 04 Dec 2026 17:30:00 \+0100\r$/m);
    assert.match(s, /^Message-ID: <golden\.0001@example\.test>\r$/m);
    assert.match(s, /^From: =\?UTF-8\?Q\?J=C3=BCrgen_M=C3=BCller\?= <juergen\.mueller@example\.test>\r$/m);
    assert.match(s, /^Subject: =\?UTF-8\?Q\?Gr=C3=BC=C3=9Fe_aus_M=C3=BCnchen\?=\r$/m);
    assert.match(s, /^Content-Transfer-Encoding: quoted-printable\r$/m);
    assert.match(s, /^Auto-Submitted: auto-generated\r$/m);
    assert.match(s, /^MIME-Version: 1\.0\r$/m);
    // Human-readable source: ASCII words stay as they are.
    assert.match(s, /\r\ndie n=C3=A4chtliche Sicherung ist fertig: 12 Volumes, 0 =?\r?\n?Fehler\./);
    const parsed = await simpleParser(raw);
    assert.equal(parsed.subject, 'Grüße aus München');
    assert.equal(parsed.from?.value[0]?.name, 'Jürgen Müller');
    assert.equal(parsed.text, 'Hallo Erika,\n\ndie nächtliche Sicherung ist fertig: 12 Volumes, 0 Fehler.\n\nViele Grüße\n');
  });

  it('generates the text part from HTML (R7), text first in multipart/alternative', async () => {
    const raw = await golden('html-only', {
      from: 'Jane Doe <jane@example.test>',
      to: 'bob@example.test',
      subject: 'Report',
      html: '<h1>Report</h1><p>All <b>12</b> volumes OK. <a href="https://example.test/r/1">Details</a></p>',
    });
    assertWireSafe(raw);
    const s = raw.toString();
    assert.match(s, /Content-Type: multipart\/alternative/);
    assert.ok(s.indexOf('text/plain') < s.indexOf('text/html'), 'text/plain comes before text/html');
    const parsed = await simpleParser(raw);
    assert.match(parsed.text ?? '', /All 12 volumes OK/);
    assert.match(parsed.text ?? '', /https:\/\/example\.test\/r\/1/);
  });

  it('puts attachments in multipart/mixed, from a path, a buffer and a stream', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sendwell-att-'));
    const path = join(dir, 'report.csv');
    writeFileSync(path, 'volume,status\nA,ok\n');
    const { raw } = await composeMail(
      {
        from: 'jane@example.test',
        to: 'bob@example.test',
        subject: 'Files',
        text: 'See attached.',
        html: '<p>See attached.</p>',
        attachments: [
          { path },
          { content: Buffer.from([0, 1, 2, 255]), filename: 'blob.bin', contentType: 'application/octet-stream' },
          { content: Readable.from([Buffer.from('streamed')]), filename: 'notes.txt' },
        ],
      },
      fixed,
    );
    assertWireSafe(raw);
    assert.match(raw.toString(), /Content-Type: multipart\/mixed/);
    const parsed = await simpleParser(raw);
    assert.deepEqual(parsed.attachments.map((a) => a.filename), ['report.csv', 'blob.bin', 'notes.txt']);
    assert.deepEqual([...parsed.attachments[1]!.content], [0, 1, 2, 255]);
    assert.equal(parsed.attachments[2]!.content.toString(), 'streamed');
    assert.equal(parsed.text?.trim(), 'See attached.');
  });

  it('builds the envelope: From as default sender, explicit envelope sender, Bcc not in headers', async () => {
    const m = await composeMail({ from: 'jane@example.test', to: 'a@example.test', cc: 'b@example.test', bcc: 'c@example.test', text: 'x' }, fixed);
    assert.deepEqual(m.envelope, { from: 'jane@example.test', to: ['a@example.test', 'b@example.test', 'c@example.test'] });
    assert.doesNotMatch(m.raw.toString(), /^Bcc:/im);
    const b = await composeMail({ from: 'jane@example.test', envelopeFrom: 'bounces@example.test', to: 'a@example.test', text: 'x' }, fixed);
    assert.equal(b.envelope.from, 'bounces@example.test');
    const n = await composeMail({ from: 'jane@example.test', envelopeFrom: '', to: 'a@example.test', text: 'x' }, fixed);
    assert.equal(n.envelope.from, '');
  });

  it('writes an empty To group for Bcc-only mail and removes duplicate recipients', async () => {
    const m = await composeMail({ from: 'jane@example.test', to: 'A@example.test', bcc: ['a@EXAMPLE.test', 'b@example.test'], text: 'x' }, fixed);
    // Domains compare case-insensitively; local parts are case-sensitive (RFC 5321 §2.4).
    const dup = await composeMail({ from: 'jane@example.test', to: 'a@example.test', bcc: ['a@EXAMPLE.test', 'A@example.test'], text: 'x' }, fixed);
    assert.deepEqual(dup.envelope.to, ['a@example.test', 'A@example.test']);
    assert.deepEqual(m.envelope.to, ['A@example.test', 'a@example.test', 'b@example.test']);
    const only = await composeMail({ from: 'jane@example.test', bcc: 'b@example.test', text: 'x' }, fixed);
    assert.match(only.raw.toString(), /^To: "?undisclosed-recipients"?:;\r$/m);
  });

  it('encodes long lines and keeps dots, CRLF only, lines within 998 octets', async () => {
    const text = `${'word '.repeat(400)}\n.leading dot\nbare\rcr and lf\nend`;
    const { raw } = await composeMail({ from: 'jane@example.test', to: 'b@example.test', subject: 'x', text }, fixed);
    assertWireSafe(raw);
    const parsed = await simpleParser(raw);
    assert.match(parsed.text ?? '', /\n\.leading dot\n/);
  });

  it('uses the sender domain for Message-ID, never localhost', async () => {
    const m = await composeMail({ from: 'jane@sub.example.test', to: 'b@example.test', text: 'x' });
    assert.match(m.messageId, /^<[0-9a-z]+\.[0-9a-f]{20}@sub\.example\.test>$/);
    const m2 = await composeMail({ from: 'jane@sub.example.test', to: 'b@example.test', text: 'x' });
    assert.notEqual(m.messageId, m2.messageId);
  });

  it('honours autoSubmitted: false and custom values', async () => {
    const off = await composeMail({ from: 'jane@example.test', to: 'b@example.test', text: 'x', autoSubmitted: false }, fixed);
    assert.doesNotMatch(off.raw.toString(), /Auto-Submitted/);
    const custom = await composeMail({ from: 'jane@example.test', to: 'b@example.test', text: 'x' }, { ...fixed, autoSubmitted: 'auto-notified' });
    assert.match(custom.raw.toString(), /^Auto-Submitted: auto-notified\r$/m);
  });

  it('refuses header injection through subject, extra headers and header names', async () => {
    const cases: Array<[Mail, RegExp]> = [
      [{ subject: 'Hi\r\nBcc: victim@example.test' }, /Subject contains a line break/],
      [{ headers: { 'X-Id': 'a\nBcc: victim@example.test' } }, /header X-Id contains a line break/],
      [{ headers: [['X-Id\r\nBcc', 'x']] }, /line break/],
      [{ headers: { 'X Id': 'x' } }, /not a valid field name/],
      [{ headers: { Bcc: 'x@example.test' } }, /cannot be set through extra headers/],
      [{ headers: { 'Message-ID': '<x@example.test>' } }, /cannot be set/],
      [{ headers: { constructor: 'x\nBcc: v@example.test' } }, /line break/],
      [{ attachments: [{ content: 'x', filename: 'a\r\n.txt' }] }, /line break/],
    ];
    for (const [extra, pattern] of cases) {
      await assert.rejects(
        composeMail({ from: 'jane@example.test', to: 'b@example.test', text: 'x', ...extra }, fixed),
        (e: unknown) => e instanceof SendwellError && pattern.test(e.message) && e.hint.length > 0,
        `expected ${pattern}`,
      );
    }
  });

  it('refuses mail without From or recipients, and unreadable attachments, with hints', async () => {
    await assert.rejects(composeMail({ to: 'b@example.test', text: 'x' }), (e: SendwellError) => e.code === 'EADDRESS' && e.rule === 'R3');
    await assert.rejects(composeMail({ from: 'jane@example.test', text: 'x' }), (e: SendwellError) => e.code === 'EADDRESS' && /no recipients/.test(e.message));
    await assert.rejects(
      composeMail({ from: 'jane@example.test', to: 'b@example.test', text: 'x', attachments: [{ path: '/nonexistent/file.pdf' }] }),
      (e: SendwellError) => e.code === 'EMESSAGE' && /ENOENT/.test(e.message),
    );
  });

  it('never emits a header line that an injected value could start (property)', async () => {
    await fc.assert(
      fc.asyncProperty(fc.string({ maxLength: 60 }), fc.string({ maxLength: 60 }), async (subject, value) => {
        try {
          const { raw } = await composeMail({ from: 'jane@example.test', to: 'b@example.test', subject, text: 'x', headers: { 'X-Test': value } }, fixed);
          const head = raw.toString('latin1').split('\r\n\r\n')[0]!;
          assert.doesNotMatch(head, /^(Bcc|Injected):/im);
          assertWireSafe(raw);
        } catch (e) {
          assert.ok(e instanceof SendwellError && (e.code === 'EHEADER' || e.code === 'EADDRESS'));
        }
      }),
      { numRuns: 300, examples: [['x\r\nBcc: v@example.test', 'y'], ['x', 'y\nInjected: 1']] },
    );
  });
});

describe('formatDate', () => {
  it('writes RFC 5322 local time with the offset', () => {
    assert.equal(formatDate(new Date('2026-07-01T08:05:09Z')), 'Wed, 01 Jul 2026 10:05:09 +0200');
    assert.equal(formatDate(new Date('2026-12-24T23:59:59Z')), 'Fri, 25 Dec 2026 00:59:59 +0100');
  });
});

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { simpleParser } from 'mailparser';
import { SendwellError } from '../../errors.js';
import { has8bit } from './dotstuff.js';
import { encodeQuotedPrintable, to7bit } from './to7bit.js';

const crlf = (s: string) => s.replace(/\r?\n/g, '\r\n');

const MULTIPART = crlf(`From: Jane <jane@example.test>
To: bob@example.test
Subject: =?UTF-8?Q?Gr=C3=BC=C3=9Fe?=
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="outer"

This is a MIME message.
--outer
Content-Type: multipart/alternative; boundary=inner

--inner
Content-Type: text/plain; charset=utf-8
Content-Transfer-Encoding: 8bit

Grüße aus München — 100 € für alle.
.a line that starts with a dot
--inner
Content-Type: text/html; charset=utf-8
Content-Transfer-Encoding: 7bit

<p>plain ascii html</p>
--inner--
--outer
Content-Type: application/octet-stream; name="x.bin"
Content-Transfer-Encoding: binary
Content-Disposition: attachment; filename="x.bin"

\u00ff\u00fe binary
--outer--
`);

describe('to7bit (8BITMIME downgrade)', () => {
  it('re-encodes 8-bit text as quoted-printable and 8-bit binary as base64; the text survives parsing', async () => {
    const input = Buffer.from(MULTIPART, 'utf8');
    const out = to7bit(input);
    assert.equal(has8bit(out), false);
    const s = out.toString('latin1');
    assert.match(s, /Content-Type: text\/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\nGr=C3=BC=C3=9Fe aus M=C3=BCnchen =E2=80=94 100 =E2=82=AC f=C3=BCr alle\.\r\n\.a line/);
    assert.match(s, /Content-Disposition: attachment; filename="x\.bin"\r\nContent-Transfer-Encoding: base64\r\n/);
    assert.doesNotMatch(s, /Content-Transfer-Encoding: (8bit|binary)/);
    const parsed = await simpleParser(out);
    assert.equal(parsed.text?.trim(), 'Grüße aus München — 100 € für alle.\n.a line that starts with a dot');
    assert.equal(parsed.subject, 'Grüße');
    assert.equal(parsed.attachments.length, 1);
    assert.deepEqual(parsed.attachments[0]!.content, Buffer.from('\u00ff\u00fe binary', 'utf8'));
  });

  it('leaves 7-bit parts byte-identical (the HTML part, headers, preamble)', () => {
    const out = to7bit(Buffer.from(MULTIPART, 'utf8')).toString('latin1');
    assert.ok(out.includes('--inner\r\nContent-Type: text/html; charset=utf-8\r\nContent-Transfer-Encoding: 7bit\r\n\r\n<p>plain ascii html</p>\r\n--inner--'));
    assert.ok(out.startsWith(MULTIPART.slice(0, MULTIPART.indexOf('--outer'))));
  });

  it('returns a 7-bit message unchanged', () => {
    const m = Buffer.from(crlf('Subject: x\n\nhello\n'));
    assert.deepEqual(to7bit(m), m);
  });

  it('a non-MIME message with 8-bit body gets MIME-Version and a CTE header', async () => {
    const out = to7bit(Buffer.from(crlf('Subject: x\nContent-Type: text/plain; charset=utf-8\n\nÄrger\n'), 'utf8'));
    const s = out.toString('latin1');
    assert.match(s, /^Subject: x\r\nContent-Type: text\/plain; charset=utf-8\r\nMIME-Version: 1\.0\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n=C3=84rger\r\n$/);
    assert.equal((await simpleParser(out)).text?.trim(), 'Ärger');
  });

  it('re-encodes inside message/rfc822 parts', async () => {
    const m = crlf(`MIME-Version: 1.0
Content-Type: multipart/mixed; boundary=b

--b
Content-Type: message/rfc822
Content-Transfer-Encoding: 8bit

Subject: inner
Content-Type: text/plain; charset=utf-8
Content-Transfer-Encoding: 8bit

Füße
--b--
`);
    const out = to7bit(Buffer.from(m, 'utf8'));
    assert.equal(has8bit(out), false);
    const s = out.toString('latin1');
    assert.match(s, /Content-Type: message\/rfc822\r\nContent-Transfer-Encoding: 7bit\r\n\r\nSubject: inner/);
    assert.match(s, /F=C3=BC=C3=9Fe/);
  });

  it('refuses raw 8-bit header text (EMESSAGE), naming the header', () => {
    assert.throws(
      () => to7bit(Buffer.from(crlf('Subject: Grüße\n\nbody\n'), 'utf8')),
      (e: unknown) => e instanceof SendwellError && e.code === 'EMESSAGE' && /"Subject"/.test(e.message) && /RFC 2047/.test(e.hint),
    );
  });

  it('refuses a base64 part with raw 8-bit octets (corrupt)', () => {
    assert.throws(
      () => to7bit(Buffer.from(crlf('Content-Type: text/plain\nContent-Transfer-Encoding: base64\n\nü\n'), 'utf8')),
      (e: unknown) => e instanceof SendwellError && e.code === 'EMESSAGE',
    );
  });

  it('quoted-printable: lines of at most 76, trailing space encoded, = encoded', () => {
    const long = 'ü'.repeat(60);
    const enc = encodeQuotedPrintable(Buffer.from(`${long}\r\na = b \r\n`, 'utf8').toString('latin1'));
    for (const line of enc.split('\r\n')) assert.ok(line.length <= 76, line);
    assert.match(enc, /\r\na =3D b=20\r\n$/);
  });
});

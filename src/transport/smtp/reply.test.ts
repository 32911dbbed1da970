import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { SendwellError } from '../../errors.js';
import { MAX_REPLY_LINE_OCTETS, ReplyParser, extractEnhancedStatus, makeReply, makeReplyGeneral, type SmtpReply } from './reply.js';

const parseAll = (text: string) => new ReplyParser().push(Buffer.from(text, 'utf8'));

describe('reply parser', () => {
  it('parses a single-line reply with an enhanced status code', () => {
    const [r] = parseAll('550 5.7.1 Relay access denied\r\n');
    assert.equal(r!.code, 550);
    assert.equal(r!.enhanced, '5.7.1');
    assert.deepEqual(r!.lines, ['Relay access denied']);
    assert.equal(r!.full, '550 5.7.1 Relay access denied');
  });

  it('parses multi-line replies (EHLO) and keeps each line', () => {
    const [r] = parseAll('250-mx.example.test Hello\r\n250-PIPELINING\r\n250-SIZE 1000\r\n250 8BITMIME\r\n');
    assert.equal(r!.code, 250);
    assert.deepEqual(r!.lines, ['mx.example.test Hello', 'PIPELINING', 'SIZE 1000', '8BITMIME']);
    assert.equal(r!.enhanced, undefined);
  });

  it('strips the enhanced code from every line of a multi-line reply', () => {
    const [r] = parseAll('550-5.1.1 The email account that you tried to reach does not exist.\r\n550 5.1.1 Please try again.\r\n');
    assert.equal(r!.enhanced, '5.1.1');
    assert.equal(r!.full, '550 5.1.1 The email account that you tried to reach does not exist. Please try again.');
  });

  it('handles replies split across chunks at any byte, and several replies in one chunk', () => {
    const text = '220 ready\r\n250-a\r\n250 b\r\n354 go ahead\r\n';
    for (let cut = 0; cut <= text.length; cut++) {
      const p = new ReplyParser();
      const got = [...p.push(Buffer.from(text.slice(0, cut))), ...p.push(Buffer.from(text.slice(cut)))];
      assert.deepEqual(got.map((r) => r.code), [220, 250, 354], `cut at ${cut}`);
      assert.equal(p.hasBuffered, false);
    }
  });

  it('accepts bare LF line ends and a bare code without text', () => {
    const got = parseAll('250\n221 bye\n');
    assert.deepEqual(got.map((r) => r.full), ['250', '221 bye']);
  });

  it('recognises an enhanced code only at the start and with the right shape', () => {
    assert.equal(extractEnhancedStatus('2.0.0 Ok'), '2.0.0');
    assert.equal(extractEnhancedStatus('4.7.0 try later'), '4.7.0');
    assert.equal(extractEnhancedStatus('Ok 2.0.0'), undefined);
    assert.equal(extractEnhancedStatus('3.1.1 no such class'), undefined);
    assert.equal(extractEnhancedStatus('5.1.10'), '5.1.10');
    assert.equal(extractEnhancedStatus('5.1.1234 too long'), undefined);
    assert.equal(extractEnhancedStatus('5.01.001 x'), '5.1.1');
  });

  it('replaces control characters in the text', () => {
    const r = makeReply(250, ['ok\u0007\u001b[31m']);
    assert.equal(r.full, '250 ok  [31m');
  });

  it('refuses what is not SMTP with EPROTOCOL', () => {
    for (const bad of ['HTTP/1.1 400 Bad Request\r\n', '* OK IMAP4rev1 ready\r\n', '25 short\r\n', '250x\r\n', '150 no\r\n', '250-a\r\n251 b\r\n']) {
      assert.throws(() => parseAll(bad), (e: unknown) => e instanceof SendwellError && e.code === 'EPROTOCOL', bad);
    }
  });

  it('refuses an over-long line even before its end arrives', () => {
    const p = new ReplyParser();
    assert.throws(() => p.push(Buffer.alloc(MAX_REPLY_LINE_OCTETS + 10, 0x41)), (e: unknown) => e instanceof SendwellError && e.code === 'EPROTOCOL');
  });

  it('property: never throws anything but an EPROTOCOL SendwellError, whatever the bytes', () => {
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ maxLength: 300 }), { maxLength: 6 }), (chunks) => {
        const p = new ReplyParser();
        try {
          for (const c of chunks) p.push(Buffer.from(c));
        } catch (e) {
          return e instanceof SendwellError && e.code === 'EPROTOCOL';
        }
        return true;
      }),
      { numRuns: 500 },
    );
  });

  it('property: well-formed replies round-trip', () => {
    const text = fc.stringMatching(/^[\x20-\x7e]{0,40}$/);
    fc.assert(
      fc.property(fc.integer({ min: 200, max: 599 }), fc.array(text, { minLength: 1, maxLength: 5 }), (code, lines) => {
        const wire = lines.map((l, i) => `${code}${i < lines.length - 1 ? '-' : ' '}${l}\r\n`).join('');
        const got = new ReplyParser().push(Buffer.from(wire));
        assert.equal(got.length, 1);
        assert.equal(got[0]!.code, code);
        assert.equal(got[0]!.lines.length, lines.length);
      }),
      { numRuns: 300 },
    );
  });

  it('property: the byte-level and one-line fast paths give what the string path gives, errors included, however the bytes are chunked', () => {
    // The reference: each line decoded, matched and grouped as strings, replies built by makeReplyGeneral.
    const reference = (wire: Buffer): SmtpReply[] | string => {
      const out: SmtpReply[] = [];
      let pending: { code: number; lines: string[] } | undefined;
      const text = wire.toString('utf8');
      const complete = text.slice(0, text.lastIndexOf('\n') + 1);
      for (const raw of complete.split('\n').slice(0, -1)) {
        const line = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
        const m = /^([2-5]\d\d)([ -]|$)/.exec(line);
        if (!m) return 'EPROTOCOL';
        const code = Number(m[1]);
        if (pending && pending.code !== code) return 'EPROTOCOL';
        const lines = [...(pending?.lines ?? []), line.slice(4)];
        if (m[2] === '-') pending = { code, lines };
        else {
          out.push(makeReplyGeneral(code, lines));
          pending = undefined;
        }
      }
      return out;
    };
    const piece = fc.oneof(
      fc.constantFrom('250', '354', '421', '550', '199', '2x0', '25', '250-', '250 ', '251-'),
      fc.constantFrom(' ', '-', '2.0.0 ', '5.7.1', '4.02.003 x', '2.0.0x ', 'Ok: queued as 4AbC', 'é ü', '\u0001\u007f', '\t', '\r\n', '\n', '\r'),
      fc.stringMatching(/^[\x20-\x7e]{0,12}$/),
    );
    fc.assert(
      fc.property(fc.array(piece, { maxLength: 40 }), fc.array(fc.integer({ min: 1, max: 40 }), { maxLength: 8 }), (pieces, cuts) => {
        const wire = Buffer.from(pieces.join(''), 'utf8');
        const want = reference(wire);
        const p = new ReplyParser();
        const got: SmtpReply[] = [];
        let at = 0;
        try {
          for (const c of [...cuts, wire.length]) {
            const end = Math.min(wire.length, at + c);
            got.push(...p.push(wire.subarray(at, end)));
            at = end;
            if (at >= wire.length) break;
          }
          if (at < wire.length) got.push(...p.push(wire.subarray(at)));
        } catch (e) {
          assert.ok(e instanceof SendwellError && e.code === 'EPROTOCOL');
          assert.equal(want, 'EPROTOCOL');
          return;
        }
        assert.deepEqual(got, want);
      }),
      { numRuns: 2000 },
    );
  });

  it('property: makeReply of one line equals the general case', () => {
    const text = fc.oneof(fc.string({ maxLength: 30 }), fc.constantFrom('2.0.0 Ok', '5.7.1', ' 4.4.1  x ', '2.1.5\u0001ok', '', '   ', '2.0.0\tx'));
    fc.assert(
      fc.property(fc.integer({ min: 200, max: 599 }), text, (code, t) => assert.deepEqual(makeReply(code, [t]), makeReplyGeneral(code, [t]))),
      { numRuns: 2000 },
    );
  });
});

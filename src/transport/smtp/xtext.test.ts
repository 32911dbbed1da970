import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { dotStuff, dotStuffBytewise, dotUnstuff, has8bit } from './dotstuff.js';
import { QUEUE_ID_PATTERNS, parseQueueId } from './queue-id.js';
import { xtextDecode, xtextEncode } from './xtext.js';

describe('xtext (RFC 3461)', () => {
  it('encodes +, = and characters outside ! to ~', () => {
    assert.equal(xtextEncode('jane+tag@example.test'), 'jane+2Btag@example.test');
    assert.equal(xtextEncode('a=b c'), 'a+3Db+20c');
    assert.equal(xtextEncode('ü'), '+C3+BC');
    assert.equal(xtextEncode('<id-1@host>'), '<id-1@host>');
  });
  it('property: decode(encode(s)) === s and the encoding is printable ASCII without = or space', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary' }), (s) => {
        const e = xtextEncode(s);
        assert.match(e, /^[!-<>-~]*$/);
        assert.equal(xtextDecode(e), Buffer.from(s, 'utf8').toString('utf8'));
      }),
      { numRuns: 500 },
    );
  });
  it('property: printable ASCII (addresses, IDs) is encoded as the octet-by-octet rule says', () => {
    const byRule = (v: string) => [...Buffer.from(v, 'utf8')].map((b) => (b >= 0x21 && b <= 0x7e && b !== 0x2b && b !== 0x3d ? String.fromCharCode(b) : `+${b.toString(16).toUpperCase().padStart(2, '0')}`)).join('');
    fc.assert(
      fc.property(fc.stringMatching(/^[\x20-\x7e]{0,30}$/), (s) => assert.equal(xtextEncode(s), byRule(s))),
      { numRuns: 500 },
    );
  });
  it('refuses malformed xtext', () => {
    assert.throws(() => xtextDecode('a+4'), RangeError);
    assert.throws(() => xtextDecode('a b'), RangeError);
    assert.throws(() => xtextDecode('a+zz'), RangeError);
  });
});

describe('dot-stuffing', () => {
  it('doubles a leading dot, ends with CRLF.CRLF', () => {
    assert.equal(dotStuff(Buffer.from('a\r\n.b\r\n..c\r\n.\r\n')).toString(), 'a\r\n..b\r\n...c\r\n..\r\n.\r\n');
    assert.equal(dotStuff(Buffer.from('.start')).toString(), '..start\r\n.\r\n');
    assert.equal(dotStuff(Buffer.alloc(0)).toString(), '.\r\n');
  });
  it('turns bare LF and bare CR into CRLF, so no <LF>.<LF> can end the data early (SMTP smuggling)', () => {
    assert.equal(dotStuff(Buffer.from('a\n.\nMAIL FROM:<x>\r\n')).toString(), 'a\r\n..\r\nMAIL FROM:<x>\r\n.\r\n');
    assert.equal(dotStuff(Buffer.from('a\r.\rb')).toString(), 'a\r\n..\r\nb\r\n.\r\n');
  });
  it('property: only CRLF line ends, no lone "." line before the end, and unstuffing gives the CRLF-normalised input', () => {
    fc.assert(
      fc.property(fc.array(fc.constantFrom('a', '.', '\r', '\n', '\r\n', 'é', ' '), { maxLength: 40 }), (parts) => {
        const input = parts.join('');
        const out = dotStuff(Buffer.from(input, 'utf8')).toString('utf8');
        assert.ok(!/\r(?!\n)|(?<!\r)\n/.test(out), 'bare CR or LF');
        assert.equal(out.indexOf('\r\n.\r\n'), out.length === 3 ? -1 : out.length - 5);
        let normal = input.replace(/\r\n|\r|\n/g, '\r\n');
        if (normal !== '' && !normal.endsWith('\r\n')) normal += '\r\n';
        assert.equal(dotUnstuff(Buffer.from(out, 'utf8')).toString('utf8'), normal);
      }),
      { numRuns: 500 },
    );
  });
  it('property: the fast path for CRLF text gives the same bytes as the byte-by-byte one', () => {
    fc.assert(
      fc.property(fc.array(fc.constantFrom('a', '.', '\r\n', '\r\n.', 'é', ' ', '\n', '\r'), { maxLength: 40 }), (parts) => {
        const input = Buffer.from(parts.join(''), 'utf8');
        assert.deepEqual(dotStuff(input), dotStuffBytewise(input));
      }),
      { numRuns: 2000 },
    );
  });
  it('has8bit', () => {
    assert.equal(has8bit(Buffer.from('plain')), false);
    assert.equal(has8bit(Buffer.from('grüß')), true);
    assert.equal(has8bit(Buffer.from([0x41, 0x80])), true);
    assert.equal(has8bit(Buffer.alloc(0)), false);
  });
});

describe('relay queue ID (T2)', () => {
  for (const p of QUEUE_ID_PATTERNS) {
    it(`finds the ${p.mta} queue ID in its example reply`, () => {
      assert.ok(parseQueueId(p.example), p.example);
    });
  }
  it('golden replies', () => {
    const cases: Array<[string, string | undefined]> = [
      ['250 2.0.0 Ok: queued as 4Z1bQx0Sk9z9sBn', '4Z1bQx0Sk9z9sBn'],
      ['250 Ok: queued as 3B7C21E0DE5', '3B7C21E0DE5'],
      ['250 OK id=1rXyZa-000Abc-5D', '1rXyZa-000Abc-5D'],
      ['250 Message queued as 9F3A2C1B0D', '9F3A2C1B0D'],
      ['250 2.0.0 Message queued as <abc123@mx.example.test>', 'abc123@mx.example.test'],
      ['250 2.0.0 44T9x3Ab012345 Message accepted for delivery', '44T9x3Ab012345'],
      ['250 2.6.0 <a@b.test> [InternalId=25769803802, Hostname=EX01.example.test] Queued mail for delivery', '25769803802'],
      ['250 2.0.0 OK  1700000000 a1-20020a170906abcd.123 - gsmtp', 'a1-20020a170906abcd.123'],
      ['250 ok 1700000000 qp 12345', '12345'],
      ['250 Ok 0100018b2a3c4d5e-6f708192-a3b4-c5d6-e7f8-091a2b3c4d5e-000000', '0100018b2a3c4d5e-6f708192-a3b4-c5d6-e7f8-091a2b3c4d5e-000000'],
      ['250 OK: message queued', undefined],
      ['250 Ok', undefined],
    ];
    for (const [reply, id] of cases) assert.equal(parseQueueId(reply), id, reply);
  });
});

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { SendwellError } from '../errors.js';
import { parseAddrSpec, parseEnvelopeSender, parseMailbox, parseMailboxList } from './address.js';

function refused(fn: () => unknown, pattern: RegExp, code = 'EADDRESS'): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof SendwellError, `expected SendwellError, got ${String(err)}`);
    assert.equal(err.code, code);
    assert.match(err.message, pattern);
    assert.ok(err.hint.length > 0, 'every refusal carries a hint');
    return true;
  });
}

describe('parseMailbox', () => {
  it('parses bare addresses and Name <addr>', () => {
    assert.deepEqual(parseMailbox('jane.doe@example.test', 'to').wire, 'jane.doe@example.test');
    const a = parseMailbox('Jane Doe <jane.doe@Example.TEST>', 'from');
    assert.equal(a.name, 'Jane Doe');
    assert.equal(a.wire, 'jane.doe@example.test');
    assert.equal(a.local, 'jane.doe');
  });

  it('keeps commas in quoted display names', () => {
    const a = parseMailbox('"Doe, Jane" <jane@example.test>', 'from');
    assert.equal(a.name, 'Doe, Jane');
  });

  it('accepts { name, address } objects', () => {
    const a = parseMailbox({ name: 'Jürgen Müller', address: 'juergen@example.test' }, 'from');
    assert.equal(a.name, 'Jürgen Müller');
  });

  it('converts IDN domains to punycode for the wire', () => {
    const a = parseMailbox('info@bücher.example.test', 'to');
    assert.equal(a.asciiDomain, 'xn--bcher-kva.example.test');
    assert.equal(a.domain, 'bücher.example.test');
    assert.equal(a.wire, 'info@xn--bcher-kva.example.test');
    assert.equal(a.needsSmtputf8, false);
  });

  it('flags non-ASCII local parts as needing SMTPUTF8', () => {
    assert.equal(parseMailbox('jörg@example.test', 'to').needsSmtputf8, true);
  });

  it('refuses header injection in addresses and display names', () => {
    refused(() => parseMailbox('jane@example.test\r\nBcc: victim@example.test', 'to'), /line break/);
    refused(() => parseMailbox({ name: 'Jane\nBcc: x@example.test', address: 'jane@example.test' }, 'from'), /line break/);
    refused(() => parseMailbox('jane@example.test\0', 'to'), /NUL/);
  });

  it('refuses quoted local parts (misrouting class of GHSA-mm7p-fcc7-pg87)', () => {
    refused(() => parseMailbox('"xclow3n@gmail.com x"@internal.example.test', 'to'), /quoted local part/);
    refused(() => parseMailbox('"foo@psres.net> ORCPT=admin@admin.com"@test.example.test', 'to'), /quoted local part/);
  });

  it('refuses comments glued to domains', () => {
    refused(() => parseMailbox('user@good-corp.example.test(x)evil.example.test', 'to'), /comment/);
  });

  it('refuses malformed addresses with precise reasons', () => {
    refused(() => parseMailbox('jane', 'to'), /local@domain/);
    refused(() => parseMailbox('jane@', 'to'), /local@domain/);
    refused(() => parseMailbox('@example.test', 'to'), /local@domain/);
    refused(() => parseMailbox('ja..ne@example.test', 'to'), /local part/);
    refused(() => parseMailbox('jane@exa_mple.test', 'to'), /domain label/);
    refused(() => parseMailbox('jane@-example.test', 'to'), /domain/);
    refused(() => parseMailbox('jane@example.test.', 'to'), /trailing dot|ending in a dot/);
    refused(() => parseMailbox('jane doe@example.test', 'to'), /white space/);
    refused(() => parseMailbox('a@b@example.test', 'to'), /more than one @/);
    refused(() => parseMailbox(`${'a'.repeat(65)}@example.test`, 'to'), /longer than 64/);
    refused(() => parseMailbox('jane@192.0.2.1', 'to'), /numeric top-level/);
    refused(() => parseMailbox('Jane, Doe <jane@example.test>', 'from'), /special characters/);
  });

  it('accepts address literals, which policy then judges', () => {
    assert.equal(parseMailbox('root@[192.0.2.1]', 'from').domain, '[192.0.2.1]');
  });

  it('refuses group syntax in lists', () => {
    refused(() => parseMailboxList('team: a@example.test, b@example.test;', 'to'), /group/);
  });

  it('splits lists outside quotes', () => {
    const list = parseMailboxList(['"Doe, Jane" <jane@example.test>, bob@example.test', { address: 'c@example.test' }], 'to');
    assert.deepEqual(list.map((a) => a.wire), ['jane@example.test', 'bob@example.test', 'c@example.test']);
  });

  it('treats "" and <> as the null envelope sender', () => {
    assert.equal(parseEnvelopeSender(''), null);
    assert.equal(parseEnvelopeSender('<>'), null);
    assert.equal(parseEnvelopeSender('<bounces@example.test>')?.wire, 'bounces@example.test');
  });
});

describe('address properties', () => {
  const safe = fc.stringMatching(/^[a-z0-9]{1,10}$/);

  it('never lets CR, LF or NUL through, wherever they are', () => {
    fc.assert(
      fc.property(safe, safe, fc.constantFrom('\r', '\n', '\0', '\r\n'), fc.nat(30), (local, dom, bad, pos) => {
        const addr = `${local}@${dom}.example.test`;
        const i = pos % (addr.length + 1);
        const input = addr.slice(0, i) + bad + addr.slice(i);
        for (const attempt of [
          () => parseMailbox(input, 'to'),
          () => parseMailbox(`Name <${input}>`, 'to'),
          () => parseMailbox({ name: `N${bad}ame`, address: addr }, 'to'),
          () => parseMailboxList(input, 'to'),
        ]) {
          assert.throws(attempt, (e: unknown) => e instanceof SendwellError && e.code === 'EADDRESS');
        }
      }),
    );
  });

  it('only ever throws SendwellError, and what it accepts round-trips', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 80 }), (s) => {
        try {
          const a = parseMailbox(s, 'to');
          // Whatever is accepted has a clean wire form that parses to itself.
          assert.doesNotMatch(a.wire, /[\s"()<>,;\\]/);
          assert.equal(parseAddrSpec('to', a.wire).wire, a.wire);
        } catch (e) {
          assert.ok(e instanceof SendwellError, `non-SendwellError thrown for ${JSON.stringify(s)}: ${String(e)}`);
        }
      }),
      { numRuns: 2000 },
    );
  });

  it('accepts every dot-atom address with an LDH domain', () => {
    fc.assert(
      fc.property(fc.stringMatching(/^[a-z0-9+_-]{1,20}(\.[a-z0-9+_-]{1,10}){0,2}$/), fc.stringMatching(/^[a-z]([a-z0-9-]{0,10}[a-z0-9])?$/), (local, label) => {
        const a = parseMailbox(`${local}@${label}.example.test`, 'to');
        assert.equal(a.wire, `${local}@${label}.example.test`);
      }),
    );
  });
});

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { checkAddress, isValidAddress, parseAddress, senderDomainProblem, senderLocalPartProblem } from './address-check.js';
import { parseAddressList } from './address-list.js';

describe('checkAddress: accepts plain addresses', () => {
  for (const a of [
    'jane.doe@example.test',
    'jane@example.org',
    'jane+tag@example.org',
    "o'brien@example.org",
    'a!#$%&*+/=?^_`{|}~-z@example.org',
    'x@sub-domain.example.org',
    'x@xn--bcher-kva.example',
    'X@EXAMPLE.ORG',
    `${'a'.repeat(64)}@example.org`,
  ]) {
    it(a, () => {
      const r = checkAddress(a);
      assert.ok(r.ok, r.ok ? '' : r.reason);
    });
  }
});

describe('checkAddress: refuses', () => {
  const cases: Array<[string, RegExp]> = [
    ['', /empty/],
    ['jane', /no @domain/],
    ['jane@', /empty domain/],
    ['@example.org', /empty local part/],
    ['jane doe@example.org', /whitespace/],
    ['"jane doe"@example.org', /quote/],
    ['jane(comment)@example.org', /comment/],
    ['jane@example.org(comment)', /comment/],
    ['jane@example.org\r\nBcc: x@example.org', /line break/],
    ['jane@exa\0mple.org', /NUL/],
    ['jane@exam\x07ple.org', /control/],
    ['.jane@example.org', /dot/],
    ['jane.@example.org', /dot/],
    ['ja..ne@example.org', /dot/],
    ['jane@example..org', /empty label/],
    ['jane@-example.org', /label/],
    ['jane@example-.org', /label/],
    ['jane@exam_ple.org', /label/],
    ['jane@example.org.', /ends with a dot/],
    ['jane@localhost', /unqualified/],
    ['jane@[192.0.2.1]', /IP address literal/],
    ['jane@192.0.2.1', /top-level domain/],
    ['jane@example.c0m', /top-level domain/],
    ['a@b@example.org', /more than one @/],
    ['<jane@example.org>', /angle/],
    ['jane@example.org,x@example.org', /separator/],
    ['jürgen@example.org', /non-ASCII/],
    ['jane@bücher.example', /non-ASCII/],
    [`${'a'.repeat(65)}@example.org`, /longer than 64/],
    [`a@${'b'.repeat(64)}.org`, /longer than 63/],
    [`a@${'b.'.repeat(130)}org`, /longer than 254/],
    ['jane\u00a0doe@example.org', /whitespace/],
    ['jane\u2028@example.org', /whitespace/],
  ];
  for (const [a, why] of cases) {
    it(JSON.stringify(a), () => {
      const r = checkAddress(a);
      assert.equal(r.ok, false);
      if (!r.ok) assert.match(r.reason, why);
    });
  }
});

describe('parseAddress (syntax only)', () => {
  it('accepts single-label domains and IP literals, reporting their kind', () => {
    const local = parseAddress('root@localhost');
    assert.ok(local.ok && local.address.domainKind === 'hostname' && local.address.asciiDomain === 'localhost');
    const lit = parseAddress('jane@[192.0.2.1]');
    assert.ok(lit.ok && lit.address.domainKind === 'ip-literal');
    assert.ok(parseAddress('jane@[IPv6:2001:db8::1]').ok);
    assert.equal(parseAddress('jane@[999.0.2.1]').ok, false);
    assert.equal(parseAddress('jane@[tag:whatever]').ok, false);
  });
  it('with utf8 (SMTPUTF8) accepts UTF-8 local parts and converts U-label domains', () => {
    const r = checkAddress('jürgen@bücher.example', { utf8: true });
    assert.ok(r.ok);
    if (r.ok) assert.equal(r.address.asciiDomain, 'xn--bcher-kva.example');
    assert.equal(checkAddress('jü rgen@example.org', { utf8: true }).ok, false);
    assert.equal(checkAddress('jü\u200bgen@example.org', { utf8: true }).ok, false, 'format characters');
  });
});

describe('sender classification (R2)', () => {
  it('no-reply variants', () => {
    for (const l of ['noreply', 'NOREPLY', 'no-reply', 'no_reply', 'No.Reply', 'noreply+x', 'donotreply', 'do-not-reply', 'Do_Not_Reply', 'dont-reply', 'jira-noreply', 'noreply-jobs']) {
      assert.equal(senderLocalPartProblem(l, 'example.org'), 'noreply', l);
    }
  });
  it('system accounts', () => {
    for (const l of ['nobody', 'www-data', 'WWW-DATA', 'wwwrun', 'apache', 'nginx', 'daemon', 'nobody+x']) assert.equal(senderLocalPartProblem(l, 'example.org'), 'system', l);
    assert.equal(senderLocalPartProblem('root', 'localhost'), 'system');
    assert.equal(senderLocalPartProblem('root', 'example.org'), undefined);
  });
  it('ordinary local parts', () => {
    for (const l of ['jane', 'reply', 'replies', 'info', 'noreplyx'.slice(2), 'snorer', 'nobodyelse']) assert.equal(senderLocalPartProblem(l, 'example.org'), undefined, l);
  });
  it('domains', () => {
    for (const d of ['example.test', 'example.org', 'EXAMPLE.ORG', 'mail.example.example', 'xn--bcher-kva.example']) assert.equal(senderDomainProblem(d), undefined, d);
    const kinds: Array<[string, string]> = [
      ['localhost', 'localhost'],
      ['foo.localhost', 'localhost'],
      ['webserver', 'unqualified'],
      ['example.invalid', 'reserved-invalid'],
      ['printer.local', 'local-network'],
      ['localhost.localdomain', 'local-network'],
      ['[192.0.2.1]', 'ip-literal'],
      ['192.0.2.1', 'ip-address'],
      ['example.c0m', 'invalid-tld'],
    ];
    for (const [d, kind] of kinds) assert.equal(senderDomainProblem(d)?.kind, kind, d);
  });
});

// ---------------------------------------------------------------------------
// Property tests

const atextChar = fc.constantFrom(...'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789!#$%&\'*+/=?^_`{|}~-'.split(''));
const atom = fc.string({ unit: atextChar, minLength: 1, maxLength: 10 });
const localPart = fc.array(atom, { minLength: 1, maxLength: 3 }).map((a) => a.join('.'));
const letters = fc.constantFrom(...'abcdefghijklmnopqrstuvwxyz'.split(''));
const ldh = fc.constantFrom(...'abcdefghijklmnopqrstuvwxyz0123456789-'.split(''));
const label = fc
  .tuple(letters, fc.string({ unit: ldh, maxLength: 10 }), letters)
  .map(([a, mid, z]) => `${a}${mid}${z}`);
const domain = fc.tuple(fc.array(label, { minLength: 1, maxLength: 3 }), fc.string({ unit: letters, minLength: 2, maxLength: 6 })).map(([ls, tld]) => [...ls, tld].join('.'));
const validAddress = fc.tuple(localPart, domain).map(([l, d]) => `${l}@${d}`);

/** Things a conservative address must never contain. */
const forbidden = fc.constantFrom('\r', '\n', '\r\n', '\0', '"', '(', ')', '(comment)', ' ', '\t', '\u00a0', '\u2028', '\u3000', '\v', '\f', '<', '>', ',', ';', '\\');

describe('address check properties (fast-check)', () => {
  it('generated plain addresses are accepted', () => {
    fc.assert(fc.property(validAddress, (a) => checkAddress(a).ok));
  });

  it('refuses any address with CR, LF, NUL, quotes, comments or whitespace inserted anywhere', () => {
    fc.assert(
      fc.property(validAddress, forbidden, fc.nat(), (a, bad, at) => {
        const pos = at % (a.length + 1);
        const s = a.slice(0, pos) + bad + a.slice(pos);
        return !checkAddress(s).ok && !parseAddress(s).ok && !checkAddress(s, { utf8: true }).ok;
      }),
      { numRuns: 2000 },
    );
  });

  it('never throws, and accepts nothing with a control character or whitespace, on arbitrary strings', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string({ maxLength: 300 }), fc.string({ unit: 'binary', maxLength: 300 }), fc.string({ unit: 'grapheme', maxLength: 100 })), fc.boolean(), (s, utf8) => {
        const r = checkAddress(s, { utf8 });
        const p = parseAddress(s, { utf8 });
        assert.equal(typeof r.ok, 'boolean');
        assert.equal(typeof p.ok, 'boolean');
        if (r.ok || p.ok) {
          assert.doesNotMatch(s, /[\s"()<>,;\\\x00-\x1f\x7f]/);
          assert.ok(Buffer.byteLength(s) <= 254);
        }
        return true;
      }),
      { numRuns: 3000 },
    );
  });

  it('never throws on non-string input', () => {
    for (const v of [undefined, null, 42, {}, [], Symbol('x')]) assert.equal(checkAddress(v as unknown as string).ok, false);
  });

  it('isValidAddress agrees with checkAddress', () => {
    fc.assert(fc.property(fc.string({ maxLength: 60 }), (s) => isValidAddress(s) === checkAddress(s).ok));
  });

  it('an accepted address reads the same through the strict list parser', () => {
    fc.assert(
      fc.property(validAddress, (a) => {
        const r = parseAddressList(`Someone <${a}>`);
        return r.ok && r.mailboxes.length === 1 && r.mailboxes[0]!.address === a;
      }),
    );
  });

  it('the list parser never throws and never returns an address containing CR/LF or spaces', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 200 }), fc.boolean(), (s, allowGroups) => {
        const r = parseAddressList(s, { allowGroups });
        for (const m of r.mailboxes) {
          if (!m.address.startsWith('"')) assert.doesNotMatch(m.address, /[\s()<>,;]/);
        }
        return true;
      }),
      { numRuns: 3000 },
    );
  });
});

describe('parseAddressList', () => {
  it('refuses what lenient parsers guess at', () => {
    for (const s of ['Jane Doe jane@example.org', 'jane@example.org(x)evil.example', 'jane@example.org evil.example', '<jane@example.org', 'jane@example.org,', 'a@b.example,,c@d.example', 'jane @example.org', 'jane@ example.org', '<@relay.example:jane@example.org>', 'x@y"z"']) {
      assert.equal(parseAddressList(s, { allowGroups: true }).ok, false, s);
    }
  });
  it('parses groups only when allowed', () => {
    assert.equal(parseAddressList('Team: a@example.org, b@example.org;').ok, false);
    const r = parseAddressList('Team: a@example.org, b@example.org;, c@example.org', { allowGroups: true });
    assert.ok(r.ok);
    assert.deepEqual(
      r.mailboxes.map((m) => [m.address, m.group]),
      [
        ['a@example.org', 'Team'],
        ['b@example.org', 'Team'],
        ['c@example.org', undefined],
      ],
    );
  });
  it('decodes RFC 2047 display names', () => {
    const r = parseAddressList('=?UTF-8?B?SsO2cmc=?= =?UTF-8?Q?_M=C3=BCller?= <j@example.org>');
    assert.ok(r.ok);
    assert.equal(r.mailboxes[0]!.name, 'Jörg Müller');
  });
  it('refuses very long fields without parsing them', () => {
    const r = parseAddressList('a'.repeat(70_000));
    assert.equal(r.ok, false);
  });
  it('refuses deeply nested comments', () => {
    assert.equal(parseAddressList(`${'('.repeat(100)}x${')'.repeat(100)} a@example.org`).ok, false);
  });
});

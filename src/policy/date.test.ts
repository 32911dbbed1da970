import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { parseRfc5322Date } from './date.js';

function iso(v: string): string {
  const r = parseRfc5322Date(v);
  assert.ok(r.ok, r.ok ? '' : `${v}: ${r.reason}`);
  return r.date.toISOString();
}

describe('parseRfc5322Date accepts', () => {
  const cases: Array<[string, string]> = [
    ['Wed, 15 Jan 2025 11:00:00 +0100', '2025-01-15T10:00:00.000Z'],
    ['15 Jan 2025 10:00:00 +0000', '2025-01-15T10:00:00.000Z'],
    ['Wed, 15 Jan 2025 10:00 +0000', '2025-01-15T10:00:00.000Z'],
    ['Wed,  5 Feb 2025 10:00:00 -0530', '2025-02-05T15:30:00.000Z'],
    ['Wed, 5 Feb 2025 10:00:00 +1400', '2025-02-04T20:00:00.000Z'],
    ['wed, 15 jan 2025 10:00:00 +0000', '2025-01-15T10:00:00.000Z'],
    ['Wed, 15 Jan 2025 10:00:00 +0000 (UTC)', '2025-01-15T10:00:00.000Z'],
    ['Wed, 15 Jan 2025 10:00:00 -0000', '2025-01-15T10:00:00.000Z'],
    // obsolete forms (RFC 5322 §4.3)
    ['Wed, 15 Jan 25 10:00:00 +0000', '2025-01-15T10:00:00.000Z'],
    ['Fri, 15 Jan 99 10:00:00 +0000', '1999-01-15T10:00:00.000Z'],
    ['Wed, 15 Jan 125 10:00:00 +0000', '2025-01-15T10:00:00.000Z'],
    ['Wed, 15 Jan 2025 10:00:00 GMT', '2025-01-15T10:00:00.000Z'],
    ['Wed, 15 Jan 2025 10:00:00 UT', '2025-01-15T10:00:00.000Z'],
    ['Wed, 15 Jan 2025 05:00:00 EST', '2025-01-15T10:00:00.000Z'],
    ['Wed, 15 Jan 2025 03:00:00 PDT', '2025-01-15T10:00:00.000Z'],
    ['Wed, 15 Jan 2025 10:00:00 Z', '2025-01-15T10:00:00.000Z'],
    ['Wed, 15 Jan 2025 10:00:00 a', '2025-01-15T10:00:00.000Z'],
    ['Sat, 29 Feb 2020 10:00:00 +0000', '2020-02-29T10:00:00.000Z'],
    ['Wed, 31 Dec 2025 23:59:60 +0000', '2026-01-01T00:00:00.000Z'],
  ];
  for (const [v, want] of cases) it(v, () => assert.equal(iso(v), want));

  it('marks obsolete syntax and unknown zones', () => {
    const a = parseRfc5322Date('Wed, 15 Jan 25 10:00:00 +0000');
    assert.ok(a.ok && a.obsolete);
    const b = parseRfc5322Date('Wed, 15 Jan 2025 10:00:00 -0000');
    assert.ok(b.ok && b.offsetMinutes === undefined && !b.obsolete);
    const c = parseRfc5322Date('Wed, 15 Jan 2025 10:00:00 K');
    assert.ok(c.ok && c.offsetMinutes === undefined && c.obsolete);
    const d = parseRfc5322Date('Wed, 15 Jan 2025 10:00:00 +0100');
    assert.ok(d.ok && d.offsetMinutes === 60);
  });
});

describe('parseRfc5322Date refuses', () => {
  const cases: Array<[string, RegExp]> = [
    ['', /empty/],
    ['2025-01-15T10:00:00Z', /RFC 5322 form/],
    ['Jan 15 2025 10:00:00 +0000', /RFC 5322 form/],
    ['Wed, 15 Jan 2025', /RFC 5322 form/],
    ['Wed, 15 Jan 2025 10:00:00', /RFC 5322 form/],
    ['Wed 15 Jan 2025 10:00:00 +0000', /RFC 5322 form/],
    ['1736935200', /RFC 5322 form/],
    ['Wed, 15 January 2025 10:00:00 +0000', /RFC 5322 form/],
    ['Wed, 15 Jxn 2025 10:00:00 +0000', /month/],
    ['Thu, 15 Jan 2025 10:00:00 +0000', /Wednesday/],
    ['Xyz, 15 Jan 2025 10:00:00 +0000', /day name/],
    ['Wed, 32 Jan 2025 10:00:00 +0000', /no day 32/],
    ['Sat, 29 Feb 2025 10:00:00 +0000', /no day 29/],
    ['Wed, 15 Jan 2025 24:00:00 +0000', /hour/],
    ['Wed, 15 Jan 2025 10:60:00 +0000', /minute/],
    ['Wed, 15 Jan 2025 10:00:61 +0000', /second/],
    ['Wed, 15 Jan 2025 10:00:00 +0160', /minutes over 59/],
    ['Wed, 15 Jan 2025 10:00:00 +1500', /14 hours/],
    ['Wed, 15 Jan 2025 10:00:00 UTC', /unknown time zone/],
    ['Wed, 15 Jan 2025 10:00:00 CET', /unknown time zone/],
    ['Wed, 15 Jan 2025 10:00:00 J', /unknown time zone/],
    ['Wed, 15 Jan 1899 10:00:00 +0000', /1899/],
    ['Wed, 15 Jan 2025 10:00:00 +0000 trailing', /RFC 5322 form/],
    ['Wed, 15 Jan 2025 10:00:00 +0000 (unclosed', /RFC 5322 form/],
  ];
  for (const [v, why] of cases) {
    it(JSON.stringify(v), () => {
      const r = parseRfc5322Date(v);
      assert.equal(r.ok, false);
      if (!r.ok) assert.match(r.reason, why);
    });
  }
});

describe('parseRfc5322Date properties', () => {
  it('round-trips any instant formatted the RFC 5322 way, in any valid zone', () => {
    const DAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
    const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
    const p2 = (n: number) => String(n).padStart(2, '0');
    fc.assert(
      fc.property(fc.integer({ min: Date.UTC(1970, 0, 1) / 1000, max: Date.UTC(2200, 0, 1) / 1000 }), fc.integer({ min: -14 * 4, max: 14 * 4 }), (secs, quarter) => {
        const offset = quarter * 15;
        const local = new Date(secs * 1000 + offset * 60_000);
        const sign = offset < 0 ? '-' : '+';
        const zone = `${sign}${p2(Math.floor(Math.abs(offset) / 60))}${p2(Math.abs(offset) % 60)}`;
        const s = `${DAYS[local.getUTCDay()]}, ${local.getUTCDate()} ${MONTHS[local.getUTCMonth()]} ${local.getUTCFullYear()} ${p2(local.getUTCHours())}:${p2(local.getUTCMinutes())}:${p2(local.getUTCSeconds())} ${zone}`;
        const r = parseRfc5322Date(s);
        return r.ok && r.date.getTime() === secs * 1000;
      }),
      { numRuns: 1000 },
    );
  });

  it('never throws', () => {
    fc.assert(fc.property(fc.string({ maxLength: 300 }), (s) => typeof parseRfc5322Date(s).ok === 'boolean'), { numRuns: 2000 });
  });

  it('Date.parse-only forms are refused', () => {
    for (const s of [new Date().toISOString(), new Date().toString(), 'January 15, 2025', '2025/01/15']) assert.equal(parseRfc5322Date(s).ok, false, s);
  });
});

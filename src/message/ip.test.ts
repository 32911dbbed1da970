import assert from 'node:assert/strict';
import net from 'node:net';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { isIPv4, isIPv6 } from './ip.js';

describe('isIPv4 / isIPv6 (without node:net)', () => {
  it('agree with node:net on examples', () => {
    const samples = [
      '', '0.0.0.0', '127.0.0.1', '255.255.255.255', '256.1.1.1', '1.2.3', '01.2.3.4', '1.2.3.4 ', ' 1.2.3.4', '1.2.3.4.5',
      '::', '::1', '1::', '2001:db8::1', '2001:DB8:0:0:8:800:200C:417A', 'fe80::1%eth0', 'fe80::1%', '::ffff:192.0.2.1',
      '1:2:3:4:5:6:7:8', '1:2:3:4:5:6:7:8:9', '1:2:3:4:5:6:7::', '1::2::3', ':1', '1:', '[::1]', 'g::1', '12345::', '::ffff:1.2.3.256',
      '1:2:3:4:5:6:1.2.3.4', '1:2:3:4:5:6:7:1.2.3.4', 'localhost', 'example.org', '1.2.3.4%eth0',
    ];
    for (const s of samples) {
      assert.equal(isIPv4(s), net.isIPv4(s), s);
      assert.equal(isIPv6(s), net.isIPv6(s), s);
    }
  });

  it('agree with node:net on random address-like strings', () => {
    const part = fc.oneof(
      fc.constantFrom('', ':', '::', '.', '%', '%eth0', '0', '1', '01', '255', '256', 'ffff', 'FFFF', 'fffff', 'db8', 'g', '1.2.3.4', '999'),
      fc.integer({ min: 0, max: 300 }).map(String),
      fc.integer({ min: 0, max: 0x1ffff }).map((n) => n.toString(16)),
    );
    fc.assert(
      fc.property(fc.array(part, { maxLength: 12 }), fc.constantFrom(':', '.', ''), (parts, sep) => {
        const s = parts.join(sep);
        assert.equal(isIPv4(s), net.isIPv4(s), s);
        assert.equal(isIPv6(s), net.isIPv6(s), s);
      }),
      { numRuns: 20000 },
    );
  });
});

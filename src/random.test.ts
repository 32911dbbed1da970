import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { contentHash } from './queue/service.js';
import { randomBelow, randomBytes, sha256 } from './random.js';

const reference = (data: string | Uint8Array) => createHash('sha256').update(data).digest();

describe('random.ts: SHA-256 and random bytes without node:crypto', () => {
  it('hashes like node:crypto: the FIPS examples, every padding boundary, long inputs', () => {
    assert.equal(sha256('abc').toString('hex'), 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
    assert.equal(sha256('').toString('hex'), 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
    for (let n = 0; n <= 300; n++) {
      const data = Buffer.alloc(n, n % 251);
      assert.deepEqual(sha256(data), reference(data), `${n} bytes`);
    }
    for (const n of [64 * 1024 - 1, 64 * 1024, 64 * 1024 + 1, 200_000]) {
      const data = Buffer.alloc(n, 0x61);
      assert.deepEqual(sha256(data), reference(data), `${n} bytes`);
    }
  });

  it('hashes strings as UTF-8, like node:crypto (random text, lone surrogates included)', () => {
    fc.assert(fc.property(fc.string({ unit: 'binary', maxLength: 400 }), (s) => assert.deepEqual(sha256(s), reference(s))), { numRuns: 2000 });
    fc.assert(fc.property(fc.uint8Array({ maxLength: 700 }), (b) => assert.deepEqual(sha256(b), reference(b))), { numRuns: 1000 });
  });

  it('the content hash is the one node:crypto gave (duplicate holds compare hashes across versions and processes)', () => {
    const before = (parts: Array<string | undefined>) => {
      const h = createHash('sha256');
      for (const p of parts) h.update(p ?? '').update('\0');
      return h.digest('hex').slice(0, 32);
    };
    fc.assert(fc.property(fc.array(fc.option(fc.string({ unit: 'binary', maxLength: 200 }), { nil: undefined }), { maxLength: 4 }), (parts) => assert.equal(contentHash(parts), before(parts))), { numRuns: 2000 });
    assert.equal(contentHash(['Grüße', '\ud83d', '\ude00x', undefined]), before(['Grüße', '\ud83d', '\ude00x', undefined]));
  });

  it('hands out random bytes of the length asked, never the same twice, in and beyond the pool', () => {
    const seen = new Set<string>();
    for (let i = 0; i < 500; i++) {
      const b = randomBytes(10);
      assert.equal(b.length, 10);
      assert.ok(!seen.has(b.toString('hex')));
      seen.add(b.toString('hex'));
    }
    assert.equal(randomBytes(1000).length, 1000);
    assert.equal(randomBytes(0).length, 0);
  });

  it('randomBelow is uniform enough over [0, max)', () => {
    const counts = new Array<number>(51).fill(0);
    for (let i = 0; i < 51_000; i++) counts[randomBelow(51)]!++;
    // Each bucket expects 1,000; 6 standard deviations (~190) is far beyond chance.
    for (const c of counts) assert.ok(c > 800 && c < 1200, `bucket count ${c}`);
    assert.equal(randomBelow(1), 0);
  });
});

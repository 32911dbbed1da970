import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { SendwellError } from '../errors.js';
import { loadVerpSecret, parseVerp, verpAddress, type Verp } from './verp.js';

const v: Verp = { address: 'bounces@Bounces.Example.test', secret: Buffer.alloc(32, 7) };

describe('VERP', () => {
  it('round-trips, stays short and lower-case, survives case-folding', () => {
    const a = verpAddress(v, 123456);
    assert.match(a, /^bounces\+[a-z2-7]+\.[a-z2-7]{10}@bounces\.example\.test$/);
    assert.ok(a.split('@')[0]!.length <= 64);
    assert.deepEqual(parseVerp(v, a), { recipientId: 123456 });
    assert.deepEqual(parseVerp(v, a.toUpperCase()), { recipientId: 123456 });
    assert.deepEqual(parseVerp(v, `<${a}>`), { recipientId: 123456 });
  });

  it('ignores forged or mangled addresses', () => {
    const a = verpAddress(v, 42);
    const [local, domain] = a.split('@');
    const macChar = local!.at(-1) === 'a' ? 'b' : 'a';
    assert.equal(parseVerp(v, `${local!.slice(0, -1)}${macChar}@${domain}`), null, 'wrong MAC');
    assert.equal(parseVerp(v, a.replace('bounces+b', 'bounces+c')), null, 'other token, same MAC');
    assert.equal(parseVerp(v, a.replace('example.test', 'example.org')), null, 'other domain');
    assert.equal(parseVerp({ ...v, secret: Buffer.alloc(32, 8) }, a), null, 'other key');
    assert.equal(parseVerp(v, 'bounces@bounces.example.test'), null);
  });

  it('never accepts a random local part (property)', () => {
    fc.assert(
      fc.property(fc.stringMatching(/^[a-z2-7]{1,8}\.[a-z2-7]{10}$/), (tail) => {
        const addr = `bounces+${tail}@bounces.example.test`;
        const parsed = parseVerp(v, addr);
        if (parsed) assert.equal(verpAddress(v, parsed.recipientId), addr);
      }),
      { numRuns: 2000 },
    );
  });

  it('creates the key 0600 and refuses one others can read (R11)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'sendwell-verp-'));
    const file = join(dir, 'bounce.key');
    const key = loadVerpSecret(file);
    assert.equal(key.length, 32);
    assert.equal(statSync(file).mode & 0o777, 0o600);
    assert.deepEqual(loadVerpSecret(file), key, 'the same key on the next start');
    chmodSync(file, 0o644);
    assert.throws(() => loadVerpSecret(file), (e: SendwellError) => e.code === 'ESECRET' && e.rule === 'R11');
    assert.match(readFileSync(file, 'utf8'), /^[0-9a-f]{64}\n$/);
  });
});

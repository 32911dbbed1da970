import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { pathToFileURL } from 'node:url';
import { codeCacheFile, loadBundle, withBundleId } from './bundle-loader.js';

describe('bundle loader (code cache)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'sendwell-bundle-'));
  const url = pathToFileURL(join(dir, 'b.cjs'));
  const source = withBundleId('exports.answer = () => 42; exports.where = __filename; exports.req = typeof require("node:path").join;');

  it('runs a CommonJS bundle and uses a cache made from the same text', () => {
    const first = loadBundle(url, source);
    const e = first.exports as { answer: () => number; where: string; req: string };
    assert.equal(e.answer(), 42);
    assert.equal(e.where, join(dir, 'b.cjs'));
    assert.equal(e.req, 'function');
    assert.equal(first.cacheUsed, false);
    const cache = codeCacheFile(source, first.script);
    const second = loadBundle(url, source, cache);
    assert.equal(second.cacheUsed, true);
    assert.equal((second.exports as { answer: () => number }).answer(), 42);
  });

  it('ignores a cache made for another bundle, even of the same length', () => {
    const cache = codeCacheFile(source, loadBundle(url, source).script);
    const other = withBundleId(source.slice(source.indexOf('\n') + 1).replace('42', '43'));
    assert.equal(other.length, source.length);
    const r = loadBundle(url, other, cache);
    assert.equal(r.cacheUsed, false);
    assert.equal((r.exports as { answer: () => number }).answer(), 43);
    assert.equal(loadBundle(url, source, Buffer.from('garbage')).cacheUsed, false);
  });

  it('the built drop-in has a code cache this Node accepts (npm run build makes it)', (t) => {
    const bundle = new URL('../../dist/cli/sendmail-bundle.cjs', import.meta.url);
    if (!existsSync(bundle)) return t.skip('not built');
    const cache = readFileSync(new URL('../../dist/cli/sendmail-bundle.cjs.cache', import.meta.url));
    // Loading the bundle only defines its functions: the loader's check, then V8's.
    const r = loadBundle(bundle, readFileSync(bundle, 'utf8'), cache);
    assert.equal(r.cacheUsed, true);
    assert.equal(typeof (r.exports as { sendmailMain: unknown }).sendmailMain, 'function');
  });
});

/**
 * Loading the bundled sendmail drop-in (dist/cli/sendmail-bundle.cjs, made by
 * scripts/bundle-sendmail.mjs) with V8's code cache: Node 20 has no compile
 * cache of its own, and compiling the bundle is a good part of a `sendmail
 * -odq` run. Used by sendmail-bin.ts, and by the build to record the cache.
 */
import { createHash } from 'node:crypto';
import { createRequire } from 'node:module';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Script } from 'node:vm';

/** Header of a cache file: this, then the SHA-256 of the bundle text it was made from, then V8's data. */
export const CODE_CACHE_MAGIC = 'sendwell-code-cache-1\n';

/** The cache file's contents for `script` compiled from `source`. */
export function codeCacheFile(source: string, script: Script): Buffer {
  return Buffer.concat([Buffer.from(CODE_CACHE_MAGIC), createHash('sha256').update(source).digest(), script.createCachedData()]);
}

/**
 * Compile and run a CommonJS bundle (no import(): a vm.Script cannot have it
 * on Node 20 without a flag; the bundle require()s ES modules instead), with V8's code cache when `cache` (a cache
 * file's bytes) was made from this very text (V8 itself checks its version and
 * flags, and compiles afresh otherwise). Returns the bundle's exports and the
 * Script, for codeCacheFile().
 */
export function loadBundle(url: URL, source: string, cache?: Buffer): { exports: unknown; script: Script; cacheUsed: boolean } {
  let cachedData: Buffer | undefined;
  if (cache) {
    const head = Buffer.from(CODE_CACHE_MAGIC);
    const digest = createHash('sha256').update(source).digest();
    if (cache.subarray(0, head.length).equals(head) && cache.subarray(head.length, head.length + 32).equals(digest)) cachedData = cache.subarray(head.length + 32);
  }
  const file = fileURLToPath(url);
  const script = new Script(`(function (exports, require, module, __filename, __dirname) {${source}\n})`, {
    filename: file,
    ...(cachedData ? { cachedData } : {}),
  });
  const mod = { exports: {} as unknown };
  const fn = script.runInThisContext() as (exports: unknown, require: NodeJS.Require, module: unknown, filename: string, dirname: string) => void;
  fn.call(mod.exports, mod.exports, createRequire(file), mod, file, dirname(file));
  return { exports: mod.exports, script, cacheUsed: cachedData !== undefined && !script.cachedDataRejected };
}

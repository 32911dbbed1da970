/**
 * Loading the bundled sendmail drop-in (dist/cli/sendmail-bundle.cjs, made by
 * scripts/bundle-sendmail.mjs) with V8's code cache: Node 20 has no compile
 * cache of its own, and compiling the bundle is a good part of a `sendmail
 * -odq` run. Used by sendmail-bin.ts, and by the build to record the cache.
 */
import type { Script } from 'node:vm';

// Node's modules without ES-module wrappers for them (start-up time; Node >= 20.16).
const { createRequire } = process.getBuiltinModule('node:module');
const { dirname } = process.getBuiltinModule('node:path');
const { fileURLToPath } = process.getBuiltinModule('node:url');
const vm = process.getBuiltinModule('node:vm');

/**
 * The first line of a bundle names it: `// sendwell-bundle <SHA-256 of the rest>`
 * (written by the build). A cache file starts with the same line, then V8's
 * data: the loader compares the lines instead of hashing the bundle each run.
 */
export const BUNDLE_ID_PREFIX = '// sendwell-bundle ';

/** The bundle text with its first line, the ID. */
export function withBundleId(text: string): string {
  return `${BUNDLE_ID_PREFIX}${process.getBuiltinModule('node:crypto').createHash('sha256').update(text).digest('hex')}\n${text}`;
}

function bundleId(source: string): string | undefined {
  const nl = source.indexOf('\n');
  return source.startsWith(BUNDLE_ID_PREFIX) && nl > 0 ? source.slice(0, nl + 1) : undefined;
}

/** The cache file's contents for `script` compiled from `source`. */
export function codeCacheFile(source: string, script: Script): Buffer {
  const id = bundleId(source);
  if (!id) throw new Error('the bundle has no ID line');
  return Buffer.concat([Buffer.from(id), script.createCachedData()]);
}

/**
 * Compile and run a CommonJS bundle (without import(): a vm.Script cannot use
 * it on Node 20 without a flag, so the bundle require()s ES modules instead),
 * with V8's code cache when `cache` (a cache file's bytes) was made for this
 * bundle: the same ID line; V8 itself checks its version, its flags and the
 * length of the text, and compiles afresh otherwise. Returns the bundle's
 * exports and the Script, for codeCacheFile().
 */
export function loadBundle(url: URL, source: string, cache?: Buffer): { exports: unknown; script: Script; cacheUsed: boolean } {
  let cachedData: Buffer | undefined;
  const id = cache && bundleId(source);
  if (cache && id && cache.subarray(0, id.length).equals(Buffer.from(id))) cachedData = cache.subarray(id.length);
  const file = fileURLToPath(url);
  const script = new vm.Script(`(function (exports, require, module, __filename, __dirname) {${source}\n})`, {
    filename: file,
    ...(cachedData ? { cachedData } : {}),
  });
  const mod = { exports: {} as unknown };
  const fn = script.runInThisContext() as (exports: unknown, require: NodeJS.Require, module: unknown, filename: string, dirname: string) => void;
  fn.call(mod.exports, mod.exports, createRequire(file), mod, file, dirname(file));
  return { exports: mod.exports, script, cacheUsed: cachedData !== undefined && !script.cachedDataRejected };
}

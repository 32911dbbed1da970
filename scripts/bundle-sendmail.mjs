#!/usr/bin/env node
// Bundles the sendmail drop-in after `tsc` (part of `npm run build`): start-up
// matters for `sendmail -odq` from cron and PHP's mail(), and Node 20 spends
// more time resolving and compiling ~60 small ES modules than running them.
//
// 1. dist/cli/sendmail-bundle.cjs: dist/cli/sendmail.js with everything its
//    static imports reach, i.e. what queueing a message needs, as one CommonJS
//    file. What it loads with `await import()` (the SMTP client, -q, -bp's
//    output, zod for config errors) stays as tsc wrote it in dist/ and is
//    loaded from there when needed (SendwellError's instanceof holds across
//    both copies). better-sqlite3's JavaScript is bundled too, its native
//    addon stays in node_modules (scripts/bundle/better-sqlite3.cjs).
// 2. dist/cli/sendmail-bundle.cjs.cache: V8's code cache for the bundle after
//    a training run (one `sendmail -odq -t` into a scratch queue), which
//    dist/cli/sendmail-bin.js uses when it matches (see bundle-loader.ts).
// 3. dist/cli/sendmail-bin.cjs (the `sendmail` bin, also run by `sendwell sendmail`) and
//    sendmail-bin.js: the entry with bundle-loader.js inlined.
//
// `node scripts/bundle-sendmail.mjs --analyze` prints what the bundle holds.
import { chmodSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { Readable } from 'node:stream';
import { pathToFileURL } from 'node:url';
import { build } from 'esbuild';

const root = new URL('..', import.meta.url).pathname;
const dist = join(root, 'dist');
const cli = join(dist, 'cli');
const entry = join(cli, 'sendmail.js');
const bundle = join(cli, 'sendmail-bundle.cjs');
const cacheFile = `${bundle}.cache`;
/** Imports of dist/ modules that stay outside the bundle, rewritten relative to it. */
const outside = {
  name: 'outside',
  setup(b) {
    // better-sqlite3's JavaScript goes into the bundle, its native addon stays where npm put it (bundle/better-sqlite3.cjs).
    b.onResolve({ filter: /^better-sqlite3$/ }, (args) => (args.importer.startsWith(dist) ? { path: join(root, 'scripts/bundle/better-sqlite3.cjs') } : undefined));
    b.onResolve({ filter: /^\.\.?\// }, (args) => {
      if (!args.importer.startsWith(dist)) return undefined;
      const target = resolve(dirname(args.importer), args.path);
      if (args.kind !== 'dynamic-import') return undefined;
      let path = relative(cli, target);
      if (!path.startsWith('.')) path = `./${path}`;
      return { path, external: true };
    });
  },
};

rmSync(cacheFile, { force: true });
const result = await build({
  entryPoints: [entry],
  outfile: bundle,
  bundle: true,
  format: 'cjs',
  platform: 'node',
  target: 'node20',
  // `bindings` finds the addon for the installed better-sqlite3; the bundled copy is given it.
  external: ['bindings'],
  plugins: [outside],
  define: {
    'import.meta.url': '__sendwellImportMetaUrl',
    __BUNDLED_BETTER_SQLITE3_VERSION__: JSON.stringify(JSON.parse(readFileSync(join(root, 'node_modules/better-sqlite3/package.json'), 'utf8')).version),
  },
  // import() becomes require() (of an ES module, Node >= 20.19): the bundle runs in a vm.Script (bundle-loader.ts).
  supported: { 'dynamic-import': false },
  banner: { js: "const __sendwellImportMetaUrl = require('node:url').pathToFileURL(__filename).href;" },
  metafile: true,
  sourcemap: true,
  logLevel: 'warning',
});
if (process.argv.includes('--analyze')) {
  const { analyzeMetafile } = await import('esbuild');
  console.log(await analyzeMetafile(result.metafile));
}

const { loadBundle, codeCacheFile, withBundleId } = await import(pathToFileURL(join(cli, 'bundle-loader.js')).href);
// The first line names the bundle; the cache file starts with the same line.
const source = withBundleId(readFileSync(bundle, 'utf8'));
writeFileSync(bundle, source);

// The training run: the code V8 compiles for it is what a real run needs.
const scratch = mkdtempSync(join(tmpdir(), 'sendwell-bundle-'));
try {
  const { exports, script } = loadBundle(pathToFileURL(bundle), source);
  const config = join(scratch, 'sendwell.toml');
  writeFileSync(config, '[sender]\nfrom = "Build <build@example.org>"\n', { mode: 0o600 });
  const date = new Date().toUTCString().replace('GMT', '+0000');
  const message =
    `From: Build <build@example.org>\r\nTo: Someone <someone@example.org>\r\nSubject: code cache training\r\nDate: ${date}\r\n` +
    `Message-ID: <training.${Date.now()}@example.org>\r\n\r\n${'A line of text for the training run.\r\n'.repeat(24)}`;
  const err = [];
  const code = await exports.sendmailMain(['-odq', '-t'], {
    stdin: Readable.from([Buffer.from(message)]),
    env: { SENDWELL_CONFIG: config, SENDWELL_STATE_DIR: join(scratch, 'state'), PATH: process.env.PATH ?? '' },
    io: { stdout: () => undefined, stderr: (s) => err.push(s) },
  });
  if (code !== 0) throw new Error(`exit ${code}: ${err.join('')}`);
  writeFileSync(cacheFile, codeCacheFile(source, script));
  console.log(`bundled ${relative(root, bundle)} (${Math.round(statSync(bundle).size / 1024)} KiB, code cache ${Math.round(statSync(cacheFile).size / 1024)} KiB)`);
} catch (e) {
  // The drop-in works without the cache, only starts slower.
  console.warn(`warning: no code cache for ${relative(root, bundle)}: the training run failed: ${e.message}`);
} finally {
  rmSync(scratch, { recursive: true, force: true });
}

// The entry, twice, with bundle-loader.js inlined and its fallback import('./sendmail.js') left as is:
// sendmail-bin.cjs, the package's `sendmail` bin and what `sendwell sendmail` runs (Node starts a
// CommonJS entry faster than an ES module), and sendmail-bin.js in place (links made to it before).
// sendmail-bin.cjs is written last: bin.cts and bin.ts run it only when it is not older than
// sendmail-bin.js (after a `tsc` alone it is, and the ES module runs).
const bin = join(cli, 'sendmail-bin.js');
const entryOptions = { entryPoints: [bin], bundle: true, platform: 'node', target: 'node20', plugins: [outside], sourcemap: true, logLevel: 'warning', write: false };
const cjsEntry = await build({
  ...entryOptions,
  outfile: join(cli, 'sendmail-bin.cjs'),
  format: 'cjs',
  define: { 'import.meta.url': '__sendwellImportMetaUrl' },
  banner: { js: "const __sendwellImportMetaUrl = require('node:url').pathToFileURL(__filename).href;" },
});
const esmEntry = await build({ ...entryOptions, outfile: bin, allowOverwrite: true, format: 'esm' });
for (const f of [...esmEntry.outputFiles, ...cjsEntry.outputFiles]) writeFileSync(f.path, f.contents);
for (const f of ['sendmail-bin.cjs', 'sendmail-bin.js', 'bin.cjs']) chmodSync(join(cli, f), 0o755);

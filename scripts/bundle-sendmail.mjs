#!/usr/bin/env node
// Bundles the sendmail drop-in after `tsc` (part of `npm run build`): start-up
// matters for `sendmail -odq` from cron and PHP's mail(), and Node spends more
// time resolving and compiling ~60 small ES modules than running them.
//
// dist/cli/sendmail-bin.js (the `sendmail` bin, also run by `sendwell
// sendmail`) is replaced by one file with everything its static imports reach:
// what queueing a message needs. What it loads with `await import()` (the SMTP
// client, -q, -bp, zod for config errors) stays as tsc wrote it in dist/ and is
// loaded from there when needed, as is dist/errors.js, so that SendwellError is
// one class for both. better-sqlite3 (a native addon) stays in node_modules.
import { dirname, join, relative, resolve } from 'node:path';
import { build } from 'esbuild';

const root = new URL('..', import.meta.url).pathname;
const dist = join(root, 'dist');
const entry = join(dist, 'cli/sendmail-bin.js');
const shared = new Set([join(dist, 'errors.js')]);

/** Imports of dist/ modules that stay outside the bundle, rewritten relative to the bundle. */
const lazyOutside = {
  name: 'lazy-outside',
  setup(b) {
    b.onResolve({ filter: /^\.\.?\// }, (args) => {
      if (!args.importer.startsWith(dist)) return undefined;
      const target = resolve(dirname(args.importer), args.path);
      if (args.kind !== 'dynamic-import' && !shared.has(target)) return undefined;
      let path = relative(dirname(entry), target);
      if (!path.startsWith('.')) path = `./${path}`;
      return { path, external: true };
    });
  },
};

const result = await build({
  entryPoints: [entry],
  outfile: entry,
  allowOverwrite: true,
  bundle: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  external: ['better-sqlite3'],
  plugins: [lazyOutside],
  sourcemap: true,
  // CommonJS dependencies (nodemailer's address parser) call require() for Node's modules.
  banner: { js: "import { createRequire as __sendwellCreateRequire } from 'node:module';\nconst require = __sendwellCreateRequire(import.meta.url);" },
  metafile: true,
  logLevel: 'warning',
});
if (process.env.BUNDLE_META) (await import('node:fs')).writeFileSync(process.env.BUNDLE_META, JSON.stringify(result.metafile));
if (process.argv.includes('--analyze')) {
  const { analyzeMetafile } = await import('esbuild');
  console.log(await analyzeMetafile(result.metafile));
}

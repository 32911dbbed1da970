#!/usr/bin/env node
/**
 * The `sendwell` command (package.json's `sendwell` bin). A CommonJS entry:
 * Node starts a CommonJS main without setting up its ES-module loader, ~7 ms
 * less per run here, which `sendwell sendmail -odq` (cron, PHP's mail())
 * notices. `sendwell sendmail …` is the drop-in with the same arguments: the
 * same CommonJS entry as the package's `sendmail` bin (sendmail-bin.cjs, the
 * bundle with its V8 code cache); everything else is main.js.
 * bin.js is the same as an ES module (links and scripts made to it before).
 */
const { statSync } = process.getBuiltinModule('node:fs');

/** sendmail-bin.cjs, written by `npm run build` after sendmail-bin.js; after a `tsc` alone (or with no bundle) it is older or missing. */
function bundledEntry(): boolean {
  const cjs = statSync(`${__dirname}/sendmail-bin.cjs`, { throwIfNoEntry: false });
  const esm = statSync(`${__dirname}/sendmail-bin.js`, { throwIfNoEntry: false });
  return cjs !== undefined && (esm === undefined || cjs.mtimeMs >= esm.mtimeMs);
}

if (process.argv[2] === 'sendmail') {
  process.argv.splice(2, 1);
  if (bundledEntry()) require('./sendmail-bin.cjs');
  else void import('./sendmail-bin.js');
} else {
  void import('./main.js').then(async ({ main }) => {
    process.exitCode = await main(process.argv.slice(2));
  });
}

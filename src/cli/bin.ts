#!/usr/bin/env node
// The `sendwell` command as an ES module; package.json's bin is its CommonJS twin, bin.cts (starts faster).
import { statSync } from 'node:fs';
import { createRequire } from 'node:module';

if (process.argv[2] === 'sendmail') {
  // `sendwell sendmail …` is the drop-in with the same arguments: its CommonJS entry when built (see bin.cts).
  process.argv.splice(2, 1);
  const cjs = statSync(new URL('./sendmail-bin.cjs', import.meta.url), { throwIfNoEntry: false });
  const esm = statSync(new URL('./sendmail-bin.js', import.meta.url), { throwIfNoEntry: false });
  if (cjs && (!esm || cjs.mtimeMs >= esm.mtimeMs)) createRequire(import.meta.url)('./sendmail-bin.cjs');
  else await import('./sendmail-bin.js');
} else {
  const { main } = await import('./main.js');
  process.exitCode = await main(process.argv.slice(2));
}

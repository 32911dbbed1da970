#!/usr/bin/env node
if (process.argv[2] === 'sendmail') {
  // `sendwell sendmail …` is the drop-in (dist/cli/sendmail-bin.js, bundled for start-up) with the same arguments.
  process.argv.splice(2, 1);
  await import('./sendmail-bin.js');
} else {
  const { main } = await import('./main.js');
  process.exitCode = await main(process.argv.slice(2));
}

#!/usr/bin/env node
/**
 * The `sendmail` executable: `ln -s …/dist/cli/sendmail-bin.js /usr/sbin/sendmail`.
 * Invoked as `mailq` it prints the queue (-bp), as `newaliases` it checks the aliases (-bi).
 * Start-up matters (cron, PHP's mail()): `npm run build` bundles this file with
 * what -odq needs (scripts/bundle-sendmail.mjs); the rest is imported lazily.
 */
import { basename } from 'node:path';
import { sendmailMain, releaseStdin } from './sendmail.js';
import { processIo } from './output.js';

const invokedAs = basename(process.argv[1] ?? '');
const args = process.argv.slice(2);
if (invokedAs === 'mailq') args.unshift('-bp');
else if (invokedAs === 'newaliases') args.unshift('-bi');

// A client that goes away (e.g. -bs after QUIT) must not crash the process with EPIPE.
// (Set up with the first output: process.stdout costs start-up time that -odq does not need.)
let stdoutReady = false;
const io = {
  stdout: (s: string) => {
    if (!stdoutReady) {
      stdoutReady = true;
      process.stdout.on('error', () => undefined);
    }
    processIo.stdout(s);
  },
  stderr: processIo.stderr,
};

process.exitCode = await sendmailMain(args, { io });
// stdin may still be open (a dot ended the message, or -bs after QUIT): do not wait for it.
releaseStdin();

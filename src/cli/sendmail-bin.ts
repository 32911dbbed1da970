#!/usr/bin/env node
/**
 * The `sendmail` executable: `ln -s …/dist/cli/sendmail-bin.js /usr/sbin/sendmail`.
 * Invoked as `mailq` it prints the queue (-bp), as `newaliases` it checks the aliases (-bi).
 * Everything is imported lazily so that -bp and -odq start fast.
 */
import { basename } from 'node:path';

const invokedAs = basename(process.argv[1] ?? '');
const args = process.argv.slice(2);
if (invokedAs === 'mailq') args.unshift('-bp');
else if (invokedAs === 'newaliases') args.unshift('-bi');

// A client that goes away (e.g. -bs after QUIT) must not crash the process with EPIPE.
process.stdout.on('error', () => undefined);

const { sendmailMain } = await import('./sendmail.js');
process.exitCode = await sendmailMain(args);
// stdin may still be open (a dot ended the message, or -bs after QUIT): do not wait for it.
process.stdin.destroy();

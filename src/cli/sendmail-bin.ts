#!/usr/bin/env node
/**
 * The `sendmail` executable: `ln -s …/dist/cli/sendmail-bin.cjs /usr/sbin/sendmail`.
 * Invoked as `mailq` it prints the queue (-bp), as `newaliases` it checks the aliases (-bi).
 * The build writes it twice: sendmail-bin.cjs (the package's `sendmail` bin: a
 * CommonJS entry starts faster than an ES module) and sendmail-bin.js (the
 * same as an ES module, for `sendwell sendmail` and links made to it before).
 *
 * Start-up matters (cron, PHP's mail()): `npm run build` bundles sendmail.js
 * with what queueing a message needs into sendmail-bundle.cjs, and records
 * V8's compiled code for it from a training run in sendmail-bundle.cjs.cache
 * (scripts/bundle-sendmail.mjs). This file loads the bundle with that code
 * cache when it matches (bundle-loader.ts), or imports the unbundled
 * ./sendmail.js when there is no bundle (a build by tsc alone).
 */
import { loadBundle } from './bundle-loader.js';

// Node's modules without ES-module wrappers for them (start-up time; Node >= 20.16).
const { readFileSync, statSync, writeSync } = process.getBuiltinModule('node:fs');
const { basename } = process.getBuiltinModule('node:path');

type SendmailModule = Pick<typeof import('./sendmail.js'), 'sendmailMain' | 'releaseStdin'>;

async function sendmailModule(): Promise<SendmailModule> {
  const url = new URL('./sendmail-bundle.cjs', import.meta.url);
  let source: string;
  try {
    // A bundle older than sendmail.js is stale (tsc ran alone since): use the modules as they are.
    if (statSync(url).mtimeMs < statSync(new URL('./sendmail.js', import.meta.url)).mtimeMs) throw new Error('stale');
    source = readFileSync(url, 'utf8');
  } catch {
    return import('./sendmail.js'); // no bundle (tsc alone) or a stale one
  }
  let cache: Buffer | undefined;
  try {
    cache = readFileSync(new URL('./sendmail-bundle.cjs.cache', import.meta.url));
  } catch {
    cache = undefined;
  }
  return loadBundle(url, source, cache).exports as SendmailModule;
}

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
    process.stdout.write(s);
  },
  stderr: writeStderr,
};

/**
 * Warnings and errors go to fd 2 with a plain write, as sendmail's do: setting
 * up process.stderr (a stream over a pipe) costs start-up time. process.stderr
 * takes over if fd 2 would block (a non-blocking pipe) or fails otherwise.
 */
function writeStderr(s: string): void {
  let rest = Buffer.from(s);
  try {
    while (rest.length > 0) rest = rest.subarray(writeSync(2, rest));
  } catch {
    process.stderr.write(rest);
  }
}

// (No top-level await: the build also makes a CommonJS copy, sendmail-bin.cjs.)
void sendmailModule().then(async ({ sendmailMain, releaseStdin }) => {
  process.exitCode = await sendmailMain(args, { io });
  // stdin may still be open (a dot ended the message, or -bs after QUIT): do not wait for it.
  releaseStdin();
});

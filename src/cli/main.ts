/** The `sendwell` command. Exit codes follow sysexits(3); see the README. */
import { readFileSync } from 'node:fs';
import { Command, CommanderError, Option } from 'commander';
import { EXIT, SendwellError } from '../errors.js';
import { PRESETS } from '../config/presets.js';
import { reportError, processIo, type Io } from './output.js';
// Each command's module is loaded when it runs: a start-up loads only commander and the command at hand.
import type { QueueFlags } from './queue.js';
import type { SendFlags } from './send.js';
import type { ServeFlags } from './serve.js';
import type { BounceFlags } from './bounce.js';
import type { TokensFlags } from './tokens.js';
import type { UsersAction, UsersFlags } from './users.js';
import type { DoctorFlags } from './doctor.js';
import type { ListsFlags } from './lists.js';
import type { FormsFlags } from './forms.js';

const collect = (v: string, prev: string[]) => [...prev, v];

function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}

export function buildProgram(io: Io, setExit: (code: number) => void): Command {
  const program = new Command('sendwell')
    .description('Send mail well from scripts, cron jobs, web forms and installed software.')
    .version(version())
    .exitOverride()
    .configureOutput({ writeOut: io.stdout, writeErr: io.stderr })
    .showHelpAfterError('(run with --help for usage)');

  program
    .command('send')
    .description('compose, check, queue and send one mail (exit 0 once queued; 65 refused by policy; 75 nothing could be queued)')
    .option('--from <address>', 'From address, e.g. "Jane Doe <jane@example.org>" (default: [sender] from)')
    .option('--to <address>', 'recipient (repeatable)', collect, [])
    .option('--cc <address>', 'Cc recipient (repeatable)', collect, [])
    .option('--bcc <address>', 'Bcc recipient (repeatable)', collect, [])
    .option('--reply-to <address>', 'Reply-To address (R4: no substitute for a valid sender)')
    .option('--envelope-from <address>', 'envelope sender / bounce address (R3); "" for <>')
    .option('--subject <text>', 'subject')
    .option('--text <text>', 'plain-text body')
    .option('--text-file <file>', 'plain-text body from FILE, - for stdin')
    .option('--html-file <file>', 'HTML body from FILE, - for stdin; a text part is generated if none is given (R7)')
    .option('--attach <file>', 'attach FILE (repeatable; R9: prefer links for large files)', collect, [])
    .option('--header <header>', "extra header 'Name: value' (repeatable)", collect, [])
    .option('--no-auto-submitted', 'leave out Auto-Submitted: auto-generated (only for mail a person wrote)')
    .option('--relay <url>', 'relay URL, overrides [relay] url (smtp://, smtp+starttls://, smtps://, sendmail:, capture:DIR)')
    .option('--config <file>', 'config file (default: $SENDWELL_CONFIG, ./sendwell.toml, /etc/sendwell/sendwell.toml)')
    .option('--dry-run', 'print the composed message and the lint report; send nothing')
    .option('--state-dir <dir>', 'queue directory (default: $SENDWELL_STATE_DIR, state_dir, ./.sendwell)')
    .option('--queue-only', 'queue durably, do not attempt delivery now')
    .option('--wait', 'exit with the outcome of the delivery attempt (0, 67, 69, 75) instead of 0 once queued')
    .option('--idempotency-key <key>', 'a repeat with the same key returns the message queued the first time')
    .option('--no-queue', 'deliver directly without queueing: on failure nothing is kept (exit 75 means try again)')
    .option('--list <name>', 'bulk mail to the list\'s consenting subscribers, one message each (with --to: only those, refusing any without consent) (R1)')
    .option('--json', 'machine-readable output on stdout')
    .action(async (flags: SendFlags) => setExit(await (await import('./send.js')).sendCommand(flags, io)));

  const stateDirOpt = () => new Option('--state-dir <dir>', 'queue directory (default: $SENDWELL_STATE_DIR, state_dir, ./.sendwell)');

  program
    .command('queue')
    .description('show and manage the queue (T1): list (default, mailq layout), show ID, retry|hold|release|delete ID…|--all, resume')
    .argument('[action]', 'list, show, retry, hold, release, delete or resume', 'list')
    .argument('[ids...]', 'queue IDs')
    .option('--all', 'every queued message (retry, hold, release, delete)')
    .addOption(stateDirOpt())
    .option('--config <file>', 'config file')
    .option('--json', 'JSON lines (list) or JSON (show)')
    .action(async (action: string, ids: string[], flags: QueueFlags) => setExit(await (await import('./queue.js')).queueCommand(action, ids, flags, io)));

  program
    .command('flush')
    .description('deliver everything that is due now, then exit (for cron: */5 * * * * sendwell flush)')
    .addOption(stateDirOpt())
    .option('--config <file>', 'config file')
    .option('--relay <url>', 'relay URL, overrides [relay] url')
    .option('--json', 'machine-readable summary')
    .action(async (flags: QueueFlags) => setExit(await (await import('./queue.js')).flushCommand(flags, io)));

  program
    .command('worker')
    .description('drain the queue until stopped (SIGTERM/Ctrl-C): retries on schedule, rate limits, notices')
    .addOption(stateDirOpt())
    .option('--config <file>', 'config file')
    .option('--relay <url>', 'relay URL, overrides [relay] url')
    .option('--concurrency <n>', 'parallel SMTP sessions (default: [queue] concurrency)')
    .action(async (flags: QueueFlags & { concurrency?: string }) => setExit(await (await import('./queue.js')).workerCommand(flags, io)));

  program
    .command('log')
    .description('the mail log (T2, T3): one line per delivery attempt, Postfix mail.log layout')
    .addOption(stateDirOpt())
    .option('--config <file>', 'config file')
    .option('--id <queueId>', 'only this message')
    .option('--follow', 'keep printing new lines')
    .option('--json', 'JSON lines')
    .action(async (flags: QueueFlags & { id?: string; follow?: boolean }) => setExit(await (await import('./queue.js')).logCommand(flags, io)));

  program
    .command('serve')
    .description('the daemon: local SMTP relay (127.0.0.1:2525), HTTP API (127.0.0.1:8025) and queue worker; SIGHUP reloads')
    .addOption(stateDirOpt())
    .option('--config <file>', 'config file')
    .option('--relay <url>', 'relay URL, overrides [relay] url')
    .option('--no-smtp', 'do not run the SMTP listener')
    .option('--no-http', 'do not run the HTTP API')
    .option('--require-relay', 'refuse to start when no relay is configured (instead of capturing mail)')
    .action(async (flags: ServeFlags) => {
      const { serveCommand } = await import('./serve.js');
      setExit(await serveCommand(flags, io));
    });

  program
    .command('users')
    .description('SMTP AUTH users of sendwell serve (passwords stored as scrypt hashes): add NAME, remove NAME, list')
    .argument('<action>', 'add, remove or list')
    .argument('[name]', 'user name')
    .option('--password-stdin', 'read the password from stdin (users add)')
    .addOption(stateDirOpt())
    .option('--config <file>', 'config file')
    .option('--json', 'machine-readable output')
    .action(async (action: UsersAction, name: string | undefined, flags: UsersFlags) => {
      const { usersCommand } = await import('./users.js');
      setExit(await usersCommand(action, name, flags, io));
    });

  program
    .command('tokens')
    .description('API tokens for the HTTP API of sendwell serve: create NAME (shown once), revoke ID, list')
    .argument('<action>', 'create, revoke or list')
    .argument('[arg]', 'NAME for create, token ID for revoke')
    .addOption(stateDirOpt())
    .option('--config <file>', 'config file')
    .option('--json', 'machine-readable output (one line)')
    .action(async (action: string, arg: string | undefined, flags: TokensFlags) => {
      const { tokensCommand } = await import('./tokens.js');
      setExit(await tokensCommand(action, arg, flags, io));
    });

  program
    .command('lists')
    .description('mailing lists (R1): create NAME --reason TEXT, list')
    .argument('<action>', 'create or list')
    .argument('[name]', 'list name (create)')
    .option('--reason <text>', 'why recipients get the mail; added to every mail of the list (create)')
    .option('--description <text>', 'name shown in List-Id and on the pages, e.g. "Institute newsletter" (create)')
    .option('--single-opt-in', 'sign-ups count without a confirmation by the address owner (create; default: double opt-in)')
    .addOption(stateDirOpt())
    .option('--config <file>', 'config file')
    .option('--json', 'machine-readable output')
    .action(async (action: string, name: string | undefined, flags: ListsFlags) => {
      const { listsCommand } = await import('./lists.js');
      setExit(await listsCommand(action, name, flags, io));
    });

  program
    .command('consent')
    .description('consent records with proof (R1): add NAME ADDR --source TEXT, import NAME FILE.csv, export NAME, list NAME, revoke NAME ADDR')
    .argument('<action>', 'add, import, export, list or revoke')
    .argument('[list]', 'list name')
    .argument('[arg]', 'address (add, revoke) or CSV file (import; - for stdin)')
    .option('--source <text>', 'where the consent was given (add; import default: import:FILE)')
    .option('--consent-text <text>', 'the consent text or its version (add)')
    .option('--status <status>', 'only pending, confirmed or unsubscribed (list, export)')
    .option('--allow-invalid', 'import the valid rows even when some are invalid (import; default: nothing is imported then)')
    .addOption(stateDirOpt())
    .option('--config <file>', 'config file')
    .option('--json', 'machine-readable output')
    .action(async (action: string, list: string | undefined, arg: string | undefined, flags: ListsFlags) => {
      const { consentCommand } = await import('./lists.js');
      setExit(await consentCommand(action, list, arg, flags, io));
    });

  program
    .command('forms')
    .description('web forms (R10): list NAME shows the review list, newest first, with each verdict, score and reasons')
    .argument('<action>', 'list')
    .argument('[name]', 'form name ([forms.NAME])')
    .option('--verdict <verdict>', 'only accepted, quarantined or refused')
    .option('--limit <n>', 'at most this many (default 100)')
    .addOption(stateDirOpt())
    .option('--config <file>', 'config file')
    .option('--json', 'machine-readable output')
    .action(async (action: string, name: string | undefined, flags: FormsFlags) => {
      const { formsCommand } = await import('./forms.js');
      setExit(await formsCommand(action, name, flags, io));
    });

  const bounce = program.command('bounce').description('bounces (R2, R5): ingest one from stdin (for an MTA alias pipe), or poll an IMAP mailbox');
  bounce
    .command('ingest')
    .description('read one bounce on stdin, match it to its message, classify it, suppress dead addresses (exit 0, or 75 to make the MTA retry)')
    .option('--recipient <address>', 'the envelope recipient (default: $ORIGINAL_RECIPIENT as Postfix sets it)')
    .addOption(stateDirOpt())
    .option('--config <file>', 'config file')
    .option('--json', 'machine-readable result')
    .action(async (flags: BounceFlags) => {
      const { bounceIngestCommand } = await import('./bounce.js');
      setExit(await bounceIngestCommand(flags, io));
    });
  bounce
    .command('poll')
    .description('poll the [bounces.imap] mailbox once: ingest every message, move handled ones to processed_folder (exit 0; 75 server unreachable or messages left; 77 login failed; 78 config)')
    .addOption(stateDirOpt())
    .option('--config <file>', 'config file')
    .option('--json', 'machine-readable summary')
    .action(async (flags: BounceFlags) => {
      const { bouncePollCommand } = await import('./bounce.js');
      setExit(await bouncePollCommand(flags, io));
    });

  program
    .command('suppress')
    .description('the suppression list: list, add ADDR, remove ADDR, import FILE.csv, export (CSV)')
    .argument('<action>', 'list, add, remove, import or export')
    .argument('[arg]', 'address, or CSV file for import (- for stdin)')
    .option('--reason <text>', 'why (add)')
    .option('--scope <domain>', 'sending domain the entry applies to (default * = all)')
    .addOption(stateDirOpt())
    .option('--config <file>', 'config file')
    .option('--json', 'machine-readable output (list)')
    .action(async (action: string, arg: string | undefined, flags: BounceFlags & { reason?: string; scope?: string }) => {
      const { suppressCommand } = await import('./bounce.js');
      setExit(await suppressCommand(action, arg, flags, io));
    });

  program
    .command('doctor')
    .description('check the setup: config, secrets (R11), queue, relay (TLS, AUTH, RCPT probe), sender domain DNS (exit 0 nothing failed; 69 a check failed; 78 config error)')
    .addOption(stateDirOpt())
    .option('--config <file>', 'config file')
    .option('--relay <url>', 'relay URL, overrides [relay] url')
    .option('--rcpt <address>', 'recipient for the RCPT probe (default: postmaster@ the sender domain)')
    .option('--no-dns', 'skip the DNS checks of the sender domain')
    .option('--outbound-ip <ip>', 'an address receivers see the mail come from, to look for in SPF (repeatable)', collect, [])
    .option('--send-test <address>', 'really send a short test mail to ADDRESS (no queue)')
    .option('--spam-test', 'score a sample mail with the built-in rules and the configured scanners (R6)')
    .option('--bounce-test', 'send a probe that must bounce through the queue and wait until the bounce is matched (R5)')
    .option('--probe <address>', 'address for --bounce-test (default: a random local part at the sender domain)')
    .option('--timeout <duration>', 'how long --bounce-test waits (default 120 s)')
    .option('--json', 'machine-readable output')
    .action(async (flags: DoctorFlags) => {
      const { doctorCommand } = await import('./doctor.js');
      setExit(await doctorCommand(flags, io));
    });

  program
    .command('lint')
    .description('check any RFC 5322 message against the guide (exit 0 clean or warnings only, 65 errors)')
    .argument('<file>', 'message file, - for stdin')
    .option('--config <file>', 'config file with [policy] settings')
    .option('--json', 'machine-readable output')
    .action(async (file: string, flags: { json?: boolean; config?: string }) => setExit(await (await import('./commands.js')).lintCommand(file, flags, io)));

  program
    .command('init')
    .description("write a commented sendwell.toml for one of the guide's connection modes (C1-C3)")
    .addOption(new Option('--preset <name>', 'connection mode').choices([...PRESETS]).makeOptionMandatory())
    .option('--host <host>', 'relay host name (submission, smtps, smarthost, local)')
    .option('--from <address>', 'default From address')
    .option('--output <file>', 'where to write, - for stdout', 'sendwell.toml')
    .option('--force', 'overwrite an existing file')
    .action(async (flags: { preset?: string; host?: string; from?: string; output: string; force?: boolean }) => setExit((await import('./commands.js')).initCommand(flags, io)));

  program
    .command('sendmail')
    .description('the sendmail drop-in: read a message on stdin and queue it (sendmail -t -i, -f ADDR, -bs, -bp, -q; see `sendwell sendmail --help`)')
    .helpOption(false)
    .allowUnknownOption()
    .allowExcessArguments()
    .argument('[args...]', 'sendmail flags and recipients')
    .action(async () => {
      // main() hands `sendmail` to the drop-in before commander parses anything (sendmail's flags are not GNU-style).
    });

  program
    .command('config')
    .description('print the effective configuration (secrets redacted)')
    .option('--defaults', 'print the defaults instead')
    .option('--config <file>', 'config file')
    .option('--json', 'machine-readable output')
    .action(async (flags: { defaults?: boolean; json?: boolean; config?: string }) => setExit((await import('./commands.js')).configCommand(flags, io)));

  return program;
}

export async function main(argv: string[], io: Io = processIo): Promise<number> {
  let code: number = EXIT.OK;
  const program = buildProgram(io, (c) => (code = c));
  const json = argv.includes('--json');
  if (argv.length === 0) {
    io.stderr(program.helpInformation());
    return EXIT.USAGE;
  }
  if (argv[0] === 'sendmail') {
    const { sendmailMain } = await import('./sendmail.js');
    return sendmailMain(argv.slice(1), { io });
  }
  try {
    await program.parseAsync(argv, { from: 'user' });
    return code;
  } catch (err) {
    if (err instanceof CommanderError) {
      if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version' || err.code === 'commander.help') return EXIT.OK;
      return EXIT.USAGE;
    }
    return reportError(io, err instanceof SendwellError || err instanceof Error ? err : new Error(String(err)), json);
  }
}

/**
 * `sendwell users add|remove|list`: the SMTP users of `sendwell serve` (AUTH).
 * Passwords are stored as scrypt hashes only (R11); they are read from stdin
 * (--password-stdin) or typed on the terminal without echo, never taken as an
 * argument (which ps and the shell history would show).
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Readable, Writable } from 'node:stream';
import { EXIT, SendwellError } from '../errors.js';
import { loadConfig } from '../config/load.js';
import { Credentials } from '../server/credentials.js';
import { DB_FILE } from '../queue/sqlite/index.js';
import type { Io } from './output.js';
import { resolveStateDir } from './state-dir.js';

export type UsersAction = 'add' | 'remove' | 'list';

export interface UsersFlags {
  stateDir?: string;
  config?: string;
  passwordStdin?: boolean;
  json?: boolean;
}

/** Where the password comes from; the process's stdin and terminal by default (tests pass their own). */
export interface PasswordInput {
  stdin: Readable & { isTTY?: boolean; setRawMode?: (mode: boolean) => unknown };
  /** Where the prompt goes (the terminal, not stdout). */
  prompt: Pick<Writable, 'write'>;
  env?: NodeJS.ProcessEnv;
}

const ACTIONS: readonly UsersAction[] = ['add', 'remove', 'list'];
const MAX_PASSWORD = 1024;

function noPassword(): SendwellError {
  return new SendwellError('EUSAGE', 'no password: stdin is not a terminal and --password-stdin was not given', {
    hint: 'pipe the password in, e.g. `openssl rand -base64 24 | tee wiki.pw | sendwell users add wiki --password-stdin`, or run the command in a terminal to type it',
    rule: 'R11',
  });
}

/** The password from stdin (--password-stdin): everything up to EOF, one final line break removed. */
export async function readPasswordStdin(stdin: Readable): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of stdin) {
    const c = typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer);
    size += c.length;
    if (size > MAX_PASSWORD) throw new SendwellError('EUSAGE', `the password on stdin is longer than ${MAX_PASSWORD} bytes`, { hint: 'give the password alone, on one line' });
    chunks.push(c);
  }
  const text = Buffer.concat(chunks).toString('utf8').replace(/\r?\n$/, '');
  if (text === '') throw new SendwellError('EUSAGE', 'the password on stdin is empty', { hint: 'e.g. `openssl rand -base64 24 | sendwell users add NAME --password-stdin`' });
  if (/[\r\n]/.test(text)) throw new SendwellError('EUSAGE', 'the password on stdin has more than one line', { hint: 'give the password alone, on one line' });
  return text;
}

/**
 * Lines typed on the terminal without echo (raw mode). Keys that arrive in one
 * chunk with the Enter of an earlier line (a paste) are kept for the next line.
 * Ctrl-C or Ctrl-D aborts.
 */
export class HiddenPrompt {
  private typed = '';
  private waiting: { resolve: (s: string) => void; reject: (e: Error) => void } | undefined;
  private failed: Error | undefined;
  private readonly onData = (chunk: Buffer | string) => {
    this.typed += typeof chunk === 'string' ? chunk : chunk.toString('utf8');
    this.settle();
  };

  constructor(private readonly input: PasswordInput) {
    if (typeof input.stdin.setRawMode === 'function') input.stdin.setRawMode(true);
    input.stdin.on('data', this.onData);
    input.stdin.resume();
  }

  private settle(): void {
    if (!this.waiting) return;
    let value = '';
    for (let i = 0; i < this.typed.length; i++) {
      const ch = this.typed[i]!;
      if (ch === '\r' || ch === '\n') {
        this.typed = this.typed.slice(i + 1).replace(/^\n/, ch === '\r' ? '' : '\n');
        const w = this.waiting;
        this.waiting = undefined;
        this.input.prompt.write('\n');
        return w.resolve(value);
      }
      if (ch === '\u0003' || ch === '\u0004') this.failed = new SendwellError('EUSAGE', 'cancelled; no user was changed', { hint: 'run the command again to set the password' });
      else if (ch === '\u007f' || ch === '\b') value = [...value].slice(0, -1).join('');
      else if (ch >= ' ') value += ch;
      if (value.length > MAX_PASSWORD) this.failed = new SendwellError('EUSAGE', `the password is longer than ${MAX_PASSWORD} characters`, { hint: 'use a shorter one' });
      if (this.failed) {
        const w = this.waiting;
        this.waiting = undefined;
        this.input.prompt.write('\n');
        return w.reject(this.failed);
      }
    }
  }

  /** Show the question and read one line. */
  line(question: string): Promise<string> {
    if (this.failed) return Promise.reject(this.failed);
    this.input.prompt.write(question);
    return new Promise((resolve, reject) => {
      this.waiting = { resolve, reject };
      this.settle();
    });
  }

  close(): void {
    this.input.stdin.off('data', this.onData);
    if (typeof this.input.stdin.setRawMode === 'function') this.input.stdin.setRawMode(false);
    this.input.stdin.pause();
  }
}

async function obtainPassword(name: string, flags: UsersFlags, input: PasswordInput): Promise<string> {
  if (flags.passwordStdin) return readPasswordStdin(input.stdin);
  if (!input.stdin.isTTY) throw noPassword();
  const prompt = new HiddenPrompt(input);
  let first: string;
  let again: string;
  try {
    first = await prompt.line(`Password for SMTP user ${name}: `);
    again = await prompt.line('Retype the password: ');
  } finally {
    prompt.close();
  }
  if (first !== again) throw new SendwellError('EUSAGE', 'the passwords do not match; no user was changed', { hint: 'run the command again' });
  return first;
}

const defaultInput = (): PasswordInput => ({ stdin: process.stdin, prompt: process.stderr });

/**
 * `sendwell users add NAME [--password-stdin]`, `users remove NAME`, `users list [--json]`.
 * Returns the exit code.
 */
export async function usersCommand(action: UsersAction, name: string | undefined, flags: UsersFlags, io: Io, input: PasswordInput = defaultInput()): Promise<number> {
  if (!ACTIONS.includes(action)) {
    throw new SendwellError('EUSAGE', `unknown users action ${JSON.stringify(action)}`, { hint: `one of: ${ACTIONS.join(', ')}` });
  }
  if (action !== 'list' && !name) throw new SendwellError('EUSAGE', `sendwell users ${action} needs a user name`, { hint: `e.g. sendwell users ${action} wiki` });
  if (action === 'list' && name) throw new SendwellError('EUSAGE', 'sendwell users list takes no user name', { hint: 'sendwell users list [--json]' });
  if (action !== 'add' && flags.passwordStdin) throw new SendwellError('EUSAGE', `--password-stdin is for users add, not users ${action}`, { hint: 'sendwell users add NAME --password-stdin' });
  const config = loadConfig(flags.config ? { path: flags.config } : {});
  const stateDir = resolveStateDir(flags.stateDir, config);

  if (action === 'list' && !existsSync(join(stateDir, DB_FILE))) {
    io.stdout(flags.json ? '[]\n' : `no SMTP users (no state in ${stateDir} yet)\n`);
    return EXIT.OK;
  }
  if (action === 'add') {
    // Ask for the password before opening the database: nothing is created when the user gives up.
    const password = await obtainPassword(name!, flags, input);
    const credentials = new Credentials(stateDir);
    try {
      const existed = credentials.listUsers().some((u) => u.name === name);
      await credentials.addUser(name!, password);
      if (flags.json) io.stdout(`${JSON.stringify({ ok: true, name, action: existed ? 'password-changed' : 'added' })}\n`);
      else io.stdout(existed ? `changed the password of SMTP user ${name}\n` : `added SMTP user ${name} (state ${stateDir})\n`);
      return EXIT.OK;
    } finally {
      credentials.close();
    }
  }
  const credentials = new Credentials(stateDir);
  try {
    if (action === 'remove') {
      if (!credentials.removeUser(name!)) {
        throw new SendwellError('EUSAGE', `no SMTP user ${JSON.stringify(name)} in ${stateDir}`, { hint: '`sendwell users list` shows the users' });
      }
      if (flags.json) io.stdout(`${JSON.stringify({ ok: true, name, action: 'removed' })}\n`);
      else io.stdout(`removed SMTP user ${name}\n`);
      return EXIT.OK;
    }
    const users = credentials.listUsers();
    if (flags.json) {
      io.stdout(`${JSON.stringify(users.map((u) => ({ name: u.name, created_at: new Date(u.createdAt).toISOString() })))}\n`);
    } else if (users.length === 0) {
      io.stdout('no SMTP users\n');
    } else {
      const width = Math.max(4, ...users.map((u) => u.name.length));
      io.stdout(`${'NAME'.padEnd(width)}  CREATED\n${users.map((u) => `${u.name.padEnd(width)}  ${new Date(u.createdAt).toISOString()}`).join('\n')}\n`);
    }
    return EXIT.OK;
  } finally {
    credentials.close();
  }
}

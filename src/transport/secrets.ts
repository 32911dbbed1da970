/**
 * Where an SMTP password comes from (rule R11: never stored unprotected, never
 * in the relay URL, never in an error message or log).
 *
 * - `{ file }`: a file readable by its owner only (mode 0600 or 0400); a file
 *   that group or others can read is refused. One trailing newline is trimmed.
 * - `{ env }`: an environment variable.
 * - `{ command }`: a shell command whose first output line is the password,
 *   like msmtp's `passwordeval` (e.g. `pass show mail/relay`, `secret-tool lookup …`).
 * - `{ value }`: the password itself, already in memory (the API or a config
 *   file the config layer checked is readable by its owner only).
 */
import { spawn } from 'node:child_process';
import { promises as fs } from 'node:fs';
import { SendwellError } from '../errors.js';

export type PasswordSource =
  | { file: string }
  | { env: string }
  | { command: string }
  /** A password already in memory (e.g. from a config file the config layer checked is protected). */
  | { value: string };

/** How long a password command may run: long enough for a keyring prompt-less lookup or a vault CLI. */
export const PASSWORD_COMMAND_TIMEOUT_MS = 10_000;
/** Most stderr shown from a failing password command. */
const STDERR_SHOWN = 500;

function secretError(message: string, hint: string, options: { cause?: unknown; temporary?: boolean } = {}): SendwellError {
  return new SendwellError('ESECRET', message, { rule: 'R11', hint, ...options });
}

/** Describe a source without its secret, for messages and logs. */
export function describePasswordSource(source: PasswordSource): string {
  if ('file' in source) return `password_file ${source.file}`;
  if ('env' in source) return `password_env ${source.env}`;
  if ('command' in source) return 'password_command';
  return 'password (inline)';
}

/** Resolve a password. Throws `ESECRET` (rule R11) and never includes the password in the error. */
export async function resolvePassword(source: PasswordSource, options: { timeoutMs?: number; env?: NodeJS.ProcessEnv } = {}): Promise<string> {
  if (source && 'file' in source && typeof source.file === 'string') return readPasswordFile(source.file);
  if (source && 'env' in source && typeof source.env === 'string') {
    const env = options.env ?? process.env;
    const value = env[source.env];
    if (value === undefined || value === '') {
      throw secretError(`the environment variable ${source.env} (password_env) is not set or empty`, `export ${source.env} before running, or use password_file / password_command`);
    }
    return value;
  }
  if (source && 'command' in source && typeof source.command === 'string') {
    return runPasswordCommand(source.command, options.timeoutMs ?? PASSWORD_COMMAND_TIMEOUT_MS);
  }
  if (source && 'value' in source && typeof source.value === 'string') {
    if (source.value === '') throw secretError('the configured password is empty', 'set the password, or remove relay.username when the relay needs no login');
    return source.value;
  }
  throw new SendwellError('ECONFIG', 'the password source must be one of { file }, { env }, { command } or { value }', {
    hint: 'set exactly one of password_file, password_env or password_command',
  });
}

async function readPasswordFile(file: string): Promise<string> {
  let st;
  try {
    st = await fs.stat(file);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw secretError(`the password file ${file} cannot be read (${code ?? 'error'})`, code === 'ENOENT' ? 'check the path given as password_file' : 'check the file and its permissions', { cause: err });
  }
  if (!st.isFile()) throw secretError(`the password file ${file} is not a regular file`, 'point password_file at a file that holds only the password');
  if ((st.mode & 0o077) !== 0) {
    const mode = (st.mode & 0o777).toString(8).padStart(3, '0');
    throw secretError(
      `the password file ${file} can be read by other users (mode ${mode})`,
      `protect it so only its owner can read it (R11): chmod 600 ${file}`,
    );
  }
  let text: string;
  try {
    text = await fs.readFile(file, 'utf8');
  } catch (err) {
    throw secretError(`the password file ${file} cannot be read (${(err as NodeJS.ErrnoException).code ?? 'error'})`, 'check the file and its permissions', { cause: err });
  }
  const password = text.replace(/\r?\n$/, '');
  if (password === '') throw secretError(`the password file ${file} is empty`, 'write the password into the file (one line)');
  return password;
}

function runPasswordCommand(command: string, timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn('/bin/sh', ['-c', command], { stdio: ['ignore', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, timeoutMs);
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => err.push(b));
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(secretError(`the password_command could not be started (${(e as NodeJS.ErrnoException).code ?? e.message})`, 'check that /bin/sh exists', { cause: e }));
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      const stderr = Buffer.concat(err).toString('utf8').trim().slice(0, STDERR_SHOWN);
      if (timedOut) {
        reject(secretError(`the password_command did not finish within ${timeoutMs} ms`, 'make the command return without waiting for input (a keyring may be locked)', { temporary: true }));
        return;
      }
      if (code !== 0) {
        const why = signal ? `was killed by ${signal}` : `exited with status ${code}`;
        reject(secretError(`the password_command ${why}${stderr ? `: ${stderr}` : ''}`, 'run the command by hand to see why it fails'));
        return;
      }
      const first = Buffer.concat(out).toString('utf8').split(/\r?\n/)[0] ?? '';
      if (first === '') {
        reject(secretError('the password_command printed nothing on its first line', 'the command must print the password on standard output'));
        return;
      }
      resolve(first);
    });
  });
}

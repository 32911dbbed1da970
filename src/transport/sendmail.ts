/**
 * The sendmail transport: `<path> -i -f <sender> -- <recipients…>` with the
 * message on standard input (guide rule C1), as Postfix's sendmail(1) man page
 * asks (`--` before the recipients). The exit status is read as sysexits(3):
 * 75 is temporary, 67 is an unknown recipient, the rest permanent, with
 * Postfix's mapping to enhanced status codes (src/global/sys_exits.c).
 * Standard error is captured and shown; a command that hangs is killed.
 */
import { spawn } from 'node:child_process';
import { SendwellError, type RecipientOutcome } from '../errors.js';
import type { Envelope, Transport, TransportResult } from './types.js';

export interface SysexitInfo {
  name: string;
  /** Postfix's enhanced status code for this exit status. */
  enhanced: string;
  /** What it means, in words. */
  text: string;
  temporary: boolean;
}

/** sysexits(3) as Postfix maps them (sys_exits.c); 4.x.x codes are the temporary ones. */
export const SYSEXITS: Readonly<Record<number, SysexitInfo>> = {
  64: { name: 'EX_USAGE', enhanced: '5.3.0', text: 'command line usage error', temporary: false },
  65: { name: 'EX_DATAERR', enhanced: '5.6.0', text: 'data format error', temporary: false },
  66: { name: 'EX_NOINPUT', enhanced: '5.3.0', text: 'cannot open input', temporary: false },
  67: { name: 'EX_NOUSER', enhanced: '5.1.1', text: 'user unknown', temporary: false },
  68: { name: 'EX_NOHOST', enhanced: '5.1.2', text: 'host name unknown', temporary: false },
  69: { name: 'EX_UNAVAILABLE', enhanced: '5.3.0', text: 'service unavailable', temporary: false },
  70: { name: 'EX_SOFTWARE', enhanced: '5.3.0', text: 'internal software error', temporary: false },
  71: { name: 'EX_OSERR', enhanced: '4.3.0', text: 'system resource problem', temporary: true },
  72: { name: 'EX_OSFILE', enhanced: '5.3.0', text: 'critical OS file missing', temporary: false },
  73: { name: 'EX_CANTCREAT', enhanced: '5.2.0', text: "can't create user output file", temporary: false },
  74: { name: 'EX_IOERR', enhanced: '5.3.0', text: 'input/output error', temporary: false },
  75: { name: 'EX_TEMPFAIL', enhanced: '4.3.0', text: 'temporary failure', temporary: true },
  76: { name: 'EX_PROTOCOL', enhanced: '5.5.0', text: 'remote error in protocol', temporary: false },
  77: { name: 'EX_NOPERM', enhanced: '5.7.0', text: 'permission denied', temporary: false },
  78: { name: 'EX_CONFIG', enhanced: '5.3.5', text: 'local configuration error', temporary: false },
};

const SYSEXIT_HINTS: Readonly<Record<number, string>> = {
  64: 'the command does not accept "-i -f sender -- recipients…": check that relay.url points at a sendmail-compatible program',
  65: 'the mail system rejected the message data as malformed',
  67: 'a recipient address does not exist on this system: check the address (R5)',
  68: 'a recipient domain could not be found: check the address',
  69: 'the mail system is not available: is the local MTA running? (C1) Its log says more (T2)',
  71: 'the system ran out of a resource (memory, processes, disk); try again later',
  72: 'the MTA is missing a file it needs: check its installation (C1)',
  73: 'the MTA could not write its queue file: check disk space and the queue directory',
  74: 'the MTA hit an input/output error: check disk space and its log (T2)',
  75: 'the mail system cannot take the message right now (queue full, MTA restarting); try again later',
  76: 'the MTA reports a protocol error with the next hop; its log says more (T2)',
  77: 'this user may not submit mail or may not use this envelope sender (e.g. Postfix authorized_submit_users): check the MTA\'s settings',
  78: 'the local MTA is misconfigured: its log says what (T2)',
};

/** Most stderr shown in an error message. */
const STDERR_SHOWN = 1000;
/** After SIGTERM on timeout, SIGKILL if the command is still there. */
const KILL_GRACE_MS = 2_000;

export interface SendmailParams {
  path: string;
  /** e.g. `sendmail:/usr/sbin/sendmail` */
  url: string;
  timeoutMs: number;
  trace?: ((line: string) => void) | undefined;
}

function checkArg(address: string, what: string): void {
  if (typeof address !== 'string' || address.startsWith('-') || /[\r\n\u0000]/.test(address)) {
    throw new SendwellError('EADDRESS', `the ${what} ${JSON.stringify(String(address))} cannot be passed to the sendmail command`, {
      hint: 'an address must not start with "-" (it would be read as an option, cf. CVE-2020-7769) or contain line breaks or NUL',
    });
  }
}

/** CRLF → LF: sendmail reads local (UNIX) line endings. */
function toUnixLineEndings(raw: Buffer): Buffer {
  return Buffer.from(raw.toString('latin1').replace(/\r\n/g, '\n'), 'latin1');
}

export class SendmailTransport implements Transport {
  readonly name = 'sendmail';

  constructor(private readonly params: SendmailParams) {}

  async send(envelope: Envelope, raw: Buffer): Promise<TransportResult> {
    checkArg(envelope.from, 'envelope sender');
    if (!Array.isArray(envelope.to) || envelope.to.length === 0) {
      throw new SendwellError('EADDRESS', 'the envelope has no recipients', { hint: 'give at least one recipient' });
    }
    for (const to of envelope.to) checkArg(to, 'recipient');
    // Postfix, Exim and OpenSMTPD read `-f ''` as the null sender <>.
    const args = ['-i', '-f', envelope.from, '--', ...envelope.to];
    this.params.trace?.(`exec: ${this.params.path} ${args.map((a) => JSON.stringify(a)).join(' ')}`);
    const { code, signal, stderr, spawnError, timedOut } = await this.run(args, toUnixLineEndings(raw));
    const info = { relay: this.params.url };
    if (spawnError) throw this.spawnFailure(spawnError);
    if (timedOut) {
      throw new SendwellError('ETIMEDOUT', `the sendmail command ${this.params.path} did not finish within ${this.params.timeoutMs} ms and was killed`, {
        temporary: true,
        phase: 'data',
        hint: 'the local MTA may be hanging; check it and its log (T2), or raise relay.timeouts.sendmailMs',
        ...(stderr ? { response: stderr } : {}),
      });
    }
    if (code === 0) {
      return { recipients: envelope.to.map((address): RecipientOutcome => ({ address, status: 'accepted' })), info };
    }
    if (code === 127) throw this.spawnFailure(Object.assign(new Error('not found'), { code: 'ENOENT' }), stderr);
    if (code === 126) throw this.spawnFailure(Object.assign(new Error('not executable'), { code: 'EACCES' }), stderr);
    const tail = stderr ? `: ${stderr}` : '';
    if (code === null) {
      throw new SendwellError('ESENDMAIL', `the sendmail command ${this.params.path} was killed by ${signal ?? 'a signal'}${tail}`, {
        temporary: true,
        phase: 'data',
        hint: 'something killed the command (out of memory?); try again later',
        ...(stderr ? { response: stderr } : {}),
      });
    }
    const sx = SYSEXITS[code];
    const meaning = sx ? `${sx.name}: ${sx.text}` : 'not a sysexits code';
    const message = `the sendmail command ${this.params.path} exited with status ${code} (${meaning})${tail}`;
    const hint = SYSEXIT_HINTS[code] ?? 'the sendmail command failed; its error output and the MTA\'s log say why (T2)';
    const common = {
      temporary: sx?.temporary ?? false,
      phase: 'data' as const,
      hint,
      ...(sx ? { enhancedStatus: sx.enhanced } : {}),
      ...(stderr ? { response: stderr } : {}),
      details: { exitCode: code },
    };
    if (code === 67 || code === 68) {
      // sendmail does not say which recipient: mark them all.
      const recipients = envelope.to.map((address): RecipientOutcome => ({
        address,
        status: 'rejected',
        enhancedStatus: sx!.enhanced,
        temporary: false,
        ...(stderr ? { response: stderr } : {}),
      }));
      throw new SendwellError('ERECIPIENTS', message, { ...common, phase: 'rcpt', recipients, rule: 'R5' });
    }
    throw new SendwellError('ESENDMAIL', message, { ...common, ...(code === 69 ? { rule: 'C1' } : {}) });
  }

  private spawnFailure(err: NodeJS.ErrnoException, stderr = ''): SendwellError {
    const path = this.params.path;
    if (err.code === 'ENOENT') {
      return new SendwellError('ESENDMAIL', `the sendmail command was not found at ${path}${stderr ? `: ${stderr}` : ''}`, {
        temporary: false,
        rule: 'C1',
        hint: 'install an MTA that provides sendmail (e.g. Postfix) (C1), give its path as sendmail:/path/to/sendmail, or use smtp://localhost:25',
        cause: err,
      });
    }
    if (err.code === 'EACCES') {
      return new SendwellError('ESENDMAIL', `the sendmail command ${path} cannot be executed (permission denied)`, {
        temporary: false,
        rule: 'C1',
        hint: `check that ${path} is an executable file`,
        cause: err,
      });
    }
    return new SendwellError('ESENDMAIL', `the sendmail command ${path} could not be started: ${err.message}`, {
      temporary: false,
      hint: 'check relay.url',
      cause: err,
    });
  }

  private run(
    args: string[],
    input: Buffer,
  ): Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string; spawnError?: NodeJS.ErrnoException; timedOut: boolean }> {
    return new Promise((resolve) => {
      const child = spawn(this.params.path, args, { stdio: ['pipe', 'ignore', 'pipe'] });
      const err: Buffer[] = [];
      let errLen = 0;
      let settled = false;
      const stderrText = () => Buffer.concat(err).toString('utf8').replace(/[\u0000-\u0008\u000b-\u001f\u007f]/g, ' ').trim().slice(0, STDERR_SHOWN);
      const finish = (r: { code: number | null; signal: NodeJS.Signals | null; spawnError?: NodeJS.ErrnoException; timedOut: boolean }) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        resolve({ ...r, stderr: stderrText() });
      };
      const timer = setTimeout(() => {
        child.kill('SIGTERM');
        setTimeout(() => child.kill('SIGKILL'), KILL_GRACE_MS).unref();
        // Do not wait for pipes a grandchild may still hold open.
        child.stdin.destroy();
        child.stderr.destroy();
        finish({ code: null, signal: null, timedOut: true });
      }, this.params.timeoutMs);
      child.stderr.on('data', (b: Buffer) => {
        if (errLen < STDERR_SHOWN * 4) {
          err.push(b);
          errLen += b.length;
        }
      });
      child.on('error', (e: NodeJS.ErrnoException) => finish({ code: null, signal: null, spawnError: e, timedOut: false }));
      child.on('close', (code, signal) => finish({ code, signal, timedOut: false }));
      child.stdin.on('error', () => {
        // EPIPE when the command exits without reading: its exit status says why.
      });
      child.stdin.end(input);
    });
  }

  async close(): Promise<void> {
    // nothing kept open
  }
}

/**
 * The mail log in syslog as well (`[log] syslog = true`, T2): the same
 * Postfix-shaped text as mail.log, on the `mail` facility, so
 * /var/log/mail.log (or `journalctl -t sendwell`) shows sendwell next to the
 * MTA:
 *
 *   Dec  4 17:00:01 host sendwell[4242]: 0Bc9xK2mPq7RtZ: to=<bob@example.org>, relay=…, status=sent (250 2.0.0 Ok: queued as 4XkQ1)
 *
 * Node has no unix datagram sockets, so the lines go through the system's
 * logger(1) from util-linux (Debian: bsdutils, which every Debian has): one
 * long-lived child per process, started at the first line, fed on stdin with
 * one write per batch of lines. Each line starts with its own priority
 * (`--prio-prefix`), so warnings are mail.warning and the rest mail.info, as
 * Postfix logs them; `--id` puts our PID after the tag, as `postfix/smtp[1234]:`.
 *
 * Syslog is a copy: when logger is missing or dies, one warning on stderr says
 * so and how to fix it, and the mail log file goes on alone. Delivery never
 * waits for syslog.
 */
import type { ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import type { SYSLOG_FACILITIES } from '../config/patterns.js';

export type SyslogFacility = (typeof SYSLOG_FACILITIES)[number];

export interface SyslogOptions {
  facility: SyslogFacility;
  tag: string;
  /** "udp://host[:port]", "tcp://host[:port]" or "unix:/path"; default the local syslog, unix:/dev/log. */
  server?: string;
  /** The logger program (default `logger` from PATH). */
  program?: string;
  /** Where the one warning goes (default stderr). */
  warn?: (text: string) => void;
}

/** RFC 5424 §6.2.1 severities sendwell uses. */
export const SEVERITY = { warning: 4, info: 6 } as const;
export type Severity = (typeof SEVERITY)[keyof typeof SEVERITY];

/** RFC 5424 §6.2.1 facility codes. */
const FACILITY_CODE: Record<SyslogFacility, number> = {
  user: 1,
  mail: 2,
  daemon: 3,
  local0: 16,
  local1: 17,
  local2: 18,
  local3: 19,
  local4: 20,
  local5: 21,
  local6: 22,
  local7: 23,
};

/** Longer lines are split by logger; rsyslog's default maximum message size. */
export const MAX_LINE = 8192;
/** Unwritten lines kept for a logger that does not keep up before lines are dropped (delivery never waits). */
const MAX_BUFFERED = 4 * 1024 * 1024;
/** close(): how long to wait for logger to send what it has; after that it finishes on its own. */
const CLOSE_WAIT_MS = 2000;

export const DEFAULT_SOCKET = '/dev/log';
const DEFAULT_PORT = 514;

type Target = { kind: 'unix'; path: string } | { kind: 'udp' | 'tcp'; host: string; port: number };

/** The target of a `[log] syslog_server` value (already checked against SYSLOG_SERVER). */
export function syslogTarget(server: string | undefined): Target {
  if (!server) return { kind: 'unix', path: DEFAULT_SOCKET };
  if (server.startsWith('unix:')) return { kind: 'unix', path: server.slice('unix:'.length) };
  const m = /^(udp|tcp):\/\/(?:\[([^\]]+)\]|([^:]+))(?::(\d+))?$/.exec(server);
  if (!m) throw new Error(`not a syslog server: ${server}`);
  return { kind: m[1] as 'udp' | 'tcp', host: (m[2] ?? m[3])!, port: m[4] ? Number(m[4]) : DEFAULT_PORT };
}

/** logger's arguments: our tag and PID, the facility, a priority prefix on every line, the target. */
export function loggerArgs(o: Pick<SyslogOptions, 'facility' | 'tag' | 'server'>, pid = process.pid): string[] {
  const args = ['--tag', o.tag, `--id=${pid}`, '--priority', `${o.facility}.info`, '--prio-prefix', '--size', String(MAX_LINE)];
  const t = syslogTarget(o.server);
  // socket-errors off: logger reconnects when the syslog daemon restarts instead of exiting.
  if (t.kind === 'unix') args.push('--socket', t.path, '--socket-errors=off');
  else args.push('--server', t.host, '--port', String(t.port), t.kind === 'udp' ? '--udp' : '--tcp');
  return args;
}

export interface SyslogSink {
  /** One line's text with its priority prefix and newline (for `write`). */
  line(severity: Severity, text: string): string;
  /** Lines made by `line`, joined: one write to logger's stdin. */
  write(lines: string): void;
  /** Ends logger's input and waits (briefly) until it has sent everything. */
  close(): Promise<void>;
}

const FIX_LOGGER = 'install it with `apt-get install bsdutils` (util-linux\'s logger)';

/**
 * A syslog sink through one logger child, started at the first write. Never
 * throws, never blocks: failures turn syslog off with one warning.
 */
export function syslogSink(o: SyslogOptions): SyslogSink {
  const program = o.program ?? 'logger';
  const facility = FACILITY_CODE[o.facility] * 8;
  const prefixes = new Map<number, string>();
  const warnOut = o.warn ?? ((text: string) => void process.stderr.write(text));
  let warned = false;
  let off = false;
  let child: ChildProcess | undefined;
  let closing: Promise<void> | undefined;

  const warn = (what: string) => {
    if (warned) return;
    warned = true;
    warnOut(`sendwell: warning: ${what}\n`);
  };
  const turnOff = (why: string, fix: string) => {
    off = true;
    warn(`syslog output ([log] syslog = true) is off: ${why}; ${fix}, or set [log] syslog = false. The mail log file in the state directory is still written.`);
  };
  const where = () => o.server ?? `unix:${DEFAULT_SOCKET}`;

  const start = (): ChildProcess | undefined => {
    const target = syslogTarget(o.server);
    if (target.kind === 'unix' && !existsSync(target.path)) {
      turnOff(`no syslog daemon listens on ${target.path}`, o.server ? 'start the syslog daemon that should create it or fix [log] syslog_server' : 'install one (`apt-get install rsyslog`; systemd-journald also provides /dev/log) or send to a log host with [log] syslog_server');
      return undefined;
    }
    let c: ChildProcess;
    try {
      // Loaded here, not at the top: queueing with syslog off never loads child_process.
      const { spawn } = process.getBuiltinModule('node:child_process');
      // Own process group: Ctrl-C on the terminal stops sendwell, and logger still sends what it was given.
      c = spawn(program, loggerArgs(o), { stdio: ['pipe', 'ignore', 'pipe'], detached: true });
    } catch (err) {
      turnOff(`${program} could not be started (${(err as Error).message})`, FIX_LOGGER);
      return undefined;
    }
    let said = '';
    let sayTimer: NodeJS.Timeout | undefined;
    c.stdin!.on('error', () => undefined); // EPIPE when logger died: reported by 'close' below
    c.stderr!.setEncoding('utf8');
    c.stderr!.on('data', (d: string) => {
      if (said.length < 1000) said += d;
      // Complaints while it keeps running (a lost line): one warning, unless it is about to exit anyway.
      sayTimer ??= setTimeout(() => warn(`syslog: ${program} reports "${said.trim().split('\n')[0]}"; some lines may be missing from syslog (${where()}); the mail log file has them all.`), 200).unref();
    });
    c.on('error', (err: NodeJS.ErrnoException) => {
      turnOff(err.code === 'ENOENT' ? `the ${program} program was not found (${err.message})` : `${program} could not be started (${err.message})`, FIX_LOGGER);
    });
    c.on('close', (code, signal) => {
      if (sayTimer) clearTimeout(sayTimer);
      if (child === c) child = undefined;
      if (off) return; // 'error' said why
      const status = signal ? `was killed by ${signal}` : `exited with status ${code}`;
      const text = said.trim() ? ` (${said.trim().split('\n')[0]})` : '';
      if (code !== 0 || signal || !closing) {
        turnOff(`${program} ${status}${text} while logging to ${where()}`, o.server ? `check that ${o.server} is reachable and takes syslog, fix [log] syslog_server` : 'check the syslog daemon (`logger -p mail.info test` should work)');
      }
    });
    // Neither the child nor its pipes keep the process alive; close() waits for it.
    c.unref();
    unref(c.stdin);
    unref(c.stderr);
    return c;
  };

  return {
    line(severity, text) {
      let p = prefixes.get(severity);
      if (p === undefined) prefixes.set(severity, (p = `<${facility + severity}>`));
      // One event, one syslog line: a newline would start a new message.
      return `${p}${/[\r\n]/.test(text) ? text.replace(/[\r\n]+/g, ' ') : text}\n`;
    },
    write(lines) {
      if (off || lines === '') return;
      if (closing) return; // after close(): the file log still has it
      const c = (child ??= start());
      if (!c || off) return;
      const stdin = c.stdin!;
      if (stdin.writableLength > MAX_BUFFERED) {
        warn(`syslog: ${program} does not keep up (more than ${MAX_BUFFERED >> 20} MiB waiting); lines are dropped from syslog (${where()}); the mail log file has them all.`);
        return;
      }
      stdin.write(lines);
    },
    close() {
      const c = child;
      if (!c || closing) return closing ?? Promise.resolve();
      closing = new Promise<void>((resolve) => {
        if (c.exitCode !== null || c.signalCode !== null) return resolve();
        c.ref();
        const timer = setTimeout(() => {
          // It finishes on its own with what is in the pipe; the process need not wait, nor hold what it could not take.
          c.stdin!.destroy();
          c.unref();
          resolve();
        }, CLOSE_WAIT_MS);
        c.once('close', () => {
          clearTimeout(timer);
          resolve();
        });
        c.stdin!.end();
      }).then(() => {
        child = undefined;
        closing = undefined;
      });
      return closing;
    },
  };
}

function unref(stream: unknown): void {
  (stream as { unref?: () => void } | null)?.unref?.();
}

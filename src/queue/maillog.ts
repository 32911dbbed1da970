/**
 * The mail log (T2, T3): one line per event in Postfix's mail.log shape, so
 * `grep QUEUEID`, pflogsumm-style tools and habits carry over, plus the same
 * event as JSON. Both files live in the state directory; with `[log] syslog
 * = true` the lines go to syslog's mail facility as well (syslog.ts).
 *
 *   Dec  4 17:00:01 host sendwell/smtp[4242]: 0Bc9xK2mPq7RtZ: to=<bob@example.org>, relay=smtp://127.0.0.1:25,
 *     delay=0.42, delays=0.01/0/0/0.41, dsn=2.0.0, status=sent (250 2.0.0 Ok: queued as 4XkQ1)
 */
import { closeSync, existsSync, openSync, readFileSync, writeSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { SEVERITY, syslogSink, type Severity, type SyslogOptions } from './syslog.js';

export const LOG_FILE = 'mail.log';
export const JSON_LOG_FILE = 'mail.log.jsonl';

export type LogEvent =
  | { event: 'enqueued'; time: number; queueId: string; messageId: string; from: string; size: number; nrcpt: number; submitter: string }
  | {
      event: 'attempt';
      time: number;
      queueId: string;
      to: string;
      relay: string;
      /** Seconds since the message was queued. */
      delay: number;
      /** Postfix's a/b/c/d: before this attempt, queue manager, connection setup, transmission. */
      delays: [number, number, number, number];
      dsn: string;
      status: string;
      reply: string;
      relayQueueId?: string;
    }
  | { event: 'status'; time: number; queueId: string; to?: string; status: string; reason: string }
  | { event: 'dsn'; time: number; queueId: string; to: string; dsnQueueId: string; failed: string[] }
  /** A delay warning ([queue] delay_warning) went to the sender about these waiting recipients. */
  | { event: 'delay'; time: number; queueId: string; to: string; dsnQueueId: string; delayed: string[] }
  | { event: 'notice'; time: number; queueId?: string; level: 'warning' | 'info'; text: string };

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

// A drain logs thousands of lines per second: format each second once.
let stampSecond = Number.NaN;
let stamp = '';

function syslogTime(t: number): string {
  const second = Math.floor(t / 1000);
  if (second !== stampSecond) {
    stamp = formatSyslogTime(t);
    stampSecond = second;
  }
  return stamp;
}

function formatSyslogTime(t: number): string {
  const d = new Date(t);
  const p = (n: number) => String(n).padStart(2, '0');
  return `${MONTHS[d.getMonth()]} ${String(d.getDate()).padStart(2, ' ')} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
}

const secs = (n: number) => (Math.round(n * 100) / 100).toString();

/** The Postfix-shaped text of one event (without the syslog prefix). */
export function formatEvent(e: LogEvent): string {
  switch (e.event) {
    case 'enqueued':
      return `${e.queueId}: message-id=${e.messageId}, from=<${e.from}>, size=${e.size}, nrcpt=${e.nrcpt} (queue active), submitter=${e.submitter}`;
    case 'attempt':
      return (
        `${e.queueId}: to=<${e.to}>, relay=${e.relay}, delay=${secs(e.delay)}, delays=${e.delays.map(secs).join('/')}, ` +
        `dsn=${e.dsn}, status=${e.status} (${e.reply}${e.relayQueueId && !e.reply.includes(e.relayQueueId) ? `; relay queue ID ${e.relayQueueId}` : ''})`
      );
    case 'status':
      return `${e.queueId}: ${e.to ? `to=<${e.to}>, ` : ''}status=${e.status} (${e.reason})`;
    case 'dsn':
      return `${e.queueId}: sender non-delivery notification: ${e.dsnQueueId} to=<${e.to}> for ${e.failed.map((f) => `<${f}>`).join(', ')}`;
    case 'delay':
      return `${e.queueId}: sender delay notification: ${e.dsnQueueId} to=<${e.to}> for ${e.delayed.map((d) => `<${d}>`).join(', ')}`;
    case 'notice':
      return `${e.queueId ? `${e.queueId}: ` : ''}${e.level}: ${e.text}`;
    default: {
      const never: never = e;
      return String(never);
    }
  }
}

/** The full line as written to mail.log. */
// Read once, as syslog does: os.hostname() is a system call, and the worker writes a line per attempt.
let cachedHost: string | undefined;
const shortHost = (): string => (cachedHost ??= hostname().split('.')[0]!);

export function formatLine(e: LogEvent, host = shortHost(), pid = process.pid, program = 'sendwell/qmgr'): string {
  return linePrefix(e, host, pid, program) + formatEvent(e);
}

/** mail.log's prefix of a line: time, host, program and PID, as syslog writes them. */
function linePrefix(e: LogEvent, host: string | undefined, pid: number, program: string): string {
  const prog = e.event === 'attempt' ? 'sendwell/smtp' : program;
  return `${syslogTime(e.time)} ${host} ${prog}[${pid}]: `;
}

/** The syslog severity of an event: warnings as warning, the rest (deliveries too) as info, as Postfix logs them. */
export function severityOf(e: LogEvent): Severity {
  return e.event === 'notice' && e.level === 'warning' ? SEVERITY.warning : SEVERITY.info;
}

export interface MailLog {
  write(e: LogEvent): void;
  /** Several events at once (a group commit's): one write per file where possible. */
  writeMany?(events: LogEvent[]): void;
  /** Closes the files; with syslog, resolves when logger has sent the last lines. */
  close?(): void | Promise<void>;
}

/** Write events through `writeMany` when the log has it. */
export function writeEvents(log: MailLog, events: LogEvent[]): void {
  if (events.length === 0) return;
  if (log.writeMany) log.writeMany(events);
  else for (const e of events) log.write(e);
}

export interface FileMailLogOptions {
  /** Also print the lines on stderr. */
  stderr?: boolean;
  /** Also send them to syslog (`[log] syslog = true`), without the time and host: syslog adds its own. */
  syslog?: SyslogOptions;
}

/**
 * Appends to mail.log and mail.log.jsonl. Each event is one write(2) with
 * O_APPEND, so lines from several processes do not interleave. With
 * `syslog`, the same lines go to logger(1) too (one write per call).
 */
export function fileMailLog(stateDir: string, opts: FileMailLogOptions = {}): MailLog {
  // Opened once (O_APPEND), not per line: the worker writes several lines per message.
  let fds: [number, number] | undefined;
  const open = (): [number, number] => (fds ??= [openSync(join(stateDir, LOG_FILE), 'a', 0o640), openSync(join(stateDir, JSON_LOG_FILE), 'a', 0o640)]);
  const syslog = opts.syslog ? syslogSink(opts.syslog) : undefined;
  const host = shortHost();
  return {
    write(e) {
      const t = formatEvent(e);
      const line = linePrefix(e, host, process.pid, 'sendwell/qmgr') + t;
      const [text, json] = open();
      writeSync(text, `${line}\n`);
      writeSync(json, `${JSON.stringify(e)}\n`);
      if (opts.stderr) process.stderr.write(`${line}\n`);
      if (syslog) syslog.write(syslog.line(severityOf(e), t));
    },
    writeMany(events) {
      // Whole lines in one O_APPEND write each: still never interleaved with other processes'.
      const texts = events.map(formatEvent);
      const lines = events.map((e, i) => `${linePrefix(e, host, process.pid, 'sendwell/qmgr')}${texts[i]}\n`).join('');
      const [text, json] = open();
      writeSync(text, lines);
      writeSync(json, events.map((e) => `${JSON.stringify(e)}\n`).join(''));
      if (opts.stderr) process.stderr.write(lines);
      if (syslog) syslog.write(events.map((e, i) => syslog.line(severityOf(e), texts[i]!)).join(''));
    },
    close() {
      if (fds) for (const fd of fds) closeSync(fd);
      fds = undefined;
      return syslog?.close();
    },
  };
}

export const nullMailLog: MailLog = { write() {} };

/** Read events back (for `sendwell log`), optionally for one queue ID. */
export function readEvents(stateDir: string, queueId?: string): LogEvent[] {
  const file = join(stateDir, JSON_LOG_FILE);
  if (!existsSync(file)) return [];
  const out: LogEvent[] = [];
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    if (!line) continue;
    try {
      const e = JSON.parse(line) as LogEvent;
      if (!queueId || e.queueId === queueId || ((e.event === 'dsn' || e.event === 'delay') && e.dsnQueueId === queueId)) out.push(e);
    } catch {
      // A torn last line from a crash is skipped, not fatal.
    }
  }
  return out;
}

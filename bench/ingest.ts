/**
 * SMTP ingest (issue 4): Postfix's smtp-source submits N 1 KiB messages over 8
 * sessions (one message per connection, smtp-source's default) into
 * `sendwell serve`, each acknowledged after the durable commit, and in the same
 * round into the local Postfix (smtpd -> cleanup -> queue file, fsync'd before
 * the 250) on 127.0.0.1:25. msg/s = N / wall time of smtp-source.
 *
 * Postfix's queue manager delivers while it receives (local(8) appends to
 * /var/mail/sink, with an fsync per message), on the same two cores. So
 * sendwell is measured twice: with its worker idle (the relay is down: ingest
 * only) and with its worker delivering to a Postfix smtp-sink meanwhile (ingest
 * and delivery, like Postfix). Before each measurement the previous receiver's
 * backlog is drained, so no run pays for the one before. The order of the three
 * rotates each round; ratios are per round, then the median. A warm-up of up to
 * 2000 messages into each receiver comes first and is not measured.
 *
 * Needs the Debian postfix package (smtp-source, smtp-sink) and a running
 * Postfix for the comparison (`bash .ci/setup-postfix.sh`).
 *
 * `npm run bench:ingest`, or `BENCH_ONLY=ingest npm run bench` (writes RESULTS.md).
 * Env: INGEST_N (default 4000), INGEST_ROUNDS (default 5).
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { pathToFileURL } from 'node:url';
import Sqlite from 'better-sqlite3';
import { BIN, fmt, median, range, requireDist, table } from './lib/proc.js';
import { startSink, type Sink } from './lib/sink.js';

export const SMTP_SOURCE = process.env.SMTP_SOURCE ?? '/usr/sbin/smtp-source';
const POSTQUEUE = '/usr/sbin/postqueue';

export interface IngestOptions {
  n: number;
  rounds: number;
  sessions: number;
}

type Variant = 'sendwell' | 'sendwell-delivering' | 'postfix';

export interface IngestSample {
  variant: Variant;
  round: number;
  msgPerSec: number;
  /**
   * Receiver CPU ms per message while smtp-source ran: the serve process (threads
   * included); for Postfix, master and all its children (smtpd, cleanup, qmgr, local…).
   */
  cpuMsPerMsg?: number;
  ok: boolean;
  note?: string;
}

export interface IngestResult {
  opts: IngestOptions;
  samples: IngestSample[];
  /** sendwell (worker idle) / Postfix, per round. */
  ratios: number[];
  /** sendwell (worker delivering) / Postfix, per round. */
  ratiosDelivering: number[];
  postfix: boolean;
  markdown: string;
}

function portOpen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ host: '127.0.0.1', port }, () => (s.end(), resolve(true)));
    s.on('error', () => resolve(false));
  });
}

export function haveSource(): boolean {
  return existsSync(SMTP_SOURCE);
}

/** Run smtp-source; seconds of wall time. Throws when it fails. */
function source(o: IngestOptions, port: number, rcpt: string): number {
  const t = process.hrtime.bigint();
  execFileSync(SMTP_SOURCE, ['-s', String(o.sessions), '-m', String(o.n), '-l', '1024', '-f', 'jane@example.test', '-t', rcpt, '-M', 'example.test', `127.0.0.1:${port}`], { stdio: ['ignore', 'ignore', 'pipe'] });
  return Number(process.hrtime.bigint() - t) / 1e9;
}

/** /proc/PID/stat fields after the command name (field 3 is index 0). */
function stat(pid: number): string[] | undefined {
  try {
    const f = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return f.slice(f.lastIndexOf(')') + 2).split(' ');
  } catch {
    return undefined;
  }
}

/** CPU seconds (user + system, all threads) of a process so far. */
function cpuSeconds(pid: number): number {
  const f = stat(pid);
  return f ? (Number(f[11]) + Number(f[12])) / 100 : NaN;
}

/**
 * CPU seconds of the whole Postfix instance so far: master, its live children
 * (smtpd, cleanup, qmgr, local, …) and the children it already reaped (cutime).
 */
function postfixCpuSeconds(): number {
  let master: number;
  try {
    master = Number(readFileSync('/var/spool/postfix/pid/master.pid', 'utf8').trim());
  } catch {
    return NaN;
  }
  let ticks = 0;
  for (const e of readdirSync('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    const pid = Number(e);
    const f = stat(pid);
    if (!f || (pid !== master && Number(f[1]) !== master)) continue;
    ticks += Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14]);
  }
  return ticks / 100;
}

interface Serve {
  child: ChildProcess;
  port: number;
  stateDir: string;
  messages(): number;
  stop(): Promise<void>;
}

async function startServe(work: string, name: string, port: number, relayUrl: string): Promise<Serve> {
  const cfg = join(work, `${name}.toml`);
  const stateDir = join(work, `${name}-state`);
  // No rate limits; the flood brake far away and the duplicate hold off: smtp-source
  // sends the same message again and again. Every policy check still runs.
  writeFileSync(
    cfg,
    [
      '[relay]', `url = "${relayUrl}?tls=never"`,
      '[queue]', 'concurrency = 8',
      '[limits]', 'per_minute = 0', 'per_hour = 0', 'per_day = 0', 'per_recipient_per_hour = 0', 'per_domain_per_minute = 0', 'per_sender_per_hour = 0',
      '[limits.flood]', 'messages = 100000000', 'duplicate_window = "0s"',
      '[smtp]', `listen = ["127.0.0.1:${port}"]`, 'messages_per_client_per_minute = 0', 'max_connections_per_client = 1000',
      '',
    ].join('\n'),
  );
  const child = spawn(process.execPath, [BIN, 'serve', '--config', cfg, '--state-dir', stateDir, '--no-http'], { stdio: 'ignore' });
  for (let i = 0; i < 100 && !(await portOpen(port)); i++) await sleep(100);
  if (!(await portOpen(port))) throw new Error(`sendwell serve (${name}) did not listen on ${port}`);
  return {
    child,
    port,
    stateDir,
    messages() {
      const db = new Sqlite(join(stateDir, 'queue.db'), { readonly: true, timeout: 15_000 });
      try {
        return (db.prepare('SELECT COUNT(*) AS n FROM message').get() as { n: number }).n;
      } finally {
        db.close();
      }
    },
    async stop() {
      if (child.exitCode !== null) return;
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await exited;
    },
  };
}

/** Wait until Postfix's queue is empty (its deliveries of the last round are done). */
async function postfixDrained(timeoutMs: number): Promise<boolean> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    try {
      if (execFileSync(POSTQUEUE, ['-j'], { encoding: 'utf8' }).trim() === '') return true;
    } catch {
      return false;
    }
    await sleep(200);
  }
  return false;
}

const LABEL: Record<Variant, string> = {
  sendwell: 'sendwell serve, worker idle (relay down): ingest only',
  'sendwell-delivering': 'sendwell serve, worker delivering to smtp-sink meanwhile',
  postfix: 'Postfix smtpd → cleanup → queue (127.0.0.1:25), qmgr + local delivering meanwhile',
};

export async function benchIngest(o: IngestOptions, log: (s: string) => void = console.log): Promise<IngestResult> {
  requireDist();
  if (!haveSource()) throw new Error(`${SMTP_SOURCE} is missing: apt-get install postfix`);
  const work = mkdtempSync(join(tmpdir(), 'swbench-ingest-'));
  const postfix = await portOpen(25);
  let sink: Sink | undefined;
  const serves: Serve[] = [];
  try {
    sink = await startSink();
    const idle = await startServe(work, 'idle', 2625, 'smtp://127.0.0.1:9');
    serves.push(idle);
    const delivering = await startServe(work, 'delivering', 2626, sink.url);
    serves.push(delivering);
    log(`ingest: ${o.n} x 1 KiB over ${o.sessions} sessions (smtp-source), ${o.rounds} round(s)${postfix ? '' : '; Postfix is not listening on 127.0.0.1:25 (bash .ci/setup-postfix.sh), so no comparison'}`);
    const variants: Variant[] = postfix ? ['sendwell', 'sendwell-delivering', 'postfix'] : ['sendwell', 'sendwell-delivering'];
    const samples: IngestSample[] = [];
    // Warm-up, not measured: JIT-compiled listeners, running smtpd processes.
    const warm = { ...o, n: Math.min(o.n, 2000) };
    source(warm, idle.port, 'bob@example.test');
    source(warm, delivering.port, 'bob@example.test');
    let delivered = delivering.messages();
    if (postfix) source(warm, 25, 'sink@example.test');
    for (let round = 0; round < o.rounds; round++) {
      const order = variants.map((_, i) => variants[(i + round) % variants.length]!);
      for (const v of order) {
        // Nobody's backlog from the run before competes for the CPU.
        const pfQuiet = postfix ? await postfixDrained(120_000) : true;
        const swQuiet = (await sink.waitFor(delivered, 120_000)) >= delivered;
        let s: IngestSample;
        try {
          if (v === 'postfix') {
            const cpu0 = postfixCpuSeconds();
            const secs = source(o, 25, 'sink@example.test');
            const cpu = postfixCpuSeconds() - cpu0;
            s = { variant: v, round, msgPerSec: o.n / secs, ...(Number.isFinite(cpu) ? { cpuMsPerMsg: (cpu * 1000) / o.n } : {}), ok: true };
          } else {
            const serve = v === 'sendwell' ? idle : delivering;
            const before = serve.messages();
            const cpu0 = cpuSeconds(serve.child.pid!);
            const secs = source(o, serve.port, 'bob@example.test');
            const cpu = cpuSeconds(serve.child.pid!) - cpu0;
            const got = serve.messages() - before;
            if (v === 'sendwell-delivering') delivered += got;
            s = { variant: v, round, msgPerSec: o.n / secs, cpuMsPerMsg: (cpu * 1000) / o.n, ok: got === o.n, ...(got === o.n ? {} : { note: `${got} of ${o.n} queued` }) };
          }
        } catch (err) {
          s = { variant: v, round, msgPerSec: NaN, ok: false, note: (err as Error).message.slice(0, 300) };
        }
        if (!pfQuiet || !swQuiet) s.note = `${s.note ? `${s.note}; ` : ''}previous backlog not drained`;
        samples.push(s);
        log(`  round ${round + 1} ${v}: ${fmt(s.msgPerSec)} msg/s${s.cpuMsPerMsg !== undefined ? `, server CPU ${fmt(s.cpuMsPerMsg, 2)} ms/msg` : ''}${s.ok ? '' : `  FAILED: ${s.note}`}${s.ok && s.note ? ` (${s.note})` : ''}`);
      }
    }
    const ratio = (a: Variant, b: Variant) =>
      Array.from({ length: o.rounds }, (_, r) => {
        const x = samples.find((s) => s.round === r && s.variant === a && s.ok);
        const y = samples.find((s) => s.round === r && s.variant === b && s.ok);
        return x && y ? x.msgPerSec / y.msgPerSec : NaN;
      }).filter(Number.isFinite);
    const ratios = ratio('sendwell', 'postfix');
    const ratiosDelivering = ratio('sendwell-delivering', 'postfix');
    const rows = variants.map((v) => {
      const ok = samples.filter((s) => s.variant === v && s.ok);
      const rs = v === 'sendwell' ? ratios : v === 'sendwell-delivering' ? ratiosDelivering : [];
      return [
        LABEL[v],
        ok.length ? range(ok.map((s) => s.msgPerSec)) : 'failed',
        v === 'postfix' ? '—' : rs.length ? `${fmt(median(rs), 2)}× (${rs.map((r) => fmt(r, 2)).join(', ')})` : 'n/a',
        ok.some((s) => s.cpuMsPerMsg !== undefined) ? fmt(median(ok.flatMap((s) => (s.cpuMsPerMsg === undefined ? [] : [s.cpuMsPerMsg]))), 2) : 'n/a',
        `${ok.length}/${samples.filter((s) => s.variant === v).length}`,
      ];
    });
    const markdown =
      table(['receiver', 'msg/s median (min–max)', '÷ Postfix (same round: median, each round)', 'server CPU ms/msg', 'runs ok'], rows) +
      `\n\nsmtp-source -s ${o.sessions} -m ${o.n} -l 1024 (one message per connection), N = ${o.n}, ${o.rounds} round(s), order rotated each round, each receiver's previous backlog delivered before the next measurement. ` +
      'sendwell answers 250 after the group commit (WAL, synchronous=FULL) with every policy check on (lint, header completion, Received, size, relay access); ' +
      'Postfix after cleanup fsync()ed the queue file (one fsync per message; local(8) fsyncs the mailbox too). ' +
      'Server CPU: user + system time of the receiver during the measurement (sendwell: the serve process with its threads; Postfix: master and every child process), kernel work on the loopback included.';
    return { opts: o, samples, ratios, ratiosDelivering, postfix, markdown };
  } finally {
    await Promise.allSettled(serves.map((s) => s.stop()));
    await sink?.stop();
    rmSync(work, { recursive: true, force: true });
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const r = await benchIngest({ n: Number(process.env.INGEST_N ?? 4000), rounds: Number(process.env.INGEST_ROUNDS ?? 5), sessions: 8 });
  console.log(`\n${r.markdown}`);
}

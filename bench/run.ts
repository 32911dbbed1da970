/**
 * `npm run bench`: every queue benchmark in one run, a summary table with
 * same-run ratios against the targets, and the measured section of
 * bench/RESULTS.md rewritten (text outside the markers is kept).
 *
 * Env: BENCH_N (drain messages, default 20000), BENCH_ROUNDS (default 3),
 * BENCH_QUICK=1 (memory at 2k vs 20k instead of 20k vs 200k), MEM_CAP_S
 * (cap per memory run, default 120), STARTUP_RUNS (default 20), ENQ_SECS
 * (default 3), INGEST_N (SMTP ingest messages, default 4000), INGEST_ROUNDS (default 5),
 * BENCH_ONLY=drain,memory,enqueue,startup,ingest, BENCH_NO_WRITE=1
 * (print only), BENCH_COMMIT (the commit measured, for a tree without .git).
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, release, totalmem } from 'node:os';
import { join } from 'node:path';
import Sqlite from 'better-sqlite3';
import { benchDrain, type DrainResult } from './drain.js';
import { benchEnqueue, type EnqueueResult } from './enqueue.js';
import { benchIngest, haveSource, SMTP_SOURCE, type IngestResult } from './ingest.js';
import { benchMemory, type MemoryResult } from './memory.js';
import { fmt, median, requireDist, ROOT, table } from './lib/proc.js';
import { haveSink, SMTP_SINK } from './lib/sink.js';
import { benchStartup, type StartupResult } from './startup.js';

const env = process.env;
const N = Number(env.BENCH_N ?? 20_000);
const ROUNDS = Number(env.BENCH_ROUNDS ?? 3);
const QUICK = env.BENCH_QUICK === '1';
const only = new Set((env.BENCH_ONLY ?? 'drain,memory,enqueue,startup,ingest').split(',').map((s) => s.trim()));
const MEM_CAP_S = Number(env.MEM_CAP_S ?? 120);

requireDist();
if (only.has('ingest') && !haveSource()) throw new Error(`${SMTP_SOURCE} is missing: apt-get install postfix (and \`bash .ci/setup-postfix.sh\` for the comparison with a running Postfix)`);
if ((only.has('drain') || only.has('memory') || only.has('ingest')) && !haveSink()) throw new Error(`${SMTP_SINK} is missing: apt-get install postfix (only smtp-sink is used; the daemon need not run), or set SMTP_SINK`);

function version(pkg: string): string {
  try {
    return (JSON.parse(readFileSync(join(ROOT, 'node_modules', pkg, 'package.json'), 'utf8')) as { version: string }).version;
  } catch {
    return '?';
  }
}
function git(): string {
  // An exported tree (git archive) has no .git: the caller names the commit.
  if (env.BENCH_COMMIT) return env.BENCH_COMMIT;
  try {
    const head = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: ROOT, encoding: 'utf8' }).trim();
    const dirty = execFileSync('git', ['status', '--porcelain', '--untracked-files=no', 'src'], { cwd: ROOT, encoding: 'utf8' }).trim();
    return `${head}${dirty ? ' + uncommitted changes in src/' : ''}`;
  } catch {
    return 'unknown';
  }
}
const mem = new Sqlite(':memory:');
const sqliteVersion = (mem.prepare('SELECT sqlite_version() AS v').get() as { v: string }).v;
mem.close();
const load = () => loadavg().map((l) => l.toFixed(2)).join(' ');
const started = new Date();
const header = [
  `- Run: ${started.toISOString()} (${fmt((Date.now() - started.getTime()) / 1000)} s), commit ${git()}, \`npm run bench\` with BENCH_N=${N} BENCH_ROUNDS=${ROUNDS}${QUICK ? ' BENCH_QUICK=1' : ''} MEM_CAP_S=${MEM_CAP_S}.`,
  `- Machine: ${cpus().length} cores (${cpus()[0]?.model.trim() ?? '?'}), ${fmt(totalmem() / 2 ** 30)} GiB, Linux ${release()}; loopback only.`,
  `- Node ${process.version}, better-sqlite3 ${version('better-sqlite3')} (SQLite ${sqliteVersion}), nodemailer ${version('nodemailer')}, ${SMTP_SINK}.`,
];
console.log(header.join('\n'));

const sections: string[] = [];
const loads: string[] = [];
const log = (s: string) => console.log(s);
let drain: DrainResult | undefined;
let memory: MemoryResult | undefined;
let enqueue: EnqueueResult | undefined;
let startup: StartupResult | undefined;
let ingest: IngestResult | undefined;

if (only.has('drain')) {
  const l0 = load();
  drain = await benchDrain({ n: N, rounds: ROUNDS, conns: 8, bodyBytes: 1024 }, log);
  loads.push(`drain ${l0} → ${load()}`);
  sections.push(`### Drain throughput: ${fmt(N)} queued 1 KiB messages → smtp-sink, 8 connections\n\n${drain.markdown}`);
}
if (only.has('memory')) {
  const l0 = load();
  memory = await benchMemory({ sizes: QUICK ? [2_000, 20_000] : [20_000, 200_000], conns: 8, capS: MEM_CAP_S }, log);
  loads.push(`memory ${l0} → ${load()}`);
  sections.push(`### Drain memory: peak RSS vs backlog size\n\n${memory.markdown}`);
}
if (only.has('enqueue')) {
  const l0 = load();
  enqueue = await benchEnqueue({ secs: Number(env.ENQ_SECS ?? 3), rounds: ROUNDS, procs: [1, 8] }, log);
  loads.push(`enqueue ${l0} → ${load()}`);
  sections.push(`### Durable enqueue rate\n\n${enqueue.markdown}`);
}
if (only.has('startup')) {
  const l0 = load();
  startup = await benchStartup({ runs: Number(env.STARTUP_RUNS ?? 20), warmups: 3 }, log);
  loads.push(`startup ${l0} → ${load()}`);
  sections.push(`### sendmail start-up (one message queued durably)\n\n${startup.markdown}`);
}

if (only.has('ingest')) {
  const l0 = load();
  const n = Number(env.INGEST_N ?? 4000);
  // Five rounds by default: one smtp-source run is a few seconds, and the load of other jobs swings it.
  ingest = await benchIngest({ n, rounds: Number(env.INGEST_ROUNDS ?? 5), sessions: 8 }, log);
  loads.push(`ingest ${l0} → ${load()}`);
  sections.push(`### SMTP ingest: smtp-source, ${fmt(n)} × 1 KiB over 8 sessions, 250 after the durable commit\n\n${ingest.markdown}`);
}

// Summary against the targets.
const yes = (ok: boolean | undefined) => (ok === undefined ? '—' : ok ? 'yes' : '**no**');
const rows: string[][] = [];
if (drain) {
  const sw = drain.samples.filter((s) => s.variant === 'sendwell' && s.ok).map((s) => s.msgPerSec);
  const nm = drain.samples.filter((s) => s.variant === 'nodemailer-raw' && s.ok).map((s) => s.msgPerSec);
  const r = median(drain.ratios);
  rows.push(['drain msg/s, 8 connections, 1 KiB', `${fmt(median(sw))} (sendwell flush)`, `${fmt(median(nm))} (nodemailer pool)`, `${fmt(r, 2)}×`, '≥ 3×', yes(Number.isFinite(r) ? r >= 3 : undefined)]);
}
if (memory) {
  const [a, b] = [memory.samples[0]!, memory.samples[memory.samples.length - 1]!];
  rows.push([
    `drain peak RSS, backlog ${fmt(b.backlog)} vs ${fmt(a.backlog)}`,
    `${fmt(b.maxRssMiB)} MiB${b.completed ? '' : ` (${fmt(b.delivered)} delivered before the ${memory.opts.capS} s cap)`}`,
    `${fmt(a.maxRssMiB)} MiB`,
    `${fmt(memory.ratio, 2)}×`,
    '≤ 1.2×',
    yes(memory.ratio <= 1.2),
  ]);
  if (!b.completed) rows.push([`drain msg/s at backlog ${fmt(b.backlog)} vs ${fmt(a.backlog)}`, fmt(b.msgPerSec), fmt(a.msgPerSec), `${fmt(b.msgPerSec / a.msgPerSec, 2)}×`, '(flat)', yes(b.msgPerSec / a.msgPerSec >= 0.8)]);
}
if (enqueue) {
  for (const procs of enqueue.opts.procs) {
    const sub = enqueue.samples.filter((s) => s.mode === 'submit' && s.procs === procs && s.ok);
    const flo = enqueue.samples.filter((s) => s.mode === 'floor' && s.procs === procs && s.ok);
    const ratios = sub.map((s) => s.rate / (flo.find((f) => f.round === s.round)?.rate ?? NaN)).filter(Number.isFinite);
    rows.push([`durable enqueue msg/s, ${procs} caller${procs > 1 ? 's (processes)' : ''}`, `${fmt(median(sub.map((s) => s.rate)))} (QueueService.submit)`, `${fmt(median(flo.map((s) => s.rate)))} (better-sqlite3 FULL, 1 row/txn)`, `${fmt(median(ratios), 2)}×`, '≥ 0.5× (perf-baselines: within 2× of a raw FULL commit)', yes(median(ratios) >= 0.5)]);
  }
}
if (startup) {
  const r = median(startup.ratios);
  rows.push(['sendmail start-up, wall ms median', `${fmt(median(startup.ms.sendwell!), 1)} (${startup.command.replace(/`/g, '')})`, `${fmt(median(startup.ms.floor!), 1)} (node -e: better-sqlite3 FULL commit)`, `${fmt(r, 2)}×`, '≤ 1.3×', yes(r <= 1.3)]);
  if (startup.dropInRatios.length) {
    const d = median(startup.dropInRatios);
    rows.push(['sendmail start-up, installed drop-in', `${fmt(median(startup.ms.dropin!), 1)} (${startup.dropInPath} -odq -t)`, `${fmt(median(startup.ms.floor!), 1)}`, `${fmt(d, 2)}×`, '≤ 1.3×', yes(d <= 1.3)]);
  }
}
if (ingest) {
  const ok = (v: string) => ingest!.samples.filter((s) => s.variant === v && s.ok).map((s) => s.msgPerSec);
  const pf = ingest.postfix ? `${fmt(median(ok('postfix')))} (Postfix smtpd → queue)` : 'Postfix not running';
  for (const [v, label, rs] of [
    ['sendwell', 'SMTP ingest msg/s, smtp-source 8 sessions, 1 KiB, 250 after commit (worker idle)', ingest.ratios],
    ['sendwell-delivering', 'SMTP ingest msg/s, same, worker delivering meanwhile', ingest.ratiosDelivering],
  ] as const) {
    const r = median(rs);
    rows.push([label, `${fmt(median(ok(v)))} (sendwell serve)`, pf, rs.length ? `${fmt(r, 2)}×` : 'n/a', '≥ 1×', yes(rs.length ? r >= 1 : undefined)]);
  }
}
const summary = table(['measure', 'sendwell', 'reference (same run)', 'ratio', 'target', 'met'], rows);
header[0] = header[0]!.replace(/\(\d[\d,]* s\)/, `(${fmt((Date.now() - started.getTime()) / 1000)} s)`);
const measured = [
  `## Measured ${started.toISOString().slice(0, 10)}`,
  '',
  ...header,
  `- Load average (1/5/15 min) before → after each part: ${loads.join('; ')}. Other jobs on the machine show up here; ratios are taken within a round, seconds apart.`,
  '',
  '### Summary',
  '',
  summary,
  '',
  ...sections.flatMap((s) => [s, '']),
].join('\n');
console.log(`\n${measured}`);

if (env.BENCH_NO_WRITE !== '1') {
  const file = join(ROOT, 'bench/RESULTS.md');
  const START = '<!-- measured:start (written by `npm run bench`; edit outside the markers) -->';
  const END = '<!-- measured:end -->';
  const block = `${START}\n${measured}\n${END}`;
  let text = existsSync(file) ? readFileSync(file, 'utf8') : `# Queue benchmarks\n\n${START}\n${END}\n`;
  const a = text.indexOf(START);
  const b = text.indexOf(END);
  text = a >= 0 && b > a ? text.slice(0, a) + block + text.slice(b + END.length) : `${text.trimEnd()}\n\n${block}\n`;
  writeFileSync(file, text);
  console.log(`\nwrote ${file}`);
}

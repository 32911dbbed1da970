/**
 * Drain throughput: N queued 1 KiB messages delivered to Postfix's smtp-sink
 * over CONNS connections, `sendwell flush` (a whole CLI process: start-up,
 * recovery, drain with every outcome committed, exit) against nodemailer's
 * pool sending the same messages, in the same rounds. msg/s = N / wall time
 * of the client process, start-up included (as in perf-baselines.md). A run
 * counts only if the sink counted N messages and, for sendwell, every
 * recipient row is `delivered` in the database afterwards.
 */
import { copyFileSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { writeBenchConfig } from './lib/config.js';
import { fillQueue, stateCounts } from './lib/fill.js';
import { BIN, fmt, median, node, range, requireDist, ROOT, table, type Run } from './lib/proc.js';
import { startSink } from './lib/sink.js';

export interface DrainOptions {
  n: number;
  rounds: number;
  conns: number;
  bodyBytes: number;
}

type Variant = 'sendwell' | 'nodemailer-raw' | 'nodemailer-compose';

export interface DrainSample {
  variant: Variant;
  round: number;
  msgPerSec: number;
  cpuMsPerMsg: number;
  maxRssMiB: number;
  sinkCount: number;
  ok: boolean;
  note?: string;
}

export interface DrainResult {
  opts: DrainOptions;
  fillMs: number;
  samples: DrainSample[];
  /** sendwell / nodemailer-raw msg/s, per round. */
  ratios: number[];
  ratiosCompose: number[];
  markdown: string;
}

async function sendwellRun(template: string, config: string, o: DrainOptions, round: number): Promise<DrainSample> {
  const dir = mkdtempSync(join(tmpdir(), 'swbench-drain-'));
  try {
    copyFileSync(join(template, 'queue.db'), join(dir, 'queue.db'));
    const sink = await startSink();
    let r: Run;
    try {
      r = await node([BIN, 'flush', '--state-dir', dir, '--config', config, '--relay', sink.url], { usage: true, capMs: Math.max(300_000, o.n * 30), cwd: dir });
      await sink.waitFor(o.n, 5000);
    } finally {
      await sink.stop();
    }
    const counts = stateCounts(dir);
    const ok = r.code === 0 && !r.capped && sink.messages() === o.n && counts.delivered === o.n;
    return sample('sendwell', round, r, o, sink.messages(), ok, ok ? undefined : `exit ${r.code}${r.capped ? ' (capped)' : ''}, sink ${sink.messages()}, rows ${JSON.stringify(counts)}: ${r.stderr.slice(-300)}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

async function nodemailerRun(mode: 'raw' | 'compose', o: DrainOptions, round: number): Promise<DrainSample> {
  const sink = await startSink();
  let r: Run;
  try {
    r = await node([join(ROOT, 'bench/lib/nodemailer-send.mjs'), String(sink.port), String(o.n), String(o.bodyBytes), String(o.conns), mode, `nm${round}`], { usage: true, capMs: Math.max(300_000, o.n * 30) });
    await sink.waitFor(o.n, 5000);
  } finally {
    await sink.stop();
  }
  const ok = r.code === 0 && !r.capped && sink.messages() === o.n;
  return sample(`nodemailer-${mode}`, round, r, o, sink.messages(), ok, ok ? undefined : `exit ${r.code}, sink ${sink.messages()}: ${r.stdout.slice(-300)} ${r.stderr.slice(-300)}`);
}

function sample(variant: Variant, round: number, r: Run, o: DrainOptions, sinkCount: number, ok: boolean, note?: string): DrainSample {
  const cpu = r.usage ? r.usage.userMs + r.usage.sysMs : NaN;
  return { variant, round, msgPerSec: (o.n / r.ms) * 1000, cpuMsPerMsg: cpu / o.n, maxRssMiB: r.usage ? r.usage.maxRssKiB / 1024 : NaN, sinkCount, ok, ...(note ? { note } : {}) };
}

export async function benchDrain(o: DrainOptions, log: (s: string) => void = console.log): Promise<DrainResult> {
  requireDist();
  const work = mkdtempSync(join(tmpdir(), 'swbench-drain-tpl-'));
  try {
    const template = join(work, 'template');
    mkdirSync(template);
    const t0 = performance.now();
    fillQueue(template, o.n, { bodyBytes: o.bodyBytes, tag: 'drain' });
    const fillMs = performance.now() - t0;
    const config = writeBenchConfig(join(work, 'sendwell.toml'), { concurrency: o.conns });
    log(`drain: ${o.n} messages of ${o.bodyBytes} B body queued in ${fmt(fillMs)} ms; ${o.rounds} round(s), ${o.conns} connections`);
    const samples: DrainSample[] = [];
    const variants: Variant[] = ['sendwell', 'nodemailer-raw', 'nodemailer-compose'];
    for (let round = 0; round < o.rounds; round++) {
      // Rotate the order so no variant always runs first.
      const order = variants.map((_, i) => variants[(i + round) % variants.length]!);
      for (const v of order) {
        const s = v === 'sendwell' ? await sendwellRun(template, config, o, round) : await nodemailerRun(v === 'nodemailer-raw' ? 'raw' : 'compose', o, round);
        samples.push(s);
        log(`  round ${round + 1} ${v}: ${fmt(s.msgPerSec)} msg/s, ${fmt(s.cpuMsPerMsg, 3)} CPU ms/msg, peak RSS ${fmt(s.maxRssMiB)} MiB${s.ok ? '' : `  FAILED: ${s.note}`}`);
      }
    }
    const ratio = (other: Variant) =>
      Array.from({ length: o.rounds }, (_, r) => {
        const a = samples.find((s) => s.round === r && s.variant === 'sendwell' && s.ok);
        const b = samples.find((s) => s.round === r && s.variant === other && s.ok);
        return a && b ? a.msgPerSec / b.msgPerSec : NaN;
      }).filter(Number.isFinite);
    const ratios = ratio('nodemailer-raw');
    const ratiosCompose = ratio('nodemailer-compose');
    const rows = variants.map((v) => {
      const ok = samples.filter((s) => s.variant === v && s.ok);
      const all = samples.filter((s) => s.variant === v);
      const r = v === 'sendwell' ? '1' : v === 'nodemailer-raw' ? fmt(median(ratios), 2) : fmt(median(ratiosCompose), 2);
      return [
        v === 'sendwell' ? '`sendwell flush` (CLI, state committed per outcome)' : v === 'nodemailer-raw' ? 'nodemailer pool, same bytes (`raw`)' : 'nodemailer pool, composing from text',
        ok.length ? range(ok.map((s) => s.msgPerSec)) : 'failed',
        v === 'sendwell' ? '—' : `${r}×`,
        ok.length ? fmt(median(ok.map((s) => s.cpuMsPerMsg)), 3) : 'n/a',
        ok.length ? fmt(median(ok.map((s) => s.maxRssMiB))) : 'n/a',
        `${ok.length}/${all.length}`,
      ];
    });
    const markdown =
      table(['client', 'msg/s median (min–max)', 'sendwell ÷ this (same round, median)', 'client CPU ms/msg', 'peak RSS MiB', 'runs ok'], rows) +
      `\n\nN = ${o.n}, ${o.bodyBytes}-byte bodies, ${o.conns} connections (sendwell \`[queue] concurrency = ${o.conns}\`, nodemailer \`maxConnections: ${o.conns}\`), ${o.rounds} round(s), order rotated each round.`;
    return { opts: o, fillMs, samples, ratios, ratiosCompose, markdown };
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const r = await benchDrain({ n: Number(process.env.BENCH_N ?? 20_000), rounds: Number(process.env.BENCH_ROUNDS ?? 3), conns: 8, bodyBytes: 1024 });
  console.log(`\n${r.markdown}`);
}

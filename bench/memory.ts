/**
 * Drain memory: peak RSS (the child's own process.resourceUsage().maxRSS) of
 * `sendwell flush` draining a backlog of SMALL vs LARGE queued messages into
 * smtp-sink. A drain that reads the queue in bounded windows keeps the same
 * peak whatever the backlog. Each run is capped (MEM_CAP_S, default 120 s):
 * a capped run is stopped with SIGTERM and reports its peak so far and how
 * many messages it delivered, so the table always says what was measured.
 * VmRSS is also sampled every 250 ms, to compare both runs over the same
 * elapsed time.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { writeBenchConfig } from './lib/config.js';
import { fillQueue, stateCounts } from './lib/fill.js';
import { BIN, fmt, node, requireDist, table } from './lib/proc.js';
import { startSink } from './lib/sink.js';

export interface MemoryOptions {
  sizes: number[];
  conns: number;
  capS: number;
}

export interface MemorySample {
  backlog: number;
  fillMs: number;
  delivered: number;
  completed: boolean;
  seconds: number;
  msgPerSec: number;
  maxRssMiB: number;
  /** VmRSS samples [ms, KiB]. */
  rss: Array<[number, number]>;
}

export interface MemoryResult {
  opts: MemoryOptions;
  samples: MemorySample[];
  ratio: number;
  /** Peak sampled VmRSS of each run within the first `window` ms (the shorter run's length). */
  window: number;
  windowPeaksMiB: number[];
  markdown: string;
}

export async function benchMemory(o: MemoryOptions, log: (s: string) => void = console.log): Promise<MemoryResult> {
  requireDist();
  const samples: MemorySample[] = [];
  for (const size of o.sizes) {
    const dir = mkdtempSync(join(tmpdir(), 'swbench-mem-'));
    try {
      const t0 = performance.now();
      fillQueue(dir, size, { tag: `mem${size}` });
      const fillMs = performance.now() - t0;
      const config = writeBenchConfig(join(dir, 'sendwell.toml'), { concurrency: o.conns });
      const sink = await startSink();
      let r;
      try {
        r = await node([BIN, 'flush', '--state-dir', dir, '--config', config, '--relay', sink.url], { usage: true, capMs: o.capS * 1000, sampleRssMs: 250, cwd: dir });
      } finally {
        await sink.stop();
      }
      const delivered = stateCounts(dir).delivered ?? 0;
      const s: MemorySample = {
        backlog: size,
        fillMs,
        delivered,
        completed: r.code === 0 && !r.capped && delivered === size,
        seconds: r.ms / 1000,
        msgPerSec: delivered / (r.ms / 1000),
        maxRssMiB: r.usage ? r.usage.maxRssKiB / 1024 : NaN,
        rss: r.rss ?? [],
      };
      samples.push(s);
      log(
        `memory: backlog ${size} (queued in ${fmt(fillMs)} ms): ${s.completed ? 'drained' : `stopped at the ${o.capS} s cap after`} ${delivered} in ${fmt(s.seconds, 1)} s ` +
          `(${fmt(s.msgPerSec)} msg/s), peak RSS ${fmt(s.maxRssMiB)} MiB${r.code !== 0 && !r.capped ? ` — exit ${r.code}: ${r.stderr.slice(-300)}` : ''}`,
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
  const small = samples[0]!;
  const large = samples[samples.length - 1]!;
  const ratio = large.maxRssMiB / small.maxRssMiB;
  const window = Math.min(...samples.map((s) => s.seconds * 1000));
  const windowPeaksMiB = samples.map((s) => Math.max(0, ...s.rss.filter(([t]) => t <= window).map(([, kib]) => kib)) / 1024);
  const rows = samples.map((s, i) => [
    fmt(s.backlog),
    s.completed ? `all, ${fmt(s.seconds, 1)} s` : `${fmt(s.delivered)} in ${fmt(s.seconds, 1)} s (capped)`,
    fmt(s.msgPerSec),
    fmt(s.maxRssMiB),
    fmt(windowPeaksMiB[i]!),
    i === 0 ? '—' : `${fmt(s.maxRssMiB / small.maxRssMiB, 2)}×`,
  ]);
  const markdown =
    table(['backlog (queued messages)', 'delivered', 'msg/s', 'peak RSS MiB (maxRSS)', `peak VmRSS MiB in the first ${fmt(window / 1000, 1)} s`, 'peak RSS ÷ smallest'], rows) +
    `\n\n\`sendwell flush\`, ${o.conns} connections, 1 KiB bodies, to smtp-sink; runs capped at ${o.capS} s (MEM_CAP_S).`;
  return { opts: o, samples, ratio, window, windowPeaksMiB, markdown };
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const quick = process.env.BENCH_QUICK === '1';
  const r = await benchMemory({ sizes: quick ? [2_000, 20_000] : [20_000, 200_000], conns: 8, capS: Number(process.env.MEM_CAP_S ?? 120) });
  console.log(`\n${r.markdown}`);
}

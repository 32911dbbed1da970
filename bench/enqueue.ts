/**
 * Durable enqueue rate: one caller, and 8 concurrent callers (processes) on
 * one queue, for `QueueService.submit` (what the library and CLI call),
 * the store's `enqueue()` alone, and the floor: bare better-sqlite3 with
 * synchronous=FULL, one row per transaction, the same number of processes
 * on one database. Each caller runs for SECS seconds from a common start
 * (start-up excluded); the rate is all calls ÷ the longest caller's time.
 * Counts are checked against the rows in the database afterwards.
 */
import Sqlite from 'better-sqlite3';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { fmt, median, node, requireDist, ROOT, table } from './lib/proc.js';

export interface EnqueueOptions {
  secs: number;
  rounds: number;
  procs: number[];
}

type Mode = 'submit' | 'store' | 'floor';

export interface EnqueueSample {
  mode: Mode;
  procs: number;
  round: number;
  rate: number;
  p50: number;
  p99: number;
  ok: boolean;
  note?: string;
}

export interface EnqueueResult {
  opts: EnqueueOptions;
  samples: EnqueueSample[];
  markdown: string;
}

function rowsIn(dir: string, mode: Mode): number {
  const db = new Sqlite(join(dir, mode === 'floor' ? 'floor.db' : 'queue.db'), { readonly: true });
  try {
    return (db.prepare(`SELECT COUNT(*) AS n FROM ${mode === 'floor' ? 'queue' : 'message'}`).get() as { n: number }).n;
  } finally {
    db.close();
  }
}

async function one(mode: Mode, procs: number, round: number, o: EnqueueOptions): Promise<EnqueueSample> {
  const dir = mkdtempSync(join(tmpdir(), 'swbench-enq-'));
  try {
    // Create the schema first so the callers do not race to migrate.
    if (mode !== 'floor') {
      const { openSqliteStore } = (await import(pathToFileURL(join(ROOT, 'dist/queue/sqlite/index.js')).href)) as { openSqliteStore: (d: string) => { close(): void } };
      openSqliteStore(dir).close();
    }
    const startAt = Date.now() + 1500 + 250 * procs;
    const runs = await Promise.all(
      Array.from({ length: procs }, (_, k) => node([join(ROOT, 'bench/lib/enqueue-child.mjs'), mode, dir, String(o.secs), String(startAt), `e${round}.${k}`], { capMs: (o.secs + 60) * 1000 })),
    );
    const out = runs.map((r) => (r.code === 0 ? (JSON.parse(r.stdout.trim().split('\n').pop()!) as { count: number; ms: number; p50: number; p99: number }) : undefined));
    const failed = runs.find((r) => r.code !== 0);
    const total = out.reduce((s, x) => s + (x?.count ?? 0), 0);
    const stored = rowsIn(dir, mode);
    const ok = !failed && stored === total;
    const ms = Math.max(...out.map((x) => x?.ms ?? 0));
    return {
      mode,
      procs,
      round,
      rate: (total / ms) * 1000,
      p50: median(out.map((x) => x?.p50 ?? NaN)),
      p99: Math.max(...out.map((x) => x?.p99 ?? NaN)),
      ok,
      ...(ok ? {} : { note: failed ? `exit ${failed.code}: ${failed.stderr.slice(-400)}` : `${stored} rows for ${total} calls` }),
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export async function benchEnqueue(o: EnqueueOptions, log: (s: string) => void = console.log): Promise<EnqueueResult> {
  requireDist();
  const modes: Mode[] = ['submit', 'store', 'floor'];
  const samples: EnqueueSample[] = [];
  for (let round = 0; round < o.rounds; round++) {
    for (const procs of o.procs) {
      const order = modes.map((_, i) => modes[(i + round) % modes.length]!);
      for (const mode of order) {
        const s = await one(mode, procs, round, o);
        samples.push(s);
        log(`  enqueue round ${round + 1} ${mode} × ${procs}: ${fmt(s.rate)} msg/s, p50 ${fmt(s.p50, 3)} ms, p99 ${fmt(s.p99, 3)} ms${s.ok ? '' : `  FAILED: ${s.note}`}`);
      }
    }
  }
  const label: Record<Mode, string> = {
    submit: '`QueueService.submit` (library/CLI path)',
    store: 'store `enqueue()` only',
    floor: 'floor: better-sqlite3, FULL, 1 row/txn',
  };
  const rows: string[][] = [];
  for (const procs of o.procs) {
    for (const mode of modes) {
      const ok = samples.filter((s) => s.mode === mode && s.procs === procs && s.ok);
      const ratios = Array.from({ length: o.rounds }, (_, r) => {
        const a = samples.find((s) => s.mode === mode && s.procs === procs && s.round === r && s.ok);
        const b = samples.find((s) => s.mode === 'floor' && s.procs === procs && s.round === r && s.ok);
        return a && b ? a.rate / b.rate : NaN;
      }).filter(Number.isFinite);
      rows.push([
        String(procs),
        label[mode],
        ok.length ? `${fmt(median(ok.map((s) => s.rate)))} (${fmt(Math.min(...ok.map((s) => s.rate)))}–${fmt(Math.max(...ok.map((s) => s.rate)))})` : 'failed',
        mode === 'floor' ? '—' : `${fmt(median(ratios), 2)}×`,
        ok.length ? fmt(median(ok.map((s) => s.p50)), 3) : 'n/a',
        ok.length ? fmt(median(ok.map((s) => s.p99)), 3) : 'n/a',
        `${ok.length}/${samples.filter((s) => s.mode === mode && s.procs === procs).length}`,
      ]);
    }
  }
  const markdown =
    table(['processes', 'enqueue', 'msg/s median (min–max)', '÷ floor (same round)', 'call ms p50', 'call ms p99 (worst caller)', 'runs ok'], rows) +
    `\n\n1 KiB messages, one recipient, ${o.secs} s per run from a common start, ${o.rounds} round(s); rate = all calls ÷ the longest caller's time; rows counted in the database afterwards.`;
  return { opts: o, samples, markdown };
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const r = await benchEnqueue({ secs: Number(process.env.ENQ_SECS ?? 3), rounds: Number(process.env.BENCH_ROUNDS ?? 3), procs: [1, 8] });
  console.log(`\n${r.markdown}`);
}

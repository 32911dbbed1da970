/** Spawning measured children: wall time spawn-to-exit, their own resource usage, bounded by a time cap. */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const ROOT = new URL('../../', import.meta.url).pathname;
/** The `sendwell` command as installed: package.json's bin (dist/cli/bin.cjs). */
export const BIN = join(ROOT, (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { bin: Record<string, string> }).bin.sendwell!);
export const USAGE = join(ROOT, 'bench/lib/usage.mjs');

export interface Usage {
  maxRssKiB: number;
  userMs: number;
  sysMs: number;
}

export interface Run {
  code: number | null;
  signal: string | null;
  ms: number;
  stdout: string;
  stderr: string;
  usage?: Usage;
  /** True when the cap was reached and the child was sent SIGTERM. */
  capped: boolean;
  /** VmRSS samples [ms since spawn, KiB], when sampling was asked for. */
  rss?: Array<[number, number]>;
}

export interface RunOptions {
  cwd?: string;
  env?: Record<string, string>;
  stdin?: string | Buffer;
  /** Preload usage.mjs and report the child's resourceUsage(). */
  usage?: boolean;
  /** SIGTERM after this long (then SIGKILL 10 s later). */
  capMs?: number;
  /** Sample /proc/PID/status VmRSS this often. */
  sampleRssMs?: number;
}

function vmRss(pid: number): number | undefined {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : undefined;
  } catch {
    return undefined;
  }
}

/** Run `node ARGS…` (or another command) and time it from spawn to exit. */
export function run(cmd: string, args: string[], o: RunOptions = {}): Promise<Run> {
  const scratch = o.usage ? mkdtempSync(join(tmpdir(), 'swbench-usage-')) : undefined;
  const usageFile = scratch ? join(scratch, 'usage.json') : undefined;
  const fullArgs = o.usage ? ['--import', USAGE, ...args] : args;
  const env = { ...process.env, ...o.env, ...(usageFile ? { BENCH_USAGE_FILE: usageFile } : {}), ...(o.usage && o.capMs ? { BENCH_USAGE_SIGTERM: '1' } : {}) };
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const child = spawn(cmd, fullArgs, { cwd: o.cwd ?? ROOT, env, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let capped = false;
    const rss: Array<[number, number]> = [];
    child.stdout.on('data', (d: Buffer) => (stdout = (stdout + d.toString()).slice(-256 * 1024)));
    child.stderr.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-256 * 1024)));
    child.on('error', reject);
    const timers: NodeJS.Timeout[] = [];
    if (o.capMs) {
      timers.push(
        setTimeout(() => {
          capped = true;
          child.kill('SIGTERM');
          timers.push(setTimeout(() => child.kill('SIGKILL'), 10_000));
        }, o.capMs),
      );
    }
    if (o.sampleRssMs) {
      const t = setInterval(() => {
        const v = child.pid ? vmRss(child.pid) : undefined;
        if (v !== undefined) rss.push([performance.now() - started, v]);
      }, o.sampleRssMs);
      timers.push(t);
    }
    child.on('exit', (code, signal) => {
      const ms = performance.now() - started;
      for (const t of timers) clearTimeout(t);
      let usage: Usage | undefined;
      if (usageFile && existsSync(usageFile)) usage = JSON.parse(readFileSync(usageFile, 'utf8')) as Usage;
      if (scratch) rmSync(scratch, { recursive: true, force: true });
      // Let the pipes drain before resolving.
      setImmediate(() => resolve({ code, signal, ms, stdout, stderr, capped, ...(usage ? { usage } : {}), ...(o.sampleRssMs ? { rss } : {}) }));
    });
    child.stdin.end(o.stdin ?? '');
  });
}

export const node = (args: string[], o: RunOptions = {}) => run(process.execPath, args, o);

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  if (s.length === 0) return NaN;
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

export function quantile(xs: number[], q: number): number {
  const s = [...xs].sort((a, b) => a - b);
  if (s.length === 0) return NaN;
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1))]!;
}

export const fmt = (n: number, digits = 0) => (Number.isFinite(n) ? n.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits }) : 'n/a');
export const range = (xs: number[], digits = 0) => `${fmt(median(xs), digits)} (${fmt(Math.min(...xs), digits)}–${fmt(Math.max(...xs), digits)})`;

export function requireDist(): void {
  if (!existsSync(BIN)) throw new Error(`${BIN} is missing: run \`npm run build\` (npm run bench does it first)`);
}

export function table(head: string[], rows: string[][]): string {
  return [`| ${head.join(' | ')} |`, `|${head.map(() => '---').join('|')}|`, ...rows.map((r) => `| ${r.join(' | ')} |`)].join('\n');
}

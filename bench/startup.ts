/**
 * Start-up of the sendmail path: wall time, spawn to exit, of one
 * `sendwell sendmail -odq -t` (message on stdin) when the built CLI has that
 * command (and of the installed drop-in, package.json's `sendmail` bin,
 * `-odq -t`, when it exists), else one `sendwell send --queue-only`, against a bare `node -e`
 * that opens the same queue database with better-sqlite3 (WAL,
 * synchronous=FULL) and commits one 1 KiB row, and `node -e 0` for scale.
 * Warm-ups first, then RUNS interleaved rounds; ratios per round, median.
 * Both write to the same database; the row counts are checked afterwards.
 */
import Sqlite from 'better-sqlite3';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { writeBenchConfig } from './lib/config.js';
import { benchMessage } from './lib/message.mjs';
import { BIN, fmt, median, node, quantile, requireDist, ROOT, table, type Run } from './lib/proc.js';

export interface StartupOptions {
  runs: number;
  warmups: number;
}

export interface StartupResult {
  opts: StartupOptions;
  command: string;
  ms: Record<string, number[]>;
  ratios: number[];
  /** The `sendmail` bin of package.json ÷ floor, when it exists. */
  dropInRatios: number[];
  dropInPath: string;
  rssMiB: Record<string, number>;
  markdown: string;
}

export async function benchStartup(o: StartupOptions, log: (s: string) => void = console.log): Promise<StartupResult> {
  requireDist();
  const dir = mkdtempSync(join(tmpdir(), 'swbench-start-'));
  try {
    const stateDir = join(dir, 'state');
    const config = writeBenchConfig(join(dir, 'sendwell.toml'), { extra: `[relay]\nurl = "smtp://127.0.0.1:9"\n` });
    // sendmail has no --state-dir/--config; both commands get them from the environment.
    const env = { SENDWELL_STATE_DIR: stateDir, SENDWELL_CONFIG: config };
    // `sendwell --help` lists the commands; use the sendmail drop-in once it is there.
    const probe = await node([BIN, '--help'], { cwd: dir, env });
    const haveSendmail = /^\s+sendmail\b/m.test(probe.stdout + probe.stderr);
    // The installed drop-in: the package's `sendmail` bin.
    const dropInPath = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { bin: Record<string, string> }).bin.sendmail ?? 'dist/cli/sendmail-bin.js';
    const dropIn = join(ROOT, dropInPath);
    const haveDropIn = haveSendmail && existsSync(dropIn);
    const raw = benchMessage(0, 1024, 'startup').raw;
    let i = 0;
    const sendwell = (usage = false): Promise<Run> => {
      i++;
      return haveSendmail
        ? node([BIN, 'sendmail', '-odq', '-t'], { cwd: dir, env, stdin: raw, usage })
        : node([BIN, 'send', '--queue-only', '--to', 'bench-rcpt@example.test', '--subject', `startup ${i}`, '--text', 'A one-line body.'], { cwd: dir, env, usage });
    };
    const sendmailBin = (usage = false): Promise<Run> => node([dropIn, '-odq', '-t'], { cwd: dir, env, stdin: raw, usage });
    const command = haveSendmail ? '`sendwell sendmail -odq -t` < 1 KiB message' : '`sendwell send --queue-only --to … --subject … --text …`';
    // Create the queue (first run) and the floor's table in the same database.
    const first = await sendwell();
    if (first.code !== 0) throw new Error(`sendwell failed: ${first.stderr}`);
    const dbFile = join(stateDir, 'queue.db');
    const setup = new Sqlite(dbFile);
    setup.exec('CREATE TABLE IF NOT EXISTS bench_floor (id INTEGER PRIMARY KEY, created_at INTEGER NOT NULL, body BLOB NOT NULL)');
    setup.close();
    const sqlitePath = createRequire(join(ROOT, 'package.json')).resolve('better-sqlite3');
    const floorScript =
      `const D=require(${JSON.stringify(sqlitePath)});const db=new D(${JSON.stringify(dbFile)},{timeout:15000});` +
      `db.pragma('journal_mode = WAL');db.pragma('synchronous = FULL');` +
      `db.prepare('INSERT INTO bench_floor (created_at, body) VALUES (?, ?)').run(Date.now(), Buffer.alloc(1024, 120));db.close();`;
    const floor = (usage = false) => node(['-e', floorScript], { cwd: dir, usage });
    const bare = () => node(['-e', '0'], { cwd: dir });
    const variants: Array<[string, () => Promise<Run>]> = [
      ['sendwell', () => sendwell()],
      ...(haveDropIn ? [['dropin', () => sendmailBin()] as [string, () => Promise<Run>]] : []),
      ['floor', () => floor()],
      ['node', bare],
    ];
    for (let w = 0; w < o.warmups; w++) for (const [, f] of variants) await f();
    const ms: Record<string, number[]> = { sendwell: [], dropin: [], floor: [], node: [] };
    const ratios: number[] = [];
    const dropInRatios: number[] = [];
    for (let r = 0; r < o.runs; r++) {
      const got: Record<string, number> = {};
      const order = variants.map((_, k) => variants[(k + r) % variants.length]!);
      for (const [name, f] of order) {
        const res = await f();
        if (res.code !== 0) throw new Error(`${name} failed (exit ${res.code}): ${res.stderr.slice(-500)}`);
        got[name] = res.ms;
        ms[name]!.push(res.ms);
      }
      ratios.push(got.sendwell! / got.floor!);
      if (haveDropIn) dropInRatios.push(got.dropin! / got.floor!);
    }
    // Peak RSS from one extra run each.
    const rssMiB = {
      sendwell: ((await sendwell(true)).usage?.maxRssKiB ?? NaN) / 1024,
      dropin: haveDropIn ? ((await sendmailBin(true)).usage?.maxRssKiB ?? NaN) / 1024 : NaN,
      floor: ((await floor(true)).usage?.maxRssKiB ?? NaN) / 1024,
    };
    // Every run queued exactly one message / committed one row.
    const check = new Sqlite(dbFile, { readonly: true });
    const queued = (check.prepare('SELECT COUNT(*) AS n FROM message').get() as { n: number }).n;
    const floorRows = (check.prepare('SELECT COUNT(*) AS n FROM bench_floor').get() as { n: number }).n;
    check.close();
    const expectedSendwell = (1 + o.warmups + o.runs + 1) * (haveDropIn ? 2 : 1) - (haveDropIn ? 1 : 0);
    const expectedFloor = o.warmups + o.runs + 1;
    if (queued !== expectedSendwell || floorRows !== expectedFloor) throw new Error(`row check failed: ${queued}/${expectedSendwell} queued, ${floorRows}/${expectedFloor} floor rows`);
    log(`startup: ${command}: median ${fmt(median(ms.sendwell!), 1)} ms;${haveDropIn ? ` ${dropInPath} ${fmt(median(ms.dropin!), 1)} ms;` : ''} floor ${fmt(median(ms.floor!), 1)} ms; node -e 0 ${fmt(median(ms.node!), 1)} ms; ratio ${fmt(median(ratios), 2)}`);
    const row = (name: string, label: string, ratio: string, rss: number) => [
      label,
      `${fmt(median(ms[name]!), 1)} (${fmt(Math.min(...ms[name]!), 1)}–${fmt(Math.max(...ms[name]!), 1)})`,
      fmt(quantile(ms[name]!, 0.9), 1),
      ratio,
      Number.isFinite(rss) ? fmt(rss) : '—',
    ];
    const nodeRatios = ms.floor!.map((f, k) => f / ms.node![k]!);
    const markdown =
      table(['command', 'wall ms median (min–max)', 'p90', 'ratio (same round, median)', 'peak RSS MiB'], [
        row('sendwell', command, `**${fmt(median(ratios), 2)}** vs floor`, rssMiB.sendwell),
        ...(haveDropIn ? [row('dropin', `\`${dropInPath} -odq -t\` (the installed drop-in, package.json bin) < 1 KiB message`, `**${fmt(median(dropInRatios), 2)}** vs floor`, rssMiB.dropin)] : []),
        row('floor', '`node -e` better-sqlite3: open queue.db, WAL, FULL, INSERT 1 KiB row', `${fmt(median(nodeRatios), 2)} vs node -e 0`, rssMiB.floor),
        row('node', '`node -e 0`', '—', NaN),
      ]) + `\n\n${o.warmups} warm-ups, then ${o.runs} interleaved rounds (order rotated); spawn-to-exit wall time; both write to the same queue.db; rows checked afterwards.`;
    return { opts: o, command, ms, ratios, dropInRatios, dropInPath, rssMiB, markdown };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const r = await benchStartup({ runs: Number(process.env.STARTUP_RUNS ?? 20), warmups: 3 });
  console.log(`\n${r.markdown}`);
}

/**
 * `npm run bench:ingest`: SMTP ingest. Postfix's smtp-source submits N 1 KiB
 * messages over 8 sessions into `sendwell serve` (each acknowledged after the
 * durable commit) and, in the same run, into the local Postfix (smtpd ->
 * queue) on 127.0.0.1:25. Prints msgs/s and the ratio. Needs the Debian postfix
 * package (smtp-source, and a running Postfix for the comparison:
 * `bash .ci/setup-postfix.sh`).
 */
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

const N = Number(process.env.BENCH_N ?? 4000);
const SESSIONS = 8;
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const SOURCE = '/usr/sbin/smtp-source';
const BIN = new URL('../dist/cli/bin.js', import.meta.url).pathname;

function portOpen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ host: '127.0.0.1', port }, () => (s.end(), resolve(true)));
    s.on('error', () => resolve(false));
  });
}

function source(port: number, rcpt: string): number {
  const t = process.hrtime.bigint();
  execFileSync(SOURCE, ['-s', String(SESSIONS), '-m', String(N), '-l', '1024', '-f', 'jane@example.test', '-t', rcpt, '-M', 'example.test', `127.0.0.1:${port}`], { stdio: 'ignore' });
  return Number(process.hrtime.bigint() - t) / 1e9;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function main(): Promise<void> {
  const work = mkdtempSync(join(tmpdir(), 'sendwell-ingest-bench-'));
  const cfg = join(work, 'bench.toml');
  // Ingest only: no limits or duplicate holds, a relay that is down so the worker pauses.
  writeFileSync(cfg, ['[relay]', 'url = "smtp://127.0.0.1:9?tls=never"', '[limits]', 'per_minute = 0', 'per_hour = 0', 'per_day = 0', 'per_recipient_per_hour = 0', 'per_domain_per_minute = 0', 'per_sender_per_hour = 0', '[limits.flood]', 'messages = 100000000', 'duplicate_window = "0s"', '[smtp]', 'listen = ["127.0.0.1:2625"]', 'messages_per_client_per_minute = 0', 'max_connections_per_client = 1000', ''].join('\n'));
  const serve = spawn(process.execPath, [BIN, 'serve', '--config', cfg, '--state-dir', join(work, 'state'), '--no-http'], { stdio: 'ignore' });
  for (let i = 0; i < 100 && !(await portOpen(2625)); i++) await sleep(100);
  const sw: number[] = [];
  const pf: number[] = [];
  const postfix = await portOpen(25);
  for (let r = 0; r < ROUNDS; r++) {
    sw.push(N / source(2625, 'bob@example.test'));
    if (postfix) pf.push(N / source(25, 'sink@example.test'));
  }
  serve.kill('SIGTERM');
  const a = median(sw);
  console.log(`SMTP ingest, ${N} x 1 KiB over ${SESSIONS} sessions (smtp-source), median of ${ROUNDS}:`);
  console.log(`| receiver | msgs/s |\n| --- | --- |\n| sendwell serve (durable commit before 250) | ${a.toFixed(0)} |`);
  if (postfix) {
    const b = median(pf);
    console.log(`| Postfix smtpd -> queue (127.0.0.1:25) | ${b.toFixed(0)} |`);
    console.log(`ratio sendwell/Postfix: ${(a / b).toFixed(2)}x (target >= 1.0)`);
  } else console.log('Postfix is not listening on 127.0.0.1:25: run `bash .ci/setup-postfix.sh` for the comparison');
}

await main();

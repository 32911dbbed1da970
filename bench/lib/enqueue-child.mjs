// One enqueuing process for bench/enqueue.ts:
//   node bench/lib/enqueue-child.mjs MODE STATE_DIR SECONDS START_AT TAG
// MODE submit: QueueService.submit (the library's durable submission: flood
//              check, one FULL commit, mail-log line);
//      store:  the store's enqueue() alone (one FULL commit);
//      floor:  bare better-sqlite3, WAL, synchronous=FULL, one INSERT of a
//              1 KiB row per transaction into its own table (the baseline's
//              bench/06 FULL-txn1), in STATE_DIR/floor.db.
// Waits until START_AT (epoch ms), enqueues for SECONDS (at most 500,000
// messages), prints {"mode","count","ms","p50","p99"} (latency per call, ms).
import Sqlite from 'better-sqlite3';
import { join } from 'node:path';
import { benchMessage, BENCH_FROM, BENCH_TO } from './message.mjs';

const [mode, stateDir, secsArg, startAtArg, tag] = process.argv.slice(2);
const secs = Number(secsArg);
const root = new URL('../../', import.meta.url);

let enqueue;
let close = () => {};
if (mode === 'submit') {
  const { QueueService } = await import(new URL('dist/queue/service.js', root).href);
  const service = new QueueService({ stateDir, relay: { url: 'smtp://127.0.0.1:9' }, flood: { messages: 1_000_000_000, windowMs: 300_000, duplicateWindowMs: 3_600_000 } });
  enqueue = (i) => {
    const { raw, messageId } = benchMessage(i, 1024, tag);
    service.submit({ raw, messageId, envelopeFrom: BENCH_FROM, recipients: [BENCH_TO], submitter: 'bench' });
  };
  close = () => service.close();
} else if (mode === 'store') {
  const { openSqliteStore } = await import(new URL('dist/queue/sqlite/index.js', root).href);
  const store = openSqliteStore(stateDir);
  enqueue = (i) => {
    const { raw, messageId } = benchMessage(i, 1024, tag);
    store.enqueue({ raw, messageId, envelopeFrom: BENCH_FROM, recipients: [BENCH_TO], submitter: 'bench' }, Date.now());
  };
  close = () => store.close();
} else if (mode === 'floor') {
  const db = new Sqlite(join(stateDir, 'floor.db'), { timeout: 15_000 });
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = FULL');
  db.exec(`CREATE TABLE IF NOT EXISTS queue (id INTEGER PRIMARY KEY, created_at INTEGER, next_attempt_at INTEGER, attempts INTEGER, sender TEXT, rcpts TEXT, body BLOB);
           CREATE INDEX IF NOT EXISTS queue_due ON queue (next_attempt_at);`);
  const ins = db.prepare('INSERT INTO queue (created_at, next_attempt_at, attempts, sender, rcpts, body) VALUES (?, ?, 0, ?, ?, ?)');
  enqueue = (i) => {
    const { raw } = benchMessage(i, 1024, tag);
    const now = Date.now();
    ins.run(now, now, BENCH_FROM, BENCH_TO, raw);
  };
  close = () => db.close();
} else {
  process.stderr.write(`unknown mode ${mode}\n`);
  process.exit(64);
}

const wait = Math.min(30_000, Math.max(0, Number(startAtArg) - Date.now()));
if (wait > 0) await new Promise((r) => setTimeout(r, wait));
const lat = [];
const started = performance.now();
const end = started + secs * 1000;
let count = 0;
while (count < 500_000) {
  const t = performance.now();
  if (t >= end) break;
  enqueue(count);
  lat.push(performance.now() - t);
  count++;
}
const ms = performance.now() - started;
await close();
lat.sort((a, b) => a - b);
const q = (p) => lat[Math.min(lat.length - 1, Math.max(0, Math.ceil(p * lat.length) - 1))] ?? NaN;
process.stdout.write(`${JSON.stringify({ mode, count, ms, p50: q(0.5), p99: q(0.99) })}\n`);

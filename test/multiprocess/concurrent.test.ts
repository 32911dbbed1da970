/**
 * Several sendwell processes on one queue at once, as on a real host: cron
 * jobs and a web app queueing while two workers drain.
 *
 * 1. Four library producers (QueueService.submit, 200 messages each) and one
 *    CLI producer (`sendwell send --queue-only`, 20 runs) queue while two
 *    `sendwell worker` processes drain into one in-process SMTP server: every
 *    message arrives exactly once (no process is killed, so no lease is lost
 *    and the lease-duplicate bound is 0), every row ends delivered, and no
 *    process sees SQLITE_BUSY / "database is locked".
 * 2. Rate limits hold across processes: with per_recipient_per_hour = 10,
 *    three concurrent senders each running `sendwell send` 10 times to the
 *    same address get exactly 10 delivered and 20 deferred with a rate-limit
 *    reason.
 *
 * Run: npm run test:multiprocess   (builds, then node --import tsx --test test/multiprocess/concurrent.test.ts)
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { startSmtpServer } from '../helpers/smtp-server.js';
import { NO_LIMITS, QueueDb, ROOT, requireBuiltCli, spawnCli, spawnNode, stop, tally, until, writeConfig, type Child } from './procs.js';

const PRODUCERS = 4;
const PER_PRODUCER = 200;
const CLI_SENDS = 20;
const WORKERS = 2;
const DRAIN_TIMEOUT_MS = 90_000;
const BUSY = /SQLITE_BUSY|database is locked/i;

const work = mkdtempSync(join(tmpdir(), 'sendwell-mp-'));
after(() => rmSync(work, { recursive: true, force: true }));

test('4 producers + CLI sends queue while 2 workers drain: each message delivered exactly once, no SQLITE_BUSY', { timeout: 150_000 }, async (t) => {
  requireBuiltCli();
  const server = await startSmtpServer();
  const stateDir = join(work, 'drain');
  const config = writeConfig(join(work, 'drain.toml'), { queue: { concurrency: 4 }, limits: { ...NO_LIMITS } });
  // The CLI producer composes with the policy linter; it needs a From.
  const cliConfig = writeConfig(join(work, 'cli.toml'), { sender: { from: 'CLI Producer <cli-producer@example.test>' }, limits: { ...NO_LIMITS } });
  const children: Child[] = [];
  try {
    const workers = Array.from({ length: WORKERS }, () => spawnCli(['worker', '--state-dir', stateDir, '--config', config, '--relay', server.url()], work));
    children.push(...workers);
    await Promise.all(workers.map((w) => w.waitForStderr('sendwell worker: draining', 20_000)));

    // All producers start submitting at the same moment, whatever their start-up time.
    const startAt = Date.now() + 3000;
    const producers = Array.from({ length: PRODUCERS }, (_, k) =>
      spawnNode(['--import', 'tsx', join(ROOT, 'test/multiprocess/submit-child.ts'), stateDir, `p${k}`, String(PER_PRODUCER), String(startAt)], ROOT),
    );
    children.push(...producers);
    // Meanwhile the CLI, one process per message, as a cron job or script would.
    const cliIds: string[] = [];
    const cliOutputs: string[] = [];
    const cliProducer = (async () => {
      for (let i = 0; i < CLI_SENDS; i++) {
        const c = spawnCli(['send', '--queue-only', '--state-dir', stateDir, '--config', cliConfig, '--to', `cli-rcpt-${i}@example.test`, '--subject', `cli ${i}`, '--text', `CLI message ${i}`], work);
        const code = await c.exited;
        cliOutputs.push(c.stderr());
        assert.equal(code, 0, `sendwell send --queue-only #${i} failed: ${c.stderr()}`);
        const id = /^queued as \S+: (<[^>]+>)/m.exec(c.stdout())?.[1];
        assert.ok(id, `no Message-ID in: ${c.stdout()}`);
        cliIds.push(id);
      }
    })();
    const codes = await Promise.all(producers.map((p) => p.exited));
    await cliProducer;
    codes.forEach((code, k) => assert.equal(code, 0, `producer p${k} failed: ${producers[k]!.stderr()}`));
    const windows = producers.map((p) => JSON.parse(p.stdout().trim()) as { tag: string; start: number; end: number });
    t.diagnostic(`producers (ms after the common start): ${windows.map((w) => `${w.tag} ${w.start - startAt}..${w.end - startAt}`).join(', ')}`);
    assert.ok(Math.max(...windows.map((w) => w.start)) < Math.min(...windows.map((w) => w.end)), 'the producers ran at the same time');

    const expected = PRODUCERS * PER_PRODUCER + CLI_SENDS;
    const db = new QueueDb(stateDir);
    assert.equal(db.messages(), expected, 'every submission was queued');
    const drained = await until(() => db.pending() === 0 && server.messages.length >= expected, DRAIN_TIMEOUT_MS, 200);
    const counts = db.counts();
    const workerCodes = await Promise.all(workers.map((w) => stop(w)));
    assert.ok(drained, `not drained within ${DRAIN_TIMEOUT_MS} ms: ${JSON.stringify(counts)}, server has ${server.messages.length}/${expected}`);
    assert.deepEqual(workerCodes, workers.map(() => 0), 'workers stop cleanly on SIGTERM');

    // Exactly once, by Message-ID.
    const seen = tally(server.messages);
    const ids = [...Array.from({ length: PRODUCERS }, (_, k) => Array.from({ length: PER_PRODUCER }, (_, i) => `<mp.p${k}.${i}@example.test>`)).flat(), ...cliIds];
    const missing = ids.filter((id) => !seen.byMessage.has(id));
    const twice = ids.filter((id) => (seen.byMessage.get(id) ?? 0) > 1);
    assert.deepEqual(missing.slice(0, 10), [], `${missing.length} messages never arrived`);
    assert.deepEqual(twice.slice(0, 10), [], `${twice.length} messages arrived more than once (no worker died, so the lease-duplicate bound is 0)`);
    assert.equal(server.messages.length, expected, 'no stray transactions');
    assert.deepEqual(db.counts(), { delivered: expected });
    db.close();

    // Both workers took part, and nobody hit the write lock as an error.
    const log = readFileSync(join(stateDir, 'mail.log'), 'utf8');
    const perWorker = workers.map((w) => (log.match(new RegExp(`sendwell/smtp\\[${w.proc.pid}\\]: .*status=sent`, 'g')) ?? []).length);
    t.diagnostic(`deliveries per worker: ${perWorker.join(', ')}`);
    assert.ok(perWorker.every((n) => n > 0), `each worker should deliver some of the ${expected}: ${perWorker.join(', ')}`);
    assert.equal(perWorker.reduce((a, b) => a + b, 0), expected);
    assert.doesNotMatch(log, /not recorded: the lease was lost/);
    for (const c of [...children, { stderr: () => cliOutputs.join('\n') }]) assert.doesNotMatch(c.stderr(), BUSY);
    assert.doesNotMatch(log, BUSY);
  } finally {
    await Promise.all(children.map((c) => stop(c, 2000)));
    await server.close();
  }
});

test('per_recipient_per_hour = 10 holds across 3 concurrent processes: 10 delivered, 20 deferred', { timeout: 120_000 }, async (t) => {
  requireBuiltCli();
  const server = await startSmtpServer();
  const stateDir = join(work, 'rate');
  const config = writeConfig(join(work, 'rate.toml'), {
    relay: { url: server.url() },
    sender: { from: 'Rate Test <rate-sender@example.test>' },
    limits: { per_recipient_per_hour: 10 },
  });
  const target = 'same-person@example.test';
  try {
    const sender = async (k: number) => {
      const out: Array<{ code: number | string; stderr: string }> = [];
      for (let i = 0; i < 10; i++) {
        // Distinct subject and text: identical mails would be held by the duplicate brake instead.
        const c = spawnCli(['send', '--state-dir', stateDir, '--config', config, '--to', target, '--subject', `rate ${k}-${i}`, '--text', `mail ${i} from sender ${k}`], work);
        out.push({ code: await c.exited, stderr: c.stderr() });
      }
      return out;
    };
    const results = (await Promise.all([0, 1, 2].map(sender))).flat();
    for (const r of results) {
      assert.equal(r.code, 0, `send exits 0 once queued, delivered or not: ${r.stderr}`);
      assert.doesNotMatch(r.stderr, BUSY);
    }
    const toTarget = server.messages.filter((m) => m.to.includes(target));
    const db = new QueueDb(stateDir);
    const rows = db.rows();
    db.close();
    const delivered = rows.filter((r) => r.state === 'delivered');
    const deferred = rows.filter((r) => r.state === 'deferred');
    t.diagnostic(`server received ${toTarget.length}; rows: ${delivered.length} delivered, ${deferred.length} deferred; a reason: ${deferred[0]?.last_reason}`);
    assert.equal(rows.length, 30);
    assert.equal(toTarget.length, 10, 'the relay got exactly 10');
    assert.equal(delivered.length, 10);
    assert.equal(deferred.length, 20);
    for (const r of deferred) assert.match(r.last_reason ?? '', /rate limited by limits\.per_recipient_per_hour = 10 for <same-person@example\.test>/);
    // Deferred for a rate limit does not burn an attempt.
    assert.ok(deferred.every((r) => r.attempts === 0), `attempts: ${deferred.map((r) => r.attempts).join(',')}`);
  } finally {
    await server.close();
  }
});

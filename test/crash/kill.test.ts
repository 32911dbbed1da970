/**
 * Crash safety: a `sendwell worker` process is killed with SIGKILL at random
 * points while it drains a few thousand messages into an in-process SMTP
 * server, restarted each time, and finally left to finish. Counted by
 * Message-ID at the server:
 *
 * - every message arrives (none lost),
 * - duplicates only come from messages in flight at a kill: each duplicated
 *   message's first copy was accepted by the server in the life of a worker
 *   that was then killed, within IN_FLIGHT_WINDOW_MS before the kill; per kill
 *   at most concurrency × IN_FLIGHT_PER_CONNECTION messages (the worker
 *   pipelines up to 4 messages per connection, src/queue/worker.ts), so in all
 *   at most kills × that × recipients per message recipient deliveries,
 * - every recipient row ends `delivered`, none is left `active`.
 *
 * A killed worker's leases name a dead `host/pid`; the next worker returns
 * those rows to the queue at start (Worker.recover).
 *
 * Run: npm run test:crash   (builds, then node --import tsx --test test/crash/kill.test.ts)
 * Knobs (env): CRASH_MESSAGES (4000), CRASH_KILLS (20), CRASH_CONCURRENCY (4),
 * CRASH_IN_FLIGHT (4: IN_FLIGHT_PER_CONNECTION in src/queue/worker.ts), CRASH_SEED.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { startSmtpServer, type TestServer } from '../helpers/smtp-server.js';
import { openSqliteStore } from '../../src/queue/sqlite/index.js';
import { messageIdOf, NO_LIMITS, QueueDb, requireBuiltCli, sleep, spawnCli, stop, until, writeConfig, type Child } from '../multiprocess/procs.js';

const MESSAGES = Number(process.env.CRASH_MESSAGES ?? 4000);
const KILLS = Number(process.env.CRASH_KILLS ?? 20);
const CONCURRENCY = Number(process.env.CRASH_CONCURRENCY ?? 4);
/** Messages a worker keeps in flight per connection (pipelining); IN_FLIGHT_PER_CONNECTION in src/queue/worker.ts. */
const IN_FLIGHT = Number(process.env.CRASH_IN_FLIGHT ?? 4);
/** A message accepted longer than this before a kill must have been recorded as delivered. */
const IN_FLIGHT_WINDOW_MS = 1000;
/** Hard caps so the test always ends: kill rounds, and wall time of each phase. */
const MAX_KILL_ROUNDS = KILLS * 3;
const KILL_PHASE_MS = 90_000;
const FINAL_DRAIN_MS = 120_000;
/** The server takes a few ms per message, like a relay across a LAN, so kills land mid-drain. */
const SERVER_DELAY_MS = 1;

/** Small deterministic PRNG (mulberry32) so a failing run can be repeated with CRASH_SEED. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const recipientsOf = (i: number) => Array.from({ length: (i % 3) + 1 }, (_, j) => `r${j}.${i % 7}@example.test`);
const trailer = (i: number) => `END crash.${i}\r\n`;

function message(i: number): { raw: Buffer; messageId: string } {
  const messageId = `<crash.${i}@example.test>`;
  const body = `message ${i} of the crash test\r\n${'0123456789abcdef'.repeat(4)}\r\n`.repeat(8);
  const raw =
    `From: Crash Test <crash-sender@example.test>\r\n` +
    `To: ${recipientsOf(i).map((r) => `<${r}>`).join(', ')}\r\n` +
    `Subject: crash ${i}\r\n` +
    `Date: Fri, 04 Dec 2026 16:00:00 +0000\r\n` +
    `Message-ID: ${messageId}\r\n` +
    `MIME-Version: 1.0\r\n` +
    `Content-Type: text/plain; charset=us-ascii\r\n` +
    `\r\n${body}${trailer(i)}`;
  return { raw: Buffer.from(raw, 'latin1'), messageId };
}

const work = mkdtempSync(join(tmpdir(), 'sendwell-crash-'));
after(() => rmSync(work, { recursive: true, force: true }));

test(`SIGKILL a draining worker ${KILLS}+ times: nothing lost, duplicates only from in-flight messages`, { timeout: 180_000 }, async (t) => {
  requireBuiltCli();
  const seed = Number(process.env.CRASH_SEED ?? Date.now() % 1_000_000);
  const random = rng(seed);
  t.diagnostic(`seed ${seed} (repeat with CRASH_SEED=${seed})`);

  // Every accepted transaction, with the time the server accepted it (just before its 250).
  const accepted: Array<{ id: string; to: string[]; at: number; complete: boolean }> = [];
  const server: TestServer = await startSmtpServer({
    onData: async (raw, session) => {
      await sleep(SERVER_DELAY_MS);
      const text = raw.toString('latin1');
      const id = messageIdOf(raw) ?? '?';
      const n = /crash\.(\d+)@/.exec(id)?.[1];
      accepted.push({ id, to: session.envelope.rcptTo.map((r) => r.address.toLowerCase()), at: Date.now(), complete: n !== undefined && text.endsWith(trailer(Number(n))) });
      return undefined;
    },
  });
  const stateDir = join(work, 'state');
  const config = writeConfig(join(work, 'sendwell.toml'), { queue: { concurrency: CONCURRENCY }, limits: NO_LIMITS });
  let worker: Child | undefined;
  try {
    // Durably queue the backlog through the store's own enqueue.
    const store = openSqliteStore(stateDir);
    let rows = 0;
    for (let i = 0; i < MESSAGES; i++) {
      const { raw, messageId } = message(i);
      store.enqueue({ raw, messageId, envelopeFrom: 'crash-sender@example.test', recipients: recipientsOf(i), submitter: 'crash-test' }, Date.now());
      rows += recipientsOf(i).length;
    }
    store.close();
    const db = new QueueDb(stateDir);
    assert.equal(db.pending(), rows);

    const args = ['worker', '--state-dir', stateDir, '--config', config, '--relay', server.url()];
    const kills: Array<{ afterMs: number; at: number; from: number; to: number; receivedInLife: number; pendingAfter: number; leasedAfter: number }> = [];
    let midDrain = 0;
    const phaseEnd = Date.now() + KILL_PHASE_MS;
    for (let round = 0; round < MAX_KILL_ROUNDS && midDrain < KILLS && Date.now() < phaseEnd; round++) {
      const before = accepted.length;
      worker = spawnCli(args, work);
      // The worker prints this just before it recovers and starts draining.
      await worker.waitForStderr('sendwell worker: draining', 20_000);
      const afterMs = 50 + Math.floor(random() * 350);
      await sleep(afterMs);
      const exitedEarly = worker.proc.exitCode !== null;
      worker.proc.kill('SIGKILL');
      const killedAt = Date.now();
      const how = await worker.exited;
      assert.ok(!exitedEarly && how === 'SIGKILL', `worker exited by itself (${how}) before the kill: ${worker.stderr().slice(-2000)}`);
      worker = undefined;
      const pendingAfter = db.pending();
      // Rows the dead worker still held: the next worker must give them back (recover).
      const leasedAfter = db.counts().active ?? 0;
      kills.push({ afterMs, at: killedAt, from: before, to: accepted.length, receivedInLife: accepted.length - before, pendingAfter, leasedAfter });
      // A kill counts as "while draining" when work was left for the next worker.
      if (pendingAfter > 0) midDrain++;
      else break;
    }
    const delivering = kills.filter((k) => k.receivedInLife > 0).length;
    const leased = kills.filter((k) => k.leasedAfter > 0).length;
    t.diagnostic(
      `kills: ${kills.length} (${midDrain} with work left, ${delivering} after deliveries had started, ${leased} holding leases); ` +
        `server got ${accepted.length} transactions so far; per kill (delay ms/transactions in that life/rows left active): ${kills.map((k) => `${k.afterMs}/${k.receivedInLife}/${k.leasedAfter}`).join(' ')}`,
    );
    assert.ok(midDrain >= KILLS, `only ${midDrain} kills happened while work was left (wanted ${KILLS}); lower CRASH_CONCURRENCY or raise CRASH_MESSAGES`);
    // Kills before the first delivery (start-up, recovery) are fine too, but most must hit a worker at work.
    assert.ok(delivering >= Math.ceil(KILLS / 4), `only ${delivering} killed workers had delivered anything`);
    assert.ok(leased >= Math.ceil(KILLS / 4), `only ${leased} kills left leased rows behind, so recovery was hardly exercised`);

    // A last worker finishes the queue.
    worker = spawnCli(args, work);
    const drained = await until(() => db.pending() === 0, FINAL_DRAIN_MS, 200);
    const stateNow = db.counts();
    const code = await stop(worker);
    const workerLog = worker.stderr();
    worker = undefined;
    assert.ok(drained, `the final worker did not empty the queue within ${FINAL_DRAIN_MS} ms: ${JSON.stringify(stateNow)}; stderr: ${workerLog.slice(-2000)}`);
    assert.equal(code, 0, `the final worker should stop cleanly on SIGTERM: ${workerLog.slice(-2000)}`);

    // Every row delivered, none active or otherwise stuck.
    const final = db.rows();
    db.close();
    assert.equal(final.length, rows);
    const notDelivered = final.filter((r) => r.state !== 'delivered');
    assert.deepEqual(notDelivered.slice(0, 5), [], `${notDelivered.length} recipient rows not delivered`);
    assert.equal(final.filter((r) => r.lease_owner !== null).length, 0, 'no lease left behind');

    // At the server: every message and every recipient at least once, nothing truncated.
    assert.equal(accepted.filter((a) => !a.complete).length, 0, 'the server accepted no truncated message');
    assert.equal(server.messages.length, accepted.length);
    const byRecipient = new Map<string, number[]>(); // "id rcpt" -> indexes into accepted
    accepted.forEach((a, i) => {
      for (const to of a.to) byRecipient.set(`${a.id} ${to}`, [...(byRecipient.get(`${a.id} ${to}`) ?? []), i]);
    });
    const lost: string[] = [];
    for (let i = 0; i < MESSAGES; i++) for (const r of recipientsOf(i)) if (!byRecipient.has(`<crash.${i}@example.test> ${r}`)) lost.push(`<crash.${i}@example.test> ${r}`);
    assert.deepEqual(lost.slice(0, 10), [], `${lost.length} recipients never got their message`);
    assert.equal(byRecipient.size, rows, 'no unexpected recipients');

    // Duplicates: only what was in flight when a worker died. (A message whose
    // recipients were claimed in two rounds goes out in two transactions to
    // different recipients: a split, not a duplicate; so count per recipient.)
    // Each duplicate is charged to the life in which its first copy was
    // accepted: that worker must have been killed, soon after.
    const perKill = kills.map(() => new Set<string>());
    const late: string[] = [];
    let duplicateRecipients = 0;
    for (const [key, idx] of byRecipient) {
      if (idx.length < 2) continue;
      duplicateRecipients += idx.length - 1;
      const first = idx[0]!;
      const k = kills.findIndex((l) => first >= l.from && first < l.to);
      if (k < 0) late.push(`${key}: first copy not in a killed worker's life`);
      else {
        perKill[k]!.add(key.split(' ')[0]!);
        if (kills[k]!.at - accepted[first]!.at > IN_FLIGHT_WINDOW_MS) late.push(`${key}: accepted ${kills[k]!.at - accepted[first]!.at} ms before kill ${k + 1} and still sent again`);
      }
    }
    const perKillBound = CONCURRENCY * IN_FLIGHT;
    const maxRcpts = 3;
    const duplicated = perKill.reduce((s, x) => s + x.size, 0);
    t.diagnostic(
      `delivered ${MESSAGES} messages / ${rows} recipients in ${accepted.length} transactions; messages sent again after a kill: ${duplicated} ` +
        `(per kill: ${perKill.map((x) => x.size).join(' ')}; bound per kill ${perKillBound} = concurrency ${CONCURRENCY} × ${IN_FLIGHT} in flight per connection); ` +
        `duplicate recipient deliveries: ${duplicateRecipients} (bound ${kills.length * perKillBound * maxRcpts})`,
    );
    assert.deepEqual(late.slice(0, 10), [], `${late.length} duplicates were not in flight at a kill`);
    assert.ok(Math.max(0, ...perKill.map((x) => x.size)) <= perKillBound, `a kill left more than ${perKillBound} messages to be sent again: ${perKill.map((x) => x.size).join(' ')}`);
    assert.ok(duplicateRecipients <= kills.length * perKillBound * maxRcpts, `${duplicateRecipients} duplicate recipient deliveries`);

    // The mail log says which rows were returned to the queue after a kill (readable, not torn beyond the last line).
    const log = readFileSync(join(stateDir, 'mail.log'), 'utf8');
    assert.match(log, /status=sent/);
  } finally {
    if (worker) await stop(worker, 2000);
    await server.close();
  }
});

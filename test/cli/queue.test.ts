/** The queue from the command line (T1, T2, R8): real child processes, a real SQLite file, a real SMTP server. */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { startSmtpServer, type TestServer } from '../helpers/smtp-server.js';
import { BIN, runCli } from '../helpers/cli.js';

const work = mkdtempSync(join(tmpdir(), 'sendwell-qcli-'));

const run = (args: string[], env: Record<string, string> = {}) => runCli(args, { cwd: work, env });

let n = 0;
function stateDir(): string {
  return join(work, `state-${++n}`);
}

describe('sendwell queue, flush, worker and log', () => {
  let srv: TestServer;
  before(async () => {
    srv = await startSmtpServer({ queuedText: (id) => `Ok: queued as ${id}` });
  });
  after(() => srv.close());
  const relay = () => srv.url('smtp', 'tls=never');
  const send = (dir: string, extra: string[] = [], subject = `s${++n}`) =>
    run(['send', '--state-dir', dir, '--from', 'Jane <jane@example.test>', '--to', 'bob@example.test', '--subject', subject, '--text', 'hello', '--relay', relay(), ...extra]);

  it('--queue-only queues; queue lists, shows, holds, releases, deletes', async () => {
    const dir = stateDir();
    const q = await send(dir, ['--queue-only', '--json']);
    assert.equal(q.code, 0, q.stderr);
    const { queueId } = JSON.parse(q.stdout);
    const list = await run(['queue', '--state-dir', dir]);
    assert.match(list.stdout, /^-Queue ID- +--Size-- ----Arrival Time---- -Sender\/Recipient-------$/m);
    assert.match(list.stdout, new RegExp(`^${queueId} +\\d+ \\w{3} \\w{3} [ \\d]\\d \\d\\d:\\d\\d:\\d\\d  jane@example\\.test$`, 'm'));
    assert.match(list.stdout, /-- 1 Kbytes in 1 Request\./);
    const json = JSON.parse((await run(['queue', '--state-dir', dir, '--json'])).stdout.trim());
    assert.equal(json.queue_id, queueId);
    assert.equal(json.recipients[0].address, 'bob@example.test');
    const show = await run(['queue', 'show', queueId, '--state-dir', dir]);
    assert.match(show.stdout, /Recipients:\n {2}queued +bob@example\.test/);
    assert.match(show.stdout, /Subject: s\d+/);
    assert.equal((await run(['queue', 'hold', queueId, '--state-dir', dir])).code, 0);
    assert.match((await run(['queue', '--state-dir', dir])).stdout, new RegExp(`^${queueId}!`, 'm'));
    assert.equal((await run(['queue', 'release', '--all', '--state-dir', dir])).code, 0);
    assert.equal((await run(['queue', 'delete', queueId, '--state-dir', dir])).code, 0);
    assert.match((await run(['queue', '--state-dir', dir])).stdout, /^Mail queue is empty$/m);
  });

  it('refuses bad queue commands with 64', async () => {
    const dir = stateDir();
    assert.equal((await run(['queue', 'retry', '--state-dir', dir])).code, 64);
    const bad = await run(['queue', 'hold', 'not-an-id', '--state-dir', dir]);
    assert.equal(bad.code, 64);
    assert.match(bad.stderr, /not a queue ID/);
    assert.equal((await run(['queue', 'explode', '--state-dir', dir])).code, 64);
    assert.equal((await run(['queue', 'show', '204Z57kPnYQ6WY', '--state-dir', dir])).code, 64);
  });

  it('an idempotency key returns the first message instead of a second one', async () => {
    const dir = stateDir();
    const a = JSON.parse((await send(dir, ['--queue-only', '--json', '--idempotency-key', 'order-4711'])).stdout);
    const b = await send(dir, ['--queue-only', '--idempotency-key', 'order-4711'], 'different subject');
    assert.equal(b.code, 0);
    assert.match(b.stdout, new RegExp(`queued as ${a.queueId}: .*already queued \\(same --idempotency-key\\)`));
    assert.equal(JSON.parse(`[${(await run(['queue', '--state-dir', dir, '--json'])).stdout.trim().split('\n').join(',')}]`).length, 1);
  });

  it('holds a repeated identical mail to the same recipient, and the flood brake holds a flood (R8)', async () => {
    const dir = stateDir();
    const first = await send(dir, ['--queue-only'], 'same');
    assert.equal(first.code, 0);
    const again = await send(dir, ['--queue-only'], 'same');
    assert.equal(again.code, 0);
    assert.match(again.stderr, /held: identical message to <bob@example\.test> already queued/);
    const cfg = join(work, 'flood.toml');
    writeFileSync(cfg, '[limits.flood]\nmessages = 3\nwindow = "5m"\n');
    const fdir = stateDir();
    for (let i = 0; i < 3; i++) assert.equal((await run(['send', '--config', cfg, '--state-dir', fdir, '--queue-only', '--from', 'jane@example.test', '--to', `r${i}@example.test`, '--subject', `f${i}`, '--text', 'x'])).code, 0);
    const fourth = await run(['send', '--config', cfg, '--state-dir', fdir, '--queue-only', '--from', 'jane@example.test', '--to', 'r9@example.test', '--subject', 'f9', '--text', 'x']);
    assert.equal(fourth.code, 0, 'held mail is still queued mail');
    assert.match(fourth.stderr, /held by the flood brake/);
    assert.match((await run(['queue', '--state-dir', fdir])).stdout, /\(held: flood brake: user:\S+ queued 3 messages within 5 min/);
    const resumed = await run(['queue', 'resume', '--state-dir', fdir]);
    assert.match(resumed.stdout, /released 1 recipient/);
  });

  it('flush delivers what is due and the log shows it in mail.log layout (T2)', async () => {
    const dir = stateDir();
    const q = JSON.parse((await send(dir, ['--queue-only', '--json'])).stdout);
    const before = srv.messages.length;
    const flush = await run(['flush', '--state-dir', dir, '--relay', relay()]);
    assert.equal(flush.code, 0, flush.stderr);
    assert.match(flush.stdout, /attempted 1: 1 delivered/);
    assert.equal(srv.messages.length, before + 1);
    const log = await run(['log', '--state-dir', dir, '--id', q.queueId]);
    assert.match(log.stdout, new RegExp(`sendwell/qmgr\\[\\d+\\]: ${q.queueId}: message-id=<[^>]+>, from=<jane@example\\.test>, size=\\d+, nrcpt=1 \\(queue active\\)`));
    assert.match(log.stdout, new RegExp(`sendwell/smtp\\[\\d+\\]: ${q.queueId}: to=<bob@example\\.test>, relay=smtp://127\\.0\\.0\\.1:\\d+\\?tls=never, delay=[\\d.]+, delays=[\\d.]+/0/0/[\\d.]+, dsn=2\\.0\\.0, status=sent \\(250 .*queued as ${srv.lastQueueId}\\)`));
    const json = (await run(['log', '--state-dir', dir, '--json'])).stdout.trim().split('\n').map((l) => JSON.parse(l));
    assert.ok(json.some((e) => e.event === 'attempt' && e.status === 'sent' && e.relayQueueId === srv.lastQueueId));
  });

  it('sendwell worker drains until SIGTERM', async () => {
    const dir = stateDir();
    const worker = spawn(process.execPath, [BIN, 'worker', '--state-dir', dir, '--relay', relay()], { cwd: work, stdio: ['ignore', 'pipe', 'pipe'] });
    let err = '';
    worker.stderr.on('data', (d) => (err += d));
    const q = JSON.parse((await send(dir, ['--queue-only', '--json'])).stdout);
    const deadline = Date.now() + 15_000;
    while (!err.includes(`${q.queueId}: to=<bob@example.test>`) && Date.now() < deadline) await sleep(100);
    assert.match(err, /status=sent/);
    const code = await new Promise<number | null>((resolve) => {
      worker.on('close', resolve);
      worker.kill('SIGTERM');
    });
    assert.equal(code, 0);
  });
});

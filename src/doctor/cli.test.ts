/** `sendwell doctor` through the built CLI (run `npm run build` first): exit codes, --json, queue health, --bounce-test. */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { runCli } from '../../test/helpers/cli.js';
import { startSmtpServer, type TestServer } from '../../test/helpers/smtp-server.js';
import { dsnFor } from '../../test/helpers/dsn.js';

const work = mkdtempSync(join(tmpdir(), 'sendwell-doctor-cli-'));
after(() => rmSync(work, { recursive: true, force: true }));
const run = (args: string[], stdin?: string) => runCli(args, { cwd: work, ...(stdin !== undefined ? { stdin } : {}) });


interface Json {
  ok: boolean;
  checks: Array<{ id: string; status: string; title: string; detail: string; fix: string; rule?: string }>;
}

describe('sendwell doctor (CLI)', () => {
  let srv: TestServer;
  let cfg: string;
  before(async () => {
    srv = await startSmtpServer();
    cfg = join(work, 'sendwell.toml');
    writeFileSync(cfg, `[relay]\nurl = "${srv.url('smtp', 'tls=never')}"\n[sender]\nfrom = "Jane Doe <jane@example.test>"\n[bounces]\naddress = "bounces@bounces.example.test"\n`);
  });
  after(() => srv.close());

  it('exit 0 and the --json shape when nothing fails', async () => {
    const r = await run(['doctor', '--config', cfg, '--state-dir', join(work, 's1'), '--no-dns', '--json']);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    const j = JSON.parse(r.stdout) as Json;
    assert.equal(j.ok, true);
    assert.deepEqual(Object.keys(j).sort(), ['checks', 'ok']);
    for (const c of j.checks) {
      assert.ok(['ok', 'warn', 'fail', 'skip'].includes(c.status));
      for (const k of ['id', 'title', 'detail', 'fix'] as const) assert.equal(typeof c[k], 'string');
    }
    assert.equal(j.checks.find((c) => c.id === 'relay.envelope')?.status, 'ok');
  });

  it('the human checklist uses ✓ and ✗ with a fix line; exit 69 when a check fails (unsafe password file)', async () => {
    const pass = join(work, 'open.pass');
    writeFileSync(pass, 'x\n', { mode: 0o644 });
    const bad = join(work, 'bad.toml');
    writeFileSync(bad, `[relay]\nurl = "${srv.url('smtp', 'tls=never')}"\nusername = "jane"\npassword_file = "${pass}"\n[sender]\nfrom = "jane@example.test"\n`);
    const r = await run(['doctor', '--config', bad, '--state-dir', join(work, 's2'), '--no-dns']);
    assert.equal(r.code, 69, r.stdout + r.stderr);
    assert.match(r.stdout, /^✓ configuration/m);
    assert.match(r.stdout, new RegExp(`^✗ relay password file ${pass.replace(/[.]/g, '\\.')}: mode 644: other users can read it \\[R11\\]$`, 'm'));
    assert.match(r.stdout, new RegExp(`^    fix: chmod 600 `, 'm'));
  });

  it('exit 78 on a configuration error, with the message as a ✗ line', async () => {
    const broken = join(work, 'broken.toml');
    writeFileSync(broken, '[relay]\nurl = \n');
    const r = await run(['doctor', '--config', broken, '--json']);
    assert.equal(r.code, 78);
    const j = JSON.parse(r.stdout) as Json;
    assert.equal(j.ok, false);
    assert.equal(j.checks[0]!.id, 'config');
    assert.equal(j.checks[0]!.status, 'fail');
  });

  it('queue health: held recipients are a warning', async () => {
    const state = join(work, 's3');
    const q = await run(['send', '--config', cfg, '--state-dir', state, '--queue-only', '--to', 'held@example.test', '--subject', 'x', '--text', 'x', '--json']);
    assert.equal(q.code, 0, q.stderr);
    const id = (JSON.parse(q.stdout) as { queueId: string }).queueId;
    assert.equal((await run(['queue', 'hold', id, '--config', cfg, '--state-dir', state])).code, 0);
    const r = await run(['doctor', '--config', cfg, '--state-dir', state, '--no-dns', '--json']);
    const queue = (JSON.parse(r.stdout) as Json).checks.find((c) => c.id === 'queue')!;
    assert.equal(queue.status, 'warn');
    assert.match(queue.detail, /1 held/);
    assert.equal(r.code, 0);
  });

  it('queue health: the flood brake\'s holds say that sending is paused and how to resume', async () => {
    const state = join(work, 's6');
    const flood = join(work, 'flood.toml');
    writeFileSync(flood, `[relay]\nurl = "${srv.url('smtp', 'tls=never')}"\n[sender]\nfrom = "jane@example.test"\n[limits.flood]\nmessages = 1\n`);
    for (const to of ['a@example.test', 'b@example.test', 'c@example.test']) {
      const q = await run(['send', '--config', flood, '--state-dir', state, '--queue-only', '--to', to, '--subject', 'x', '--text', `x ${to}`]);
      assert.equal(q.code, 0, q.stderr);
    }
    const r = await run(['doctor', '--config', flood, '--state-dir', state, '--no-dns', '--json']);
    const queue = (JSON.parse(r.stdout) as Json).checks.find((c) => c.id === 'queue')!;
    assert.equal(queue.status, 'warn', queue.detail);
    assert.match(queue.detail, /by the flood brake: sending is paused/);
    assert.match(queue.fix, /sendwell queue resume/);
  });

  it('--bounce-test: the probe goes out through the queue, the bounce is ingested, doctor reports the round trip', async () => {
    const state = join(work, 's4');
    const probe = 'doctor-probe@example.test';
    const doctor = run(['doctor', '--config', cfg, '--state-dir', state, '--no-dns', '--bounce-test', '--probe', probe, '--timeout', '30', '--json']);
    const deadline = Date.now() + 20_000;
    let verp: string | undefined;
    while (!verp && Date.now() < deadline) {
      verp = srv.messages.find((m) => m.to.includes(probe))?.from;
      if (!verp) await new Promise((r) => setTimeout(r, 100));
    }
    assert.ok(verp, 'the probe reached the relay');
    const ingest = await run(['bounce', 'ingest', '--config', cfg, '--state-dir', state, '--recipient', verp], dsnFor(verp, probe));
    assert.equal(ingest.code, 0, ingest.stderr);
    const r = await doctor;
    assert.equal(r.code, 0, r.stdout + r.stderr);
    const bt = (JSON.parse(r.stdout) as Json).checks.find((c) => c.id === 'bounce_test')!;
    assert.equal(bt.status, 'ok');
    assert.match(bt.detail, /came back and was matched after \d+\.\d s/);
  });

  it('--bounce-test times out with what is probably missing', async () => {
    const plain = join(work, 'plain.toml');
    writeFileSync(plain, `[relay]\nurl = "${srv.url('smtp', 'tls=never')}"\n[sender]\nfrom = "jane@example.test"\n`);
    const r = await run(['doctor', '--config', plain, '--state-dir', join(work, 's5'), '--no-dns', '--bounce-test', '--timeout', '1']);
    assert.equal(r.code, 69);
    assert.match(r.stdout, /✗ bounce round trip: no bounce for doctor-bounce-[0-9a-f]{12}@example\.test .*no \[bounces\] address/);
  });
});

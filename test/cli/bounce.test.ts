/** Bounces end to end from the command line: VERP out, bounce in, address suppressed, next send refused with the reason. */
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { runCli } from '../helpers/cli.js';
import { smtpReply, startSmtpServer, type TestServer } from '../helpers/smtp-server.js';
import { dsnFor } from '../helpers/dsn.js';

const work = mkdtempSync(join(tmpdir(), 'sendwell-bounce-'));
const run = (args: string[], stdin?: string) => runCli(args, { cwd: work, ...(stdin !== undefined ? { stdin } : {}) });


describe('bounces from the command line', () => {
  let srv: TestServer;
  let cfg: string;
  const state = join(work, 'state');
  before(async () => {
    srv = await startSmtpServer({ onRcptTo: (a) => (a.address.startsWith('dead') ? smtpReply(550, `5.1.1 <${a.address}>: user unknown`) : a.address.startsWith('blocked') ? smtpReply(550, '5.7.1 client host blocked using a block list') : undefined) });
    cfg = join(work, 'sendwell.toml');
    writeFileSync(cfg, `[relay]\nurl = "${srv.url('smtp', 'tls=never')}"\n[sender]\nfrom = "Jane Doe <jane@example.test>"\n[bounces]\naddress = "bounces@bounces.example.test"\n`);
  });
  after(() => srv.close());

  it('sends with a VERP envelope sender, ingests the bounce, suppresses, and refuses the next send with the reason', async () => {
    const sent = await run(['send', '--config', cfg, '--state-dir', state, '--to', 'gone@example.test', '--subject', 'hello', '--text', 'hi']);
    assert.equal(sent.code, 0, sent.stderr);
    const envelopeFrom = srv.messages.at(-1)!.from;
    assert.match(envelopeFrom, /^bounces\+[a-z2-7]+\.[a-z2-7]{10}@bounces\.example\.test$/);
    const ingest = await run(['bounce', 'ingest', '--config', cfg, '--state-dir', state, '--recipient', envelopeFrom], dsnFor(envelopeFrom, 'gone@example.test'));
    assert.equal(ingest.code, 0, ingest.stderr);
    assert.match(ingest.stdout, /^bounce gone@example\.test \([0-9A-Za-z]{14}\): unknown-user, suppressed$/m);
    const list = await run(['suppress', 'list', '--config', cfg, '--state-dir', state, '--json']);
    assert.equal(JSON.parse(list.stdout)[0].address, 'gone@example.test');
    const again = await run(['send', '--config', cfg, '--state-dir', state, '--to', 'gone@example.test', '--subject', 'hello again', '--text', 'hi', '--json']);
    assert.equal(again.code, 0, again.stderr);
    const out = JSON.parse(again.stdout);
    assert.equal(out.recipients[0].state, 'suppressed');
    assert.match(out.recipients[0].response, /suppressed since \d{4}-\d\d-\d\d: .*unknown/);
    const log = await run(['log', '--state-dir', state, '--id', out.queueId]);
    assert.match(log.stdout, /status=suppressed/);
  });

  it('a refusal at RCPT is judged like a bounce: 5.1.1 suppresses, a 5.7.1 block does not', async () => {
    const dir = join(work, 'sync');
    assert.equal((await run(['send', '--config', cfg, '--state-dir', dir, '--to', 'dead@example.test', '--subject', 'sync', '--text', 'hi'])).code, 0);
    assert.equal((await run(['send', '--config', cfg, '--state-dir', dir, '--to', 'blocked@example.test', '--subject', 'sync2', '--text', 'hi'])).code, 0);
    const list = JSON.parse((await run(['suppress', 'list', '--config', cfg, '--state-dir', dir, '--json'])).stdout) as Array<{ address: string }>;
    assert.deepEqual(list.map((x) => x.address), ['dead@example.test']);
  });

  it('a block that blames our own setup alerts [bounces] operator by mail, once an hour per cause (refusal at RCPT, and a returned bounce)', async () => {
    const dir = join(work, 'operator');
    const opCfg = join(work, 'operator.toml');
    writeFileSync(opCfg, `[relay]\nurl = "${srv.url('smtp', 'tls=never')}"\n[sender]\nfrom = "Jane Doe <jane@example.test>"\n[bounces]\naddress = "bounces@bounces.example.test"\noperator = "ops@example.test"\n`);
    for (const n of [1, 2]) assert.equal((await run(['send', '--config', opCfg, '--state-dir', dir, '--to', `blocked${n}@example.test`, '--subject', `b${n}`, '--text', 'hi'])).code, 0);
    const flushed = await run(['flush', '--config', opCfg, '--state-dir', dir]);
    assert.equal(flushed.code, 0, flushed.stderr);
    const alerts = srv.messages.filter((m) => m.to.includes('ops@example.test'));
    assert.equal(alerts.length, 1, 'one alert for two refusals of the same cause');
    assert.match(alerts[0]!.raw.toString(), /Subject: sendwell: mail refused because of our own setup/);
    assert.match(alerts[0]!.raw.toString().replace(/=\r\n/g, ''), /<blocked1@example\.test> was refused because of our own setup/);
    const log = await run(['log', '--state-dir', dir]);
    assert.match(log.stdout, /OPERATOR: mail to <blocked1@example\.test>/);
  });

  it('never bounces a bounce: garbage and unknown bounces exit 0', async () => {
    const junk = await run(['bounce', 'ingest', '--config', cfg, '--state-dir', state], 'this is not a mail at all');
    assert.equal(junk.code, 0, junk.stderr);
    const unknown = await run(['bounce', 'ingest', '--config', cfg, '--state-dir', state], dsnFor('jane@example.test', 'stranger@example.test'));
    assert.equal(unknown.code, 0);
    assert.match(unknown.stdout, /no queued message found/);
  });

  it('a broken configuration makes the MTA retry (75)', async () => {
    const broken = join(work, 'broken.toml');
    writeFileSync(broken, '[relay\n');
    const r = await run(['bounce', 'ingest', '--config', broken, '--state-dir', state], dsnFor('jane@example.test', 'x@example.test'));
    assert.equal(r.code, 75);
  });

  it('suppress add, remove, export and import (CSV)', async () => {
    const dir = join(work, 'sup');
    assert.equal((await run(['suppress', 'add', 'manual@example.test', '--reason', 'asked to stop', '--state-dir', dir])).code, 0);
    const csv = (await run(['suppress', 'export', '--state-dir', dir])).stdout;
    assert.match(csv, /^address,scope,reason,source,created_at,expires_at\nmanual@example\.test,\*,asked to stop,manual,/);
    assert.equal((await run(['suppress', 'remove', 'manual@example.test', '--state-dir', dir])).code, 0);
    assert.match((await run(['suppress', 'list', '--state-dir', dir])).stdout, /no suppressed addresses/);
    const imp = await run(['suppress', 'import', '-', '--state-dir', dir], `${csv}"quoted, name"@example.test,*,x,import,,\n`.replace('"quoted, name"@example.test', 'second@example.test'));
    assert.equal(imp.code, 0, imp.stderr);
    assert.match(imp.stdout, /imported 2 addresses/);
    const bad = await run(['suppress', 'import', '-', '--state-dir', dir], 'address\nnot-an-address\n');
    assert.equal(bad.code, 64);
    assert.match(bad.stderr, /nothing was imported/);
  });
});

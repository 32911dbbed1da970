/**
 * `[log] syslog = true` from the command line (T2): `sendwell send` as a real
 * child process, its logger(1) sending to a UDP syslog receiver here, the mail
 * delivered to an in-process SMTP server.
 */
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { startSmtpServer, type TestServer } from '../helpers/smtp-server.js';
import { runCli } from '../helpers/cli.js';

const work = mkdtempSync(join(tmpdir(), 'sendwell-syslog-cli-'));

describe('sendwell with [log] syslog = true', () => {
  let srv: TestServer;
  let rx: dgram.Socket;
  const received: string[] = [];
  before(async () => {
    srv = await startSmtpServer({ queuedText: (id) => `Ok: queued as ${id}` });
    rx = dgram.createSocket('udp4');
    rx.on('message', (m) => received.push(m.toString('utf8')));
    await new Promise<void>((resolve) => rx.bind(0, '127.0.0.1', resolve));
  });
  after(async () => {
    await srv.close();
    await new Promise<void>((resolve) => rx.close(() => resolve()));
  });

  function config(name: string): string {
    const file = join(work, `${name}.toml`);
    writeFileSync(file, `[log]\nsyslog = true\nsyslog_server = "udp://127.0.0.1:${rx.address().port}"\n`);
    return file;
  }
  const send = (name: string, env: Record<string, string> = {}) =>
    runCli(
      ['send', '--config', config(name), '--state-dir', join(work, name), '--from', 'Jane <jane@example.test>', '--to', 'bob@example.test', '--subject', name, '--text', 'hello', '--relay', srv.url('smtp', 'tls=never'), '--json'],
      { cwd: work, env },
    );

  it('sends the enqueue and delivery lines to syslog as mail.info, tagged sendwell[PID] like mail.log', async () => {
    const r = await send('one');
    assert.equal(r.code, 0, r.stderr);
    assert.doesNotMatch(r.stderr, /syslog/);
    const { queueId } = JSON.parse(r.stdout) as { queueId: string };
    const end = Date.now() + 5000;
    const mine = () => received.filter((m) => m.includes(queueId));
    while (mine().length < 2 && Date.now() < end) await sleep(20);
    const lines = mine();
    assert.equal(lines.length, 2, JSON.stringify(received));
    const file = readFileSync(join(work, 'one', 'mail.log'), 'utf8');
    const pid = /sendwell\/smtp\[(\d+)\]/.exec(file)![1]!;
    assert.match(lines[0]!, new RegExp(`^<22>1 \\S+ \\S+ sendwell ${pid} - (\\[[^\\]]*\\] )?${queueId}: message-id=<[^>]+>, from=<jane@example\\.test>, size=\\d+, nrcpt=1 \\(queue active\\)`));
    assert.match(lines[1]!, new RegExp(`^<22>1 \\S+ \\S+ sendwell ${pid} - (\\[[^\\]]*\\] )?${queueId}: to=<bob@example\\.test>, relay=smtp://127\\.0\\.0\\.1:\\d+\\?tls=never, .*dsn=2\\.0\\.0, status=sent \\(250 .*queued as ${srv.lastQueueId}\\)$`));
  });

  it('without logger on PATH: one warning on stderr, the mail is sent and logged to the file', async () => {
    const emptyBin = join(work, 'empty-bin');
    mkdirSync(emptyBin, { recursive: true });
    const before = srv.messages.length;
    const r = await send('two', { PATH: emptyBin });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(srv.messages.length, before + 1);
    const warnings = r.stderr.split('\n').filter((l) => l.includes('syslog'));
    assert.equal(warnings.length, 1, r.stderr);
    assert.match(warnings[0]!, /^sendwell: warning: syslog output \(\[log\] syslog = true\) is off: the logger program was not found .*apt-get install bsdutils/);
    assert.match(readFileSync(join(work, 'two', 'mail.log'), 'utf8'), /status=sent/);
  });
});

/**
 * Real SMTP clients against `sendwell serve`: Postfix's smtp-source (from the
 * Debian postfix package CI installs) submitting many messages over parallel
 * sessions; every acknowledged message must be in the queue.
 */
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { BIN, runCli } from '../helpers/cli.js';

const SOURCE = '/usr/sbin/smtp-source';
const enabled = process.env.SENDWELL_IT_POSTFIX === '1' && existsSync(SOURCE);

describe('integration: smtp-source against sendwell serve', { skip: !enabled && 'needs SENDWELL_IT_POSTFIX=1 and /usr/sbin/smtp-source' }, () => {
  it('accepts 200 messages over 8 parallel sessions, each one queued', async () => {
    const work = mkdtempSync(join(tmpdir(), 'sendwell-smtpsource-'));
    const cfg = join(work, 'sendwell.toml');
    // A relay that is down keeps everything in the queue, so it can be counted there.
    writeFileSync(cfg, ['[relay]', 'url = "smtp://127.0.0.1:9?tls=never"', '[smtp]', 'listen = ["127.0.0.1:0"]', 'messages_per_client_per_minute = 0', 'max_connections_per_client = 100', '[http]', 'listen = "127.0.0.1:0"', '[limits.flood]', 'messages = 100000', 'duplicate_window = "0s"', ''].join('\n'));
    const state = join(work, 'state');
    const serve = spawn(process.execPath, [BIN, 'serve', '--config', cfg, '--state-dir', state], { stdio: ['ignore', 'pipe', 'pipe'] });
    let log = '';
    serve.stderr.on('data', (d) => (log += d));
    try {
      const deadline = Date.now() + 15_000;
      while (!/worker: delivering via/.test(log) && Date.now() < deadline) await sleep(50);
      const port = Number(/smtp: listening on 127\.0\.0\.1:(\d+)/.exec(log)?.[1]);
      assert.ok(port > 0, log);
      await promisify(execFile)(SOURCE, ['-s', '8', '-m', '200', '-l', '1024', '-f', 'jane@example.test', '-t', 'bob@example.test', '-M', 'example.test', `127.0.0.1:${port}`]);
      assert.equal((log.match(/ queued [0-9A-Za-z]{14} /g) ?? []).length, 200, 'every message acknowledged with a queue ID');
      const q = await runCli(['queue', '--state-dir', state, '--json']);
      assert.equal(q.stdout.trim().split('\n').length, 200, 'all 200 are in the queue');
    } finally {
      serve.kill('SIGTERM');
    }
  });
});

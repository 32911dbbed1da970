import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { SendwellError, exitCodeFor } from '../errors.js';
import { createTransport } from './index.js';
import type { Envelope } from './types.js';
import { isError } from '../../test/helpers/transport.js';

const dir = mkdtempSync(join(tmpdir(), 'sendwell-sendmail-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function script(name: string, body: string): string {
  const p = join(dir, name);
  writeFileSync(p, `#!/bin/sh\n${body}\n`);
  chmodSync(p, 0o755);
  return p;
}

const MESSAGE = Buffer.from('Subject: via sendmail\r\n\r\nline 1\r\n.\r\nline 3\r\n');
const ENV: Envelope = { from: 'jane@example.test', to: ['bob@example.test', 'carol@example.test'] };
const send = (path: string, env: Envelope = ENV, timeoutMs?: number) =>
  createTransport({ url: `sendmail:${path}`, ...(timeoutMs ? { timeouts: { sendmailMs: timeoutMs } } : {}) }).send(env, MESSAGE);

describe('sendmail transport', () => {
  it('runs "<path> -i -f sender -- recipients…" with the message on stdin (LF line ends); all recipients accepted', async () => {
    const out = join(dir, 'ok');
    const path = script('ok.sh', `for a in "$@"; do printf '%s\\n' "$a"; done > ${out}.args\ncat > ${out}.stdin`);
    const r = await send(path);
    assert.deepEqual(readFileSync(`${out}.args`, 'utf8').split('\n').slice(0, -1), ['-i', '-f', 'jane@example.test', '--', 'bob@example.test', 'carol@example.test']);
    assert.equal(readFileSync(`${out}.stdin`, 'utf8'), 'Subject: via sendmail\n\nline 1\n.\nline 3\n');
    assert.deepEqual(r.recipients, [
      { address: 'bob@example.test', status: 'accepted' },
      { address: 'carol@example.test', status: 'accepted' },
    ]);
    assert.equal(r.info.relay, `sendmail:${path}`);
  });

  it('passes the null sender as -f ""', async () => {
    const out = join(dir, 'null');
    const path = script('null.sh', `for a in "$@"; do printf '[%s]\\n' "$a"; done > ${out}.args\ncat > /dev/null`);
    await send(path, { from: '', to: ['bob@example.test'] });
    assert.equal(readFileSync(`${out}.args`, 'utf8'), '[-i]\n[-f]\n[]\n[--]\n[bob@example.test]\n');
  });

  it('exit 75 (EX_TEMPFAIL): temporary, 4.3.0, stderr in the message', async () => {
    const path = script('tempfail.sh', 'cat >/dev/null; echo "postdrop: warning: queue file write error" >&2; exit 75');
    await assert.rejects(
      send(path),
      isError('ESENDMAIL', (e) => {
        assert.equal(e.temporary, true);
        assert.equal(e.enhancedStatus, '4.3.0');
        assert.match(e.message, /exited with status 75 \(EX_TEMPFAIL: temporary failure\): postdrop: warning: queue file write error/);
        assert.equal(exitCodeFor(e), 75);
      }),
    );
  });

  it('exit 67 (EX_NOUSER): ERECIPIENTS, permanent, 5.1.1 for every recipient', async () => {
    const path = script('nouser.sh', 'cat >/dev/null; echo "bob... User unknown" >&2; exit 67');
    await assert.rejects(
      send(path),
      isError('ERECIPIENTS', (e) => {
        assert.equal(e.temporary, false);
        assert.equal(e.enhancedStatus, '5.1.1');
        assert.equal(e.recipients?.length, 2);
        assert.ok(e.recipients?.every((r) => r.status === 'rejected' && r.enhancedStatus === '5.1.1'));
        assert.equal(exitCodeFor(e), 67);
      }),
    );
  });

  it('other sysexits are permanent with their meaning in words and Postfix\'s enhanced code', async () => {
    for (const [code, re, enhanced] of [
      [69, /EX_UNAVAILABLE: service unavailable/, '5.3.0'],
      [77, /EX_NOPERM: permission denied/, '5.7.0'],
      [78, /EX_CONFIG: local configuration error/, '5.3.5'],
      [65, /EX_DATAERR: data format error/, '5.6.0'],
    ] as const) {
      const path = script(`exit${code}.sh`, `cat >/dev/null; exit ${code}`);
      await assert.rejects(
        send(path),
        isError('ESENDMAIL', (e) => {
          assert.equal(e.temporary, false);
          assert.match(e.message, re);
          assert.equal(e.enhancedStatus, enhanced);
          assert.ok(e.hint.length > 10);
        }),
      );
    }
    const odd = script('exit3.sh', 'cat >/dev/null; exit 3');
    await assert.rejects(send(odd), isError('ESENDMAIL', (e) => assert.match(e.message, /status 3 \(not a sysexits code\)/)));
  });

  it('a command that exits without reading its input still reports its status (no EPIPE crash)', async () => {
    const path = script('early.sh', 'exit 75');
    const big = Buffer.alloc(2 * 1024 * 1024, 0x61);
    await assert.rejects(createTransport({ url: `sendmail:${path}` }).send(ENV, big), isError('ESENDMAIL', (e) => assert.equal(e.temporary, true)));
  });

  it('a command that hangs is killed after sendmailMs: ETIMEDOUT, temporary', async () => {
    const path = script('hang.sh', 'exec sleep 10');
    const started = Date.now();
    await assert.rejects(
      send(path, ENV, 300),
      isError('ETIMEDOUT', (e) => {
        assert.equal(e.temporary, true);
        assert.match(e.message, /did not finish within 300 ms/);
      }),
    );
    assert.ok(Date.now() - started < 2000);
  });

  it('a missing binary: "not found at PATH", with the C1 hint', async () => {
    await assert.rejects(
      send(join(dir, 'no-such-sendmail')),
      isError('ESENDMAIL', (e) => {
        assert.match(e.message, /the sendmail command was not found at .*no-such-sendmail/);
        assert.equal(e.rule, 'C1');
        assert.match(e.hint, /install an MTA .*\(C1\).*smtp:\/\/localhost:25/);
        assert.equal(e.temporary, false);
      }),
    );
    const notExec = join(dir, 'not-exec');
    writeFileSync(notExec, '#!/bin/sh\nexit 0\n');
    chmodSync(notExec, 0o644);
    await assert.rejects(send(notExec), isError('ESENDMAIL', (e) => assert.match(e.message, /cannot be executed/)));
  });

  it('refuses addresses starting with "-" (option injection, CVE-2020-7769) and line breaks', async () => {
    const out = join(dir, 'inj');
    const path = script('inj.sh', `touch ${out}`);
    await assert.rejects(send(path, { from: '-oQ/tmp/x', to: ['bob@example.test'] }), isError('EADDRESS'));
    await assert.rejects(send(path, { from: 'jane@example.test', to: ['-X/tmp/log'] }), isError('EADDRESS'));
    await assert.rejects(send(path, { from: 'jane@example.test', to: ['a@example.test\nb'] }), isError('EADDRESS'));
    assert.throws(() => readFileSync(out));
  });
});

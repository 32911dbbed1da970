/**
 * The library's per-message DSN parameters, `send(mail, { dsn })`: through the
 * queue (kept with the message) and sent directly, against an in-process SMTP
 * server that offers DSN.
 */
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createMailer, SendwellError } from '../../src/index.js';
import { startSmtpServer, type TestServer } from '../helpers/smtp-server.js';

describe('send(mail, { dsn })', () => {
  let srv: TestServer;
  before(async () => {
    srv = await startSmtpServer({ hideDSN: false });
  });
  after(async () => {
    await srv.close();
  });
  const mail = (subject: string) => ({ to: 'bob@example.test', subject, text: 'All 12 volumes OK.' });

  it('queued: kept with the message and sent over the mailer dsn; without it, the mailer dsn and ENVID = queue ID', async () => {
    const stateDir = mkdtempSync(join(tmpdir(), 'sendwell-mailer-dsn-'));
    const mailer = createMailer({ stateDir, relay: srv.url('smtp', 'tls=never'), from: 'Jane Doe <jane@example.test>', dsn: { ret: 'FULL', notify: ['FAILURE'] }, maildrop: false });
    try {
      const before = srv.messages.length;
      const r = await mailer.send(mail('with dsn'), { dsn: { notify: ['SUCCESS', 'FAILURE'], ret: 'HDRS', envid: 'lib-1' } });
      assert.equal(r.recipients[0]!.state, 'delivered');
      const m = mailer.queue!.store.message(r.queueId!)!;
      assert.deepEqual([m.dsnNotify, m.dsnRet, m.dsnEnvid], [['SUCCESS', 'FAILURE'], 'HDRS', 'lib-1']);
      const got = srv.messages[before]!;
      assert.deepEqual([got.mailArgs.RET, got.mailArgs.ENVID, got.rcptArgs[0]!.NOTIFY], ['HDRS', 'lib-1', 'SUCCESS,FAILURE']);
      const plain = await mailer.send(mail('without dsn'));
      const got2 = srv.messages[before + 1]!;
      assert.deepEqual([got2.mailArgs.RET, got2.mailArgs.ENVID, got2.rcptArgs[0]!.NOTIFY], ['FULL', plain.queueId, 'FAILURE']);
    } finally {
      await mailer.close();
    }
  });

  it('sent directly (no queue): over the mailer dsn', async () => {
    const mailer = createMailer({ relay: srv.url('smtp', 'tls=never'), from: 'Jane Doe <jane@example.test>', dsn: { ret: 'FULL', notify: ['FAILURE'] } });
    try {
      const before = srv.messages.length;
      await mailer.send(mail('direct'), { dsn: { notify: ['NEVER'], envid: 'direct-1' } });
      const got = srv.messages[before]!;
      assert.deepEqual([got.mailArgs.RET, got.mailArgs.ENVID, got.rcptArgs[0]!.NOTIFY], ['FULL', 'direct-1', 'NEVER']);
    } finally {
      await mailer.close();
    }
  });

  it('refuses what RFC 3461 does not allow (EUSAGE), before anything is queued or sent', async () => {
    const mailer = createMailer({ relay: srv.url('smtp', 'tls=never'), from: 'Jane Doe <jane@example.test>' });
    const before = srv.messages.length;
    try {
      for (const dsn of [{ notify: ['NEVER', 'SUCCESS'] }, { ret: 'BODY' }, { envid: 'has\r\nnewline' }, { envid: 'x'.repeat(101) }]) {
        await assert.rejects(mailer.send(mail('bad dsn'), { dsn: dsn as never }), (e: unknown) => e instanceof SendwellError && e.code === 'EUSAGE');
      }
      assert.equal(srv.messages.length, before);
    } finally {
      await mailer.close();
    }
  });
});

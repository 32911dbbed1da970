/**
 * STARTTLS, implicit TLS and AUTH against smtp-server with the test PKI.
 */
import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { SendwellError } from '../../errors.js';
import { smtpReply, startSmtpServer, type TestServer, type TestServerOptions } from '../../../test/helpers/smtp-server.js';
import { testPki } from '../../../test/helpers/tls.js';
import { createTransport, type RelayOptions } from '../index.js';
import type { Envelope, Transport } from '../types.js';
import { withTransport, isError } from '../../../test/helpers/transport.js';

const MESSAGE = Buffer.from('Subject: tls\r\n\r\nhello\r\n');
const ENV: Envelope = { from: 'jane@example.test', to: ['bob@example.test'] };
const pki = testPki();
const dir = mkdtempSync(join(tmpdir(), 'sendwell-tls-'));
const pwFile = join(dir, 'pw');
writeFileSync(pwFile, 'correct horse\n');
chmodSync(pwFile, 0o600);

const servers: TestServer[] = [];
after(async () => {
  await Promise.all(servers.map((s) => s.close()));
  rmSync(dir, { recursive: true, force: true });
});
async function server(o: TestServerOptions): Promise<TestServer> {
  const s = await startSmtpServer(o);
  servers.push(s);
  return s;
}
const send = (options: RelayOptions) => withTransport(options, (t) => t.send(ENV, MESSAGE));
describe('TLS', () => {
  it('smtp+starttls:// with the test CA as ca_file: verified STARTTLS, EHLO again after it', async () => {
    const s = await server({ tls: 'starttls' });
    const trace: string[] = [];
    const r = await send({ url: s.url('smtp+starttls'), caFile: pki.caFile, trace: (l) => trace.push(l) });
    assert.equal(r.info.tls?.authorized, true);
    assert.match(r.info.tls?.protocol ?? '', /^TLSv1\.[23]$/);
    assert.ok(r.info.tls?.cipher);
    assert.equal(s.messages[0]!.secure, true);
    assert.equal(trace.filter((l) => l.startsWith('C: EHLO')).length, 2);
    assert.ok(!r.info.extensions?.includes('STARTTLS'));
  });

  it('smtp+starttls:// fails closed when STARTTLS is not offered; nothing is sent', async () => {
    const s = await server({ tls: 'none' });
    await assert.rejects(
      send({ url: s.url('smtp+starttls'), caFile: pki.caFile }),
      isError('ETLS', (e) => {
        assert.equal(e.phase, 'tls');
        assert.equal(e.temporary, false);
        assert.match(e.message, /does not offer STARTTLS/);
        assert.match(e.hint, /nothing was sent/);
      }),
    );
    assert.equal(s.messages.length, 0);
  });

  it('smtp:// (opportunistic) accepts an unknown CA or a self-signed certificate unverified, and records that', async () => {
    const s = await server({ tls: 'starttls', cert: 'selfSigned' });
    const r = await send({ url: s.url('smtp') });
    assert.equal(r.info.tls?.authorized, false);
    assert.equal(r.info.tls?.authorizationError, 'DEPTH_ZERO_SELF_SIGNED_CERT');
    assert.equal(s.messages[0]!.secure, true);
    const s2 = await server({ tls: 'starttls' });
    const r2 = await send({ url: s2.url('smtp') });
    assert.equal(r2.info.tls?.authorized, false);
    assert.equal(r2.info.tls?.authorizationError, 'UNABLE_TO_VERIFY_LEAF_SIGNATURE');
  });

  it('smtp://…?tls=verify refuses the same certificates (ETLS saying which), and accepts the CA-signed one with ca_file', async () => {
    const self = await server({ tls: 'starttls', cert: 'selfSigned' });
    await assert.rejects(
      send({ url: self.url('smtp', 'tls=verify') }),
      isError('ETLS', (e) => {
        assert.match(e.message, /self-signed/);
        assert.match(e.hint, /ca_file.*smtp:\/\//);
      }),
    );
    assert.equal(self.messages.length, 0);
    const good = await server({ tls: 'starttls' });
    await assert.rejects(send({ url: good.url('smtp', 'tls=verify') }), isError('ETLS', (e) => assert.match(e.message, /unknown CA/)));
    const r = await send({ url: good.url('smtp', 'tls=verify'), caFile: pki.caFile });
    assert.equal(r.info.tls?.authorized, true);
  });

  it('smtps:// (implicit TLS) with the test CA', async () => {
    const s = await server({ tls: 'implicit' });
    const r = await send({ url: s.url('smtps'), caFile: pki.caFile });
    assert.equal(r.info.tls?.authorized, true);
    assert.equal(s.messages[0]!.secure, true);
  });

  it('an expired certificate: ETLS "expired", permanent', async () => {
    const s = await server({ tls: 'implicit', cert: 'expired' });
    await assert.rejects(
      send({ url: s.url('smtps'), caFile: pki.caFile }),
      isError('ETLS', (e) => {
        assert.match(e.message, /has expired/);
        assert.equal(e.temporary, false);
        assert.equal(e.phase, 'tls');
        assert.match(e.hint, /renew/);
      }),
    );
    const s2 = await server({ tls: 'starttls', cert: 'expired' });
    await assert.rejects(send({ url: s2.url('smtp+starttls'), caFile: pki.caFile }), isError('ETLS', (e) => assert.match(e.message, /has expired/)));
  });

  it('a certificate for another host name: ETLS "hostname mismatch" naming the names', async () => {
    const s = await server({ tls: 'starttls', cert: 'wrongHost' });
    await assert.rejects(
      send({ url: s.url('smtp+starttls'), caFile: pki.caFile }),
      isError('ETLS', (e) => {
        assert.match(e.message, /hostname mismatch/);
        assert.match(e.message, /wrong\.example\.test/);
      }),
    );
  });

  it('implicit TLS to a plaintext SMTP port: ETLS explaining smtps:// vs smtp+starttls://', async () => {
    const s = await server({ tls: 'none' });
    await assert.rejects(
      withTransport({ url: s.url('smtps'), caFile: pki.caFile, timeouts: { connectMs: 2000 } }, (t) => t.send(ENV, MESSAGE)),
      isError('ETLS', (e) => {
        assert.match(e.message, /wrong version number/);
        assert.match(e.hint, /smtps:\/\/ only for port 465/);
      }),
    );
  });

  it('a bad ca_file is ECONFIG', async () => {
    const s = await server({ tls: 'starttls' });
    await assert.rejects(send({ url: s.url('smtp+starttls'), caFile: join(dir, 'missing.pem') }), isError('ECONFIG', (e) => assert.match(e.message, /ca_file/)));
  });
});

describe('AUTH', () => {
  const users = { jane: 'correct horse' };

  it('AUTH PLAIN over verified STARTTLS, password from a 0600 file; the password never appears in the trace', async () => {
    const s = await server({ tls: 'starttls', users, authRequired: true });
    const trace: string[] = [];
    const r = await send({ url: s.url('smtp+starttls'), caFile: pki.caFile, username: 'jane', password: { file: pwFile }, trace: (l) => trace.push(l) });
    assert.equal(r.info.authenticatedAs, 'jane');
    assert.equal(s.messages[0]!.user, 'jane');
    assert.ok(trace.includes('C: AUTH PLAIN <credentials hidden>'));
    const b64 = Buffer.from('\0jane\0correct horse').toString('base64');
    assert.ok(!trace.some((l) => l.includes('correct horse') || l.includes(b64)));
  });

  it('AUTH LOGIN when only LOGIN is offered', async () => {
    const s = await server({ tls: 'starttls', users, authMethods: ['LOGIN'], authRequired: true });
    const trace: string[] = [];
    const r = await send({ url: s.url('smtp+starttls'), caFile: pki.caFile, username: 'jane', password: { env: 'SENDWELL_TEST_PW' }, trace: (l) => trace.push(l) }).catch(
      async (e) => {
        // the env var is set below; this first call documents the ESECRET path
        assert.ok(e instanceof SendwellError && e.code === 'ESECRET');
        process.env.SENDWELL_TEST_PW = 'correct horse';
        try {
          return await send({ url: s.url('smtp+starttls'), caFile: pki.caFile, username: 'jane', password: { env: 'SENDWELL_TEST_PW' }, trace: (l) => trace.push(l) });
        } finally {
          delete process.env.SENDWELL_TEST_PW;
        }
      },
    );
    assert.equal(r.info.authenticatedAs, 'jane');
    assert.ok(trace.includes('C: AUTH LOGIN'));
    assert.ok(trace.includes('C: <password hidden>'));
    assert.ok(!trace.some((l) => l.includes(Buffer.from('correct horse').toString('base64'))));
  });

  it('wrong password: 535 → EAUTH, permanent, without the password in the error', async () => {
    const s = await server({ tls: 'starttls', users, authRequired: true });
    for (const authMethods of [['PLAIN'], ['LOGIN']]) {
      const s2 = await server({ tls: 'starttls', users, authMethods, authRequired: true });
      await assert.rejects(
        send({ url: s2.url('smtp+starttls'), caFile: pki.caFile, username: 'jane', password: { value: 'wrong-secret' } }),
        isError('EAUTH', (e) => {
          assert.equal(e.responseCode, 535);
          assert.equal(e.enhancedStatus, '5.7.8');
          assert.equal(e.temporary, false);
          assert.equal(e.phase, 'auth');
          assert.match(e.hint, /credentials/);
          assert.ok(!JSON.stringify({ ...e.toJSON(), m: e.message }).includes('wrong-secret'));
        }),
      );
    }
    assert.equal(s.messages.length, 0);
  });

  it('454 during AUTH is a temporary EAUTH', async () => {
    const s = await server({ tls: 'starttls', users, authFailure: smtpReply(454, '4.7.0 Temporary authentication failure') });
    await assert.rejects(send({ url: s.url('smtp+starttls'), caFile: pki.caFile, username: 'jane', password: { value: 'x' } }), isError('EAUTH', (e) => assert.equal(e.temporary, true)));
  });

  it('AUTH in plaintext is allowed to a loopback relay (the connected address is 127.0.0.1)', async () => {
    const s = await server({ tls: 'none', users, authRequired: true });
    const r = await send({ url: s.url('smtp', 'tls=never'), username: 'jane', password: { file: pwFile } });
    assert.equal(r.info.authenticatedAs, 'jane');
  });

  it('username set but the relay offers no AUTH: EAUTH, not a silent skip', async () => {
    const s = await server({ tls: 'none' });
    await assert.rejects(
      send({ url: s.url('smtp', 'tls=never'), username: 'jane', password: { file: pwFile } }),
      isError('EAUTH', (e) => assert.match(e.message, /does not offer authentication/)),
    );
  });

  it('a password file others can read stops the send with ESECRET before AUTH', async () => {
    const open = join(dir, 'open');
    writeFileSync(open, 'x\n');
    chmodSync(open, 0o644);
    const s = await server({ tls: 'none', users });
    await assert.rejects(send({ url: s.url('smtp', 'tls=never'), username: 'jane', password: { file: open } }), isError('ESECRET', (e) => assert.match(e.hint, /chmod 600/)));
  });

  it('username without a password source (and the reverse) is ECONFIG at creation', () => {
    assert.throws(() => createTransport({ url: 'smtp://localhost', username: 'jane' }), isError('ECONFIG'));
    assert.throws(() => createTransport({ url: 'smtp://localhost', password: { env: 'X' } }), isError('ECONFIG'));
    assert.throws(() => createTransport({ url: 'sendmail:', username: 'jane', password: { env: 'X' } }), isError('ECONFIG'));
  });
});

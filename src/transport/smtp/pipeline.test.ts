/**
 * Cross-message pipelining (RFC 2920 §3.1): sends queued on one transport go
 * out with the next transaction written right behind the current message's
 * data. Each message must still get its own, correct outcome.
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { smtpReply, startSmtpServer, type TestServer, type TestServerOptions } from '../../../test/helpers/smtp-server.js';
import { isError } from '../../../test/helpers/transport.js';
import { createTransport } from '../index.js';

const servers: TestServer[] = [];
after(() => Promise.all(servers.map((s) => s.close())));
async function server(o: TestServerOptions = {}) {
  const s = await startSmtpServer(o);
  servers.push(s);
  return s;
}
const msg = (i: number) => Buffer.from(`From: jane@example.test\r\nTo: r${i}@example.test\r\nSubject: m${i}\r\nMessage-ID: <m${i}@example.test>\r\n\r\nbody ${i}\r\n.dot line ${i}\r\n`);
const env = (i: number) => ({ from: 'jane@example.test', to: [`r${i}@example.test`] });

describe('SMTP: cross-message pipelining', () => {
  it('sends queued messages over one connection, each next transaction behind the previous data', async () => {
    const s = await server();
    const trace: string[] = [];
    const t = createTransport({ url: s.url('smtp', 'tls=never'), trace: (l) => trace.push(l) });
    const results = await Promise.all([0, 1, 2, 3, 4].map((i) => t.send(env(i), msg(i))));
    await t.close();
    assert.equal(s.connections, 1);
    assert.deepEqual(s.messages.map((m) => m.to[0]), ['r0@example.test', 'r1@example.test', 'r2@example.test', 'r3@example.test', 'r4@example.test']);
    s.messages.forEach((m, i) => assert.match(m.raw.toString(), new RegExp(`body ${i}\\r\\n\\.dot line ${i}\\r\\n$`)));
    assert.ok(results.every((r) => r.recipients[0]!.status === 'accepted'));
    assert.equal(new Set(results.map((r) => r.relayQueueId)).size, 5, 'each message has its own final reply');
    assert.equal(trace.filter((l) => l.includes('(pipelined with the next message)')).length, 4);
  });

  it('a refused recipient in a pipelined transaction fails only that message', async () => {
    const s = await server({ onRcptTo: (a) => (a.address === 'r1@example.test' ? smtpReply(550, '5.1.1 no such user') : undefined) });
    const t = createTransport({ url: s.url('smtp', 'tls=never') });
    const [a, b, c] = await Promise.allSettled([0, 1, 2].map((i) => t.send(env(i), msg(i))));
    await t.close();
    assert.equal(a.status, 'fulfilled');
    assert.equal(b.status, 'rejected');
    assert.ok(isError('ERECIPIENTS', (e) => assert.equal(e.recipients?.[0]?.enhancedStatus, '5.1.1'))((b as PromiseRejectedResult).reason));
    assert.equal(c.status, 'fulfilled');
    assert.deepEqual(s.messages.map((m) => m.to[0]), ['r0@example.test', 'r2@example.test']);
  });

  it('a message refused after its data does not disturb the next one', async () => {
    const s = await server({ onData: (raw) => (raw.toString().includes('Subject: m1') ? smtpReply(451, '4.3.0 try again later') : undefined) });
    const t = createTransport({ url: s.url('smtp', 'tls=never') });
    const [a, b, c] = await Promise.allSettled([0, 1, 2].map((i) => t.send(env(i), msg(i))));
    await t.close();
    assert.equal(a.status, 'fulfilled');
    assert.ok(isError('EREJECTED', (e) => assert.equal(e.temporary, true))((b as PromiseRejectedResult).reason));
    assert.equal(c.status, 'fulfilled');
    assert.equal(s.connections, 1);
  });

  it('when the relay closes after a message, the pipelined next one is sent again on a new connection', async () => {
    const s = await server({ onData: (raw) => (raw.toString().includes('Subject: m0') ? smtpReply(421, '4.7.0 closing after this one') : undefined) });
    const t = createTransport({ url: s.url('smtp', 'tls=never') });
    const [a, b] = await Promise.allSettled([0, 1].map((i) => t.send(env(i), msg(i))));
    await t.close();
    assert.equal(a.status, 'rejected', 'the 421 answers the first message');
    assert.equal(b.status, 'fulfilled', 'the second was re-sent on a fresh connection');
    assert.deepEqual(s.messages.map((m) => m.to[0]), ['r1@example.test']);
    assert.equal(s.connections, 2);
  });
});

describe('SMTP: probe', () => {
  it('reports the relay extensions and SIZE without sending, and reuses the connection', async () => {
    const s = await server({ size: 5_000_000 });
    const t = createTransport({ url: s.url('smtp', 'tls=never') });
    const info = await t.probe!();
    assert.equal(info.maxSize, 5_000_000);
    assert.ok(info.extensions?.includes('PIPELINING'));
    await t.send(env(1), msg(1));
    await t.close();
    assert.equal(s.connections, 1, 'the probe connection carried the message');
    assert.equal(s.messages.length, 1);
  });
});

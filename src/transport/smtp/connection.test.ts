/**
 * Turn-coalesced writes (connection.ts): what one event-loop turn writes,
 * on any number of sockets, is held until the turn ends and then leaves at
 * once, in order, and before an end() of the same turn.
 */
import assert from 'node:assert/strict';
import net from 'node:net';
import { after, describe, it } from 'node:test';
import { SmtpConnection, writeCoalesced } from './connection.js';

interface Received {
  chunks: Buffer[];
  ended: Promise<Buffer>;
}

const servers: net.Server[] = [];
const clients: net.Socket[] = [];
after(() => {
  clients.forEach((c) => c.destroy());
  servers.forEach((s) => s.close());
});

/** A TCP server on 127.0.0.1 that records each connection's chunks until FIN. */
async function recorder(): Promise<{ port: number; conns: Received[]; accepted: (n: number) => Promise<void> }> {
  const conns: Received[] = [];
  const waiters: (() => void)[] = [];
  const server = net.createServer((sock) => {
    sock.on('error', () => {}); // a destroyed client may reset
    clients.push(sock);
    const chunks: Buffer[] = [];
    const ended = new Promise<Buffer>((resolve) => {
      sock.on('data', (d: Buffer) => chunks.push(d));
      sock.on('end', () => (sock.end(), resolve(Buffer.concat(chunks))));
    });
    conns.push({ chunks, ended });
    waiters.splice(0).forEach((w) => w());
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  const accepted = async (n: number) => {
    while (conns.length < n) await new Promise<void>((r) => waiters.push(r));
  };
  return { port, conns, accepted };
}

async function connect(port: number): Promise<net.Socket> {
  const sock = net.connect({ host: '127.0.0.1', port });
  clients.push(sock);
  await new Promise<void>((resolve, reject) => sock.once('connect', resolve).once('error', reject));
  sock.setNoDelay(true);
  return sock;
}

const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve));

describe('writes coalesced per event-loop turn', () => {
  it('holds every socket’s writes until the turn ends, then sends them (several writes on one socket in one segment)', async () => {
    const srv = await recorder();
    const a = await connect(srv.port);
    const b = await connect(srv.port);
    await srv.accepted(2);

    writeCoalesced(a, Buffer.from('MAIL FROM:<a@example.test>\r\n'));
    writeCoalesced(b, Buffer.from('MAIL FROM:<b@example.test>\r\n'));
    writeCoalesced(a, Buffer.from('RCPT TO:<c@example.test>\r\n'));
    // Still this turn: nothing has left either socket.
    assert.equal(a.writableCorked, 1);
    assert.equal(b.writableCorked, 1);
    assert.equal(a.writableLength, 54);
    assert.equal(b.writableLength, 28);

    await nextTurn();
    assert.equal(a.writableCorked, 0);
    assert.equal(b.writableCorked, 0);
    assert.equal(a.writableLength + b.writableLength, 0);
    a.end();
    b.end();
    const [ra, rb] = await Promise.all(srv.conns.map((c) => c.ended));
    const byContent = [ra!, rb!].map(String).sort();
    assert.deepEqual(byContent, ['MAIL FROM:<a@example.test>\r\nRCPT TO:<c@example.test>\r\n', 'MAIL FROM:<b@example.test>\r\n']);
    const aConn = srv.conns.find((c) => String(Buffer.concat(c.chunks)).includes('<a@'))!;
    assert.equal(aConn.chunks.length, 1, 'the two writes of one turn went out as one writev');
  });

  it('an end() in the same turn still sends what was written first (QUIT before FIN)', async () => {
    const srv = await recorder();
    const a = await connect(srv.port);
    await srv.accepted(1);
    writeCoalesced(a, Buffer.from('QUIT\r\n'));
    a.end();
    assert.equal(String(await srv.conns[0]!.ended), 'QUIT\r\n');
  });

  it('a socket destroyed while held is skipped, the others still flush', async () => {
    const srv = await recorder();
    const a = await connect(srv.port);
    const b = await connect(srv.port);
    await srv.accepted(2);
    writeCoalesced(a, Buffer.from('lost\r\n'));
    writeCoalesced(b, Buffer.from('kept\r\n'));
    a.destroy();
    await nextTurn();
    b.end();
    const got = await Promise.race([Promise.all(srv.conns.map((c) => c.ended)), new Promise<Buffer[]>((r) => setTimeout(() => r([]), 5000).unref())]);
    assert.deepEqual(got.map(String).sort(), ['', 'kept\r\n']);
  });

  it('SmtpConnection.destroy() right after a write still sends it (a QUIT before closing)', async () => {
    const srv = await recorder();
    const conn = await SmtpConnection.connect({ host: '127.0.0.1', port: srv.port, connectMs: 2000 });
    await srv.accepted(1);
    conn.writeLine('QUIT');
    conn.destroy();
    assert.equal(String(await srv.conns[0]!.ended), 'QUIT\r\n');
  });
});

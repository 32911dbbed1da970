/**
 * Byte-exact cases against a scripted raw TCP server on 127.0.0.1.
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { SendwellError } from '../../errors.js';
import { startRawServer, type RawConnection, type RawServer } from '../../../test/helpers/smtp-server.js';
import { createTransport, type RelayOptions } from '../index.js';
import type { Envelope, Transport } from '../types.js';
import { withTransport, isError } from '../../../test/helpers/transport.js';

const MESSAGE = Buffer.from('Subject: raw\r\n\r\nhello\r\n');
const ENV: Envelope = { from: 'jane@example.test', to: ['a@example.test', 'b@example.test'] };

const servers: RawServer[] = [];
after(async () => {
  await Promise.all(servers.map((s) => s.close()));
});
async function raw(handler: (c: RawConnection) => Promise<void>): Promise<RawServer> {
  const s = await startRawServer(handler);
  servers.push(s);
  return s;
}
/** Greeting and EHLO with the given keywords. */
async function hello(c: RawConnection, keywords: string[]): Promise<string> {
  c.write('220 raw.example.test ESMTP\r\n');
  const ehlo = await c.readLine();
  c.write(['raw.example.test', ...keywords].map((k, i, a) => `250${i < a.length - 1 ? '-' : ' '}${k}\r\n`).join(''));
  return ehlo;
}
async function quit(c: RawConnection): Promise<void> {
  const l = await c.readLine().catch(() => '');
  if (l === 'QUIT') c.write('221 bye\r\n');
  c.socket.end();
}

describe('SMTP on the wire', () => {
  it('PIPELINING: MAIL, every RCPT and DATA arrive in one packet; replies are read in order', async () => {
    const lines: string[] = [];
    const s = await raw(async (c) => {
      await hello(c, ['PIPELINING', 'DSN', '8BITMIME']);
      for (let i = 0; i < 4; i++) lines.push(await c.readLine());
      c.write('250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n550 5.1.1 no such user\r\n354 go ahead\r\n');
      const data = await c.readData();
      assert.equal(data, 'Subject: raw\r\n\r\nhello\r\n.\r\n');
      c.write('250 2.0.0 Ok: queued as 4AbC\r\n');
      await quit(c);
    });
    const r = await withTransport({ url: s.url('smtp', 'tls=never'), dsn: { envid: 'a b+c', ret: 'FULL' } }, (t) => t.send(ENV, MESSAGE));
    const chunks = s.connections[0]!.chunks;
    const mailChunk = chunks.find((c) => c.includes('MAIL FROM'));
    assert.ok(mailChunk, 'MAIL FROM sent');
    assert.match(mailChunk, /^MAIL FROM:<jane@example\.test> RET=FULL ENVID=a\+20b\+2Bc\r\nRCPT TO:<a@example\.test> NOTIFY=FAILURE,DELAY ORCPT=rfc822;a@example\.test\r\nRCPT TO:<b@example\.test> NOTIFY=FAILURE,DELAY ORCPT=rfc822;b@example\.test\r\nDATA\r\n$/);
    assert.deepEqual(r.recipients.map((x) => [x.status, x.enhancedStatus]), [
      ['accepted', '2.1.5'],
      ['rejected', '5.1.1'],
    ]);
    assert.equal(r.relayQueueId, '4AbC');
    assert.equal(lines.length, 4);
  });

  it('without PIPELINING: lockstep, one command per packet, no DATA when every RCPT failed', async () => {
    const s = await raw(async (c) => {
      await hello(c, ['8BITMIME']);
      assert.match(await c.readLine(), /^MAIL FROM/);
      c.write('250 ok\r\n');
      assert.match(await c.readLine(), /^RCPT TO:<a@/);
      c.write('550 no\r\n');
      assert.match(await c.readLine(), /^RCPT TO:<b@/);
      c.write('451 later\r\n');
      assert.equal(await c.readLine(), 'QUIT');
      c.write('221 bye\r\n');
      c.socket.end();
    });
    await assert.rejects(
      withTransport({ url: s.url('smtp', 'tls=never') }, (t) => t.send(ENV, MESSAGE)),
      isError('ERECIPIENTS', (e) => {
        assert.equal(e.temporary, false, 'one permanent refusal makes it permanent');
        assert.deepEqual(e.recipients?.map((r) => r.temporary), [false, true]);
      }),
    );
    const chunks = s.connections[0]!.chunks.filter((c) => !c.startsWith('EHLO'));
    assert.deepEqual(chunks.map((c) => c.split(':')[0]), ['MAIL FROM', 'RCPT TO', 'RCPT TO', 'QUIT\r\n']);
  });

  it('pipelined, every RCPT refused but DATA got 354: a lone "." ends it, and the result is ERECIPIENTS', async () => {
    let afterData = '';
    const s = await raw(async (c) => {
      await hello(c, ['PIPELINING']);
      for (let i = 0; i < 4; i++) await c.readLine();
      c.write('250 ok\r\n550 5.1.1 no\r\n550 5.1.1 no\r\n354 go\r\n');
      afterData = await c.readLine();
      c.write('554 5.5.1 no valid recipients\r\n');
      await quit(c);
    });
    await assert.rejects(withTransport({ url: s.url('smtp', 'tls=never') }, (t) => t.send(ENV, MESSAGE)), isError('ERECIPIENTS', (e) => assert.match(e.hint, /does not exist/)));
    assert.equal(afterData, '.');
  });

  it('falls back to HELO when EHLO is refused with 5xx, and then uses no extensions', async () => {
    const s = await raw(async (c) => {
      c.write('220 old.example.test\r\n');
      assert.match(await c.readLine(), /^EHLO /);
      c.write('502 command not implemented\r\n');
      assert.match(await c.readLine(), /^HELO /);
      c.write('250 old.example.test\r\n');
      assert.equal(await c.readLine(), 'MAIL FROM:<jane@example.test>');
      c.write('250 ok\r\n');
      await c.readLine();
      c.write('250 ok\r\n');
      await c.readLine();
      c.write('250 ok\r\n');
      assert.equal(await c.readLine(), 'DATA');
      c.write('354 go\r\n');
      await c.readData();
      c.write('250 ok\r\n');
      await quit(c);
    });
    const r = await withTransport({ url: s.url() }, (t) => t.send(ENV, MESSAGE));
    assert.deepEqual(r.info.extensions, []);
  });

  it('a relay that drops the connection mid-transaction: ECONNECTION, temporary, phase mail', async () => {
    const s = await raw(async (c) => {
      await hello(c, ['PIPELINING']);
      await c.readLine();
      c.socket.destroy();
    });
    await assert.rejects(
      withTransport({ url: s.url('smtp', 'tls=never') }, (t) => t.send(ENV, MESSAGE)),
      isError('ECONNECTION', (e) => {
        assert.equal(e.temporary, true);
        assert.equal(e.phase, 'mail');
        assert.match(e.message, /closed the connection|reset the connection/);
      }),
    );
  });

  it('a greeting slower than greetingMs: ETIMEDOUT, temporary, naming the option', async () => {
    const s = await raw(async (c) => {
      await new Promise((r) => setTimeout(r, 1000));
      c.write('220 too late\r\n');
    });
    const started = Date.now();
    await assert.rejects(
      withTransport({ url: s.url(), timeouts: { greetingMs: 300 } }, (t) => t.send(ENV, MESSAGE)),
      isError('ETIMEDOUT', (e) => {
        assert.equal(e.temporary, true);
        assert.equal(e.phase, 'connect');
        assert.match(e.message, /did not send its greeting within 300 ms/);
        assert.match(e.hint, /timeouts\.greetingMs/);
      }),
    );
    assert.ok(Date.now() - started < 900);
  });

  it('no final reply after the data within dataMs: ETIMEDOUT, temporary, phase data', async () => {
    const s = await raw(async (c) => {
      await hello(c, ['PIPELINING']);
      for (let i = 0; i < 4; i++) await c.readLine();
      c.write('250 ok\r\n250 ok\r\n250 ok\r\n354 go\r\n');
      await c.readData();
      // …and never answer
    });
    await assert.rejects(
      withTransport({ url: s.url('smtp', 'tls=never'), timeouts: { dataMs: 200 } }, (t) => t.send(ENV, MESSAGE)),
      isError('ETIMEDOUT', (e) => {
        assert.equal(e.phase, 'data');
        assert.equal(e.temporary, true);
        assert.match(e.hint, /timeouts\.dataMs/);
      }),
    );
  });

  it('a reply that is not SMTP: EPROTOCOL', async () => {
    const s = await raw(async (c) => {
      c.write('HTTP/1.1 400 Bad Request\r\n\r\n');
    });
    await assert.rejects(withTransport({ url: s.url() }, (t) => t.send(ENV, MESSAGE)), isError('EPROTOCOL', (e) => assert.equal(e.phase, 'connect')));
  });

  it('STARTTLS reply followed by injected plaintext: EPROTOCOL, nothing sent (CVE-2011-0411 style)', async () => {
    const s = await raw(async (c) => {
      await hello(c, ['STARTTLS', 'PIPELINING']);
      assert.equal(await c.readLine(), 'STARTTLS');
      c.write('220 go ahead\r\n250 injected\r\n');
    });
    await assert.rejects(withTransport({ url: s.url() }, (t) => t.send(ENV, MESSAGE)), isError('EPROTOCOL', (e) => assert.equal(e.phase, 'tls')));
    assert.ok(!s.connections[0]!.chunks.join('').includes('MAIL FROM'));
  });

  it('smtp:// continues in plaintext when STARTTLS is refused (opportunistic); smtp+starttls:// fails closed', async () => {
    const script = async (c: RawConnection) => {
      await hello(c, ['STARTTLS']);
      assert.equal(await c.readLine(), 'STARTTLS');
      c.write('454 4.7.0 TLS not available due to local problem\r\n');
      const next = await c.readLine().catch(() => '');
      if (!next.startsWith('MAIL')) return void c.socket.end();
      c.write('250 ok\r\n');
      for (;;) {
        const l = await c.readLine();
        if (l === 'DATA') break;
        c.write('250 ok\r\n');
      }
      c.write('354 go\r\n');
      await c.readData();
      c.write('250 ok\r\n');
      await quit(c);
    };
    const s = await raw(script);
    const r = await withTransport({ url: s.url() }, (t) => t.send(ENV, MESSAGE));
    assert.equal(r.info.tls, undefined);
    const s2 = await raw(script);
    await assert.rejects(
      withTransport({ url: s2.url('smtp+starttls') }, (t) => t.send(ENV, MESSAGE)),
      isError('ETLS', (e) => {
        assert.equal(e.temporary, true);
        assert.equal(e.responseCode, 454);
      }),
    );
  });

  it('after a failed transaction the reused connection gets RSET; if RSET fails, a new connection is used', async () => {
    const seen: string[][] = [];
    const s = await raw(async (c) => {
      const mine: string[] = [];
      seen.push(mine);
      await hello(c, []);
      for (;;) {
        const l = await c.readLine().catch(() => 'closed');
        mine.push(l.split(/[ :]/)[0]!);
        if (l === 'closed') return;
        if (l.startsWith('RCPT') && seen.length === 1) c.write('550 5.1.1 no such user\r\n');
        else if (l === 'RSET') {
          c.write('421 4.3.2 closing\r\n');
          return void c.socket.end();
        } else if (l === 'DATA') {
          c.write('354 go\r\n');
          await c.readData();
          c.write('250 ok\r\n');
        } else if (l === 'QUIT') {
          c.write('221 bye\r\n');
          return void c.socket.end();
        } else c.write('250 ok\r\n');
      }
    });
    await withTransport({ url: s.url('smtp', 'tls=never') }, async (t) => {
      await assert.rejects(t.send({ ...ENV, to: ['x@example.test'] }, MESSAGE), isError('ERECIPIENTS'));
      await t.send(ENV, MESSAGE);
    });
    assert.deepEqual(seen[0], ['MAIL', 'RCPT', 'RSET']);
    assert.deepEqual(seen[1], ['MAIL', 'RCPT', 'RCPT', 'DATA', 'QUIT']);
  });

  it('an unsolicited 421 while idle retires the connection before the next send', async () => {
    let conns = 0;
    const s = await raw(async (c) => {
      conns++;
      await hello(c, ['PIPELINING']);
      for (;;) {
        const l = await c.readLine().catch(() => 'closed');
        if (l === 'closed') return;
        if (l.startsWith('MAIL') || l.startsWith('RCPT')) c.write('250 ok\r\n');
        else if (l === 'DATA') {
          c.write('354 go\r\n');
          await c.readData();
          c.write('250 ok\r\n');
          if (conns === 1) c.write('421 4.4.2 idle timeout\r\n'); // but keep the socket open
        } else if (l === 'QUIT') {
          c.write('221 bye\r\n');
          return void c.socket.end();
        } else c.write('250 ok\r\n');
      }
    });
    await withTransport({ url: s.url('smtp', 'tls=never') }, async (t) => {
      await t.send(ENV, MESSAGE);
      await new Promise((r) => setTimeout(r, 50));
      await t.send(ENV, MESSAGE);
    });
    assert.equal(conns, 2);
  });

  it('a relay that closes the idle connection: the next send opens a new one without an error', async () => {
    let conns = 0;
    const s = await raw(async (c) => {
      conns++;
      await hello(c, ['PIPELINING']);
      for (;;) {
        const l = await c.readLine().catch(() => 'closed');
        if (l === 'closed') return;
        if (l.startsWith('MAIL') || l.startsWith('RCPT')) c.write('250 ok\r\n');
        else if (l === 'DATA') {
          c.write('354 go\r\n');
          await c.readData();
          c.write('250 ok\r\n');
          if (conns === 1) return void c.socket.destroy();
        } else if (l === 'QUIT') {
          c.write('221 bye\r\n');
          return void c.socket.end();
        } else c.write('250 ok\r\n');
      }
    });
    await withTransport({ url: s.url('smtp', 'tls=never') }, async (t) => {
      await t.send(ENV, MESSAGE);
      await new Promise((r) => setTimeout(r, 50));
      await t.send(ENV, MESSAGE);
    });
    assert.equal(conns, 2);
  });
});

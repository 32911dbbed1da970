/**
 * The SMTP client against a real SMTP server (smtp-server, in process, on 127.0.0.1).
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { simpleParser } from 'mailparser';
import { SendwellError } from '../../errors.js';
import { smtpReply, startSmtpServer, freePort, type TestServer, type TestServerOptions } from '../../../test/helpers/smtp-server.js';
import { createTransport, type RelayOptions } from '../index.js';
import type { Envelope, Transport } from '../types.js';
import { withTransport, isError } from '../../../test/helpers/transport.js';

const crlf = (s: string) => s.replace(/\r?\n/g, '\r\n');
const MESSAGE = Buffer.from(crlf('From: Jane <jane@example.test>\nTo: bob@example.test\nSubject: hello\nMessage-ID: <1@example.test>\n\nHello Bob.\n'));
const ENV: Envelope = { from: 'jane@example.test', to: ['bob@example.test'] };

const servers: TestServer[] = [];
after(async () => {
  await Promise.all(servers.map((s) => s.close()));
});

async function server(o: TestServerOptions = {}): Promise<TestServer> {
  const s = await startSmtpServer(o);
  servers.push(s);
  return s;
}

describe('SMTP: delivery', () => {
  it('delivers a message; the relay gets the exact bytes and envelope; queue ID parsed', async () => {
    const s = await server();
    const r = await withTransport({ url: s.url('smtp', 'tls=never') }, (t) => t.send({ from: 'jane@example.test', to: ['bob@example.test', 'carol@example.test'] }, MESSAGE));
    assert.equal(s.messages.length, 1);
    const m = s.messages[0]!;
    assert.equal(m.from, 'jane@example.test');
    assert.deepEqual(m.to, ['bob@example.test', 'carol@example.test']);
    assert.deepEqual(m.raw, MESSAGE);
    assert.deepEqual(
      r.recipients.map((x) => [x.address, x.status, x.responseCode]),
      [
        ['bob@example.test', 'accepted', 250],
        ['carol@example.test', 'accepted', 250],
      ],
    );
    assert.equal(r.response, `250 Message queued as ${s.lastQueueId}`);
    assert.equal(r.relayQueueId, s.lastQueueId);
    assert.equal(r.info.relay, `smtp://127.0.0.1:${s.port}?tls=never`);
    assert.equal(r.info.tls, undefined);
    assert.ok(r.info.extensions?.includes('PIPELINING'));
    assert.equal(m.mailArgs.SIZE, undefined, 'no SIZE= when the relay does not advertise SIZE');
  });

  it('sends the null sender <> for bounces', async () => {
    const s = await server();
    await withTransport({ url: s.url('smtp', 'tls=never') }, (t) => t.send({ from: '', to: ['bob@example.test'] }, MESSAGE));
    assert.equal(s.messages[0]!.from, '');
  });

  it('dot-stuffing round trip: lines starting with "." arrive unchanged', async () => {
    const s = await server();
    const raw = Buffer.from(crlf('Subject: dots\n\n.\n..\n.hidden\nend\n.'));
    await withTransport({ url: s.url('smtp', 'tls=never') }, (t) => t.send(ENV, raw));
    assert.equal(s.messages[0]!.raw.toString(), crlf('Subject: dots\n\n.\n..\n.hidden\nend\n.\n'));
  });

  it('partial acceptance resolves with the mixed list and delivers to the accepted ones', async () => {
    const s = await server({ onRcptTo: (a) => (a.address.startsWith('bad') ? smtpReply(550, '5.1.1 <' + a.address + '>: Recipient address rejected: User unknown') : undefined) });
    const r = await withTransport({ url: s.url('smtp', 'tls=never') }, (t) => t.send({ from: 'jane@example.test', to: ['bad@example.test', 'bob@example.test'] }, MESSAGE));
    assert.deepEqual(s.messages[0]!.to, ['bob@example.test']);
    assert.deepEqual(r.recipients[0], {
      address: 'bad@example.test',
      status: 'rejected',
      responseCode: 550,
      enhancedStatus: '5.1.1',
      response: '550 5.1.1 <bad@example.test>: Recipient address rejected: User unknown',
      temporary: false,
    });
    assert.equal(r.recipients[1]!.status, 'accepted');
  });

  it('all recipients rejected: ERECIPIENTS with every outcome; temporary only if all were 4xx; the connection stays usable', async () => {
    const s = await server({ onRcptTo: (a) => (a.address.startsWith('grey') ? smtpReply(450, '4.2.0 Greylisted') : a.address.startsWith('bad') ? smtpReply(550, '5.7.1 Relay access denied') : undefined) });
    await withTransport({ url: s.url('smtp', 'tls=never') }, async (t) => {
      await assert.rejects(
        t.send({ from: 'jane@example.test', to: ['grey1@example.test', 'grey2@example.test'] }, MESSAGE),
        isError('ERECIPIENTS', (e) => {
          assert.equal(e.temporary, true);
          assert.equal(e.phase, 'rcpt');
          assert.equal(e.recipients?.length, 2);
          assert.ok(e.recipients?.every((r) => r.status === 'rejected' && r.temporary === true));
        }),
      );
      await assert.rejects(
        t.send({ from: 'jane@example.test', to: ['grey@example.test', 'bad@example.test'] }, MESSAGE),
        isError('ERECIPIENTS', (e) => {
          assert.equal(e.temporary, false);
          assert.equal(e.rule, 'C2');
          assert.match(e.hint, /this host may not relay here; use the submission server \(C2\)/);
        }),
      );
      await t.send(ENV, MESSAGE);
    });
    assert.equal(s.messages.length, 1);
    assert.equal(s.connections, 1);
  });

  it('relayQueueId from a Postfix-style reply', async () => {
    const s = await server({ queuedText: () => '2.0.0 Ok: queued as 4Z1bQx0Sk9z9sBn' });
    const r = await withTransport({ url: s.url('smtp', 'tls=never') }, (t) => t.send(ENV, MESSAGE));
    assert.equal(r.relayQueueId, '4Z1bQx0Sk9z9sBn');
    assert.equal(r.response, '250 2.0.0 Ok: queued as 4Z1bQx0Sk9z9sBn');
  });
});

describe('SMTP: refusals at every phase', () => {
  it('greeting 554 → permanent, 421 → temporary (phase connect)', async () => {
    const s1 = await server({ onConnect: () => smtpReply(554, '5.7.1 Your host is blocked') });
    await assert.rejects(
      withTransport({ url: s1.url('smtp', 'tls=never') }, (t) => t.send(ENV, MESSAGE)),
      isError('ECONNECTION', (e) => {
        assert.equal(e.phase, 'connect');
        assert.equal(e.responseCode, 554);
        assert.equal(e.enhancedStatus, '5.7.1');
        assert.equal(e.temporary, false);
        assert.equal(e.rule, 'T3');
      }),
    );
    const s2 = await server({ onConnect: () => smtpReply(421, 'Too busy, try later') });
    await assert.rejects(
      withTransport({ url: s2.url('smtp', 'tls=never') }, (t) => t.send(ENV, MESSAGE)),
      isError('ECONNECTION', (e) => {
        assert.equal(e.temporary, true);
        assert.match(e.hint, /service not available.*try again later/);
      }),
    );
  });

  it('MAIL FROM 451 → temporary EREJECTED; 553 5.1.8 → permanent with the sender hint (R3)', async () => {
    const s = await server({ onMailFrom: (a) => (a.address.startsWith('temp') ? smtpReply(451, '4.3.0 Local error, try later') : smtpReply(553, '5.1.8 <' + a.address + '>: Sender address rejected: Domain not found')) });
    await withTransport({ url: s.url('smtp', 'tls=never') }, async (t) => {
      await assert.rejects(
        t.send({ ...ENV, from: 'temp@example.test' }, MESSAGE),
        isError('EREJECTED', (e) => {
          assert.equal(e.phase, 'mail');
          assert.equal(e.responseCode, 451);
          assert.equal(e.enhancedStatus, '4.3.0');
          assert.equal(e.temporary, true);
        }),
      );
      await assert.rejects(
        t.send({ ...ENV, from: 'noreply@nx.example.test' }, MESSAGE),
        isError('EREJECTED', (e) => {
          assert.equal(e.temporary, false);
          assert.equal(e.rule, 'R3');
          assert.equal(e.enhancedStatus, '5.1.8');
        }),
      );
    });
  });

  it('530 5.7.0 at MAIL: authentication required → EAUTH telling to configure a username', async () => {
    const s = await server({ onMailFrom: () => smtpReply(530, '5.7.0 Authentication required') });
    await assert.rejects(
      withTransport({ url: s.url('smtp', 'tls=never') }, (t) => t.send(ENV, MESSAGE)),
      isError('EAUTH', (e) => {
        assert.equal(e.phase, 'mail');
        assert.match(e.hint, /relay\.username.*password_file/);
      }),
    );
  });

  it('DATA refused after the message: 554 5.7.1 spam → EREJECTED (R6); 451 → temporary; 552 → ESIZE (R9)', async () => {
    const s = await server({
      onData: (raw) => {
        const subject = /Subject: (\w+)/.exec(raw.toString())?.[1];
        if (subject === 'spam') return smtpReply(554, '5.7.1 Message rejected as spam');
        if (subject === 'later') return smtpReply(451, '4.7.1 Try again later');
        if (subject === 'big') return smtpReply(552, '5.3.4 Message too big');
        return undefined;
      },
    });
    await withTransport({ url: s.url('smtp', 'tls=never') }, async (t) => {
      const msg = (subject: string) => Buffer.from(crlf(`Subject: ${subject}\n\nx\n`));
      await assert.rejects(
        t.send(ENV, msg('spam')),
        isError('EREJECTED', (e) => {
          assert.equal(e.phase, 'data');
          assert.equal(e.rule, 'R6');
          assert.equal(e.temporary, false);
          assert.equal(e.recipients?.[0]?.status, 'accepted');
        }),
      );
      await assert.rejects(t.send(ENV, msg('later')), isError('EREJECTED', (e) => assert.equal(e.temporary, true)));
      await assert.rejects(t.send(ENV, msg('big')), isError('ESIZE', (e) => assert.equal(e.rule, 'R9')));
      const ok = await t.send(ENV, msg('fine'));
      assert.equal(ok.recipients[0]!.status, 'accepted');
    });
    assert.equal(s.connections, 1, 'refusals do not cost the connection');
  });

  it('421 in the middle closes the connection; the next send reconnects', async () => {
    let n = 0;
    const s = await server({ onMailFrom: () => (n++ === 0 ? smtpReply(421, '4.3.2 Shutting down') : undefined) });
    await withTransport({ url: s.url('smtp', 'tls=never') }, async (t) => {
      await assert.rejects(t.send(ENV, MESSAGE), isError('ECONNECTION', (e) => assert.equal(e.temporary, true)));
      await t.send(ENV, MESSAGE);
    });
    assert.equal(s.connections, 2);
  });
});

describe('SMTP: extensions', () => {
  it('SIZE: refuses a message larger than advertised before sending anything (ESIZE, R9); sends SIZE= otherwise', async () => {
    const s = await server({ size: 500 });
    await withTransport({ url: s.url('smtp', 'tls=never') }, async (t) => {
      await assert.rejects(
        t.send(ENV, Buffer.concat([MESSAGE, Buffer.alloc(600, 0x61)])),
        isError('ESIZE', (e) => {
          assert.equal(e.temporary, false);
          assert.equal(e.rule, 'R9');
          assert.match(e.message, /more than the 500 octets/);
        }),
      );
      const r = await t.send(ENV, MESSAGE);
      assert.equal(r.info.maxSize, 500);
    });
    assert.equal(s.messages.length, 1);
    assert.equal(s.messages[0]!.mailArgs.SIZE, String(MESSAGE.length));
  });

  it('SMTPUTF8: sent when needed and offered; ESMTPUTF8 when not offered', async () => {
    const s = await server();
    const env: Envelope = { from: 'jane@example.test', to: ['jürgen@example.test'], smtputf8: true };
    const raw = Buffer.from(crlf('Subject: Grüße\nTo: jürgen@example.test\n\nHallo Jürgen\n'), 'utf8');
    await withTransport({ url: s.url('smtp', 'tls=never') }, (t) => t.send(env, raw));
    assert.equal(s.messages[0]!.smtpUtf8, true);
    assert.equal(s.messages[0]!.mailArgs.BODY, '8BITMIME');
    assert.deepEqual(s.messages[0]!.raw, raw);

    const no = await server({ hideSMTPUTF8: true });
    await assert.rejects(
      withTransport({ url: no.url('smtp', 'tls=never') }, (t) => t.send(env, raw)),
      isError('ESMTPUTF8', (e) => {
        assert.equal(e.temporary, false);
        assert.match(e.hint, /SMTPUTF8/);
      }),
    );
    assert.equal(no.messages.length, 0);
  });

  it('8BITMIME: BODY=8BITMIME when offered; otherwise re-encoded to 7-bit and the text survives', async () => {
    const raw = Buffer.from(crlf('From: jane@example.test\nSubject: =?UTF-8?Q?Gr=C3=BC=C3=9Fe?=\nMIME-Version: 1.0\nContent-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: 8bit\n\nGrüße aus München.\n.punkt\n'), 'utf8');
    const yes = await server();
    await withTransport({ url: yes.url('smtp', 'tls=never') }, (t) => t.send(ENV, raw));
    assert.equal(yes.messages[0]!.mailArgs.BODY, '8BITMIME');
    assert.deepEqual(yes.messages[0]!.raw, raw);

    const no = await server({ hide8BITMIME: true });
    await withTransport({ url: no.url('smtp', 'tls=never') }, (t) => t.send(ENV, raw));
    const got = no.messages[0]!;
    assert.equal(got.mailArgs.BODY, undefined);
    assert.ok(!/[\x80-\xff]/.test(got.raw.toString('latin1')));
    assert.match(got.raw.toString(), /Content-Transfer-Encoding: quoted-printable/);
    const parsed = await simpleParser(got.raw);
    assert.equal(parsed.text, 'Grüße aus München.\n.punkt\n');
    assert.equal(parsed.subject, 'Grüße');
  });

  it('DSN parameters only when the relay advertises DSN', async () => {
    const dsn = { ret: 'HDRS' as const, envid: 'id+1=x', notify: ['FAILURE' as const, 'DELAY' as const] };
    const withDsn = await server({ hideDSN: false });
    await withTransport({ url: withDsn.url('smtp', 'tls=never'), dsn }, (t) => t.send({ from: 'jane@example.test', to: ['bob+tag@example.test'] }, MESSAGE));
    const m = withDsn.messages[0]!;
    assert.equal(m.mailArgs.RET, 'HDRS');
    // smtp-server decodes xtext: the values arrive intact (the wire form is checked in raw.test.ts).
    assert.equal(m.mailArgs.ENVID, 'id+1=x');
    assert.equal(m.rcptArgs[0]!.NOTIFY, 'FAILURE,DELAY');
    assert.equal(m.rcptArgs[0]!.ORCPT, 'rfc822;bob+tag@example.test');

    const without = await server();
    await withTransport({ url: without.url('smtp', 'tls=never'), dsn }, (t) => t.send(ENV, MESSAGE));
    const w = without.messages[0]!;
    assert.equal(w.mailArgs.RET, undefined);
    assert.equal(w.mailArgs.ENVID, undefined);
    assert.deepEqual(w.rcptArgs[0], {});
  });

  it("an envelope's own dsn fields win over the transport's, the rest come from it; NOTIFY=NEVER alone", async () => {
    const s = await server({ hideDSN: false });
    await withTransport({ url: s.url('smtp', 'tls=never'), dsn: { ret: 'FULL' } }, (t) => t.send({ ...ENV, dsn: { notify: ['NEVER'], orcpt: false } }, MESSAGE));
    const m = s.messages[0]!;
    assert.equal(m.mailArgs.RET, 'FULL', 'RET from the transport (config [dsn])');
    assert.equal(m.rcptArgs[0]!.NOTIFY, 'NEVER');
    assert.equal(m.rcptArgs[0]!.ORCPT, undefined);
  });

  it('works without PIPELINING (lockstep)', async () => {
    const s = await server({ hidePIPELINING: true, onRcptTo: (a) => (a.address.startsWith('bad') ? smtpReply(550, 'no') : undefined) });
    const r = await withTransport({ url: s.url('smtp', 'tls=never') }, (t) => t.send({ from: 'jane@example.test', to: ['bad@example.test', 'bob@example.test'] }, MESSAGE));
    assert.deepEqual(r.recipients.map((x) => x.status), ['rejected', 'accepted']);
    assert.deepEqual(s.messages[0]!.to, ['bob@example.test']);
  });

  it('many recipients go out in pipelined batches', async () => {
    const s = await server();
    const to = Array.from({ length: 250 }, (_, i) => `r${i}@example.test`);
    const r = await withTransport({ url: s.url('smtp', 'tls=never') }, (t) => t.send({ from: 'jane@example.test', to }, MESSAGE));
    assert.equal(r.recipients.filter((x) => x.status === 'accepted').length, 250);
    assert.equal(s.messages[0]!.to.length, 250);
  });
});

describe('SMTP: connections', () => {
  it('connection refused (nothing listening on 127.0.0.1): ECONNECTION, temporary, "is a local MTA running? (C1)"', async () => {
    const port = await freePort();
    await assert.rejects(
      withTransport({ url: `smtp://127.0.0.1:${port}` }, (t) => t.send(ENV, MESSAGE)),
      isError('ECONNECTION', (e) => {
        assert.equal(e.temporary, true);
        assert.equal(e.phase, 'connect');
        assert.equal(e.message, `connection refused by 127.0.0.1:${port}`);
        assert.match(e.hint, /^is a local MTA running\? \(C1\)/);
      }),
    );
  });

  it('a host name that does not resolve: EDNS naming the host (lookup injected, no real DNS)', async () => {
    const lookup = ((hostname: string, _o: unknown, cb: (err: NodeJS.ErrnoException | null) => void) => {
      cb(Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: 'ENOTFOUND', hostname }));
    }) as unknown as RelayOptions['lookup'];
    await assert.rejects(
      withTransport({ url: 'smtp://nx.example.invalid', lookup }, (t) => t.send(ENV, MESSAGE)),
      isError('EDNS', (e) => {
        assert.equal(e.temporary, false);
        assert.match(e.message, /nx\.example\.invalid could not be resolved/);
        assert.match(e.hint, /relay\.url/);
      }),
    );
  });

  it('reuses one connection for several sends, serialises concurrent sends, QUITs on close', async () => {
    const s = await server();
    await withTransport({ url: s.url('smtp', 'tls=never') }, async (t) => {
      const results = await Promise.all([1, 2, 3].map((i) => t.send({ ...ENV, to: [`r${i}@example.test`] }, MESSAGE)));
      assert.equal(results.length, 3);
      await t.send(ENV, MESSAGE);
    });
    assert.equal(s.messages.length, 4);
    assert.equal(s.connections, 1);
  });

  it('close() lets sends already issued finish, then refuses new ones (EUSAGE)', async () => {
    const s = await server();
    const t = createTransport({ url: s.url('smtp', 'tls=never') });
    const pending = [t.send(ENV, MESSAGE), t.send(ENV, MESSAGE)];
    const closing = t.close();
    await Promise.all(pending);
    await closing;
    assert.equal(s.messages.length, 2);
    await assert.rejects(t.send(ENV, MESSAGE), isError('EUSAGE'));
  });

  it('reconnects when the relay closed the idle connection', async () => {
    const s = await server({ extra: { socketTimeout: 150 } });
    await withTransport({ url: s.url('smtp', 'tls=never') }, async (t) => {
      await t.send(ENV, MESSAGE);
      await new Promise((r) => setTimeout(r, 400));
      await t.send(ENV, MESSAGE);
    });
    assert.equal(s.messages.length, 2);
    assert.equal(s.connections, 2);
  });

  it('refuses a bad EHLO name at creation, and uses a configured one', async () => {
    assert.throws(() => createTransport({ url: 'smtp://localhost', heloName: 'bad name\r\nRSET' }), isError('ECONFIG'));
    let seen = '';
    const s = await server({ onMailFrom: (_a, session) => void (seen = session.hostNameAppearsAs) });
    await withTransport({ url: s.url('smtp', 'tls=never'), heloName: 'client.example.test' }, (t) => t.send(ENV, MESSAGE));
    assert.equal(seen, 'client.example.test');
  });

  it('refuses envelope addresses that would break the SMTP command', async () => {
    const s = await server();
    await withTransport({ url: s.url('smtp', 'tls=never') }, async (t) => {
      await assert.rejects(t.send({ from: 'a@example.test>\r\nRSET', to: ['b@example.test'] }, MESSAGE), isError('EADDRESS'));
      await assert.rejects(t.send({ from: 'a@example.test', to: [] }, MESSAGE), isError('EADDRESS'));
    });
  });
});

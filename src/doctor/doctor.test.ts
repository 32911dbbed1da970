/** sendwell doctor against in-process SMTP servers (127.0.0.1), a fake DNS resolver and real files. */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { smtpReply, startSmtpServer, type TestServer, type TestServerOptions } from '../../test/helpers/smtp-server.js';
import { testPki } from '../../test/helpers/tls.js';
import { dnsChecks, ip4InRange, parseSpf, type DnsResolver } from './dns.js';
import { formatDoctor, runDoctor, type DoctorOptions, type DoctorReport } from './index.js';
import { secretFileCheck } from './local.js';
import { certCheck } from './relay.js';
import type { PeerCertificate } from 'node:tls';
import { parseRelayUrl, type SmtpTarget } from '../transport/url.js';

const work = mkdtempSync(join(tmpdir(), 'sendwell-doctor-'));
after(() => rmSync(work, { recursive: true, force: true }));
const servers: TestServer[] = [];
after(async () => {
  for (const s of servers) await s.close();
});

async function server(o: TestServerOptions = {}): Promise<TestServer> {
  const s = await startSmtpServer(o);
  servers.push(s);
  return s;
}

let n = 0;
function config(toml: string): string {
  const dir = join(work, `c${++n}`);
  mkdirSync(dir);
  const file = join(dir, 'sendwell.toml');
  writeFileSync(file, toml, { mode: 0o600 });
  return file;
}
const SENDER = '[sender]\nfrom = "Jane Doe <jane@example.test>"\n';

const doctor = (configPath: string, o: Partial<DoctorOptions> = {}) => runDoctor({ configPath, dns: false, stateDir: () => join(configPath, '..', 'state'), timeoutMs: 5000, ...o });
const byId = (r: DoctorReport, id: string) => r.checks.find((c) => c.id === id);

describe('doctor: relay', () => {
  it('a plain relay: reachable, capabilities, no TLS offered (warn), RCPT probe accepted with nothing sent', async () => {
    const srv = await server({ size: 10_000_000, hideDSN: false });
    const r = await doctor(config(`[relay]\nurl = "${srv.url('smtp')}"\n${SENDER}`));
    assert.equal(byId(r, 'relay.connect')?.status, 'ok');
    assert.match(byId(r, 'relay.connect')!.detail, /220 mx\.example\.test/);
    assert.match(byId(r, 'relay.ehlo')!.detail, /no STARTTLS, no AUTH, SIZE 10000000, PIPELINING, SMTPUTF8, DSN/);
    assert.equal(byId(r, 'relay.tls')?.status, 'warn');
    assert.equal(byId(r, 'relay.auth')?.status, 'skip');
    assert.equal(byId(r, 'relay.envelope')?.status, 'ok');
    assert.match(byId(r, 'relay.envelope')!.detail, /MAIL FROM:<jane@example\.test> and RCPT TO:<postmaster@example\.test> accepted/);
    assert.equal(srv.messages.length, 0, 'the probe sends nothing');
    assert.equal(r.ok, true, formatDoctor(r));
  });

  it('STARTTLS with a good certificate and AUTH that works', async () => {
    const srv = await server({ tls: 'starttls', users: { jane: 's3cret' } });
    const pass = join(work, 'relay.pass');
    writeFileSync(pass, 's3cret\n', { mode: 0o600 });
    const r = await doctor(config(`[relay]\nurl = "${srv.url('smtp+starttls')}"\nca_file = "${testPki().caFile}"\nusername = "jane"\npassword_file = "${pass}"\n${SENDER}`));
    assert.equal(byId(r, 'secret.relay')?.status, 'ok');
    assert.equal(byId(r, 'relay.tls')?.status, 'ok', byId(r, 'relay.tls')?.detail);
    assert.match(byId(r, 'relay.tls')!.detail, /valid for 127\.0\.0\.1, (29|30) days to expiry/);
    assert.match(byId(r, 'relay.ehlo')!.detail, /AUTH PLAIN LOGIN/);
    assert.equal(byId(r, 'relay.auth')?.status, 'ok');
    assert.equal(byId(r, 'relay.envelope')?.status, 'ok');
    assert.equal(r.ok, true, formatDoctor(r));
  });

  it('AUTH refused: ✗ with the relay\'s answer', async () => {
    const srv = await server({ tls: 'starttls', users: { jane: 'right' } });
    const pass = join(work, 'wrong.pass');
    writeFileSync(pass, 'wrong\n', { mode: 0o600 });
    const r = await doctor(config(`[relay]\nurl = "${srv.url('smtp+starttls')}"\nca_file = "${testPki().caFile}"\nusername = "jane"\npassword_file = "${pass}"\n${SENDER}`));
    assert.equal(byId(r, 'relay.auth')?.status, 'fail');
    assert.match(byId(r, 'relay.auth')!.detail, /535/);
    assert.equal(r.ok, false);
  });

  it('an expired certificate fails when TLS is required', async () => {
    const srv = await server({ tls: 'starttls', cert: 'expired' });
    const r = await doctor(config(`[relay]\nurl = "${srv.url('smtp+starttls')}"\nca_file = "${testPki().caFile}"\n${SENDER}`));
    const t = byId(r, 'relay.tls')!;
    assert.equal(t.status, 'fail');
    assert.match(t.detail, /expired \d+ day\(s\) ago/);
    assert.match(t.fix, /renew/);
    assert.equal(r.ok, false);
  });

  it('a certificate for another host name fails on implicit TLS', async () => {
    const srv = await server({ tls: 'implicit', cert: 'wrongHost' });
    const r = await doctor(config(`[relay]\nurl = "${srv.url('smtps')}"\nca_file = "${testPki().caFile}"\n${SENDER}`));
    assert.equal(byId(r, 'relay.tls')?.status, 'fail');
    assert.match(byId(r, 'relay.tls')!.detail, /not valid for 127\.0\.0\.1/);
  });

  it('opportunistic smtp:// with a self-signed certificate: a warning, not a failure', async () => {
    const srv = await server({ tls: 'starttls', cert: 'selfSigned' });
    const r = await doctor(config(`[relay]\nurl = "${srv.url('smtp')}"\n${SENDER}`));
    const t = byId(r, 'relay.tls')!;
    assert.equal(t.status, 'warn', t.detail);
    assert.match(t.detail, /not trusted: .*opportunistic/);
    assert.equal(byId(r, 'relay.envelope')?.status, 'ok');
    assert.equal(r.ok, true);
  });

  it('days to expiry: a warning under 14 days', () => {
    const target = parseRelayUrl('smtps://mail.example.test') as SmtpTarget;
    const now = Date.parse('2026-01-01T00:00:00Z');
    const cert = (validTo: string) => ({ valid_to: validTo, subject: { CN: 'mail.example.test' }, subjectaltname: 'DNS:mail.example.test' }) as unknown as PeerCertificate;
    const soon = certCheck(target, { stage: 'done', cert: cert('Jan 10 00:00:00 2026 GMT') }, now);
    assert.equal(soon.status, 'warn');
    assert.match(soon.detail, /expires in 9 day\(s\)/);
    const fine = certCheck(target, { stage: 'done', cert: cert('Jun 10 00:00:00 2026 GMT') }, now);
    assert.equal(fine.status, 'ok');
    assert.match(fine.detail, /160 days to expiry/);
    const wrong = certCheck(parseRelayUrl('smtps://other.example.test') as SmtpTarget, { stage: 'done', cert: cert('Jun 10 00:00:00 2026 GMT') }, now);
    assert.equal(wrong.status, 'fail');
  });

  it('a refused connection: ✗ with a fix naming host and port', async () => {
    const port = await new Promise<number>((resolve) => {
      const s = net.createServer().listen(0, '127.0.0.1', () => {
        const p = (s.address() as net.AddressInfo).port;
        s.close(() => resolve(p));
      });
    });
    const r = await doctor(config(`[relay]\nurl = "smtp://127.0.0.1:${port}"\n${SENDER}`));
    const c = byId(r, 'relay.connect')!;
    assert.equal(c.status, 'fail');
    assert.match(c.fix, new RegExp(`nothing listens on 127\\.0\\.0\\.1:${port}`));
    assert.equal(r.ok, false);
  });

  it('a relay that refuses the recipient', async () => {
    const srv = await server({ onRcptTo: () => smtpReply(554, '5.7.1 Relay access denied') });
    const r = await doctor(config(`[relay]\nurl = "${srv.url('smtp', 'tls=never')}"\n${SENDER}`));
    assert.equal(byId(r, 'relay.tls')?.status, 'skip');
    assert.equal(byId(r, 'relay.envelope')?.status, 'fail');
    assert.match(byId(r, 'relay.envelope')!.detail, /Relay access denied/);
  });

  it('capture: is a warning, sendmail: checks the binary', async () => {
    const cap = await doctor(config(`[relay]\nurl = "capture:${join(work, 'cap')}"\n${SENDER}`));
    assert.equal(byId(cap, 'relay')?.status, 'warn');
    assert.match(byId(cap, 'relay')!.detail, /not sent/);
    const sm = await doctor(config(`[relay]\nurl = "sendmail:${join(work, 'no-such-sendmail')}"\n${SENDER}`));
    assert.equal(byId(sm, 'relay')?.status, 'fail');
    const ok = await doctor(config(`[relay]\nurl = "sendmail:${process.execPath}"\n${SENDER}`));
    assert.equal(byId(ok, 'relay')?.status, 'ok');
  });
});

describe('doctor: local checks', () => {
  it('a config error is a ✗ with its message and stops there', async () => {
    const r = await doctor(config('[relay]\nurl = 5\n'));
    assert.equal(r.configError, true);
    assert.equal(r.checks.length, 1);
    assert.equal(r.checks[0]!.status, 'fail');
    assert.match(r.checks[0]!.detail, /relay\.url/);
  });

  it('password files other users can read fail (R11)', () => {
    const f = join(work, 'open.pass');
    writeFileSync(f, 'x', { mode: 0o644 });
    const c = secretFileCheck('secret.relay', 'relay password file', f);
    assert.equal(c.status, 'fail');
    assert.equal(c.rule, 'R11');
    assert.match(c.detail, /mode 644/);
    assert.equal(c.fix, `chmod 600 ${f}`);
    writeFileSync(join(work, 'ro.pass'), 'x', { mode: 0o400 });
    assert.equal(secretFileCheck('s', 'f', join(work, 'ro.pass')).status, 'ok');
  });

  it('state directory and queue: skipped before first use, counted after', async () => {
    const srv = await server();
    const file = config(`[relay]\nurl = "${srv.url('smtp', 'tls=never')}"\n${SENDER}`);
    const r = await doctor(file);
    assert.equal(byId(r, 'state_dir')?.status, 'ok');
    assert.match(byId(r, 'state_dir')!.detail, /will be created/);
    assert.equal(byId(r, 'queue')?.status, 'skip');
  });
});

describe('doctor: DNS', () => {
  const fake = (records: Record<string, unknown>, fail?: string): DnsResolver => {
    const ask = (kind: string) => async (name: string) => {
      if (fail) throw Object.assign(new Error(`query ${fail}`), { code: fail });
      const v = records[`${kind} ${name}`];
      if (v === undefined) throw Object.assign(new Error('no data'), { code: 'ENODATA' });
      return v as never;
    };
    return { resolveMx: ask('MX'), resolve4: ask('A'), resolve6: ask('AAAA'), resolveTxt: ask('TXT') };
  };

  it('MX, SPF with the outbound address, DMARC: all ok', async () => {
    const res = fake({ 'MX example.test': [{ exchange: 'mx.example.test', priority: 10 }], 'TXT example.test': [['v=spf1 ip4:192.0.2.0/24 ', 'include:_spf.example.net -all'], ['other']], 'TXT _dmarc.example.test': [['v=DMARC1; p=reject']] });
    const checks = await dnsChecks(res, { domain: 'example.test', outboundIps: ['192.0.2.10'] });
    const s = Object.fromEntries(checks.map((c) => [c.id, c]));
    assert.equal(s['dns.mx']!.status, 'ok');
    assert.equal(s['dns.spf']!.status, 'ok');
    assert.match(s['dns.spf']!.detail, /ip4: 192\.0\.2\.0\/24.*authorises 192\.0\.2\.10/);
    assert.equal(s['dns.dmarc']!.status, 'ok');
    assert.match(s['dns.dmarc']!.detail, /p=reject/);
    assert.equal(s['dns.dkim']!.status, 'skip');
  });

  it('an outbound address SPF does not list', async () => {
    const res = fake({ 'MX example.test': [{ exchange: 'mx.example.test', priority: 10 }], 'TXT example.test': [['v=spf1 ip4:192.0.2.1 -all']] });
    const spf = (await dnsChecks(res, { domain: 'example.test', outboundIps: ['198.51.100.7'] })).find((c) => c.id === 'dns.spf')!;
    assert.equal(spf.status, 'fail');
    assert.match(spf.fix, /ip4:198\.51\.100\.7/);
  });

  it('missing records: no MX/A fails, no SPF and no DMARC warn', async () => {
    const checks = await dnsChecks(fake({}), { domain: 'example.test' });
    const s = Object.fromEntries(checks.map((c) => [c.id, c.status]));
    assert.deepEqual(s, { 'dns.mx': 'fail', 'dns.spf': 'warn', 'dns.dkim': 'skip', 'dns.dmarc': 'warn' });
  });

  it('DKIM: the selector record must publish the public half of the configured key, aligned with From', async () => {
    const { generateKeyPairSync } = await import('node:crypto');
    const pub = (generateKeyPairSync('rsa', { modulusLength: 1024 }).publicKey.export({ type: 'spki', format: 'der' }) as Buffer).toString('base64');
    const other = (generateKeyPairSync('rsa', { modulusLength: 1024 }).publicKey.export({ type: 'spki', format: 'der' }) as Buffer).toString('base64');
    const dkim = { domain: 'example.test', selector: 's1', publicKey: pub, fromDomain: 'example.test' };
    const base = { 'MX example.test': [{ exchange: 'mx.example.test', priority: 10 }] };
    const run = async (records: Record<string, unknown>, d = dkim) => (await dnsChecks(fake({ ...base, ...records }), { domain: 'example.test', dkim: d })).find((c) => c.id === 'dns.dkim')!;
    // Long keys come in several TXT strings.
    const ok = await run({ 'TXT s1._domainkey.example.test': [['v=DKIM1; k=rsa; p=', pub.slice(0, 100), pub.slice(100)]] });
    assert.equal(ok.status, 'ok', ok.detail);
    const missing = await run({});
    assert.equal(missing.status, 'fail');
    assert.match(missing.fix, new RegExp(`s1\\._domainkey\\.example\\.test TXT "v=DKIM1; k=rsa; p=${pub.slice(0, 20).replace(/[+/]/g, '\\$&')}`));
    const wrong = await run({ 'TXT s1._domainkey.example.test': [[`v=DKIM1; p=${other}`]] });
    assert.equal(wrong.status, 'fail');
    assert.match(wrong.detail, /not the public half/);
    const revoked = await run({ 'TXT s1._domainkey.example.test': [['v=DKIM1; p=']] });
    assert.match(revoked.detail, /revoked/);
    const unaligned = await run({ 'TXT s1._domainkey.example.test': [[`v=DKIM1; p=${pub}`]] }, { ...dkim, fromDomain: 'other.test' });
    assert.equal(unaligned.status, 'warn');
    assert.match(unaligned.detail, /not aligned with the From domain other\.test/);
  });

  it('once DNS is unreachable, the other lookups are not tried (no long wait offline)', async () => {
    let calls = 0;
    const down: DnsResolver = { resolveMx: async () => { calls++; throw Object.assign(new Error('refused'), { code: 'ECONNREFUSED' }); }, resolve4: async () => [], resolve6: async () => [], resolveTxt: async () => { calls++; return []; } };
    const checks = await dnsChecks(down, { domain: 'example.test' });
    assert.equal(calls, 1);
    assert.deepEqual(checks.map((c) => c.status), ['skip', 'skip', 'skip', 'skip']);
  });

  it('A record instead of MX is fine', async () => {
    const mx = (await dnsChecks(fake({ 'A example.test': ['192.0.2.5'] }), { domain: 'example.test' }))[0]!;
    assert.equal(mx.status, 'ok');
  });

  for (const code of ['ENOTFOUND', 'ECONNREFUSED', 'ETIMEOUT']) {
    it(`a resolver throwing ${code} gives "could not check (no DNS)" skips, never a crash`, async () => {
      const checks = await dnsChecks(fake({}, code), { domain: 'example.test' });
      for (const c of checks.filter((x) => x.id !== 'dns.dkim')) {
        assert.equal(c.status, 'skip');
        assert.match(c.detail, /could not check \(no DNS/);
      }
    });
  }

  it('runDoctor uses the injected resolver for the envelope sender domain (the bounce address)', async () => {
    const srv = await server();
    const res = fake({ 'MX bounces.example.test': [{ exchange: 'mx.example.test', priority: 5 }] });
    const r = await doctor(config(`[relay]\nurl = "${srv.url('smtp', 'tls=never')}"\n${SENDER}[bounces]\naddress = "b@bounces.example.test"\n`), { dns: true, resolver: res });
    assert.equal(byId(r, 'dns.mx')?.status, 'ok');
    assert.match(byId(r, 'dns.mx')!.title, /bounces\.example\.test/);
  });

  it('SPF parsing and CIDR matching', () => {
    assert.deepEqual(parseSpf('v=spf1 +ip4:192.0.2.0/24 ip6:2001:db8::/32 mx a:x.example.test ~all').indirect, ['mx', 'a:x.example.test']);
    assert.equal(ip4InRange('192.0.2.200', '192.0.2.0/24'), true);
    assert.equal(ip4InRange('192.0.3.1', '192.0.2.0/24'), false);
    assert.equal(ip4InRange('192.0.2.1', '192.0.2.1'), true);
    assert.equal(ip4InRange('10.1.2.3', '0.0.0.0/0'), true);
  });
});

describe('doctor: --spam-test and --send-test', () => {
  it('scores a sample with the built-in rules; an unreachable scanner is a warning', async () => {
    const srv = await server();
    const r = await doctor(config(`[relay]\nurl = "${srv.url('smtp', 'tls=never')}"\n${SENDER}[spam]\nspamd = "127.0.0.1:1"\n`), { spamTest: true });
    assert.equal(byId(r, 'spam.builtin')?.status, 'ok', byId(r, 'spam.builtin')?.detail);
    assert.equal(byId(r, 'spam.spamd')?.status, 'warn');
  });

  it('--send-test really sends one mail, without a queue', async () => {
    const srv = await server();
    const file = config(`[relay]\nurl = "${srv.url('smtp', 'tls=never')}"\n${SENDER}`);
    const r = await doctor(file, { sendTest: 'bob@example.test' });
    assert.equal(byId(r, 'send_test')?.status, 'ok', byId(r, 'send_test')?.detail);
    assert.equal(srv.messages.length, 1);
    assert.deepEqual(srv.messages[0]!.to, ['bob@example.test']);
  });
});

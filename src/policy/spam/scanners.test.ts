import assert from 'node:assert/strict';
import { createServer as createHttpServer, type IncomingMessage, type Server as HttpServer } from 'node:http';
import { createServer, type AddressInfo, type Server } from 'node:net';
import { after, before, describe, it } from 'node:test';
import {
  parseHostPort,
  parseRspamdResponse,
  parseSpamdResponse,
  rspamdCheck,
  spamdCheck,
  spamFindings,
  spamPreflight,
  spamRefusal,
  spamReportToJSON,
  formatSpamReport,
  withSyntheticReceived,
} from './index.js';

const NOW = new Date('2026-12-04T10:01:00Z');
const CLEAN = [
  'From: Jane Doe <jane.doe@example.org>',
  'To: bob@example.org',
  'Subject: Nightly backup report',
  'Date: Fri, 04 Dec 2026 10:00:00 +0000',
  'Message-ID: <20261204100000.4f3a9c1e7b@example.org>',
  'MIME-Version: 1.0',
  'Content-Type: text/plain; charset=utf-8',
  '',
  'The backup finished without errors.',
  '',
].join('\r\n');
const SPAMMY = CLEAN.replace(/^Date: .*\r\n/m, '').replace(/^Message-ID: .*\r\n/m, '').replace('Nightly backup report', 'URGENT ACCOUNT VERIFICATION REQUIRED').replace('jane.doe@', 'www-data@').replace(/^To: .*\r\n/m, '');

const REPORT_REPLY = [
  'SPAMD/1.1 0 EX_OK',
  'Content-length: 999',
  'Spam: True ; 6.2 / 5.0',
  '',
  'Spam detection software, running on the system "ci",',
  'has identified this incoming email as possible spam.',
  '',
  'Content analysis details:   (6.2 points, 5.0 required)',
  '',
  ' pts rule name              description',
  '---- ---------------------- --------------------------------------------------',
  ' 2.7 MISSING_DATE           Missing Date: header',
  '-0.0 NO_RELAYS              Informational: message was not relayed via SMTP',
  ' 0.2 NORMAL_HTTP_TO_IP      URI: URI host has a public dotted-decimal IPv4',
  '                            address',
  ' 1.0 BODY_SINGLE_URI        Message body is only a URI',
  '',
].join('\r\n');

interface FakeSpamd {
  server: Server;
  port: number;
  requests: string[];
}

/** A tiny spamd: reads the request up to Content-length, answers by `reply(request)`. */
function fakeSpamd(reply: (request: string) => string | null): Promise<FakeSpamd> {
  const requests: string[] = [];
  const server = createServer((sock) => {
    let data = Buffer.alloc(0);
    sock.on('data', (d: Buffer) => {
      data = Buffer.concat([data, d]);
      const text = data.toString('latin1');
      const sep = text.indexOf('\r\n\r\n');
      if (sep < 0) return;
      const len = Number(/Content-length: (\d+)/i.exec(text.slice(0, sep))?.[1] ?? 0);
      if (data.length - (sep + 4) < len) return;
      requests.push(text);
      const r = reply(text);
      if (r !== null) sock.end(r);
    });
    sock.on('error', () => {});
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve({ server, port: (server.address() as AddressInfo).port, requests })));
}

/** A loopback port nobody listens on. */
async function closedPort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as AddressInfo).port;
  await new Promise((r) => s.close(r));
  return port;
}

function body(req: IncomingMessage): Promise<string> {
  return new Promise((resolve) => {
    let s = '';
    req.on('data', (d) => (s += d));
    req.on('end', () => resolve(s));
  });
}

describe('withSyntheticReceived', () => {
  it('prepends a Received header stamped now, keeping the line ending; leaves relayed mail alone', () => {
    const out = withSyntheticReceived(Buffer.from(CLEAN), NOW).toString();
    assert.match(out, /^Received: from localhost \(localhost \[127\.0\.0\.1\]\)\r\n\tby \S+ \(sendwell spam preflight\) with ESMTP\r\n\t; Fri, 04 Dec 2026 10:01:00 \+0000\r\nFrom: /);
    assert.ok(out.endsWith(CLEAN));
    const lf = withSyntheticReceived(Buffer.from(CLEAN.replace(/\r\n/g, '\n')), NOW).toString();
    assert.ok(!lf.includes('\r'));
    const relayed = Buffer.from(`Received: from x by y; ${NOW.toUTCString()}\r\n${CLEAN}`);
    assert.equal(withSyntheticReceived(relayed, NOW), relayed);
  });
});

describe('spamd protocol', () => {
  it('parses REPORT (score, threshold, rules with points and wrapped descriptions)', () => {
    const r = parseSpamdResponse(REPORT_REPLY);
    assert.equal(r.spam, true);
    assert.equal(r.score, 6.2);
    assert.equal(r.required, 5);
    assert.deepEqual(r.rules.map((x) => x.name), ['MISSING_DATE', 'BODY_SINGLE_URI', 'NORMAL_HTTP_TO_IP', 'NO_RELAYS']);
    assert.equal(r.rules.find((x) => x.name === 'NORMAL_HTTP_TO_IP')?.description, 'URI: URI host has a public dotted-decimal IPv4 address');
    assert.equal(r.rules[0]!.score, 2.7);
  });

  it('parses SYMBOLS and refuses error replies', () => {
    const r = parseSpamdResponse('SPAMD/1.1 0 EX_OK\r\nContent-length: 25\r\nSpam: False ; 0.4 / 5.0\r\n\r\nMISSING_MID,NO_RELAYS\r\n');
    assert.equal(r.spam, false);
    assert.equal(r.score, 0.4);
    assert.deepEqual(r.rules, [{ name: 'MISSING_MID' }, { name: 'NO_RELAYS' }]);
    assert.throws(() => parseSpamdResponse('SPAMD/1.0 76 Bad header line: (EOF)\r\n'), /76 Bad header line/);
    assert.throws(() => parseSpamdResponse('HTTP/1.1 200 OK\r\n\r\n'), /unexpected reply/);
    assert.throws(() => parseSpamdResponse('SPAMD/1.1 0 EX_OK\r\n\r\n'), /no "Spam:/);
  });

  it('parses host:port', () => {
    assert.deepEqual(parseHostPort('127.0.0.1:783'), { host: '127.0.0.1', port: 783 });
    assert.deepEqual(parseHostPort('[::1]:7830'), { host: '::1', port: 7830 });
    assert.deepEqual(parseHostPort('spam.example.org'), { host: 'spam.example.org', port: 783 });
    assert.throws(() => parseHostPort('a:b:c'), /host:port/);
  });

  let fake: FakeSpamd;
  before(async () => {
    fake = await fakeSpamd((req) => (req.includes('hang-please') ? null : REPORT_REPLY));
  });
  after(() => fake.server.close());

  it('sends REPORT SPAMC/1.5 with Content-length and a synthetic Received header, parses the reply', async () => {
    const r = await spamdCheck(Buffer.from(CLEAN), { spamd: `127.0.0.1:${fake.port}`, now: NOW });
    assert.equal(r.score, 6.2);
    const req = fake.requests.at(-1)!;
    const [head, msg] = [req.slice(0, req.indexOf('\r\n\r\n')), req.slice(req.indexOf('\r\n\r\n') + 4)];
    assert.match(head, /^REPORT SPAMC\/1\.5\r\nContent-length: (\d+)$/);
    assert.equal(Number(/Content-length: (\d+)/.exec(head)![1]), Buffer.byteLength(msg));
    assert.match(msg, /^Received: /);
    assert.ok(msg.endsWith(CLEAN));
    await spamdCheck(Buffer.from(CLEAN), { spamd: `127.0.0.1:${fake.port}`, command: 'SYMBOLS' });
    assert.match(fake.requests.at(-1)!, /^SYMBOLS SPAMC\/1\.5\r\n/);
  });

  it('times out and reports refused connections clearly', async () => {
    await assert.rejects(spamdCheck(Buffer.from(`${CLEAN}hang-please\r\n`), { spamd: `127.0.0.1:${fake.port}`, timeoutMs: 200 }), /spamd at 127\.0\.0\.1:\d+: no answer within/);
    const port = await closedPort();
    await assert.rejects(spamdCheck(Buffer.from(CLEAN), { spamd: `127.0.0.1:${port}` }), /connection refused \(is spamd running\?\)/);
  });
});

describe('rspamd protocol', () => {
  const reply = {
    is_skipped: false,
    score: 7.5,
    required_score: 15,
    action: 'add header',
    symbols: {
      MISSING_DATE: { name: 'MISSING_DATE', score: 1, metric_score: 1, description: 'Date header is missing' },
      MISSING_MID: { name: 'MISSING_MID', score: 2.5, metric_score: 2.5 },
      FROM_SERVICE_ACCT: { name: 'FROM_SERVICE_ACCT', score: 1 },
      ARC_NA: { name: 'ARC_NA', score: 0 },
    },
    messages: {},
  };

  it('parses score, required_score, action and symbols', () => {
    const r = parseRspamdResponse(reply);
    assert.equal(r.score, 7.5);
    assert.equal(r.required, 15);
    assert.equal(r.action, 'add header');
    assert.equal(r.spam, true);
    assert.deepEqual(r.rules.map((x) => x.name), ['MISSING_MID', 'FROM_SERVICE_ACCT', 'MISSING_DATE', 'ARC_NA']);
    assert.equal(parseRspamdResponse({ score: 0.1, action: 'no action', symbols: {} }).spam, false);
    assert.throws(() => parseRspamdResponse({ error: 'bad request' }), /rspamd error/);
    assert.throws(() => parseRspamdResponse('x'), /not a JSON object/);
  });

  let server: HttpServer;
  let port = 0;
  const seen: Array<{ method?: string; url?: string; headers: IncomingMessage['headers']; body: string }> = [];
  before(async () => {
    server = createHttpServer(async (req, res) => {
      const b = await body(req);
      seen.push({ method: req.method, url: req.url, headers: req.headers, body: b });
      if (b.includes('server-error')) {
        res.writeHead(500).end('oops');
        return;
      }
      if (b.includes('hang-please')) return;
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(reply));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    port = (server.address() as AddressInfo).port;
  });
  after(() => server.closeAllConnections() ?? server.close());

  it('POSTs the message with a Received header to /checkv2 with From and Rcpt', async () => {
    const r = await rspamdCheck(Buffer.from(CLEAN), { rspamd: `http://127.0.0.1:${port}/`, now: NOW, envelope: { from: 'jane.doe@example.org', to: ['bob@example.org'] } });
    assert.equal(r.score, 7.5);
    const req = seen.at(-1)!;
    assert.equal(req.method, 'POST');
    assert.equal(req.url, '/checkv2');
    assert.equal(req.headers.from, 'jane.doe@example.org');
    assert.equal(req.headers.rcpt, 'bob@example.org');
    assert.match(req.body, /^Received: /);
  });

  it('HTTP errors, time-outs and refused connections are clear errors', async () => {
    await assert.rejects(rspamdCheck(Buffer.from(`${CLEAN}server-error`), { rspamd: `http://127.0.0.1:${port}` }), /rspamd at http:\/\/127\.0\.0\.1:\d+: HTTP 500 oops/);
    await assert.rejects(rspamdCheck(Buffer.from(`${CLEAN}hang-please`), { rspamd: `http://127.0.0.1:${port}`, timeoutMs: 200 }), /no answer within/);
    const closed = await closedPort();
    await assert.rejects(rspamdCheck(Buffer.from(CLEAN), { rspamd: `http://127.0.0.1:${closed}` }), /rspamd at http:\/\/127\.0\.0\.1:\d+: connection refused/);
  });
});

describe('spamPreflight', () => {
  it('built-in only: a clean message is not over, a spammy one is; findings and EPOLICY carry reasons and fixes', async () => {
    const clean = await spamPreflight(CLEAN, {}, { now: NOW });
    assert.equal(clean.score, 0);
    assert.equal(clean.over, false);
    assert.deepEqual(spamFindings(clean), []);
    const spammy = await spamPreflight(SPAMMY, { threshold: 5, action: 'refuse' }, { now: NOW });
    assert.ok(spammy.score > 5, String(spammy.score));
    assert.equal(spammy.over, true);
    const [f] = spamFindings(spammy);
    assert.equal(f?.rule, 'R6.spam-score');
    assert.equal(f?.severity, 'warning');
    assert.match(f!.message, /SPAM\.MISSING_TO|SPAM\.MISSING_MID/);
    const err = spamRefusal(spammy);
    assert.equal(err.code, 'EPOLICY');
    assert.equal(err.rule, 'R6');
    assert.match(err.message, /spam score [\d.]+ is above the threshold 5/);
    assert.match(err.hint, /SPAM\.[A-Z_]+: /);
    const json = spamReportToJSON(spammy) as { score: number; rules: Array<{ id: string }> };
    assert.equal(json.score, spammy.score);
    assert.ok(json.rules.length >= 3);
    assert.match(formatSpamReport(spammy), /^spam score [\d.]+ \(built-in; threshold 5, action refuse\) — ABOVE THE THRESHOLD/);
  });

  it('unreachable scanners become warnings, never errors; reachable ones are reported with their rules', async () => {
    const fake = await fakeSpamd(() => REPORT_REPLY);
    try {
      const r = await spamPreflight(CLEAN, { spamd: `127.0.0.1:${fake.port}`, rspamd: `http://127.0.0.1:${await closedPort()}`, timeoutMs: 2000 }, { now: NOW });
      assert.equal(r.score, 0);
      const [spamd, rspamd] = r.scanners;
      assert.ok(spamd?.ok && spamd.score === 6.2 && spamd.rules.some((x) => x.name === 'MISSING_DATE'));
      assert.ok(rspamd && !rspamd.ok && /connection refused/.test(rspamd.error));
      assert.equal(r.maxScore, 6.2);
      assert.equal(r.over, true, 'a scanner over the threshold counts');
      const rules = spamFindings(r).map((f) => f.rule);
      assert.deepEqual(rules, ['R6.spam-score', 'R6.spam-scanner-unavailable']);
      assert.ok(spamFindings(r).every((f) => f.severity === 'warning'));
      const json = spamReportToJSON(r) as { scanners: Array<{ scanner: string; ok: boolean; score?: number; rules?: string[] }> };
      assert.deepEqual(json.scanners[0]!.rules, ['MISSING_DATE', 'BODY_SINGLE_URI', 'NORMAL_HTTP_TO_IP', 'NO_RELAYS']);
      assert.equal(json.scanners[1]!.ok, false);
    } finally {
      fake.server.close();
    }
  });
});

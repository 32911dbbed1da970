/**
 * The HTTP API over real HTTP on 127.0.0.1, with a real SQLite state
 * directory and a capture relay (nothing is sent). Every response is
 * recorded and checked against the OpenAPI document at the end.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { rawRequest, startApi, type Harness } from '../../../test/server/http/harness.js';
import { validate } from '../../../test/server/http/json-schema.js';
import type { WorkerMetrics } from '../../queue/worker.js';

interface Recorded {
  method: string;
  path: string;
  status: number;
  contentType: string;
  body: string;
}

const GOOD = { from: 'Jane Doe <jane@example.org>', to: 'bob@example.org', subject: 'Report', text: 'Hi Bob,\n\nthe report is done.\n\nJane\n' };

describe('HTTP API', () => {
  let h: Harness;
  const recorded: Recorded[] = [];
  const worker: WorkerMetrics = { attempts: 7, delivered: 5, deferred: 1, bounced: 1, rateLimitWaits: 3, relayErrors: 2, throttled: 1 };

  before(async () => {
    h = await startApi({ worker });
  });
  after(() => h.close());

  /** fetch, recording the response for the OpenAPI check. */
  async function call(method: string, path: string, init: { body?: unknown; raw?: string; headers?: Record<string, string>; token?: string | null } = {}) {
    const headers: Record<string, string> = { ...init.headers };
    const token = init.token === undefined ? h.token : init.token;
    if (token !== null) headers.authorization ??= `Bearer ${token}`;
    let body: string | undefined;
    if (init.raw !== undefined) body = init.raw;
    else if (init.body !== undefined) body = JSON.stringify(init.body);
    if (body !== undefined) headers['content-type'] ??= 'application/json';
    const res = await fetch(`${h.base}${path}`, { method, headers, ...(body !== undefined ? { body } : {}) });
    const text = await res.text();
    const contentType = res.headers.get('content-type') ?? '';
    recorded.push({ method, path, status: res.status, contentType, body: text });
    const json = contentType.includes('json') ? (JSON.parse(text) as Record<string, any>) : undefined;
    return { status: res.status, headers: res.headers, text, json: json as Record<string, any> };
  }
  const submit = (body: unknown, headers: Record<string, string> = {}, token?: string | null) => call('POST', '/api/v1/messages', { body, headers, ...(token !== undefined ? { token } : {}) });

  describe('authentication', () => {
    it('401 with WWW-Authenticate: Bearer without a token, nothing queued', async () => {
      const r = await submit(GOOD, {}, null);
      assert.equal(r.status, 401);
      assert.equal(r.headers.get('www-authenticate'), 'Bearer realm="sendwell"');
      assert.match(r.headers.get('content-type')!, /^application\/problem\+json/);
      assert.equal(r.json.status, 401);
      assert.equal(r.json.title, 'Unauthorized');
      assert.equal(h.store.pending().length, 0);
    });

    it('401 invalid_token for unknown, malformed and revoked tokens, the same answer for each', async () => {
      const unknown = await call('GET', '/api/v1/queue', { token: `sw_${'0'.repeat(12)}_${'A'.repeat(43)}` });
      const wrongSecret = await call('GET', '/api/v1/queue', { token: h.token.slice(0, -2) + (h.token.endsWith('AA') ? 'BB' : 'AA') });
      const basic = await call('GET', '/api/v1/queue', { token: null, headers: { authorization: 'Basic dXNlcjpwYXNz' } });
      const { id, token } = h.credentials.createToken('old');
      assert.equal((await call('GET', '/api/v1/queue', { token })).status, 200);
      h.credentials.revokeToken(id);
      const revoked = await call('GET', '/api/v1/queue', { token });
      for (const r of [unknown, wrongSecret, basic, revoked]) {
        assert.equal(r.status, 401);
        assert.equal(r.headers.get('www-authenticate'), 'Bearer realm="sendwell", error="invalid_token"');
      }
      assert.equal(unknown.json.detail, revoked.json.detail, 'revoked and unknown tokens are not told apart');
    });

    it('the scheme is case-insensitive; openapi.json, /healthz and /metrics need no token', async () => {
      assert.equal((await call('GET', '/api/v1/queue', { token: null, headers: { authorization: `bearer ${h.token}` } })).status, 200);
      for (const path of ['/api/v1/openapi.json', '/healthz', '/metrics']) assert.equal((await call('GET', path, { token: null })).status, 200, path);
    });
  });

  describe('POST /api/v1/messages', () => {
    it('202 with queue ID, Message-ID, state per recipient and warnings; queued only, the worker is woken', async () => {
      const r = await submit({ ...GOOD, from: 'jane@example.org', cc: ['Carol <carol@example.org>'], bcc: { name: 'Dave', address: 'dave@example.org' } });
      assert.equal(r.status, 202);
      assert.match(r.json.queue_id, /^[0-9A-Za-z]{14}$/);
      assert.equal(r.headers.get('location'), `/api/v1/messages/${r.json.queue_id}`);
      assert.match(r.json.message_id, /^<.+@example\.org>$/);
      assert.deepEqual(r.json.state, { 'bob@example.org': 'queued', 'carol@example.org': 'queued', 'dave@example.org': 'queued' });
      assert.deepEqual(r.json.held, []);
      assert.equal(r.json.existing, false);
      // From without a display name is a warning (H5), not a refusal.
      assert.ok(r.json.warnings.some((w: { rule: string; severity: string }) => w.rule.startsWith('H5') && w.severity === 'warning'), JSON.stringify(r.json.warnings));
      assert.deepEqual(h.queued, [r.json.queue_id]);
      assert.deepEqual(readdirSync(h.captureDir), [], 'nothing delivered by the API itself');
      const raw = h.store.body(r.json.queue_id)!.toString();
      assert.match(raw, /^Subject: Report\r$/m);
      assert.doesNotMatch(raw, /dave@example\.org/, 'Bcc is not in the header');
    });

    it('records the submitter as api:<token name>', async () => {
      const r = await submit({ ...GOOD, subject: 'submitter' });
      assert.equal(h.store.message(r.json.queue_id)!.submitter, 'api:wiki');
    });

    it('attachments as base64 land in the message', async () => {
      const pdf = Buffer.from('%PDF-1.4 sendwell test \x00\x01\x02 binary');
      const r = await submit({ ...GOOD, subject: 'with attachment', attachments: [{ filename: 'report.pdf', content_type: 'application/pdf', content_base64: pdf.toString('base64') }] });
      assert.equal(r.status, 202, r.text);
      const raw = h.store.body(r.json.queue_id)!.toString();
      assert.match(raw, /Content-Type: application\/pdf; name=report\.pdf/);
      assert.match(raw, /filename=report\.pdf/);
      const b64 = /filename=report\.pdf\r\n\r\n([A-Za-z0-9+/=\r\n]+?)\r\n--/.exec(raw)?.[1];
      assert.ok(b64, raw);
      assert.deepEqual(Buffer.from(b64.replace(/\r\n/g, ''), 'base64'), pdf);
    });

    it('400 for malformed JSON, naming the body', async () => {
      const r = await call('POST', '/api/v1/messages', { raw: '{"to": "bob@example.org",' });
      assert.equal(r.status, 400);
      assert.equal(r.json.type, 'urn:sendwell:problem:invalid-request');
      assert.deepEqual(r.json.errors.map((e: { field: string; pointer: string }) => [e.field, e.pointer]), [['(body)', '#']]);
      assert.match(r.json.errors[0].detail, /malformed JSON/);
      const notObject = await call('POST', '/api/v1/messages', { raw: '["bob@example.org"]' });
      assert.equal(notObject.status, 400);
      assert.equal(notObject.json.errors[0].field, '(body)');
    });

    it('400 for wrong types and unknown members, every field named', async () => {
      const r = await submit({ ...GOOD, to: 5, subject: 1, attachments: [{ filename: 'a.txt' }], 'reply-to': 'x@example.org' });
      assert.equal(r.status, 400);
      const fields = r.json.errors.map((e: { field: string }) => e.field).sort();
      assert.deepEqual(fields, ['attachments[0].content_base64', 'reply-to', 'subject', 'to']);
      const to = r.json.errors.find((e: { field: string }) => e.field === 'to');
      assert.equal(to.pointer, '#/to');
      assert.match(to.detail, /address/);
    });

    it('400 for invalid addresses, naming the array element', async () => {
      const r = await submit({ ...GOOD, to: ['bob@example.org', 'not an address'], reply_to: 'x@@example.org', envelope_from: 'bounce@' });
      assert.equal(r.status, 400);
      assert.equal(r.json.code, 'EADDRESS');
      assert.deepEqual(r.json.errors.map((e: { field: string }) => e.field), ['to[1]', 'reply_to', 'envelope_from']);
      assert.deepEqual(r.json.errors.map((e: { pointer: string }) => e.pointer), ['#/to/1', '#/reply_to', '#/envelope_from']);
      assert.match(r.json.errors[0].detail, /^to\[1\]: "not an address"/);
      assert.ok(r.json.errors[0].hint);
    });

    it('400 without recipients or body', async () => {
      const r = await submit({ from: GOOD.from, subject: 'x', to: [] });
      assert.equal(r.status, 400);
      assert.deepEqual(r.json.errors.map((e: { field: string }) => e.field), ['to', 'text']);
    });

    it('refuses header injection in subject, headers, display names and attachment names', async () => {
      const before = h.store.pending().length;
      const r = await submit({
        ...GOOD,
        subject: 'Hello\r\nBcc: victim@example.net',
        to: { name: 'Bob\r\nBcc: victim@example.net', address: 'bob@example.org' },
        headers: { 'X-Ticket': '4711\nBcc: victim@example.net', 'X-Ok': 'fine', Date: 'Mon, 1 Jan 2024 00:00:00 +0000', 'Bad Name': 'x' },
        attachments: [{ filename: 'a.txt\r\nX-Evil: 1', content_base64: 'aGk=' }],
      });
      assert.equal(r.status, 400);
      const byField = Object.fromEntries(r.json.errors.map((e: { field: string; code: string; detail: string }) => [e.field, e]));
      assert.deepEqual(Object.keys(byField).sort(), ['attachments[0].filename', 'headers.Bad Name', 'headers.Date', 'headers.X-Ticket', 'subject', 'to']);
      assert.equal(byField.subject.code, 'EHEADER');
      assert.match(byField.subject.detail, /line break/);
      assert.match(byField['headers.X-Ticket'].detail, /line break/);
      assert.match(byField['headers.Date'].detail, /cannot be set through extra headers/);
      assert.equal(byField['headers.X-Ticket'].pointer, '#/headers/X-Ticket');
      assert.equal(h.store.pending().length, before, 'nothing queued');
    });

    it('400 for invalid base64 and content types', async () => {
      const r = await submit({ ...GOOD, attachments: [{ filename: 'a.bin', content_base64: 'not base64!' }, { filename: 'b.bin', content_type: 'pdf', content_base64: 'aGk=' }] });
      assert.equal(r.status, 400);
      assert.deepEqual(r.json.errors.map((e: { field: string }) => e.field), ['attachments[0].content_base64', 'attachments[1].content_type']);
    });

    it('415 unless the body is application/json', async () => {
      const r = await call('POST', '/api/v1/messages', { raw: JSON.stringify(GOOD), headers: { 'content-type': 'text/plain' } });
      assert.equal(r.status, 415);
      assert.equal(r.headers.get('accept-post'), 'application/json');
      assert.equal((await call('POST', '/api/v1/messages', { raw: JSON.stringify({ ...GOOD, subject: 'charset' }), headers: { 'content-type': 'Application/JSON; charset=utf-8' } })).status, 202);
    });

    it('422 with the findings when the guide refuses the mail (noreply@ sender)', async () => {
      const before = h.store.pending().length;
      const r = await submit({ ...GOOD, from: 'No Reply <noreply@example.org>' });
      assert.equal(r.status, 422);
      assert.match(r.headers.get('content-type')!, /^application\/problem\+json/);
      assert.equal(r.json.type, 'urn:sendwell:problem:policy');
      assert.equal(r.json.code, 'EPOLICY');
      const f = r.json.findings.find((x: { rule: string }) => x.rule === 'R2.noreply-sender');
      assert.ok(f, JSON.stringify(r.json.findings));
      assert.equal(f.severity, 'error');
      assert.equal(f.guideRule, 'R2');
      assert.ok(f.fix);
      assert.match(r.json.detail, /R2\.noreply-sender/);
      assert.equal(h.store.pending().length, before, 'nothing queued');
    });

    it('Idempotency-Key: a repeat returns the first queue ID with 200, queues nothing, does not wake the worker', async () => {
      const key = 'b1f7c2d0-6a51-4f3e-9a8e-2f8e1c1d9a77';
      const first = await submit({ ...GOOD, subject: 'idempotent' }, { 'idempotency-key': key });
      assert.equal(first.status, 202);
      const woken = h.queued.length;
      const again = await submit({ ...GOOD, subject: 'idempotent' }, { 'idempotency-key': `"${key}"` });
      assert.equal(again.status, 200);
      assert.equal(again.json.queue_id, first.json.queue_id);
      assert.equal(again.json.message_id, first.json.message_id);
      assert.equal(again.json.existing, true);
      assert.equal(h.queued.length, woken);
      assert.equal(h.store.pending().filter((p) => p.message.id === first.json.queue_id).length, 1);
      // Another key is another mail; the same key under another token name is another mail too.
      const other = await submit({ ...GOOD, subject: 'idempotent' }, { 'idempotency-key': `${key}-2` });
      assert.notEqual(other.json.queue_id, first.json.queue_id);
      const { token } = h.credentials.createToken('monitoring');
      const otherApp = await submit({ ...GOOD, subject: 'idempotent' }, { 'idempotency-key': key }, token);
      assert.equal(otherApp.status, 202);
      assert.notEqual(otherApp.json.queue_id, first.json.queue_id);
    });

    it('Idempotency-Key: concurrent repeats queue one message', async () => {
      const key = `concurrent-${Date.now()}`;
      const results = await Promise.all([1, 2, 3, 4].map(() => submit({ ...GOOD, subject: 'concurrent' }, { 'idempotency-key': key })));
      assert.equal(new Set(results.map((r) => r.json.queue_id)).size, 1);
      assert.deepEqual(results.map((r) => r.status).sort(), [200, 200, 200, 202]);
    });

    it('400 for a malformed Idempotency-Key', async () => {
      const r = await submit(GOOD, { 'idempotency-key': 'has spaces in it' });
      assert.equal(r.status, 400);
      assert.equal(r.json.errors[0].field, 'Idempotency-Key');
      assert.equal(r.json.errors[0].pointer, undefined);
    });

    it('413 for a body over the limit streamed without Content-Length; the server keeps serving', async () => {
      async function* big() {
        yield Buffer.from('{"from":"jane@example.org","to":"bob@example.org","text":"');
        for (let i = 0; i < 64; i++) yield Buffer.alloc(4096, 'a');
        yield Buffer.from('"}');
      }
      const r = await rawRequest(h.port, {
        method: 'POST',
        path: '/api/v1/messages',
        headers: { authorization: `Bearer ${h.token}`, 'content-type': 'application/json', 'transfer-encoding': 'chunked' },
        chunks: big(),
      });
      recorded.push({ method: 'POST', path: '/api/v1/messages', status: r.status, contentType: String(r.headers['content-type']), body: r.body });
      assert.equal(r.status, 413);
      assert.equal(r.headers.connection, 'close');
      assert.match(JSON.parse(r.body).detail, /larger than 65536 bytes/);
      // A declared Content-Length over the limit is refused before reading.
      const declared = await rawRequest(h.port, {
        method: 'POST',
        path: '/api/v1/messages',
        headers: { authorization: `Bearer ${h.token}`, 'content-type': 'application/json', 'content-length': String(10 * 1024 * 1024) },
        chunks: (async function* () {
          yield Buffer.from('{');
        })(),
      });
      assert.equal(declared.status, 413);
      assert.equal((await call('GET', '/healthz')).status, 200);
    });
  });

  describe('GET endpoints', () => {
    it('GET /api/v1/messages/{id}: state per recipient and attempts, before and after delivery', async () => {
      const r = await submit({ ...GOOD, subject: 'status', to: ['bob@example.org', 'carol@example.org'] });
      const id = r.json.queue_id as string;
      const queued = await call('GET', `/api/v1/messages/${id}`);
      assert.equal(queued.status, 200);
      assert.equal(queued.json.queue_id, id);
      assert.equal(queued.json.sender, 'jane@example.org');
      assert.deepEqual(queued.json.state, { 'bob@example.org': 'queued', 'carol@example.org': 'queued' });
      assert.deepEqual(queued.json.attempts, []);
      assert.match(queued.json.created_at, /Z$/);
      await h.mailer.queue!.deliverNow(id);
      const delivered = await call('GET', `/api/v1/messages/${id}`);
      assert.deepEqual(delivered.json.state, { 'bob@example.org': 'delivered', 'carol@example.org': 'delivered' });
      assert.equal(delivered.json.attempts.length, 2);
      assert.equal(delivered.json.recipients[0].attempts, 1);
      assert.equal(delivered.json.recipients[0].next_attempt_at, null);
      assert.ok(readdirSync(h.captureDir).some((f) => f.endsWith('.eml')), 'captured, not sent');
    });

    it('404 for unknown and malformed queue IDs', async () => {
      for (const id of ['204ZJ2Syc5tv7r', 'nope', '..%2F..%2Fetc']) {
        const r = await call('GET', `/api/v1/messages/${id}`);
        assert.equal(r.status, 404, id);
        assert.equal(r.json.status, 404);
      }
    });

    it('GET /api/v1/queue lists what waits, oldest first; limit', async () => {
      const all = await call('GET', '/api/v1/queue');
      assert.equal(all.status, 200);
      assert.ok(all.json.count >= 2);
      assert.equal(all.json.messages.length, all.json.count);
      assert.equal(all.json.truncated, false);
      const times = all.json.messages.map((m: { created_at: string }) => m.created_at);
      assert.deepEqual([...times].sort(), times);
      for (const m of all.json.messages) for (const rc of m.recipients) assert.ok(['queued', 'active', 'deferred', 'held'].includes(rc.state));
      const one = await call('GET', '/api/v1/queue?limit=1');
      assert.equal(one.json.messages.length, 1);
      assert.equal(one.json.truncated, true);
      assert.equal(one.json.count, all.json.count);
      const bad = await call('GET', '/api/v1/queue?limit=0');
      assert.equal(bad.status, 400);
      assert.equal(bad.json.errors[0].field, 'limit');
    });

    it('GET /healthz: ok, relay, capture mode warning; no caching', async () => {
      const r = await call('GET', '/healthz', { token: null });
      assert.equal(r.status, 200);
      assert.equal(r.json.ok, true);
      assert.equal(r.json.capture, true);
      assert.match(r.json.relay, /^capture:/);
      assert.match(r.json.warnings[0], /no relay is configured/);
      assert.equal(r.headers.get('cache-control'), 'no-store');
    });

    it('GET /metrics: Prometheus text with gauges per state and the worker counters', async () => {
      const r = await call('GET', '/metrics', { token: null });
      assert.equal(r.status, 200);
      assert.equal(r.headers.get('content-type'), 'text/plain; version=0.0.4; charset=utf-8');
      const lines = r.text.trimEnd().split('\n');
      const types = new Map<string, string>();
      const samples = new Map<string, number>();
      for (const line of lines) {
        const t = /^# TYPE (\w+) (gauge|counter)$/.exec(line);
        if (t) {
          types.set(t[1]!, t[2]!);
          continue;
        }
        if (line.startsWith('# HELP ')) continue;
        const m = /^([a-z_]+)(\{[a-z_]+="(?:[^"\\\n]|\\.)*"(?:,[a-z_]+="(?:[^"\\\n]|\\.)*")*\})? (-?\d+(?:\.\d+)?)$/.exec(line);
        assert.ok(m, `not a sample line: ${JSON.stringify(line)}`);
        assert.ok(types.has(m[1]!), `${m[1]} has a TYPE line before its samples`);
        samples.set(`${m[1]}${m[2] ?? ''}`, Number(m[3]));
      }
      const counts = h.store.countByState();
      for (const [state, n] of Object.entries(counts)) assert.equal(samples.get(`sendwell_recipients{state="${state}"}`), n, state);
      assert.equal(types.get('sendwell_recipients'), 'gauge');
      assert.equal(samples.get('sendwell_delivery_attempts_total'), 7);
      assert.equal(samples.get('sendwell_rate_limit_waits_total'), 3);
      assert.equal(samples.get('sendwell_relay_errors_total'), 2);
      assert.equal(types.get('sendwell_relay_errors_total'), 'counter');
      assert.equal(samples.get('sendwell_relay_info{mode="capture"}'), 1);
      assert.ok((samples.get('sendwell_http_responses_total{code="202"}') ?? 0) >= 1);
    });

    it('problem documents for unknown paths (404) and wrong methods (405 with Allow)', async () => {
      const nf = await call('GET', '/api/v2/nothing');
      assert.equal(nf.status, 404);
      assert.match(nf.headers.get('content-type')!, /^application\/problem\+json/);
      const na = await call('DELETE', '/api/v1/messages');
      assert.equal(na.status, 405);
      assert.equal(na.headers.get('allow'), 'POST');
      assert.equal(na.json.title, 'Method Not Allowed');
      const getOnly = await call('POST', '/healthz', { body: {} });
      assert.equal(getOnly.headers.get('allow'), 'GET, HEAD');
      const head = await fetch(`${h.base}/healthz`, { method: 'HEAD' });
      assert.equal(head.status, 200);
      assert.equal(await head.text(), '');
      assert.ok(Number(head.headers.get('content-length')) > 0);
    });
  });

  describe('OpenAPI document', () => {
    it('is OpenAPI 3.1 with the endpoints and bearer security', async () => {
      const r = await call('GET', '/api/v1/openapi.json', { token: null });
      assert.equal(r.status, 200);
      const doc = r.json;
      assert.equal(doc.openapi, '3.1.0');
      assert.equal(doc.info.version, (JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string }).version);
      assert.deepEqual(Object.keys(doc.paths).sort(), ['/api/v1/forms/{name}/submissions', '/api/v1/lists', '/api/v1/lists/{name}/messages', '/api/v1/lists/{name}/subscribers', '/api/v1/lists/{name}/subscribers/{email}', '/api/v1/messages', '/api/v1/messages/{id}', '/api/v1/openapi.json', '/api/v1/queue', '/confirm/{token}', '/forms/{name}', '/forms/{name}/challenge', '/forms/{name}/widget.js', '/healthz', '/metrics', '/u/{token}']);
      assert.deepEqual(doc.components.securitySchemes.bearer, { type: 'http', scheme: 'bearer', description: doc.components.securitySchemes.bearer.description });
      assert.deepEqual(doc.paths['/healthz'].get.security, []);
      // The request example validates against the request schema, a wrong one does not.
      assert.deepEqual(validate(doc.components.schemas.SubmitMessage, GOOD, doc), []);
      assert.ok(validate(doc.components.schemas.SubmitMessage, { ...GOOD, to: 5 }, doc).length > 0);
      assert.ok(validate(doc.components.schemas.SubmitMessage, { ...GOOD, unknown: 1 }, doc).length > 0);
    });

    it('every response in this suite matches the documented status, media type and schema', async () => {
      const doc = (await call('GET', '/api/v1/openapi.json', { token: null })).json;
      const templates = Object.keys(doc.paths).map((t) => ({ t, re: new RegExp(`^${t.replace(/\{[^}]+\}/g, '[^/]+')}$`) }));
      const covered = new Set<string>();
      let checked = 0;
      for (const rec of recorded) {
        const pathname = new URL(rec.path, 'http://x').pathname;
        const tpl = templates.find(({ re }) => re.test(pathname));
        if (!tpl) {
          assert.equal(rec.status, 404, `undocumented path ${rec.path} answered ${rec.status}`);
          continue;
        }
        const op = doc.paths[tpl.t][rec.method.toLowerCase()];
        if (!op) {
          assert.equal(rec.status, 405, `undocumented method ${rec.method} ${tpl.t}`);
          continue;
        }
        const resp = op.responses[String(rec.status)];
        assert.ok(resp, `${rec.method} ${tpl.t} answered ${rec.status}, which the document does not list`);
        const mediaType = rec.contentType.split(';')[0]!.trim();
        const content = resp.content?.[mediaType];
        assert.ok(content, `${rec.method} ${tpl.t} ${rec.status}: media type ${mediaType} is not documented (${Object.keys(resp.content ?? {}).join(', ')})`);
        const value = mediaType.endsWith('json') ? JSON.parse(rec.body) : rec.body;
        const errors = validate(content.schema, value, doc);
        assert.deepEqual(errors, [], `${rec.method} ${rec.path} ${rec.status}: ${JSON.stringify(errors)}\n${rec.body.slice(0, 2000)}`);
        covered.add(`${rec.method} ${tpl.t} ${rec.status}`);
        checked++;
      }
      assert.ok(checked > 30, `checked ${checked} responses`);
      // The statuses this suite provokes for each operation (503 needs a broken disk).
      for (const expected of [
        'POST /api/v1/messages 202',
        'POST /api/v1/messages 200',
        'POST /api/v1/messages 400',
        'POST /api/v1/messages 401',
        'POST /api/v1/messages 413',
        'POST /api/v1/messages 415',
        'POST /api/v1/messages 422',
        'GET /api/v1/messages/{id} 200',
        'GET /api/v1/messages/{id} 404',
        'GET /api/v1/queue 200',
        'GET /api/v1/queue 400',
        'GET /api/v1/queue 401',
        'GET /healthz 200',
        'GET /metrics 200',
        'GET /api/v1/openapi.json 200',
      ]) {
        assert.ok(covered.has(expected), `not exercised: ${expected}`);
      }
    });
  });
});

describe('HTTP API options', () => {
  it('health() from the daemon: 503 when not ok', async () => {
    const h = await startApi({ health: () => ({ ok: false, relay: 'smtp://relay.example.org:587', capture: false, warnings: ['stopping'] }) });
    try {
      const r = await fetch(`${h.base}/healthz`);
      assert.equal(r.status, 503);
      assert.deepEqual(await r.json(), { ok: false, relay: 'smtp://relay.example.org:587', capture: false, warnings: ['stopping'] });
    } finally {
      await h.close();
    }
  });

  it('metricsRequireToken puts /metrics behind the token', async () => {
    const h = await startApi({ metricsRequireToken: true });
    try {
      assert.equal((await fetch(`${h.base}/metrics`)).status, 401);
      assert.equal((await fetch(`${h.base}/metrics`, { headers: { authorization: `Bearer ${h.token}` } })).status, 200);
      // Without a worker in this process there are no worker counters.
      const text = await (await fetch(`${h.base}/metrics`, { headers: { authorization: `Bearer ${h.token}` } })).text();
      assert.doesNotMatch(text, /sendwell_delivery_attempts_total/);
    } finally {
      await h.close();
    }
  });

  it('close() stops listening and cuts idle keep-alive connections', async () => {
    const h = await startApi();
    assert.equal((await fetch(`${h.base}/healthz`)).status, 200);
    await h.close();
    await assert.rejects(fetch(`${h.base}/healthz`));
  });

  it('refuses a mailer without a queue', async () => {
    const { createMailer } = await import('../../mailer.js');
    const { createHttpApi } = await import('./index.js');
    const { Credentials } = await import('../credentials.js');
    const { mkdtempSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const { join } = await import('node:path');
    const dir = mkdtempSync(join(tmpdir(), 'sendwell-http-'));
    const credentials = new Credentials(dir);
    const mailer = createMailer({ relay: `capture:${dir}` });
    const store = {} as never;
    assert.throws(() => createHttpApi({ listen: '127.0.0.1:0', maxBodyBytes: 1000, mailer, store, credentials }), /needs a mailer with a queue/);
    credentials.close();
  });
});

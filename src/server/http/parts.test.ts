/** The HTTP API's parts on their own: router, problem mapping, body reading, metrics, validation. */
import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import type { IncomingMessage } from 'node:http';
import { describe, it } from 'node:test';
import { validate } from '../../../test/server/http/json-schema.js';
import { SendwellError } from '../../errors.js';
import { policyError } from '../../mailer.js';
import { parseListen } from './api.js';
import { parseJson, readBody } from './body.js';
import { badRequest, fieldError, fieldName, fromSendwellError, HttpError, jsonPointer } from './errors.js';
import { escapeLabel, renderMetrics } from './metrics.js';
import { componentSchemas, openApiDocument } from './openapi.js';
import { Router } from './router.js';
import { toMail } from './validate.js';

const byState = { queued: 2, active: 0, deferred: 1, held: 0, delivered: 5, bounced: 0, expired: 0, cancelled: 0, suppressed: 0 };

describe('Router', () => {
  const r = new Router<string>().on('GET', '/a/:id', 'get-a').on('POST', '/a', 'post-a').on('GET', '/a', 'list-a');
  it('matches exact segments and decodes parameters', () => {
    assert.deepEqual(r.match('GET', '/a/x%20y'), { kind: 'found', route: r.routes[0], params: { id: 'x y' } });
    assert.equal(r.match('POST', '/a').kind, 'found');
  });
  it('405 with the allowed methods, 404 otherwise', () => {
    assert.deepEqual(r.match('DELETE', '/a'), { kind: 'method', allow: ['GET', 'POST'] });
    assert.equal(r.match('GET', '/a/').kind, 'none');
    assert.equal(r.match('GET', '/a/b/c').kind, 'none');
    assert.equal(r.match('GET', '/a/%E0%A4%A').kind, 'none');
  });
});

describe('problem documents', () => {
  it('field names and JSON pointers', () => {
    assert.equal(fieldName([]), '(body)');
    assert.equal(fieldName(['to', 1]), 'to[1]');
    assert.equal(fieldName(['attachments', 0, 'content_base64']), 'attachments[0].content_base64');
    assert.equal(jsonPointer(['headers', 'a/b~c']), '#/headers/a~1b~0c');
    assert.equal(jsonPointer([]), '#');
  });

  it('400 summaries name the field once', () => {
    assert.equal(badRequest([fieldError(['to', 1], 'to[1]: "x" is not an address')]).message, 'to[1]: "x" is not an address');
    assert.equal(badRequest([fieldError(['subject'], 'contains a line break')]).message, 'subject: contains a line break');
    assert.equal(badRequest([fieldError(['a'], 'x'), fieldError(['b'], 'y')]).message, '2 fields are invalid: a, b');
  });

  it('HttpError → RFC 9457 members; the title defaults to the status phrase', () => {
    const p = new HttpError(404, 'no such thing').toProblem();
    assert.deepEqual(p, { type: 'about:blank', title: 'Not Found', status: 404, detail: 'no such thing' });
  });

  it('EPOLICY → 422 with findings; composer errors → 400 naming the field; temporary → 503 Retry-After', () => {
    const report = {
      ok: false,
      errors: 1,
      warnings: 0,
      findings: [{ rule: 'R2.noreply-sender', guideRule: 'R2', severity: 'error' as const, message: 'm', fix: 'f', field: 'From' }],
    };
    const p = fromSendwellError(policyError(report)).toProblem();
    assert.equal(p.status, 422);
    assert.equal(p.findings![0]!.rule, 'R2.noreply-sender');
    assert.ok(p.findings![0]!.title, 'title filled in from the rule table');
    const addr = fromSendwellError(new SendwellError('EADDRESS', 'replyTo: "x" is not an address of the form local@domain')).toProblem();
    assert.equal(addr.status, 400);
    assert.equal(addr.errors![0]!.field, 'reply_to');
    assert.equal(fromSendwellError(new SendwellError('EADDRESS', 'no From address')).toProblem().errors![0]!.field, 'from');
    const busy = fromSendwellError(new SendwellError('ECONFIG', 'disk full', { temporary: true }));
    assert.equal(busy.status, 503);
    assert.equal(busy.headers['Retry-After'], '30');
    assert.equal(fromSendwellError(new SendwellError('ECONFIG', 'broken')).status, 500);
  });
});

describe('request bodies', () => {
  const fake = (headers: Record<string, string> = {}) => Object.assign(new PassThrough(), { headers }) as unknown as IncomingMessage & PassThrough;

  it('reads a body up to the limit', async () => {
    const req = fake();
    const p = readBody(req, 10);
    req.end(Buffer.from('0123456789'));
    assert.equal((await p).toString(), '0123456789');
  });

  it('413 as soon as the count passes the limit, whatever Content-Length says', async () => {
    const req = fake({ 'content-length': '5' });
    const p = readBody(req, 10);
    req.write(Buffer.alloc(8));
    req.write(Buffer.alloc(8));
    await assert.rejects(p, (e: HttpError) => e.status === 413 && e.headers.Connection === 'close');
    await assert.rejects(readBody(fake({ 'content-length': '11' }), 10), (e: HttpError) => e.status === 413);
  });

  it('400 for invalid UTF-8 and malformed JSON', () => {
    assert.throws(() => parseJson(Buffer.from([0x7b, 0xff, 0x7d])), (e: HttpError) => e.status === 400 && /UTF-8/.test(e.message));
    assert.throws(() => parseJson(Buffer.from('{')), (e: HttpError) => e.status === 400 && e.toProblem().errors![0]!.field === '(body)');
  });
});

describe('toMail', () => {
  it('maps the API fields to a Mail', () => {
    const mail = toMail({
      from: { name: 'Jane', address: 'jane@example.org' },
      to: ['bob@example.org'],
      reply_to: 'team@example.org',
      envelope_from: '',
      subject: 's',
      html: '<p>x</p>',
      headers: { 'X-A': ['1', '2'] },
      attachments: [{ filename: 'a.txt', content_type: 'text/plain', content_base64: 'aGk=' }],
    });
    assert.equal(mail.replyTo, 'team@example.org');
    assert.equal(mail.envelopeFrom, '');
    assert.deepEqual(mail.attachments, [{ filename: 'a.txt', contentType: 'text/plain', content: Buffer.from('hi') }]);
  });

  it('refuses header names that are Object.prototype members (400, not a crash)', () => {
    assert.throws(
      () => toMail({ to: 'b@example.org', text: 'x', headers: { Constructor: 'y', toString: 'z' } }),
      (e: HttpError) => e.status === 400 && e.toProblem().errors!.map((x) => x.field).join() === 'headers.Constructor',
    );
  });

  it('reports unknown members together with other errors', () => {
    assert.throws(
      () => toMail({ to: 'bad', text: 'x', attachments: [{ filename: 'a', content_base64: '', extra: 1 }], cc: 'x\r\ny@example.org' }),
      (e: HttpError) => {
        const fields = e.toProblem().errors!.map((x) => x.field);
        assert.deepEqual(fields, ['attachments[0].extra', 'to', 'cc']);
        return true;
      },
    );
  });
});

describe('metrics', () => {
  it('renders gauges always, worker counters when given, escapes labels', () => {
    const text = renderMetrics({ byState, relayMode: 'a"b\\c\nd' });
    assert.match(text, /^sendwell_recipients\{state="deferred"\} 1$/m);
    assert.doesNotMatch(text, /_total/);
    assert.match(text, /^sendwell_relay_info\{mode="a\\"b\\\\c\\nd"\} 1$/m);
    assert.equal(escapeLabel('x'), 'x');
    const withWorker = renderMetrics({ byState, worker: { attempts: 1, delivered: 1, deferred: 0, bounced: 0, rateLimitWaits: 4, relayErrors: 0, throttled: 0 } });
    assert.match(withWorker, /^# TYPE sendwell_rate_limit_waits_total counter\nsendwell_rate_limit_waits_total 4$/m);
  });
});

describe('parseListen', () => {
  it('host:port and [v6]:port', () => {
    assert.deepEqual(parseListen('127.0.0.1:8025'), { host: '127.0.0.1', port: 8025 });
    assert.deepEqual(parseListen('[::1]:0'), { host: '::1', port: 0 });
    assert.throws(() => parseListen('8025'), /address:port/);
    assert.throws(() => parseListen('127.0.0.1:70000'), /address:port/);
  });
});

describe('OpenAPI schemas and the test validator', () => {
  it('components carry no $id/$schema and every $ref resolves', () => {
    const doc = openApiDocument();
    const text = JSON.stringify(doc);
    for (const [, ref] of text.matchAll(/"\$ref":"([^"]+)"/g)) {
      const id = ref!.replace('#/components/schemas/', '');
      assert.ok(id in componentSchemas(), ref);
    }
    assert.doesNotMatch(JSON.stringify(componentSchemas()), /"\$id"|"\$schema"/);
  });

  it('the validator catches wrong types, missing and undocumented members, bad enums and patterns', () => {
    const doc = openApiDocument() as { components: { schemas: Record<string, Record<string, unknown>> } };
    const s = doc.components.schemas;
    const good = { queue_id: 'x', message_id: '<a@b>', state: { 'a@b': 'queued' }, warnings: [], held: [], existing: false };
    assert.deepEqual(validate(s.SubmitMessageResult!, good, doc), []);
    assert.ok(validate(s.SubmitMessageResult!, { ...good, extra: 1 }, doc).some((e) => /undocumented member extra/.test(e.message)));
    assert.ok(validate(s.SubmitMessageResult!, { ...good, state: { 'a@b': 'lost' } }, doc).length > 0);
    const { held: _held, ...missing } = good;
    assert.ok(validate(s.SubmitMessageResult!, missing, doc).some((e) => /missing required member held/.test(e.message)));
    assert.ok(validate(s.Attachment!, { filename: 'a', content_base64: '***' }, doc).length > 0);
    assert.ok(validate(s.RecipientStatus!, { address: 'a', state: 'queued', attempts: 1.5, next_attempt_at: 'yesterday', last_code: null, last_dsn: null, last_reason: null, relay_queue_id: null, updated_at: '2026-01-01T00:00:00.000Z' }, doc).length >= 2);
    assert.throws(() => validate({ unevaluatedProperties: false }, {}), /unsupported keyword/);
  });
});

/**
 * The OpenAPI 3.1 document, generated from the zod schemas the server uses
 * (schemas.ts), so it cannot drift from the code. Served at
 * `/api/v1/openapi.json`; a test checks real responses against it.
 */
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { PROBLEM_CONTENT_TYPE } from './errors.js';
import { METRICS_CONTENT_TYPE } from './metrics.js';
import { registry } from './schemas.js';
import { CONSENT_PATHS } from '../../consent/openapi.js';
import { FORM_PATHS } from '../../forms/openapi.js';

const ref = (id: string) => ({ $ref: `#/components/schemas/${id}` });
const json = (id: string) => ({ 'application/json': { schema: ref(id) } });
const problem = (description: string) => ({ description, content: { [PROBLEM_CONTENT_TYPE]: { schema: ref('Problem') } } });

const UNAUTHORIZED = problem('No bearer token, or an unknown or revoked one (`WWW-Authenticate: Bearer`).');

function version(): string {
  try {
    // src/server/http and dist/server/http are both three levels below the package root.
    return (JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string }).version;
  } catch {
    return '0.0.0';
  }
}

/** The component schemas, JSON Schema 2020-12 (OpenAPI 3.1's dialect). */
export function componentSchemas(): Record<string, Record<string, unknown>> {
  const { schemas } = z.toJSONSchema(registry, { target: 'draft-2020-12', uri: (id) => `#/components/schemas/${id}` }) as { schemas: Record<string, Record<string, unknown>> };
  for (const s of Object.values(schemas)) {
    // Components are embedded, not separate resources: a fragment-only $id is not allowed in 2020-12.
    delete s.$schema;
    delete s.$id;
  }
  return schemas;
}

let cached: Record<string, unknown> | undefined;

export function openApiDocument(): Record<string, unknown> {
  cached ??= {
    openapi: '3.1.0',
    info: {
      title: 'sendwell HTTP API',
      version: version(),
      description:
        'Submit mail to the `sendwell serve` queue and watch it. Every mail is checked against the mail guide before it is queued: ' +
        'error-level findings refuse it (422), warnings come back with the queue ID (202). ' +
        'Endpoints under /api/v1 need a bearer token (`sendwell tokens create NAME`), except this document; ' +
        '/healthz and /metrics need none (they show no addresses or content). Errors are RFC 9457 problem documents.',
    },
    security: [{ bearer: [] }],
    paths: {
      ...CONSENT_PATHS,
      ...FORM_PATHS,
      '/api/v1/messages': {
        post: {
          operationId: 'submitMessage',
          summary: 'Queue a mail',
          description:
            'Composes, lints and durably queues the mail, then returns; the daemon\'s worker delivers it. ' +
            'The submitter is recorded as `api:<token name>` (flood brake, per-sender limits, `sendwell queue show`). ' +
            'With an `Idempotency-Key`, a repeat with the same key (for the same token name) queues nothing and returns the first mail\'s ' +
            'queue ID with status 200 and `existing: true`, whatever the repeat\'s content.',
          parameters: [
            {
              name: 'Idempotency-Key',
              in: 'header',
              required: false,
              description: 'Up to 255 printable ASCII characters without spaces (optionally in double quotes), e.g. a UUID. Scoped to the token name.',
              schema: { type: 'string', maxLength: 257 },
            },
          ],
          requestBody: { required: true, content: json('SubmitMessage') },
          responses: {
            '202': { description: 'Queued. `Location` names the message.', headers: { Location: { schema: { type: 'string' } } }, content: json('SubmitMessageResult') },
            '200': { description: 'The Idempotency-Key had been used: nothing new was queued; the first mail\'s queue ID and current states.', content: json('SubmitMessageResult') },
            '400': problem('Malformed JSON, wrong types, unknown members, invalid addresses, header injection: `errors` names each field.'),
            '401': UNAUTHORIZED,
            '413': problem('The body is larger than http.max_body_size.'),
            '415': problem('The body is not application/json.'),
            '422': problem('Refused by the mail guide: `findings` lists each rule broken, with the fix.'),
            '503': problem('Nothing could be queued (disk full, database busy): safe to retry (`Retry-After`).'),
          },
        },
      },
      '/api/v1/messages/{id}': {
        get: {
          operationId: 'getMessage',
          summary: 'A mail\'s state per recipient and its delivery attempts',
          parameters: [{ name: 'id', in: 'path', required: true, description: 'The queue ID.', schema: { type: 'string' } }],
          responses: {
            '200': { description: 'The mail.', content: json('MessageStatus') },
            '401': UNAUTHORIZED,
            '404': problem('No such queue ID (or its retention has ended).'),
          },
        },
      },
      '/api/v1/queue': {
        get: {
          operationId: 'getQueue',
          summary: 'Mail still waiting, oldest first',
          parameters: [{ name: 'limit', in: 'query', required: false, description: 'At most this many messages (1-10000, default 1000).', schema: { type: 'integer', minimum: 1, maximum: 10000 } }],
          responses: {
            '200': { description: 'The pending queue.', content: json('Queue') },
            '400': problem('Invalid limit.'),
            '401': UNAUTHORIZED,
          },
        },
      },
      '/api/v1/openapi.json': {
        get: {
          operationId: 'getOpenApi',
          summary: 'This document',
          security: [],
          responses: { '200': { description: 'The OpenAPI 3.1 document.', content: { 'application/json': { schema: { type: 'object' } } } } },
        },
      },
      '/healthz': {
        get: {
          operationId: 'getHealth',
          summary: 'Liveness, the relay and capture mode',
          description: 'No token needed. `capture: true` means no relay is configured and mail is captured into files instead of sent.',
          security: [],
          responses: {
            '200': { description: 'Healthy.', content: json('Health') },
            '503': { description: 'Not healthy (e.g. the queue database cannot be read); `warnings` says why.', content: json('Health') },
          },
        },
      },
      '/metrics': {
        get: {
          operationId: 'getMetrics',
          summary: 'Prometheus metrics',
          description:
            'Text exposition format 0.0.4. No token needed by default (counts only, no addresses); the listener is loopback-only unless configured otherwise. ' +
            'sendwell_recipients{state} gauges; sendwell_delivery_attempts_total, sendwell_delivered_total, sendwell_deferred_total, sendwell_bounced_total, ' +
            'sendwell_rate_limit_waits_total, sendwell_relay_errors_total, sendwell_relay_throttled_total counters (since the worker started); ' +
            'sendwell_relay_info{mode}; sendwell_http_responses_total{code}.',
          security: [],
          responses: { '200': { description: 'The metrics.', content: { [METRICS_CONTENT_TYPE.split(';')[0]!]: { schema: { type: 'string' } } } } },
        },
      },
    },
    components: {
      schemas: componentSchemas(),
      securitySchemes: {
        bearer: { type: 'http', scheme: 'bearer', description: 'An API token from `sendwell tokens create NAME` (sw_...).' },
      },
    },
  };
  return cached;
}

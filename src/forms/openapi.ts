/** OpenAPI path items of the web-form endpoints (merged into /api/v1/openapi.json). */
import { PROBLEM_CONTENT_TYPE } from '../server/http/errors.js';

const problem = (description: string) => ({ description, content: { [PROBLEM_CONTENT_TYPE]: { schema: { $ref: '#/components/schemas/Problem' } } } });
const name = { name: 'name', in: 'path', required: true, description: 'The form name ([forms.NAME]).', schema: { type: 'string' } };
const anyJson = { 'application/json': { schema: { type: 'object' } } };

export const FORM_PATHS: Record<string, unknown> = {
  '/forms/{name}': {
    get: { operationId: 'formPage', summary: 'A plain-HTML example of the form', security: [], parameters: [name], responses: { '200': { description: 'The page.', content: { 'text/html': { schema: { type: 'string' } } } }, '404': problem('No such form.') } },
    post: {
      operationId: 'submitForm',
      summary: 'A submission (R10): checked (rate limits, honeypot, time token, proof of work, fields, content score), stored, and mailed only to the fixed recipients when accepted',
      description:
        'application/x-www-form-urlencoded (a page; 303 to success_url when set) or JSON (with Accept: application/json). ' +
        'Honeypot hits and high content scores get the same success answer as accepted submissions (they are kept for review, not mailed).',
      security: [],
      parameters: [name],
      requestBody: { required: true, content: { 'application/x-www-form-urlencoded': { schema: { type: 'object' } }, ...anyJson } },
      responses: {
        '200': { description: 'Received (or quietly held for review).', content: { ...anyJson, 'text/html': { schema: { type: 'string' } } } },
        '303': { description: 'Received; to success_url.' },
        '400': problem('Invalid fields, each named.'),
        '403': problem('Time token or proof of work missing, too fast, expired, forged or replayed.'),
        '404': problem('No such form.'),
        '413': problem('Larger than the fields allow.'),
        '429': problem('Per-IP or per-address limit (Retry-After).'),
        '503': problem('A hard check cannot run (form key unreadable) or nothing could be queued: refused, never waved through.'),
      },
    },
  },
  '/forms/{name}/widget.js': {
    get: { operationId: 'formWidget', summary: 'The embeddable script: time token, proof-of-work solver (WebCrypto), no third-party code', security: [], parameters: [name], responses: { '200': { description: 'JavaScript.', content: { 'text/javascript': { schema: { type: 'string' } } } }, '404': problem('No such form.') } },
  },
  '/forms/{name}/challenge': {
    get: {
      operationId: 'formChallenge',
      summary: 'A signed time token and an ALTCHA v1 challenge (CORS for allowed_origins)',
      security: [],
      parameters: [name],
      responses: { '200': { description: '{ algorithm, challenge, maxnumber, salt, signature, token }.', content: anyJson }, '404': problem('No such form.'), '503': problem('The form key cannot be used.') },
    },
  },
  '/api/v1/forms/{name}/submissions': {
    get: {
      operationId: 'formSubmissions',
      summary: 'The review list: every submission with its verdict, score and reasons',
      parameters: [name, { name: 'verdict', in: 'query', required: false, schema: { type: 'string', enum: ['accepted', 'quarantined', 'refused'] } }, { name: 'limit', in: 'query', required: false, schema: { type: 'integer', minimum: 1 } }],
      responses: { '200': { description: 'The submissions, newest first.', content: anyJson }, '400': problem('Invalid verdict or limit.'), '401': problem('No or invalid token.'), '404': problem('No such form.') },
    },
  },
};

/** OpenAPI path items of the consent endpoints (merged into /api/v1/openapi.json). */
import { PROBLEM_CONTENT_TYPE } from '../server/http/errors.js';
import './api-schemas.js';

const ref = (id: string) => ({ $ref: `#/components/schemas/${id}` });
const json = (id: string) => ({ 'application/json': { schema: ref(id) } });
const problem = (description: string) => ({ description, content: { [PROBLEM_CONTENT_TYPE]: { schema: ref('Problem') } } });
const htmlPage = (description: string) => ({ description, content: { 'text/html': { schema: { type: 'string' } } } });
const UNAUTHORIZED = problem('No bearer token, or an unknown or revoked one.');
const name = { name: 'name', in: 'path', required: true, description: 'The list name.', schema: { type: 'string' } };
const token = { name: 'token', in: 'path', required: true, schema: { type: 'string' } };

export const CONSENT_PATHS: Record<string, unknown> = {
  '/api/v1/lists': {
    get: { operationId: 'getLists', summary: 'The lists, with subscription counts', responses: { '200': { description: 'The lists.', content: { 'application/json': { schema: { type: 'object', properties: { lists: { type: 'array', items: ref('List') } }, required: ['lists'] } } } }, '401': UNAUTHORIZED } },
    post: {
      operationId: 'createList',
      summary: 'Create a list',
      requestBody: { required: true, content: json('CreateList') },
      responses: { '201': { description: 'Created.', content: json('List') }, '400': problem('Invalid name or reason, or the list is defined in the config.'), '401': UNAUTHORIZED, '415': problem('Not JSON.') },
    },
  },
  '/api/v1/lists/{name}/subscribers': {
    get: {
      operationId: 'getSubscribers',
      summary: 'Subscriptions with their proof of consent (JSON, or CSV with ?format=csv or Accept: text/csv)',
      parameters: [name, { name: 'status', in: 'query', required: false, schema: { type: 'string', enum: ['pending', 'confirmed', 'unsubscribed'] } }, { name: 'format', in: 'query', required: false, schema: { type: 'string', enum: ['csv'] } }],
      responses: {
        '200': { description: 'The subscriptions.', content: { 'application/json': { schema: { type: 'object', properties: { list: { type: 'string' }, subscribers: { type: 'array', items: ref('Subscription') } }, required: ['list', 'subscribers'] } }, 'text/csv': { schema: { type: 'string' } } } },
        '400': problem('Invalid status.'),
        '401': UNAUTHORIZED,
        '404': problem('No such list.'),
      },
    },
    post: {
      operationId: 'subscribe',
      summary: 'Record a sign-up (double opt-in lists mail a confirmation link), or import subscriptions with proof (text/csv, the columns of the export; all rows or none)',
      parameters: [name],
      requestBody: { required: true, content: { ...json('Subscribe'), 'text/csv': { schema: { type: 'string' } } } },
      responses: {
        '202': { description: 'Recorded.', content: json('SubscribeResult') },
        '200': { description: 'Imported (text/csv).', content: { 'application/json': { schema: { type: 'object', properties: { imported: { type: 'integer' }, updated: { type: 'integer' } }, required: ['imported', 'updated'] } } } },
        '400': problem('Invalid address, fields or CSV.'),
        '401': UNAUTHORIZED,
        '404': problem('No such list.'),
        '415': problem('Neither JSON nor CSV.'),
        '422': problem('Invalid CSV rows (each named in hint); nothing was imported.'),
      },
    },
  },
  '/api/v1/lists/{name}/subscribers/{email}': {
    delete: {
      operationId: 'revokeSubscription',
      summary: 'Withdraw consent (takes effect at once; the proof and history are kept)',
      parameters: [name, { name: 'email', in: 'path', required: true, schema: { type: 'string' } }],
      responses: { '200': { description: 'Unsubscribed.', content: json('Subscription') }, '401': UNAUTHORIZED, '404': problem('No such list or subscription.') },
    },
  },
  '/api/v1/lists/{name}/messages': {
    post: {
      operationId: 'sendToList',
      summary: 'Queue bulk mail to the list\'s consenting subscribers (or the given `to` among them)',
      description:
        'One message per subscriber, with the list\'s reason in every part, List-Id, List-Unsubscribe (https, and mailto when bounces are received) and List-Unsubscribe-Post (RFC 8058), DKIM-signed when [dkim] is configured. ' +
        'Addresses in `to` without consent are refused (R1) and listed with the reason. An Idempotency-Key makes a repeat queue nothing new.',
      parameters: [name, { name: 'Idempotency-Key', in: 'header', required: false, schema: { type: 'string', maxLength: 255 } }],
      requestBody: { required: true, content: json('SubmitMessage') },
      responses: {
        '202': { description: 'Queued.', content: json('ListSendResult') },
        '400': problem('Invalid fields, Cc/Bcc, or List-* headers set by the caller.'),
        '401': UNAUTHORIZED,
        '404': problem('No such list.'),
        '422': problem('Refused by the mail guide.'),
      },
    },
  },
  '/confirm/{token}': {
    get: { operationId: 'confirmPage', summary: 'The confirmation page: a button, nothing confirmed (link scanners fetch links)', security: [], parameters: [token], responses: { '200': htmlPage('The page.'), '404': htmlPage('Unknown link.'), '410': htmlPage('Used or expired.') } },
    post: { operationId: 'confirm', summary: 'Confirm (the page\'s button); single use', security: [], parameters: [token], responses: { '200': htmlPage('Confirmed.'), '404': htmlPage('Unknown link.'), '410': htmlPage('Used or expired.') } },
  },
  '/u/{token}': {
    get: { operationId: 'unsubscribePage', summary: 'The unsubscribe page: a button, nothing changed', security: [], parameters: [token], responses: { '200': htmlPage('The page.'), '404': htmlPage('Unknown link.') } },
    post: {
      operationId: 'unsubscribe',
      summary: 'Unsubscribe: RFC 8058 one-click (body List-Unsubscribe=One-Click) or the page\'s button; 200, never a redirect, no cookies',
      security: [],
      parameters: [token],
      responses: { '200': htmlPage('Unsubscribed.'), '404': htmlPage('Unknown link.') },
    },
  },
};

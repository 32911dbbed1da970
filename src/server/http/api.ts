/**
 * The HTTP API of `sendwell serve` (node:http, no framework): a small
 * router, bearer-token auth, JSON in, JSON or problem documents out.
 *
 * | method | path                     | auth  | success | errors                         |
 * |--------|--------------------------|-------|---------|--------------------------------|
 * | POST   | /api/v1/messages         | token | 202/200 | 400 401 413 415 422 503        |
 * | GET    | /api/v1/messages/{id}    | token | 200     | 401 404                        |
 * | GET    | /api/v1/queue            | token | 200     | 400 401                        |
 * | GET    | /api/v1/openapi.json     | none  | 200     |                                |
 * | GET    | /healthz                 | none  | 200     | 503                            |
 * | GET    | /metrics                 | none* | 200     | (*401 with metricsRequireToken)|
 *
 * Any path: 404 unknown, 405 wrong method (with Allow), 500 unexpected.
 * HEAD works wherever GET does.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { SendwellError } from '../../errors.js';
import type { Mailer, SendOptions } from '../../mailer.js';
import { reportToJSON } from '../../policy/index.js';
import { QUEUE_ID } from '../../queue/ids.js';
import { waitReason } from '../../queue/inspect.js';
import { isTerminal } from '../../queue/states.js';
import type { QueueStore, RecipientRow } from '../../queue/store.js';
import type { WorkerMetrics } from '../../queue/worker.js';
import type { Credentials, TokenInfo } from '../credentials.js';
import { parseJson, readBody, requireJson } from './body.js';
import { badRequest, fromSendwellError, HttpError, PROBLEM_CONTENT_TYPE, type FieldError } from './errors.js';
import { METRICS_CONTENT_TYPE, renderMetrics } from './metrics.js';
import { openApiDocument } from './openapi.js';
import { Router } from './router.js';
import type { Health, MessageStatus, QueueResponse, SubmitMessageResponse } from './schemas.js';
import { toMail } from './validate.js';

export interface HttpApiOptions {
  /** "host:port" ("[::1]:8025" for IPv6); port 0 picks a free port (tests). */
  listen: string;
  /** Request bodies larger than this are refused with 413 while they are read. */
  maxBodyBytes: number;
  /** A mailer with a queue (stateDir); the API only queues (`queueOnly`), the worker delivers. */
  mailer: Mailer;
  /** The queue store, for the GET endpoints and the gauges of /metrics. */
  store: QueueStore;
  credentials: Credentials;
  /** Counters of the daemon's worker and the relay mode, for /metrics. */
  metrics?: () => { worker?: WorkerMetrics; relayMode?: string };
  /** Called after a new message is queued (not on idempotent repeats): the daemon wakes the worker. */
  onQueued?: (queueId: string) => void;
  /** The daemon's health; default: derived from the mailer's relay and a queue read. */
  health?: () => { ok: boolean; relay: string; capture: boolean; warnings: string[] };
  /** Require a bearer token for /metrics too (default false: counts only, no addresses). */
  metricsRequireToken?: boolean;
  /** Log lines (journald-friendly, one line each): every request at `info`, unexpected errors at `error`. Default: errors to stderr. */
  log?: (level: 'info' | 'warning' | 'error', message: string) => void;
  /** How long close() waits for requests in flight before cutting connections (default 5000 ms). */
  closeGraceMs?: number;
  /** More routes: the consent pages and lists API, the web forms. */
  routes?: ExtraRoute[];
}

export interface HttpApi {
  /** Start listening; resolves with the bound address (the real port when 0 was given). */
  listen(): Promise<{ address: string; port: number }>;
  /** Stop accepting, let requests in flight finish (up to closeGraceMs), then close every connection. */
  close(): Promise<void>;
  /** The underlying server (for the daemon's tuning; tests). */
  readonly server: Server;
}

/** What a handler returns: JSON (`body`), or text with its content type. */
export interface Reply {
  status: number;
  body?: unknown;
  text?: string;
  contentType?: string;
  headers?: Record<string, string>;
}

export interface Context {
  req: IncomingMessage;
  url: URL;
  params: Record<string, string>;
  /** The caller's token (null on routes without auth). */
  token: TokenInfo | null;
}

export type Handler = (c: Context) => Promise<Reply> | Reply;
interface RouteDef {
  auth: boolean;
  handler: Handler;
}

/** A route another part of the daemon adds (consent pages, web forms, lists API). */
export interface ExtraRoute {
  method: string;
  /** `/path/:param` pattern. */
  path: string;
  /** Needs a bearer token (API routes); public pages and forms do not. */
  auth: boolean;
  handler: Handler;
}

const REALM = 'Bearer realm="sendwell"';
const IDEMPOTENCY_KEY = /^[\x21-\x7e]{1,255}$/;

/** Parse "host:port" / "[v6]:port". */
export function parseListen(listen: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(listen.trim());
  const port = m ? Number(m[3]) : NaN;
  if (!m || port > 65535) {
    throw new SendwellError('ECONFIG', `http.listen ${JSON.stringify(listen)} is not "address:port"`, { hint: 'e.g. listen = "127.0.0.1:8025" or "[::1]:8025"' });
  }
  return { host: (m[1] ?? m[2])!, port };
}

const iso = (t: number) => new Date(t).toISOString();

function stateMap(rows: Array<{ address: string; state: RecipientRow['state'] }>): Record<string, RecipientRow['state']> {
  const out: Record<string, RecipientRow['state']> = {};
  for (const r of rows) out[r.address] = r.state;
  return out;
}

function nextAttempt(r: RecipientRow): string | null {
  return r.state === 'queued' || r.state === 'deferred' ? iso(r.nextAttemptAt) : null;
}

/** The Idempotency-Key header (plain or as a quoted sf-string); 400 when malformed. */
function idempotencyKey(req: IncomingMessage): string | undefined {
  const raw = req.headers['idempotency-key'];
  if (raw === undefined) return undefined;
  const value = Array.isArray(raw) ? raw.join(',') : raw;
  const key = /^"[^"]*"$/.test(value) ? value.slice(1, -1) : value;
  if (!IDEMPOTENCY_KEY.test(key)) {
    const err: FieldError = { field: 'Idempotency-Key', detail: 'must be 1-255 printable ASCII characters without spaces', code: 'EUSAGE', hint: 'use e.g. a UUID per logical mail, the same on every retry' };
    throw badRequest([err]);
  }
  return key;
}

export function createHttpApi(options: HttpApiOptions): HttpApi {
  const { mailer, store, credentials } = options;
  const queue = mailer.queue;
  if (!queue) throw new SendwellError('ECONFIG', 'the HTTP API needs a mailer with a queue (stateDir)', { hint: 'create the mailer with stateDir (or config.stateDir)' });
  const log = options.log ?? ((level, message) => level === 'error' && process.stderr.write(`sendwell: http: ${message}\n`));
  const responses = new Map<number, number>();
  const inFlight = new Set<ServerResponse>();

  const router = new Router<RouteDef>();
  const route = (method: string, path: string, auth: boolean, handler: Handler) => router.on(method, path, { auth, handler });

  const defaultHealth = (): Health => {
    const relay = queue.relayName;
    const capture = relay.startsWith('capture:');
    const warnings: string[] = [];
    if (capture) warnings.push(`no relay is configured: mail is captured into ${relay.slice('capture:'.length)}, not sent; configure [relay] (sendwell init)`);
    return { ok: true, relay, capture, warnings };
  };

  route('GET', '/healthz', false, () => {
    const h: Health = { ...(options.health?.() ?? defaultHealth()) };
    h.warnings = [...h.warnings];
    try {
      store.countByState();
    } catch (err) {
      h.ok = false;
      h.warnings.push(`the queue database cannot be read: ${(err as Error).message}`);
    }
    return { status: h.ok ? 200 : 503, body: h };
  });

  route('GET', '/metrics', options.metricsRequireToken ?? false, () => {
    const extra = options.metrics?.() ?? {};
    const relayMode = extra.relayMode ?? queue.relayName.split(':')[0]!;
    const text = renderMetrics({ byState: store.countByState(), ...(extra.worker ? { worker: extra.worker } : {}), relayMode, http: responses });
    return { status: 200, text, contentType: METRICS_CONTENT_TYPE };
  });

  route('GET', '/api/v1/openapi.json', false, () => ({ status: 200, body: openApiDocument(), headers: { 'Cache-Control': 'no-cache' } }));

  route('POST', '/api/v1/messages', true, async ({ req, token }) => {
    const key = idempotencyKey(req);
    requireJson(req);
    const mail = toMail(parseJson(await readBody(req, options.maxBodyBytes)));
    const submitter = `api:${token!.name}`;
    // The key is scoped to the token name: two applications cannot collide or see each other's mail.
    // A key has no spaces, so "<submitter> <key>" is unambiguous.
    const sendOptions: SendOptions & { submitter: string } = { queueOnly: true, submitter, ...(key ? { idempotencyKey: `${submitter} ${key}` } : {}) };
    const result = await mailer.send(mail, sendOptions);
    const queueId = result.queueId;
    if (!queueId) throw new HttpError(500, 'the mailer did not queue the message');
    if (!result.existing) options.onQueued?.(queueId);
    const warnings = reportToJSON({ findings: result.findings, errors: 0, warnings: result.findings.length, ok: true }).findings.filter((f) => f.severity === 'warning');
    const body: SubmitMessageResponse = {
      queue_id: queueId,
      message_id: result.messageId,
      state: stateMap(result.recipients.map((r) => ({ address: r.address, state: r.state ?? 'queued' }))),
      warnings,
      held: result.held ?? [],
      existing: result.existing ?? false,
    };
    return { status: result.existing ? 200 : 202, body, headers: { Location: `/api/v1/messages/${queueId}` } };
  });

  route('GET', '/api/v1/messages/:id', true, ({ params }) => {
    const id = params.id!;
    const m = QUEUE_ID.test(id) ? store.message(id) : null;
    if (!m) throw new HttpError(404, `no message ${JSON.stringify(id)} in the queue`, { hint: 'use the queue_id from POST /api/v1/messages; delivered mail stays until its retention ends' });
    const recipients = store.recipients(id);
    const body: MessageStatus = {
      queue_id: m.id,
      message_id: m.messageId,
      sender: m.envelopeFrom,
      size: m.size,
      created_at: iso(m.createdAt),
      submitter: m.submitter,
      category: m.list ? 'bulk' : 'transactional',
      list: m.list,
      state: stateMap(recipients),
      recipients: recipients.map((r) => ({
        address: r.address,
        state: r.state,
        attempts: r.attempts,
        next_attempt_at: nextAttempt(r),
        last_code: r.lastCode,
        last_dsn: r.lastDsn,
        last_reason: r.lastReason,
        relay_queue_id: r.relayQueueId,
        updated_at: iso(r.updatedAt),
      })),
      attempts: store.attempts(id).map((a) => ({
        address: a.address,
        at: iso(a.at),
        status: a.status,
        code: a.code,
        dsn: a.dsn,
        reply: a.reply,
        relay: a.relay,
        relay_queue_id: a.relayQueueId,
        delay_ms: a.delayMs,
      })),
    };
    return { status: 200, body };
  });

  route('GET', '/api/v1/queue', true, ({ url }) => {
    const raw = url.searchParams.get('limit');
    let limit = 1000;
    if (raw !== null) {
      limit = /^\d{1,5}$/.test(raw) ? Number(raw) : NaN;
      if (!(limit >= 1 && limit <= 10000)) {
        const err: FieldError = { field: 'limit', detail: 'must be an integer from 1 to 10000', code: 'EUSAGE' };
        throw badRequest([err]);
      }
    }
    const now = Date.now();
    const pending = store.pending();
    const body: QueueResponse = {
      count: pending.length,
      truncated: pending.length > limit,
      messages: pending.slice(0, limit).map(({ message, recipients }) => ({
        queue_id: message.id,
        message_id: message.messageId,
        sender: message.envelopeFrom,
        size: message.size,
        created_at: iso(message.createdAt),
        submitter: message.submitter,
        recipients: recipients
          .filter((r) => !isTerminal(r.state))
          .map((r) => ({ address: r.address, state: r.state, attempts: r.attempts, next_attempt_at: nextAttempt(r), reason: waitReason(r, now) })),
      })),
    };
    return { status: 200, body };
  });

  for (const r of options.routes ?? []) route(r.method, r.path, r.auth, r.handler);

  const authenticate = (req: IncomingMessage): TokenInfo => {
    const header = req.headers.authorization;
    if (!header) {
      throw new HttpError(401, 'this endpoint needs a bearer token', {
        hint: 'send Authorization: Bearer sw_...; create a token with `sendwell tokens create NAME`',
        headers: { 'WWW-Authenticate': REALM },
      });
    }
    const m = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(header);
    const token = m ? credentials.checkToken(m[1]!) : null;
    if (!token) {
      // Unknown and revoked tokens get the same answer.
      throw new HttpError(401, m ? 'the bearer token is not valid (unknown or revoked)' : 'the Authorization header is not "Bearer <token>"', {
        hint: 'check the token; `sendwell tokens list` shows which are active',
        headers: { 'WWW-Authenticate': `${REALM}, error="invalid_token"` },
      });
    }
    return token;
  };

  const toHttpError = (err: unknown): HttpError => {
    if (err instanceof HttpError) return err;
    if (err instanceof SendwellError) return fromSendwellError(err);
    log('error', `internal error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
    return new HttpError(500, 'internal error; the server log has the details');
  };

  const send = (req: IncomingMessage, res: ServerResponse, reply: Reply) => {
    // Responses name addresses: no cache keeps them.
    const headers: Record<string, string> = { 'Cache-Control': 'no-store', 'X-Content-Type-Options': 'nosniff', ...reply.headers };
    let payload: string;
    if (reply.text !== undefined) {
      payload = reply.text;
      headers['Content-Type'] = reply.contentType ?? 'text/plain; charset=utf-8';
    } else {
      payload = `${JSON.stringify(reply.body)}\n`;
      headers['Content-Type'] = reply.contentType ?? 'application/json';
    }
    // An unread body must not be drained on a kept-alive connection (it may be huge): close instead.
    if (!req.complete) headers.Connection = 'close';
    responses.set(reply.status, (responses.get(reply.status) ?? 0) + 1);
    res.writeHead(reply.status, { ...headers, 'Content-Length': String(Buffer.byteLength(payload)) });
    res.end(req.method === 'HEAD' ? undefined : payload);
  };

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const started = Date.now();
    let token: TokenInfo | null = null;
    let reply: Reply;
    let path = '?';
    try {
      let url: URL;
      try {
        url = new URL(req.url ?? '/', 'http://localhost');
      } catch {
        throw new HttpError(400, 'the request target is not a valid URL');
      }
      path = url.pathname;
      // HEAD is GET without the body (monitoring probes).
      const match = router.match(req.method === 'HEAD' ? 'GET' : (req.method ?? 'GET'), url.pathname);
      if (match.kind === 'none') throw new HttpError(404, `no such endpoint: ${url.pathname}`, { hint: 'see /api/v1/openapi.json' });
      if (match.kind === 'method') {
        const allow = match.allow.includes('GET') ? [...match.allow, 'HEAD'] : match.allow;
        throw new HttpError(405, `${req.method} is not allowed on ${url.pathname}`, { headers: { Allow: allow.join(', ') } });
      }
      if (match.route.handler.auth) token = authenticate(req);
      reply = await match.route.handler.handler({ req, url, params: match.params, token });
    } catch (err) {
      const e = toHttpError(err);
      reply = { status: e.status, body: e.toProblem(), contentType: PROBLEM_CONTENT_TYPE, headers: e.headers };
    }
    send(req, res, reply);
    const queueId = reply.status < 300 && reply.body && typeof reply.body === 'object' && 'queue_id' in reply.body ? ` queue_id=${String(reply.body.queue_id)}` : '';
    log('info', `${req.method} ${path} ${reply.status} ${Date.now() - started}ms${token ? ` token=${JSON.stringify(token.name)}` : ''}${queueId}`);
  };

  const server = createServer((req, res) => {
    inFlight.add(res);
    res.on('close', () => inFlight.delete(res));
    handle(req, res).catch((err: unknown) => {
      log('error', `response failed: ${(err as Error).message}`);
      res.destroy();
    });
  });
  // Slow clients must not hold connections forever (slowloris).
  server.headersTimeout = 20_000;
  server.requestTimeout = 120_000;

  return {
    server,
    listen() {
      const { host, port } = parseListen(options.listen);
      return new Promise((resolve, reject) => {
        const onError = (err: Error) => reject(new SendwellError('ECONFIG', `cannot listen on ${options.listen}: ${err.message}`, { hint: 'is another process using the port? change [http] listen', cause: err }));
        server.once('error', onError);
        server.listen(port, host, () => {
          server.off('error', onError);
          const a = server.address() as AddressInfo;
          resolve({ address: a.address, port: a.port });
        });
      });
    },
    async close() {
      if (!server.listening) return;
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      const grace = options.closeGraceMs ?? 5000;
      const deadline = Date.now() + grace;
      while (inFlight.size > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      server.closeAllConnections();
      await closed;
    },
  };
}

/**
 * Test harness for the HTTP API: a real server on 127.0.0.1 (port 0), a real
 * SQLite state directory, and a mailer whose relay is `capture:DIR`, so
 * nothing leaves the machine.
 */
import { mkdtempSync, mkdirSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createMailer, type Mailer } from '../../../src/mailer.js';
import type { QueueStore } from '../../../src/queue/store.js';
import type { WorkerMetrics } from '../../../src/queue/worker.js';
import { Credentials } from '../../../src/server/credentials.js';
import { createHttpApi, type HttpApi, type HttpApiOptions } from '../../../src/server/http/index.js';

export interface Harness {
  base: string;
  port: number;
  token: string;
  tokenId: string;
  api: HttpApi;
  mailer: Mailer;
  store: QueueStore;
  credentials: Credentials;
  stateDir: string;
  captureDir: string;
  queued: string[];
  logs: string[];
  close(): Promise<void>;
}

export async function startApi(extra: Partial<HttpApiOptions> & { worker?: WorkerMetrics } = {}): Promise<Harness> {
  const stateDir = mkdtempSync(join(tmpdir(), 'sendwell-http-'));
  const captureDir = join(stateDir, 'captured');
  mkdirSync(captureDir);
  const mailer = createMailer({ stateDir, relay: `capture:${captureDir}` });
  const store = mailer.queue!.store;
  const credentials = new Credentials(stateDir);
  const { id: tokenId, token } = credentials.createToken('wiki');
  const queued: string[] = [];
  const logs: string[] = [];
  const { worker, ...rest } = extra;
  const api = createHttpApi({
    listen: '127.0.0.1:0',
    maxBodyBytes: 64 * 1024,
    mailer,
    store,
    credentials,
    onQueued: (id) => queued.push(id),
    log: (level, message) => logs.push(`${level}: ${message}`),
    ...(worker ? { metrics: () => ({ worker, relayMode: 'capture' }) } : {}),
    ...rest,
  });
  const { port } = await api.listen();
  return {
    base: `http://127.0.0.1:${port}`,
    port,
    token,
    tokenId,
    api,
    mailer,
    store,
    credentials,
    stateDir,
    captureDir,
    queued,
    logs,
    async close() {
      await api.close();
      await mailer.close();
      credentials.close();
    },
  };
}

export interface RawResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/**
 * A request through node:http, for what fetch does not allow: streaming a
 * body without Content-Length and reading the answer before it is all sent.
 */
export function rawRequest(
  port: number,
  opts: { method: string; path: string; headers?: Record<string, string>; body?: Buffer | string; chunks?: AsyncIterable<Buffer> },
): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, method: opts.method, path: opts.path, headers: opts.headers ?? {} }, (res) => {
      const parts: Buffer[] = [];
      res.on('data', (c: Buffer) => parts.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(parts).toString('utf8') }));
      res.on('error', reject);
    });
    // The server may close the connection while we still write (413): the response is what counts.
    req.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code !== 'EPIPE' && err.code !== 'ECONNRESET') reject(err);
    });
    if (opts.chunks) {
      void (async () => {
        try {
          for await (const c of opts.chunks!) {
            if (req.destroyed || req.writableEnded) return;
            if (!req.write(c)) await new Promise((r) => req.once('drain', r));
          }
          req.end();
        } catch {
          // The server closed the connection.
        }
      })();
    } else {
      req.end(opts.body);
    }
  });
}

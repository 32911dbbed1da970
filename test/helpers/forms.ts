/**
 * A `serve`-like server for the form tests: the HTTP API with the form
 * routes and a double opt-in, a real SQLite state directory, and a relay
 * pointing to an in-process SMTP sink on 127.0.0.1 (nothing leaves the
 * machine). Each queued message is delivered at once. The double opt-in is
 * the real ConsentService behind its real /confirm pages (consentRoutes).
 */
import { mkdtempSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseConfigText, resolveConfig, validateConfig, type ResolvedConfig } from '../../src/config/load.js';
import { createForms, type Forms } from '../../src/forms/routes.js';
import { createMailer, type Mailer } from '../../src/mailer.js';
import { Credentials } from '../../src/server/credentials.js';
import { clientIpResolver } from '../../src/server/http/client-ip.js';
import { createHttpApi, type HttpApi } from '../../src/server/http/index.js';
import { startSmtpServer, type TestServer } from './smtp-server.js';
import { consentRoutes } from '../../src/consent/routes.js';
import { ConsentService } from '../../src/consent/service.js';

export interface FormsHarness {
  base: string;
  port: number;
  stateDir: string;
  sink: TestServer;
  forms: Forms;
  mailer: Mailer;
  api: HttpApi;
  token: string;
  logs: string[];
  config: ResolvedConfig;
  consent: ConsentService;
  /** Wait until every queued message was handed to the sink (or failed). */
  settle(): Promise<void>;
  close(): Promise<void>;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

/** `formsToml`: the [forms.*] tables (and anything else) appended to a base config. */
export async function startForms(formsToml: string, opts: { clock?: () => number; /** More [http] keys, e.g. trusted_proxies. */ http?: string } = {}): Promise<FormsHarness> {
  const stateDir = mkdtempSync(join(tmpdir(), 'sendwell-forms-'));
  const sink = await startSmtpServer();
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const text = `[relay]\nurl = "${sink.url('smtp', 'tls=never')}"\n[sender]\nfrom = "Web site <www@example.test>"\n[http]\nlisten = "127.0.0.1:${port}"\npublic_url = "${base}"\n${opts.http ?? ''}\n[limits]\nper_recipient_per_hour = 0\n${formsToml}`;
  const config = resolveConfig(validateConfig(parseConfigText(text, 'test.toml'), 'test.toml'), 'test.toml');
  const mailer = createMailer({ config: { ...config, stateDir }, stateDir, maildrop: false });
  const inflight = new Set<Promise<unknown>>();
  const onQueued = (id: string) => {
    const p = mailer.queue!.deliverNow(id).catch(() => undefined);
    inflight.add(p);
    void p.finally(() => inflight.delete(p));
  };
  const logs: string[] = [];
  const log = (level: string, line: string) => logs.push(`${level}: ${line}`);
  const consent = ConsentService.fromConfig(config, stateDir, {
    send: async (mail, submitter) => {
      const r = await mailer.send(mail, { queueOnly: true, submitter });
      if (r.queueId) onQueued(r.queueId);
    },
    ...(opts.clock ? { clock: opts.clock } : {}),
  });
  const forms = createForms({ config, mailer, confirmations: consent, stateDir, clientIp: clientIpResolver(config.http.trustedProxies), onQueued, log, ...(opts.clock ? { clock: opts.clock } : {}) });
  const credentials = new Credentials(stateDir);
  const { token } = credentials.createToken('review');
  const api = createHttpApi({ listen: config.http.listen, maxBodyBytes: config.http.maxBodyBytes, mailer, store: mailer.queue!.store, credentials, routes: [...forms.routes, ...consentRoutes({ consent, mailer, clientIp: clientIpResolver(config.http.trustedProxies), maxBodyBytes: config.http.maxBodyBytes })], log });
  await api.listen();
  return {
    base,
    port,
    stateDir,
    sink,
    forms,
    mailer,
    api,
    token,
    logs,
    config,
    consent,
    async settle() {
      while (inflight.size) await Promise.all([...inflight]);
    },
    async close() {
      await api.close();
      while (inflight.size) await Promise.all([...inflight]);
      forms.close();
      consent.close();
      await mailer.close();
      credentials.close();
      await sink.close();
    },
  };
}

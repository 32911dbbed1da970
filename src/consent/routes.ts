/**
 * Consent over HTTP. Public pages (no token, no cookies, no scripts, no
 * redirects): `/confirm/{token}` and `/u/{token}` show a page with a button on
 * GET and act only on POST, so link scanners that fetch every URL in a mail
 * confirm and unsubscribe nobody. `POST /u/{token}` is also the RFC 8058
 * one-click endpoint. Under `/api/v1/lists` (bearer token): lists,
 * subscriptions with proof (JSON or CSV), and list mail.
 */
import { SendwellError } from '../errors.js';
import type { Mailer } from '../mailer.js';
import { readBody } from '../server/http/body.js';
import type { ClientIpResolver } from '../server/http/client-ip.js';
import { badRequest, HttpError } from '../server/http/errors.js';
import type { Context, ExtraRoute, Reply } from '../server/http/api.js';
import { buttonPage, escapeHtml, page, PAGE_HEADERS } from '../server/http/page.js';
import { parseJson, requireJson } from '../server/http/body.js';
import { toMail, zodIssuesToErrors } from '../server/http/validate.js';
import { CreateListRequest, SubscribeRequest } from './api-schemas.js';
import { subscriptionsToCsv } from './csv.js';
import type { ConsentService, Subscription } from './service.js';

export interface ConsentRoutesOptions {
  consent: ConsentService;
  mailer: Mailer;
  clientIp: ClientIpResolver;
  maxBodyBytes: number;
  /** Wake the worker after list mail was queued. */
  onQueued?: () => void;
}

const html = (status: number, text: string): Reply => ({ status, text, contentType: 'text/html; charset=utf-8', headers: PAGE_HEADERS });
const iso = (t: number | null) => (t === null ? null : new Date(t).toISOString());
const ua = (c: Context) => {
  const v = c.req.headers['user-agent'];
  return typeof v === 'string' ? v.slice(0, 300) : undefined;
};

const GONE: Record<'unknown' | 'used' | 'expired', [number, string]> = {
  unknown: [404, 'This confirmation link is not known. Check that the whole link from the mail was opened.'],
  used: [410, 'This confirmation link has already been used. Nothing more needs to be done.'],
  expired: [410, 'This confirmation link has expired. Sign up again to get a new one.'],
};

export function subscriptionJson(s: Subscription) {
  return {
    email: s.addressInput || s.address,
    status: s.status,
    source: s.source,
    channel: s.channel,
    consent_text: s.consentText,
    signup_at: iso(s.signupAt)!,
    signup_ip: s.signupIp,
    confirmed_at: iso(s.confirmedAt),
    confirm_ip: s.confirmIp,
    confirm_method: s.confirmMethod,
    unsubscribed_at: iso(s.unsubscribedAt),
    unsubscribe_method: s.unsubscribeMethod,
  };
}

function parseWith<T>(schema: { safeParse(v: unknown): { success: true; data: T } | { success: false; error: { issues: Parameters<typeof zodIssuesToErrors>[0] } } }, body: unknown): T {
  const r = schema.safeParse(body);
  if (!r.success) throw badRequest(zodIssuesToErrors(r.error.issues));
  return r.data;
}

/** A SendwellError from the consent layer as a 400/404/422 problem. */
function asHttp(err: unknown): never {
  if (err instanceof SendwellError && err.code === 'EUSAGE' && /^there is no list/.test(err.message)) throw new HttpError(404, err.message, { ...(err.hint ? { hint: err.hint } : {}) });
  if (err instanceof SendwellError && (err.code === 'EUSAGE' || err.code === 'EADDRESS')) throw new HttpError(400, err.message, { ...(err.hint ? { hint: err.hint } : {}) });
  throw err;
}

export function consentRoutes(o: ConsentRoutesOptions): ExtraRoute[] {
  const { consent } = o;
  const routes: ExtraRoute[] = [];
  const on = (method: string, path: string, auth: boolean, handler: ExtraRoute['handler']) => routes.push({ method, path, auth, handler });

  on('GET', '/confirm/:token', false, (c) => {
    const v = consent.viewToken(c.params.token!);
    if (!v.ok) return html(GONE[v.why][0], page('Confirmation', `<p>${escapeHtml(GONE[v.why][1])}</p>`));
    return html(200, buttonPage('Please confirm', `<p>Confirm that you want to ${escapeHtml(v.title)} with the address <b>${escapeHtml(v.address)}</b>.</p>`, '', 'Confirm'));
  });

  on('POST', '/confirm/:token', false, async (c) => {
    await readBody(c.req, 16 * 1024);
    const v = await consent.confirm(c.params.token!, { ip: o.clientIp(c.req), ...(ua(c) ? { userAgent: ua(c)! } : {}) });
    if (!v.ok) return html(GONE[v.why][0], page('Confirmation', `<p>${escapeHtml(GONE[v.why][1])}</p>`));
    return html(200, page('Confirmed', `<p>Thank you: confirmed for <b>${escapeHtml(v.address)}</b>.</p>`));
  });

  on('GET', '/u/:token', false, (c) => {
    const sub = consent.store.byUnsubToken(c.params.token!);
    if (!sub) return html(404, page('Unsubscribe', '<p>This unsubscribe link is not known. Check that the whole link from the mail was opened.</p>'));
    const name = consent.store.list(sub.list)?.description ?? sub.list;
    if (sub.status === 'unsubscribed') return html(200, page('Unsubscribed', `<p><b>${escapeHtml(sub.address)}</b> gets no more mail from ${escapeHtml(name)}.</p>`));
    return html(200, buttonPage('Unsubscribe', `<p>Stop mail from ${escapeHtml(name)} to <b>${escapeHtml(sub.address)}</b>?</p>`, '', 'Unsubscribe'));
  });

  // RFC 8058: the POST carries no cookies or authorisation; the token is the proof. Answer 200, never a redirect.
  on('POST', '/u/:token', false, async (c) => {
    const body = (await readBody(c.req, 16 * 1024)).toString('latin1');
    const oneClick = /(^|&|\r\n\r\n|\n\n)List-Unsubscribe=One-Click(\r?\n|&|$)/.test(body) || /name="List-Unsubscribe"\r?\n\r?\nOne-Click/.test(body);
    const sub = consent.unsubscribeByToken(c.params.token!, oneClick ? 'one-click' : 'page', { ip: o.clientIp(c.req), ...(ua(c) ? { userAgent: ua(c)! } : {}) });
    if (!sub) return html(404, page('Unsubscribe', '<p>This unsubscribe link is not known.</p>'));
    const name = consent.store.list(sub.list)?.description ?? sub.list;
    return html(200, page('Unsubscribed', `<p><b>${escapeHtml(sub.address)}</b> gets no more mail from ${escapeHtml(name)}.</p>`));
  });

  on('GET', '/api/v1/lists', true, () => ({
    status: 200,
    body: {
      lists: consent.lists().map((l) => ({ name: l.name, reason: l.reason, double_opt_in: l.doubleOptIn, description: l.description, from_config: l.fromConfig, counts: l.counts })),
    },
  }));

  on('POST', '/api/v1/lists', true, async (c) => {
    requireJson(c.req);
    const req = parseWith(CreateListRequest, parseJson(await readBody(c.req, 64 * 1024)));
    try {
      const l = consent.createList(req.name, { reason: req.reason, ...(req.double_opt_in !== undefined ? { doubleOptIn: req.double_opt_in } : {}), ...(req.description ? { description: req.description } : {}) });
      return { status: 201, body: { name: l.name, reason: l.reason, double_opt_in: l.doubleOptIn, description: l.description, from_config: false, counts: consent.store.counts(l.name) }, headers: { Location: `/api/v1/lists/${l.name}` } };
    } catch (err) {
      return asHttp(err);
    }
  });

  on('GET', '/api/v1/lists/:name/subscribers', true, (c) => {
    const status = c.url.searchParams.get('status');
    if (status !== null && !['pending', 'confirmed', 'unsubscribed'].includes(status)) {
      throw badRequest([{ field: 'status', detail: 'must be pending, confirmed or unsubscribed', code: 'EUSAGE' }]);
    }
    let subs: Subscription[];
    try {
      subs = consent.subscriptions(c.params.name!, (status ?? undefined) as Subscription['status'] | undefined);
    } catch (err) {
      return asHttp(err);
    }
    const accept = String(c.req.headers.accept ?? '');
    if (c.url.searchParams.get('format') === 'csv' || /^text\/csv/.test(accept)) {
      return { status: 200, text: subscriptionsToCsv(subs), contentType: 'text/csv; charset=utf-8', headers: { 'Content-Disposition': `attachment; filename="${c.params.name}-consent.csv"` } };
    }
    return { status: 200, body: { list: c.params.name, subscribers: subs.map(subscriptionJson) } };
  });

  on('POST', '/api/v1/lists/:name/subscribers', true, async (c) => {
    const type = String(c.req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
    if (type === 'text/csv') {
      // An import with proof columns, as `sendwell consent import`: all rows or none.
      const { parseConsentCsv } = await import('./csv.js');
      try {
        const rows = parseConsentCsv((await readBody(c.req, o.maxBodyBytes)).toString('utf8'), 'the request body');
        const r = consent.importRows(c.params.name!, rows, `api:${c.token!.name}`, { allOrNothing: true });
        if (r.skipped.length) {
          throw new HttpError(422, `${r.skipped.length} row(s) are invalid; nothing was imported`, { hint: r.skipped.map((s) => `line ${s.line} (${s.email || 'no email'}): ${s.reason}`).join('; ').slice(0, 2000) });
        }
        return { status: 200, body: { imported: r.imported, updated: r.updated } };
      } catch (err) {
        if (err instanceof HttpError) throw err;
        return asHttp(err);
      }
    }
    requireJson(c.req);
    const req = parseWith(SubscribeRequest, parseJson(await readBody(c.req, 64 * 1024)));
    try {
      const r = await consent.subscribe(c.params.name!, req.email, {
        source: req.source ?? `api:${c.token!.name}`,
        channel: 'api',
        ...(req.consent_text ? { consentText: req.consent_text } : {}),
        ...(req.ip ? { ip: req.ip } : {}),
        ...(req.user_agent ? { userAgent: req.user_agent } : {}),
      });
      if (r.confirmationSent) o.onQueued?.();
      return { status: 202, body: { status: r.status, confirmation_sent: r.confirmationSent } };
    } catch (err) {
      return asHttp(err);
    }
  });

  on('DELETE', '/api/v1/lists/:name/subscribers/:email', true, (c) => {
    let sub: Subscription | null;
    try {
      sub = consent.revoke(c.params.name!, c.params.email!, 'admin', `api:${c.token!.name}`);
    } catch (err) {
      return asHttp(err);
    }
    if (!sub) throw new HttpError(404, `${c.params.email} has no subscription to ${c.params.name}`);
    return { status: 200, body: subscriptionJson(sub) };
  });

  on('POST', '/api/v1/lists/:name/messages', true, async (c) => {
    requireJson(c.req);
    const body = parseJson(await readBody(c.req, o.maxBodyBytes));
    const mail = toMail(body, { recipientsRequired: false });
    const to = mail.to;
    delete mail.to;
    const key = c.req.headers['idempotency-key'];
    try {
      const r = await o.mailer.sendToList(c.params.name!, mail, {
        queueOnly: true,
        submitter: `api:${c.token!.name}`,
        ...(to !== undefined ? { to } : {}),
        ...(typeof key === 'string' && /^[\x21-\x7e]{1,255}$/.test(key) ? { idempotencyKey: `api:${c.token!.name} ${key}` } : {}),
      });
      if (r.sent.some((s) => !s.existing)) o.onQueued?.();
      return {
        status: 202,
        body: { list: r.list, sent: r.sent.map((s) => ({ address: s.address, queue_id: s.queueId, message_id: s.messageId, existing: s.existing })), refused: r.refused },
      };
    } catch (err) {
      return asHttp(err);
    }
  });

  return routes;
}

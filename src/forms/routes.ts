/**
 * Web forms on the `serve` HTTP server (R10):
 *
 * | method | path                              | auth  |                                           |
 * |--------|-----------------------------------|-------|-------------------------------------------|
 * | GET    | /forms/{name}                     | none  | the plain-HTML example form               |
 * | GET    | /forms/{name}/widget.js           | none  | the form's script (token + proof of work) |
 * | GET    | /forms/{name}/challenge           | none  | time token + ALTCHA challenge (JSON)      |
 * | POST   | /forms/{name}                     | none  | a submission                              |
 * | GET    | /api/v1/forms/{name}/submissions  | token | the review list                           |
 *
 * A submission goes only to the form's fixed recipients. Every check is
 * logged with its verdict (one line per submission) and every submission is
 * stored; refused and quarantined ones are never mailed. Hard checks (time
 * token, proof of work) fail closed: if they cannot be verified, the
 * submission is refused.
 */
import type { IncomingMessage } from 'node:http';
import { SendwellError } from '../errors.js';
import { parseAddrSpec } from '../message/address.js';
import type { ResolvedConfig } from '../config/load.js';
import type { Mailer } from '../mailer.js';
import type { ExtraRoute, Reply } from '../server/http/api.js';
import { readBody } from '../server/http/body.js';
import { rateKeyOf, type ClientIpResolver } from '../server/http/client-ip.js';
import { badRequest, fieldError, HttpError, PROBLEM_CONTENT_TYPE } from '../server/http/errors.js';
import { escapeHtml, page, PAGE_HEADERS } from '../server/http/page.js';
import { contentScore } from './score.js';
import { resolveForm, type FormSettings } from './settings.js';
import { FormStore, type Verdict } from './store.js';
import { checkTimeToken, createChallenge, issueTimeToken, loadFormKey, verifySolution } from './tokens.js';
import { FORM_PAGE_HEADERS, formPage, WIDGET_JS } from './widget.js';

export const RECEIPT_PURPOSE = 'form-receipt';

/** The double opt-in the receipt waits for (the consent service; see src/consent). */
export interface ReceiptConfirmations {
  requestConfirmation(input: { purpose: string; address: string; payload: Record<string, unknown>; ip: string; userAgent?: string; title: string }): Promise<{ sent: boolean }>;
  onConfirmed(purpose: string, handler: (c: { address: string; payload: Record<string, unknown>; ip: string; userAgent?: string; at: number }) => Promise<void>): void;
  /** Sign-up forms (`subscribe = "LIST"`): record the sign-up with its proof; the consent service mails the confirmation link. */
  subscribe?(list: string, address: string, proof: { source: string; channel: 'form'; consentText?: string; ip?: string; userAgent?: string }): Promise<{ status: string; confirmationSent: boolean }>;
  requireList?(name: string): unknown;
}

export interface FormsOptions {
  config: Pick<ResolvedConfig, 'forms' | 'http' | 'sender'>;
  /** A mailer with a queue: submissions and receipts are queued (`queueOnly`), the worker delivers. */
  mailer: Mailer;
  /** Needed when a form has `receipt = true`. */
  confirmations?: ReceiptConfirmations;
  stateDir: string;
  clientIp: ClientIpResolver;
  onQueued?: (queueId: string) => void;
  log: (level: 'info' | 'warning' | 'error', line: string) => void;
  clock?: () => number;
}

export interface Forms {
  routes: ExtraRoute[];
  store: FormStore;
  settings: Map<string, FormSettings>;
  close(): void;
}

const EMAIL = /^[^\s@<>(),;:"\\[\]]+@[^\s@<>(),;:"\\[\]]+\.[^\s@<>(),;:"\\[\]]+$/;

/** The shape check, then the same strict parser the mail is built with: what passes here can be mailed. */
function isMailbox(v: string): boolean {
  if (!EMAIL.test(v)) return false;
  try {
    parseAddrSpec('email', v);
    return true;
  } catch {
    return false;
  }
}
// Control characters other than tab and newline have no place in a form field.
const CONTROL = /[\u0000-\u0008\u000b-\u001f\u007f\u2028\u2029]/;

/** What the visitor reads for each refusal: what happened and what to do. */
const REFUSAL_TEXT: Record<string, string> = {
  'token-missing': 'This form needs JavaScript to send (it proves that you are not a bot, without cookies or third parties). Please turn JavaScript on and reload the page.',
  'token-invalid': 'The form could not be verified. Please reload the page and send it again.',
  'token-expired': 'The form was open for too long. Please reload the page and send it again (copy your text first).',
  'too-fast': 'The form was sent too quickly after the page loaded. Please wait a few seconds and send it again.',
  'token-replay': 'This form was already sent. Please reload the page to send another message.',
  'pow-missing': 'This form needs JavaScript to send (a small computation in your browser proves that you are not a bot). Please turn JavaScript on and reload the page.',
  'pow-replay': 'This form was already sent. Please reload the page to send another message.',
  pow: 'The form could not be verified. Please reload the page and send it again.',
  'check-error': 'The form cannot be checked right now, so nothing was sent. Please try again later.',
  'rate-ip': 'Too many messages were sent from your network. Please try again later.',
  'rate-address': 'Too many messages were sent with this e-mail address today. Please try again tomorrow.',
};

interface Outcome {
  verdict: Verdict;
  status: number;
  reasons: string[];
  score: number;
  /** Shown to the visitor when refused. */
  message?: string;
  retryAfterS?: number;
  fieldErrors?: ReturnType<typeof fieldError>[];
}

export function createForms(o: FormsOptions): Forms {
  const now = o.clock ?? Date.now;
  const publicUrl = o.config.http.publicUrl;
  const settings = new Map<string, FormSettings>();
  for (const [name, f] of Object.entries(o.config.forms)) {
    const s = resolveForm(name, f, { ...(publicUrl ? { publicUrl } : {}), ...(o.config.sender.from ? { senderFrom: o.config.sender.from } : {}) });
    if (s.subscribe) {
      if (!o.confirmations?.subscribe) throw new SendwellError('ECONFIG', `forms.${name}: subscribe needs the consent service, which this server does not have`, { hint: 'run the form through `sendwell serve`' });
      try {
        o.confirmations.requireList?.(s.subscribe);
      } catch (err) {
        throw new SendwellError('ECONFIG', `forms.${name}: subscribe = "${s.subscribe}": ${(err as Error).message}`, { hint: `define [lists.${s.subscribe}] in the config` });
      }
    }
    if (s.receipt && !o.confirmations) {
      throw new SendwellError('ECONFIG', `forms.${name}: receipt = true needs the double opt-in (consent) service, which this server does not have`, { hint: `set forms.${name}.receipt = false, or run the receipt through \`sendwell serve\`` });
    }
    settings.set(name, s);
  }
  if (!o.mailer.queue) throw new SendwellError('ECONFIG', 'web forms need a mailer with a queue (stateDir)');
  const store = new FormStore(o.stateDir);
  const retention = Object.fromEntries([...settings].map(([n, s]) => [n, s.reviewRetentionMs]));
  // The key is read per use: a key made unreadable must refuse submissions (fail closed), not be cached past it.
  const key = () => loadFormKey(o.stateDir);
  const base = publicUrl ?? '';

  const form = (name: string | undefined): FormSettings => {
    const s = name ? settings.get(name) : undefined;
    if (!s) throw new HttpError(404, `no form ${JSON.stringify(name)}`, { hint: 'forms are defined in sendwell.toml as [forms.NAME]' });
    return s;
  };

  const queue = async (mail: Parameters<Mailer['send']>[0], submitter: string): Promise<string> => {
    const r = await o.mailer.send(mail, { queueOnly: true, submitter });
    if (!r.queueId) throw new Error('the mailer did not queue the message');
    o.onQueued?.(r.queueId);
    return r.queueId;
  };

  o.confirmations?.onConfirmed(RECEIPT_PURPOSE, async (c) => {
    const s = settings.get(String(c.payload.form));
    const sub = store.get(String(c.payload.submission));
    // Only for an accepted submission, to the address it named, once.
    if (!s || !s.receipt || !sub || sub.verdict !== 'accepted' || sub.form !== s.name || !s.receiptField) {
      o.log('warning', `form receipt: no receipt for submission ${JSON.stringify(c.payload.submission)} (unknown, not accepted, or receipts are off)`);
      return;
    }
    if ((sub.fields[s.receiptField] ?? '').toLowerCase() !== c.address.toLowerCase()) {
      o.log('warning', `form ${s.name}: receipt for ${sub.id} refused: the confirmed address is not the submission's`);
      return;
    }
    if (sub.receipt === 'sent') return;
    const queueId = await queue(receiptMail(s, c.address, sub.receivedAt), `form:${s.name}`);
    store.setReceipt(sub.id, 'sent');
    o.log('info', `form ${s.name}: receipt for ${sub.id} queued ${queueId}`);
  });

  /** All checks, in order of cost; returns the verdict with every reason seen. */
  const evaluate = (s: FormSettings, req: IncomingMessage, fields: Record<string, string>, raw: Record<string, string>, ip: string, at: number): Outcome => {
    const reasons: string[] = [];
    const refuse = (status: number, reason: string, extra: Partial<Outcome> = {}): Outcome => ({ verdict: 'refused', status, reasons: [...reasons, reason], score: 0, message: REFUSAL_TEXT[reason.replace(/:.*$/, '')] ?? REFUSAL_TEXT.pow!, ...extra });

    if (s.perIpPerHour > 0) {
      const hit = store.hit(`ip:${s.name}:${rateKeyOf(ip)}`, 3_600_000, at);
      if (hit.count > s.perIpPerHour) return refuse(429, 'rate-ip', { retryAfterS: Math.ceil((hit.resetAt - at) / 1000) });
    }
    // Bots that fill the hidden field get the same answer as people: nothing tells them to adapt.
    if (s.honeypot && (raw[s.honeypot] ?? '') !== '') return { verdict: 'quarantined', status: 200, reasons: ['honeypot'], score: 0 };

    let k: Buffer;
    try {
      k = key();
    } catch (err) {
      o.log('error', `form ${s.name}: the form key cannot be used, submissions are refused: ${(err as Error).message}${err instanceof SendwellError && err.hint ? ` (${err.hint})` : ''}`);
      return refuse(503, 'check-error', { retryAfterS: 300 });
    }
    const t = checkTimeToken(k, s.name, raw._token, at, s.minFillMs, s.tokenMaxAgeMs);
    if (!t.ok) return refuse(403, t.reason);
    let powChallenge: { challenge: string; expiresAt: number } | undefined;
    if (s.pow) {
      const p = verifySolution(k, s.name, raw.altcha, at);
      if (!p.ok) return refuse(403, p.reason);
      powChallenge = p;
    }

    const errors = validateFields(s, fields);
    if (errors.length) return refuse(400, 'invalid-fields', { fieldErrors: errors, message: 'Please correct the fields below and send again.' });

    // Spent only now: a visitor going back to fix a field keeps a usable token.
    if (!store.spend(`token:${s.name}:${t.id}`, t.issued + s.tokenMaxAgeMs)) return refuse(403, 'token-replay');
    if (powChallenge && !store.spend(`pow:${powChallenge.challenge}`, powChallenge.expiresAt)) return refuse(403, 'pow-replay');

    const address = s.receiptField ? fields[s.receiptField] : undefined;
    if (address && s.perAddressPerDay > 0) {
      const hit = store.hit(`address:${s.name}:${address.toLowerCase()}`, 86_400_000, at);
      if (hit.count > s.perAddressPerDay) return refuse(429, 'rate-address', { retryAfterS: Math.ceil((hit.resetAt - at) / 1000) });
    }
    const header = (h: string) => {
      const v = req.headers[h];
      return Array.isArray(v) ? v[0] : v;
    };
    const origin = header('origin');
    const referer = header('referer');
    const sc = contentScore(fields, s.fields, { ...(origin ? { origin } : {}), ...(referer ? { referer } : {}), allowedOrigins: s.allowedOrigins });
    reasons.push(...sc.reasons);
    if (sc.score >= s.scoreThreshold) return { verdict: 'quarantined', status: 200, reasons: [...reasons, `score>=${s.scoreThreshold}`], score: sc.score };
    return { verdict: 'accepted', status: 200, reasons, score: sc.score };
  };

  const submit = async (name: string | undefined, req: IncomingMessage): Promise<Reply> => {
    const s = form(name);
    const at = now();
    const ip = o.clientIp(req);
    const json = wantsJson(req);
    // The largest honest body: every field at its maximum, 4 bytes a character, plus the tokens.
    const limit = s.fields.reduce((n, f) => n + f.maxLength * 4 * 3, 0) + 8192;
    const raw = parseForm(req, await readBody(req, limit));
    const fields: Record<string, string> = {};
    for (const f of s.fields) fields[f.name] = normalize(raw[f.name] ?? '', f.type === 'textarea');
    const ua = req.headers['user-agent']?.slice(0, 300);
    store.prune(at, retention);

    const out = evaluate(s, req, fields, raw, ip, at);
    const id = store.record({ form: s.name, receivedAt: at, ip, userAgent: ua ?? null, verdict: out.verdict, score: out.score, reasons: out.reasons, fields: clip(fields, s) });
    o.log(out.verdict === 'accepted' ? 'info' : 'warning', `form ${s.name}: ip=${ip} verdict=${out.verdict} score=${out.score} reasons=${out.reasons.join(',') || '-'} id=${id}`);

    if (out.verdict === 'accepted' && s.subscribe && s.receiptField && o.confirmations?.subscribe) {
      const referer = req.headers.referer;
      // The answer is the same whatever the address's state: the page does not tell who is subscribed.
      try {
        const r = await o.confirmations.subscribe(s.subscribe, fields[s.receiptField]!, { source: `form:${s.name}${typeof referer === 'string' ? ` ${referer.slice(0, 300)}` : ''}`, channel: 'form', ...(s.consentText ? { consentText: s.consentText } : {}), ip, ...(ua ? { userAgent: ua } : {}) });
        o.log('info', `form ${s.name}: sign-up ${id} for list ${s.subscribe}: ${r.status}${r.confirmationSent ? ', confirmation mailed' : ''}`);
      } catch (err) {
        o.log('error', `form ${s.name}: sign-up ${id} could not be recorded: ${(err as Error).message}`);
        throw new HttpError(503, 'the sign-up could not be recorded', { hint: 'try again in a few minutes', headers: { 'Retry-After': '60' } });
      }
    }
    if (out.verdict === 'accepted' && s.recipients.length) {
      try {
        const queueId = await queue(ownerMail(s, fields, { id, ip, at, score: out.score, reasons: out.reasons }), `form:${s.name}`);
        store.setQueueId(id, queueId);
      } catch (err) {
        o.log('error', `form ${s.name}: submission ${id} could not be queued: ${(err as Error).message}`);
        throw new HttpError(503, 'the message could not be queued; nothing was sent', { hint: 'try again in a few minutes', headers: { 'Retry-After': '60' } });
      }
      const address = s.receipt && s.receiptField ? fields[s.receiptField] : '';
      if (address && o.confirmations) {
        try {
          const r = await o.confirmations.requestConfirmation({ purpose: RECEIPT_PURPOSE, address, payload: { form: s.name, submission: id, at }, ip, ...(ua ? { userAgent: ua } : {}), title: `get a receipt for your message sent via ${s.title}` });
          store.setReceipt(id, r.sent ? 'requested' : 'not-requested');
        } catch (err) {
          // The message reached the recipients; only the receipt is lost.
          store.setReceipt(id, 'failed');
          o.log('warning', `form ${s.name}: receipt confirmation for ${id} failed: ${(err as Error).message}`);
        }
      }
    }
    if (out.verdict === 'refused') return refusal(s, out, json);
    return success(s, json);
  };

  const routes: ExtraRoute[] = [
    {
      method: 'GET',
      path: '/forms/:name',
      auth: false,
      handler: ({ params }) => ({ status: 200, text: formPage(form(params.name), base), contentType: 'text/html; charset=utf-8', headers: FORM_PAGE_HEADERS }),
    },
    {
      method: 'GET',
      path: '/forms/:name/widget.js',
      auth: false,
      handler: ({ params }) => {
        form(params.name);
        return { status: 200, text: WIDGET_JS, contentType: 'text/javascript; charset=utf-8', headers: { 'Cache-Control': 'public, max-age=3600', 'Cross-Origin-Resource-Policy': 'cross-origin' } };
      },
    },
    {
      method: 'GET',
      path: '/forms/:name/challenge',
      auth: false,
      handler: ({ params, req }) => {
        const s = form(params.name);
        const at = now();
        let k: Buffer;
        try {
          k = key();
        } catch (err) {
          o.log('error', `form ${s.name}: the form key cannot be used: ${(err as Error).message}`);
          throw new HttpError(503, 'the form cannot be prepared right now', { hint: 'the server log says why (the form key in the state directory)', headers: { 'Retry-After': '300' } });
        }
        const body = { token: issueTimeToken(k, s.name, at), ...(s.pow ? createChallenge(k, s.name, s.powMaxNumber, at + s.tokenMaxAgeMs) : {}) };
        return { status: 200, body, headers: cors(s, req) };
      },
    },
    { method: 'POST', path: '/forms/:name', auth: false, handler: ({ params, req }) => submit(params.name, req) },
    {
      method: 'GET',
      path: '/api/v1/forms/:name/submissions',
      auth: true,
      handler: ({ params, url }) => {
        const s = form(params.name);
        const verdict = url.searchParams.get('verdict');
        if (verdict !== null && !['accepted', 'refused', 'quarantined'].includes(verdict)) throw badRequest([fieldError(['verdict'], 'must be accepted, refused or quarantined', 'EUSAGE')]);
        const limit = Math.min(Number(url.searchParams.get('limit') ?? 100) || 100, 1000);
        const rows = store.list(s.name, { ...(verdict ? { verdict: verdict as Verdict } : {}), limit });
        return {
          status: 200,
          body: {
            form: s.name,
            count: rows.length,
            submissions: rows.map((r) => ({
                id: r.id,
                received_at: new Date(r.receivedAt).toISOString(),
                ip: r.ip,
                user_agent: r.userAgent,
                verdict: r.verdict,
                score: r.score,
                reasons: r.reasons,
                fields: r.fields,
                queue_id: r.queueId,
                receipt: r.receipt,
              })),
          },
        };
      },
    },
  ];

  return { routes, store, settings, close: () => store.close() };
}

function cors(s: FormSettings, req: IncomingMessage): Record<string, string> {
  const origin = req.headers.origin;
  // The challenge is no secret; limiting the origins only keeps other sites from embedding the form.
  if (!s.allowedOrigins.length) return { 'Access-Control-Allow-Origin': '*' };
  if (origin && s.allowedOrigins.includes(origin)) return { 'Access-Control-Allow-Origin': origin, Vary: 'Origin' };
  return { Vary: 'Origin' };
}

function wantsJson(req: IncomingMessage): boolean {
  const accept = req.headers.accept ?? '';
  return /application\/(?:[\w.+-]*\+)?json/.test(accept) && !/text\/html/.test(accept);
}

function parseForm(req: IncomingMessage, body: Buffer): Record<string, string> {
  const type = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(body);
  } catch {
    throw badRequest([fieldError([], 'the body is not valid UTF-8', 'EUSAGE')]);
  }
  const out: Record<string, string> = {};
  if (type === 'application/x-www-form-urlencoded') {
    for (const [k, v] of new URLSearchParams(text)) if (!(k in out)) out[k] = v;
    return out;
  }
  if (type === 'application/json') {
    let v: unknown;
    try {
      v = JSON.parse(text);
    } catch (err) {
      throw badRequest([fieldError([], `malformed JSON: ${(err as Error).message}`, 'EUSAGE')]);
    }
    if (!v || typeof v !== 'object' || Array.isArray(v)) throw badRequest([fieldError([], 'must be a JSON object of field names to strings', 'EUSAGE')]);
    for (const [k, x] of Object.entries(v)) {
      if (typeof x !== 'string') throw badRequest([fieldError([k], 'must be a string', 'EUSAGE')]);
      out[k] = x;
    }
    return out;
  }
  throw new HttpError(415, `a form submission must be application/x-www-form-urlencoded or application/json, not ${type ? JSON.stringify(type) : 'untyped'}`, {
    hint: 'post the form as plain HTML (no enctype), or send JSON with Content-Type: application/json',
    headers: { 'Accept-Post': 'application/x-www-form-urlencoded, application/json' },
  });
}

function normalize(v: string, multiline: boolean): string {
  const s = v.normalize('NFC').trim();
  return multiline ? s.replace(/\r\n?/g, '\n') : s;
}

function validateFields(s: FormSettings, fields: Record<string, string>) {
  const errors: ReturnType<typeof fieldError>[] = [];
  for (const f of s.fields) {
    const v = fields[f.name]!;
    if (!v) {
      if (f.required) errors.push(fieldError([f.name], 'is required', 'EUSAGE'));
      continue;
    }
    if ([...v].length > f.maxLength) errors.push(fieldError([f.name], `is longer than ${f.maxLength} characters`, 'EUSAGE'));
    else if (f.type !== 'textarea' && /[\r\n]/.test(v)) errors.push(fieldError([f.name], 'must be one line', 'EUSAGE'));
    else if (CONTROL.test(v)) errors.push(fieldError([f.name], 'contains control characters', 'EUSAGE'));
    else if (f.type === 'email' && !isMailbox(v)) errors.push(fieldError([f.name], 'is not an e-mail address such as "name@example.org"', 'EADDRESS'));
  }
  return errors;
}

/** What is stored for review: the form's own fields, each at most its maximum length. */
function clip(fields: Record<string, string>, s: FormSettings): Record<string, string> {
  const out: Record<string, string> = {};
  for (const f of s.fields) out[f.name] = [...(fields[f.name] ?? '')].slice(0, f.maxLength).join('');
  return out;
}

function success(s: FormSettings, json: boolean): Reply {
  if (json) return { status: 200, body: { status: 'received' } };
  if (s.successUrl) return { status: 303, text: '', headers: { Location: s.successUrl } };
  return { status: 200, text: page('Thank you', `<p>Your message via ${escapeHtml(s.title)} was received.</p>`), contentType: 'text/html; charset=utf-8', headers: PAGE_HEADERS };
}

function refusal(s: FormSettings, out: Outcome, json: boolean): Reply {
  const headers: Record<string, string> = out.retryAfterS ? { 'Retry-After': String(out.retryAfterS) } : {};
  const reason = out.reasons[out.reasons.length - 1]!;
  if (json) {
    const problem = out.fieldErrors
      ? badRequest(out.fieldErrors).toProblem()
      : new HttpError(out.status, out.message!, { code: `EFORM`, title: 'Submission refused' }).toProblem();
    return { status: out.status, body: { ...problem, reason }, contentType: PROBLEM_CONTENT_TYPE, headers };
  }
  const list = out.fieldErrors ? `<ul>${out.fieldErrors.map((e) => `<li>${escapeHtml(e.field)}: ${escapeHtml(e.detail)}</li>`).join('')}</ul>` : '';
  const body = `<p>${escapeHtml(out.message!)}</p>${list}<p>Nothing was sent. Use your browser's back button to return to the form.</p>`;
  return { status: out.status, text: page(`${s.title}: not sent`, body), contentType: 'text/html; charset=utf-8', headers: { ...PAGE_HEADERS, ...headers } };
}

const when = (at: number) => new Date(at).toISOString().replace('T', ' ').replace(/:\d\d\.\d+Z$/, ' UTC');

function ownerMail(s: FormSettings, fields: Record<string, string>, meta: { id: string; ip: string; at: number; score: number; reasons: string[] }) {
  const body = s.fields.map((f) => `${f.name}:\n${(fields[f.name] || '(empty)').replace(/^/gm, '  ')}`).join('\n\n');
  const address = s.receiptField ? fields[s.receiptField] : undefined;
  return {
    from: s.from!,
    to: s.recipients,
    ...(address ? { replyTo: address } : {}),
    subject: s.subject,
    text: `A visitor sent this through the web form "${s.title}" on ${when(meta.at)}.\n\n${body}\n\n-- \nsubmission ${meta.id}, from ${meta.ip}, score ${meta.score}${meta.reasons.length ? ` (${meta.reasons.join(', ')})` : ''}\nAnswering goes to the address the visitor typed; it was not verified.\n`,
    headers: { 'X-Sendwell-Form': s.name },
  };
}

/** The receipt: the operator's fixed text, the date and the form title; nothing the visitor typed. */
export function receiptMail(s: FormSettings, to: string, at: number) {
  return {
    from: s.from!,
    to,
    subject: `We received your message (${s.title})`,
    text: `Hello,\n\nwe received your message sent on ${when(at)} via ${s.title}.\n\n${s.receiptText}\n`,
    headers: { 'X-Sendwell-Form': s.name },
  };
}

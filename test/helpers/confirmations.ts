/**
 * A small real double opt-in for the form tests, with the interface the
 * consent service offers (src/forms ReceiptConfirmations): a fixed-text mail
 * with a link ${publicUrl}/confirm/{token}; GET shows a button, POST confirms;
 * single use, expiring, one mail per address per interval.
 */
import { randomBytes } from 'node:crypto';
import type { Mailer } from '../../src/mailer.js';
import type { ReceiptConfirmations } from '../../src/forms/routes.js';
import type { ExtraRoute } from '../../src/server/http/api.js';
import { HttpError } from '../../src/server/http/errors.js';
import { buttonPage, escapeHtml, page, PAGE_HEADERS } from '../../src/server/http/page.js';

type Handler = Parameters<ReceiptConfirmations['onConfirmed']>[1];
interface Pending {
  purpose: string;
  address: string;
  payload: Record<string, unknown>;
  ip: string;
  userAgent?: string;
  expires: number;
}

export class TestConfirmations implements ReceiptConfirmations {
  private readonly pending = new Map<string, Pending>();
  private readonly lastMail = new Map<string, number>();
  private readonly handlers = new Map<string, Handler>();
  publicUrl = '';

  constructor(private readonly o: { mailer: Mailer; from: string; onQueued?: (id: string) => void; ttlMs?: number; intervalMs?: number }) {}

  async requestConfirmation(input: { purpose: string; address: string; payload: Record<string, unknown>; ip: string; userAgent?: string; title: string }): Promise<{ sent: boolean }> {
    const now = Date.now();
    const key = `${input.purpose} ${input.address.toLowerCase()}`;
    if (now - (this.lastMail.get(key) ?? -Infinity) < (this.o.intervalMs ?? 3_600_000)) return { sent: false };
    this.lastMail.set(key, now);
    const token = randomBytes(18).toString('base64url');
    this.pending.set(token, { purpose: input.purpose, address: input.address, payload: input.payload, ip: input.ip, ...(input.userAgent ? { userAgent: input.userAgent } : {}), expires: now + (this.o.ttlMs ?? 72 * 3_600_000) });
    const r = await this.o.mailer.send(
      { from: this.o.from, to: input.address, subject: `Please confirm your address (${input.title})`, text: `Someone, probably you, asked for mail from ${input.title} to this address.\n\nTo confirm, open this link and press the button:\n${this.publicUrl}/confirm/${token}\n\nIf it was not you, ignore this mail.\n` },
      { queueOnly: true, submitter: 'consent' },
    );
    if (r.queueId) this.o.onQueued?.(r.queueId);
    return { sent: true };
  }

  onConfirmed(purpose: string, handler: Handler): void {
    this.handlers.set(purpose, handler);
  }

  private take(token: string | undefined, consume: boolean): Pending {
    const p = token ? this.pending.get(token) : undefined;
    if (!p || p.expires < Date.now()) throw new HttpError(404, 'this confirmation link is unknown, used or expired');
    if (consume) this.pending.delete(token!);
    return p;
  }

  get routes(): ExtraRoute[] {
    return [
      {
        method: 'GET',
        path: '/confirm/:token',
        auth: false,
        handler: ({ params }) => {
          const p = this.take(params.token, false);
          return { status: 200, text: buttonPage('Confirm', `<p>Confirm ${escapeHtml(p.address)}?</p>`, `/confirm/${params.token}`, 'Confirm'), contentType: 'text/html; charset=utf-8', headers: PAGE_HEADERS };
        },
      },
      {
        method: 'POST',
        path: '/confirm/:token',
        auth: false,
        handler: async ({ params }) => {
          const p = this.take(params.token, true);
          await this.handlers.get(p.purpose)?.({ address: p.address, payload: p.payload, ip: p.ip, ...(p.userAgent ? { userAgent: p.userAgent } : {}), at: Date.now() });
          return { status: 200, text: page('Confirmed', '<p>Thank you, your address is confirmed.</p>'), contentType: 'text/html; charset=utf-8', headers: PAGE_HEADERS };
        },
      },
    ];
  }
}

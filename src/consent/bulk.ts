/**
 * Bulk mail of a list, one message per recipient (R1): the list's reason in
 * the text and the HTML part, List-Id (RFC 2919), List-Unsubscribe with an
 * https and (when bounces are received) a mailto URI, and
 * List-Unsubscribe-Post for one-click (RFC 8058).
 */
import { encodeWords } from 'nodemailer/lib/mime-funcs';
import { SendwellError } from '../errors.js';
import type { ListSettings } from '../config/load.js';
import { parseMailbox, type AddressInput } from '../message/address.js';
import type { Mail } from '../message/compose.js';
import { escapeHtml } from '../server/http/page.js';
import type { ConsentService } from './service.js';
import type { ListRow, Subscription } from './store.js';

/** Headers sendwell writes on list mail; a caller must not set them. */
const OWNED = ['list-id', 'list-unsubscribe', 'list-unsubscribe-post', 'precedence'];

export interface BulkContext {
  list: ListRow;
  settings?: ListSettings;
  /** http.public_url: the one-click endpoint lives under it. */
  publicUrl: string;
  /** bounces.address: the mailto unsubscribe goes to `local+unsubscribe.TOKEN@domain`. */
  bounceAddress?: string;
  /** The From of the mail (for the default List-Id). */
  from: AddressInput;
}

export function unsubscribeUrl(publicUrl: string, token: string): string {
  return `${publicUrl}/u/${token}`;
}

/** The mailto address of an unsubscribe token, on the bounce domain (recognised by `bounce ingest`, IMAP and the listener). */
export function unsubscribeMailto(bounceAddress: string, token: string): string {
  const at = bounceAddress.lastIndexOf('@');
  const local = bounceAddress.slice(0, at).split('+')[0]!;
  return `${local}+unsubscribe.${token}@${bounceAddress.slice(at + 1)}`;
}

/** The token of an unsubscribe mailto address, or null. */
export function parseUnsubscribeMailto(bounceAddress: string, address: string): string | null {
  const at = bounceAddress.lastIndexOf('@');
  const local = bounceAddress.slice(0, at).split('+')[0]!.toLowerCase();
  const domain = bounceAddress.slice(at + 1).toLowerCase();
  const a = address.trim().replace(/^<|>$/g, '').toLowerCase();
  const m = /^(.+)\+unsubscribe\.([a-z2-7]{26})@(.+)$/.exec(a);
  return m && m[1] === local && m[3] === domain ? m[2]! : null;
}

export function listIdOf(ctx: Pick<BulkContext, 'list' | 'settings' | 'from'>): string {
  if (ctx.settings?.listId) return ctx.settings.listId;
  return `${ctx.list.name}.${parseMailbox(ctx.from, 'from').asciiDomain}`;
}

/** The mail one subscriber gets. */
export function bulkMail(mail: Mail, sub: Subscription, ctx: BulkContext): Mail {
  for (const f of ['cc', 'bcc'] as const) {
    const v = mail[f];
    if (v !== undefined && (!Array.isArray(v) || v.length > 0)) {
      throw new SendwellError('EUSAGE', `list mail cannot have ${f === 'cc' ? 'Cc' : 'Bcc'} recipients`, { hint: 'every subscriber gets a message of their own, with their own unsubscribe link; leave cc/bcc out', rule: 'R1' });
    }
  }
  const extra = Array.isArray(mail.headers) ? mail.headers : Object.entries(mail.headers ?? {}).flatMap(([k, v]) => (Array.isArray(v) ? v.map((x) => [k, x] as [string, string]) : [[k, v] as [string, string]]));
  const own = extra.find(([k]) => OWNED.includes(k.toLowerCase()));
  if (own) throw new SendwellError('EHEADER', `header ${own[0]} cannot be set on list mail: sendwell writes it`, { hint: 'leave it out; List-Id and List-Unsubscribe come from the list', rule: 'R1' });
  const url = unsubscribeUrl(ctx.publicUrl, sub.unsubToken);
  const mailto = ctx.bounceAddress ? unsubscribeMailto(ctx.bounceAddress, sub.unsubToken) : undefined;
  const description = ctx.list.description ?? ctx.settings?.description;
  const listId = listIdOf(ctx);
  const reason = ctx.list.reason;
  const out: Mail = {
    ...mail,
    to: sub.address,
    headers: [
      ...extra,
      ['List-Id', description ? `${quotePhrase(description)} <${listId}>` : `<${listId}>`],
      ['List-Unsubscribe', mailto ? `<mailto:${mailto}?subject=unsubscribe>, <${url}>` : `<${url}>`],
      ['List-Unsubscribe-Post', 'List-Unsubscribe=One-Click'],
      ['Precedence', 'bulk'],
    ],
  };
  delete out.cc;
  delete out.bcc;
  const textFooter = `\n\n-- \n${reason}\nUnsubscribe: ${url}\n`;
  if (mail.text !== undefined) out.text = mail.text.replace(/\s*$/, '') + textFooter;
  if (mail.html !== undefined) {
    const footer = `<hr><p style="font-size:smaller;color:#555">${escapeHtml(reason)}<br><a href="${escapeHtml(url)}">Unsubscribe</a></p>`;
    out.html = /<\/body>/i.test(mail.html) ? mail.html.replace(/<\/body>/i, `${footer}</body>`) : mail.html + footer;
  }
  if (out.text === undefined && out.html === undefined) out.text = textFooter.trimStart();
  return out;
}

function quotePhrase(s: string): string {
  if (/^[A-Za-z0-9 !#$%&'*+/=?^_`{|}~-]+$/.test(s)) return s;
  // Non-ASCII as encoded words of its own: left to the composer, the whole value, <id> included, became one encoded word.
  if (/[^\x20-\x7e]/.test(s)) return encodeWords(s, 'B', 52, true);
  return `"${s.replace(/["\\]/g, '\\$&')}"`;
}

/** For bounce ingestion: apply a List-Unsubscribe mailto address (`IngestDeps.unsubscribe`). */
export function mailtoUnsubscriber(consent: Pick<ConsentService, 'unsubscribeByToken'>, bounceAddress: string): (address: string) => { address: string; list: string } | null {
  return (address) => {
    const token = parseUnsubscribeMailto(bounceAddress, address);
    if (!token) return null;
    const sub = consent.unsubscribeByToken(token, 'mailto', { detail: 'mail to the List-Unsubscribe address' });
    return sub ? { address: sub.address, list: sub.list } : null;
  };
}

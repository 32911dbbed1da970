/**
 * The content score of a submission: what receivers' filters punish in a
 * mail (URLs, link-heavy or advertising text) and weak request signals
 * (Origin/Referer). Scored, never a hard failure on its own: privacy
 * browsers omit Origin/Referer, and people do paste a link now and then.
 * Weights follow rspamd/SpamAssassin where they have a rule (URL_IN_SUBJECT
 * 4.0, SHORT_SHORTNER 2.0, BODY_URI_ONLY 3.0, HTTP_TO_IP 1.0).
 */
import type { FieldSpec } from './settings.js';

export interface ScoreResult {
  score: number;
  reasons: string[];
}

const URL_RE = /\b(?:https?:\/\/|www\.)[^\s<>"']+/gi;
const SHORTENERS = new Set(['bit.ly', 't.co', 'tinyurl.com', 'goo.gl', 'ow.ly', 'is.gd', 'buff.ly', 'cutt.ly', 'rebrand.ly', 't.ly', 'shorturl.at', 'rb.gy', 'tiny.cc', 'bl.ink', 's.id']);
const AD_TERMS = [
  /\bseo\b/i,
  /\bbacklinks?\b/i,
  /\b(?:rank|ranking) (?:your|on) (?:website|google)/i,
  /\b(?:increase|boost) (?:your )?(?:website )?traffic\b/i,
  /\bguest posts?\b/i,
  /\b(?:crypto|bitcoin|forex|binary options)\b/i,
  /\b(?:casino|viagra|cialis|porn|xxx|escort|dating)\b/i,
  /\b(?:buy now|click here|limited offer|free trial|act now|special offer)\b/i,
  /\b(?:make|earn) (?:money|\$\d+)/i,
  /\b(?:loans?|payday)\b/i,
  /\b(?:great|best|special|exclusive|amazing) (?:offers?|deals?|prices?)\b/i,
  /\bvisit (?:us |our |my )?(?:site |website |shop |store )?(?:at |on )?(?:https?:|www\.)/i,
];

function host(url: string): string {
  try {
    return new URL(/^www\./i.test(url) ? `http://${url}` : url).hostname.toLowerCase();
  } catch {
    return '';
  }
}

/** Words mixing Latin and Cyrillic/Greek letters: homoglyph tricks. */
const MIXED_SCRIPT = /(?=\S*\p{Script=Latin})(?=\S*[\p{Script=Cyrillic}\p{Script=Greek}])\S+/u;

export function contentScore(fields: Record<string, string>, specs: FieldSpec[], signals: { origin?: string; referer?: string; allowedOrigins: string[] }): ScoreResult {
  let score = 0;
  const reasons: string[] = [];
  const add = (points: number, reason: string) => {
    score += points;
    reasons.push(`${reason}(+${points})`);
  };
  let urls = 0;
  const hosts = new Set<string>();
  let adHits = 0;
  for (const spec of specs) {
    const v = fields[spec.name] ?? '';
    if (!v) continue;
    const found = v.match(URL_RE) ?? [];
    if (spec.type === 'text' && found.length) add(4, `url-in-${spec.name}`);
    if (spec.type === 'textarea') {
      if (found.length && v.replace(URL_RE, '').replace(/\s+/g, ' ').trim().length < 12) add(3, `only-urls-in-${spec.name}`);
      if (/<\s*(?:a|img|iframe|script)\b|\[url[=\]]|\[link[=\]]/i.test(v)) add(3, `markup-in-${spec.name}`);
    }
    if (spec.type !== 'email') {
      urls += found.length;
      for (const u of found) hosts.add(host(u));
      for (const t of AD_TERMS) if (t.test(v)) adHits++;
      if (MIXED_SCRIPT.test(v)) add(2, `mixed-script-in-${spec.name}`);
    }
  }
  // One link is normal ("see https://…"); each further one adds up.
  if (urls === 1) add(1, 'url');
  else if (urls > 1) add(Math.min(1 + 1.5 * (urls - 1), 8), `urls:${urls}`);
  if ([...hosts].some((h) => /^\d{1,3}(?:\.\d{1,3}){3}$|^\[/.test(h))) add(2, 'url-to-ip');
  if ([...hosts].some((h) => SHORTENERS.has(h))) add(2, 'url-shortener');
  if (adHits) add(Math.min(adHits * 1.5, 6), `advertising:${adHits}`);

  const origin = signals.origin && signals.origin !== 'null' ? signals.origin : originOf(signals.referer);
  if (!origin) add(1, 'no-origin');
  else if (signals.allowedOrigins.length && !signals.allowedOrigins.includes(origin)) add(3, 'foreign-origin');
  return { score: Math.round(score * 10) / 10, reasons };
}

function originOf(referer: string | undefined): string | undefined {
  if (!referer) return undefined;
  try {
    return new URL(referer).origin;
  } catch {
    return undefined;
  }
}

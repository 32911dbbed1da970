/**
 * What happens when a bounce arrives (R2, R5): parse it, find the message and
 * recipient it is about (VERP address, then the ENVID: the queue ID or the
 * submitter's own ENVID, then the quoted Message-ID), classify it, amend the recipient's state, and suppress dead
 * addresses. A policy block (5.7.x) is a problem of our own setup: the
 * operator is told, the recipient is not suppressed.
 */
import type { MailLog } from '../queue/maillog.js';
import type { QueueStore, RecipientRow } from '../queue/store.js';
import { alertDue, alertMail, alertText } from './alert.js';
import { classify, type BounceCategory, type Classification } from './classify.js';
import { parseBounce, type BounceKind, type BounceRecipient, type ParsedBounce } from './parse.js';
import type { SuppressionList } from './suppression.js';
import { parseVerp, type Verp } from './verp.js';


export interface IngestDeps {
  store: QueueStore;
  suppression: SuppressionList;
  verp?: Verp;
  log: MailLog;
  now?: () => number;
  /**
   * List-Unsubscribe mailto addresses (R1): given a recipient address, apply
   * the unsubscribe it names and say whom it concerned; null when it is none.
   */
  unsubscribe?: (address: string) => { address: string; list: string } | null;
  /** `[bounces] operator`: also mail the operator's alerts (same rate limit as the log line). */
  alertOperator?: (subject: string, text: string) => Promise<void>;
}

export interface IngestedRecipient {
  address: string;
  queueId?: string;
  category: BounceCategory;
  classification: Classification;
  /** What sendwell did about it. */
  action: 'suppressed' | 'counted' | 'operator-alert' | 'noted';
  /** A delivered recipient was amended to bounced. */
  amended: boolean;
}

export interface IngestResult {
  kind: BounceKind;
  format: ParsedBounce['format'];
  confident: boolean;
  recipients: IngestedRecipient[];
  /** Why nothing was done, for auto-replies and other mail. */
  ignored?: string;
  /** The mail went to a List-Unsubscribe mailto address: this subscription ended. */
  unsubscribed?: { address: string; list: string };
}

const norm = (a: string) => a.trim().replace(/^<|>$/g, '').toLowerCase();

function headerValues(raw: Buffer, names: string[]): string[] {
  const head = raw.toString('latin1', 0, Math.min(raw.length, 64 * 1024)).split(/\r?\n\r?\n/)[0] ?? '';
  const out: string[] = [];
  for (const line of head.replace(/\r?\n[ \t]+/g, ' ').split(/\r?\n/)) {
    const i = line.indexOf(':');
    if (i > 0 && names.includes(line.slice(0, i).trim().toLowerCase())) out.push(line.slice(i + 1).trim());
  }
  return out;
}

export async function ingestBounce(raw: Buffer, deps: IngestDeps, opts: { recipient?: string } = {}): Promise<IngestResult> {
  const now = (deps.now ?? Date.now)();
  if (deps.unsubscribe) {
    // The envelope recipient first; a mailbox polled over IMAP only has the headers.
    const candidates = [opts.recipient, ...headerValues(raw, ['x-original-to', 'delivered-to', 'envelope-to', 'to'])].flatMap((v) => (v ? (v.match(/[^\s<>,"]+@[^\s<>,"]+/g) ?? []) : []));
    for (const c of candidates) {
      const u = deps.unsubscribe(c);
      if (!u) continue;
      deps.log.write({ event: 'notice', time: now, level: 'info', text: `unsubscribe by mail: <${u.address}> left list ${u.list} (R1)` });
      return { kind: 'not-a-bounce', format: 'none', confident: true, recipients: [], unsubscribed: u };
    }
  }
  const parsed = await parseBounce(raw);
  const base = { kind: parsed.kind, format: parsed.format, confident: parsed.confident };
  if (parsed.kind === 'auto-reply' || parsed.kind === 'not-a-bounce') {
    const why = parsed.kind === 'auto-reply' ? 'an auto-reply (RFC 3834), not a bounce' : 'not a bounce';
    deps.log.write({ event: 'notice', time: now, level: 'info', text: `bounce ingest: ignored ${why}${parsed.subject ? ` (Subject: ${parsed.subject})` : ''}` });
    return { ...base, recipients: [], ignored: why };
  }

  // The VERP address the bounce was sent to names the recipient row, whatever the body says.
  let verpRow: RecipientRow | null = null;
  if (deps.verp) {
    const candidates = [opts.recipient, parsed.deliveredTo, ...headerValues(raw, ['x-original-to', 'delivered-to', 'envelope-to'])].filter((x): x is string => Boolean(x));
    for (const c of candidates) {
      const v = parseVerp(deps.verp, c);
      if (v) {
        verpRow = deps.store.recipientById(v.recipientId);
        if (verpRow) break;
      }
    }
  }

  const recipients: BounceRecipient[] = parsed.recipients.length > 0 ? parsed.recipients : verpRow ? [{ address: verpRow.address }] : [];
  const out: IngestedRecipient[] = [];
  for (const r of recipients) {
    const row = findRow(deps.store, parsed, r, verpRow, recipients.length);
    const message = row ? deps.store.message(row.queueId) : null;
    // classify() reads the reply code from the diagnostic itself.
    const classification = classify({ kind: parsed.kind, confident: parsed.confident, ...(r.status ? { status: r.status } : {}), ...(r.diagnostic ? { diagnostic: r.diagnostic } : {}) });
    const address = row?.address ?? r.address;
    const reason = `${classification.reason}${r.status ? ` (${r.status})` : ''}${r.diagnostic ? `: ${r.diagnostic}` : ''}`.slice(0, 500);
    if (parsed.kind === 'delay') {
      deps.log.write({ event: 'status', time: now, queueId: row?.queueId ?? '-', to: address, status: 'delayed', reason: `delay notice from ${parsed.reportingMta ?? 'a relay'}: ${reason}` });
      out.push({ address, ...(row ? { queueId: row.queueId } : {}), category: classification.category, classification, action: 'noted', amended: false });
      continue;
    }
    let amended = false;
    if (row && row.state === 'delivered') amended = deps.store.amendBounced(row.queueId, row.address, reason, r.status ?? null, now);
    const scope = deps.suppression.scopeFor(message?.envelopeFrom ?? deps.verp?.address ?? '');
    let action: IngestedRecipient['action'] = 'noted';
    if (classification.blame === 'sender-setup') {
      action = 'operator-alert';
      // Our own setup is at fault (blocklisted, SPF/DKIM failing): tell the operator, keep the address.
      if (alertDue(deps.store, classification.rule, now)) {
        const text = alertText(address, classification.rule, reason);
        deps.log.write({ event: 'notice', time: now, ...(row ? { queueId: row.queueId } : {}), level: 'warning', text: `OPERATOR: ${text}` });
        if (deps.alertOperator) {
          const mail = alertMail(classification.rule, text, [`Queue ID: ${row?.queueId ?? 'unknown'}`, `Reported by: ${parsed.reportingMta ?? 'unknown'}`]);
          // The alert is a convenience next to the log line: its failure must not fail the ingestion.
          await deps.alertOperator(mail.subject, mail.text).catch((err: unknown) =>
            deps.log.write({ event: 'notice', time: now, level: 'warning', text: `operator alert mail not queued: ${(err as Error).message}` }),
          );
        }
      }
    } else if (classification.suppress === 'now' && (parsed.confident || parsed.kind === 'complaint')) {
      deps.suppression.add(address, scope, reason, parsed.kind === 'complaint' ? 'complaint' : 'bounce', now);
      action = 'suppressed';
    } else if (classification.suppress !== 'never') {
      action = deps.suppression.softBounce(address, scope, reason, now) ? 'suppressed' : 'counted';
    }
    deps.log.write({
      event: 'status',
      time: now,
      queueId: row?.queueId ?? '-',
      to: address,
      status: parsed.kind === 'complaint' ? 'complaint' : 'bounced',
      reason: `${parsed.format} ${parsed.confident ? '' : '(heuristic) '}${reason}; ${action}${amended ? '; delivered amended to bounced' : ''}`,
    });
    out.push({ address, ...(row ? { queueId: row.queueId } : {}), category: classification.category, classification, action, amended });
  }
  if (out.length === 0) deps.log.write({ event: 'notice', time: now, level: 'warning', text: `bounce ingest: a ${parsed.format} ${parsed.kind} named no recipient that sendwell could find` });
  return { ...base, recipients: out };
}

/**
 * VERP first, then the ENVID, then the original Message-ID. The ENVID is the
 * queue ID of a message sent without one of its own; a submitter's own ENVID
 * (sendmail -V, MAIL FROM … ENVID=) went out unchanged instead, so it names
 * those messages first (the newest first), then a queue ID.
 */
function findRow(store: QueueStore, parsed: ParsedBounce, r: BounceRecipient, verpRow: RecipientRow | null, count: number): RecipientRow | null {
  const want = [r.address, r.originalRecipient].filter((x): x is string => Boolean(x)).map(norm);
  if (verpRow && (count === 1 || want.includes(norm(verpRow.address)))) return verpRow;
  const byAddress = (queueId: string) => store.recipients(queueId).find((x) => want.includes(norm(x.address))) ?? null;
  if (parsed.envelopeId) {
    const own = store.message(parsed.envelopeId);
    const ids = [...store.findByEnvid(parsed.envelopeId).reverse().map((m) => m.id), ...(own ? [own.id] : [])];
    for (const id of ids) {
      const row = byAddress(id);
      if (row) return row;
    }
  }
  if (parsed.originalMessageId) {
    for (const m of store.findByMessageId(parsed.originalMessageId).reverse()) {
      const row = byAddress(m.id);
      if (row) return row;
    }
  }
  return null;
}

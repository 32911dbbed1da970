/**
 * `sendwell lists create|list` and `sendwell consent add|import|export|list|revoke`:
 * the consent registry from the command line (R1).
 */
import { EXIT, SendwellError } from '../errors.js';
import { loadConfig } from '../config/load.js';
import { createMailer } from '../mailer.js';
import type { SubscriptionStatus } from '../consent/store.js';
import { decodeUtf8, readInput } from './input.js';
import type { Io } from './output.js';
import { resolveStateDir } from './state-dir.js';

export interface ListsFlags {
  config?: string;
  stateDir?: string;
  json?: boolean;
  reason?: string;
  description?: string;
  /** commander's --single-opt-in */
  singleOptIn?: boolean;
  status?: string;
  source?: string;
  consentText?: string;
  allowInvalid?: boolean;
}

const STATUSES = ['pending', 'confirmed', 'unsubscribed'];

function open(flags: ListsFlags) {
  const config = loadConfig(flags.config ? { path: flags.config } : {});
  const stateDir = resolveStateDir(flags.stateDir, config);
  const mailer = createMailer({ config, stateDir });
  return { mailer, consent: mailer.consent!, config };
}

function statusFlag(flags: ListsFlags): SubscriptionStatus | undefined {
  if (flags.status === undefined) return undefined;
  if (!STATUSES.includes(flags.status)) throw new SendwellError('EUSAGE', `--status ${flags.status} is not one of ${STATUSES.join(', ')}`, { hint: 'e.g. --status confirmed' });
  return flags.status as SubscriptionStatus;
}

const need = (v: string | undefined, what: string, usage: string): string => {
  if (!v) throw new SendwellError('EUSAGE', `${what} is missing`, { hint: `usage: ${usage}` });
  return v;
};

export async function listsCommand(action: string, name: string | undefined, flags: ListsFlags, io: Io): Promise<number> {
  if (action !== 'create' && action !== 'list') throw new SendwellError('EUSAGE', `lists ${action}: unknown action`, { hint: 'use create or list' });
  const { mailer, consent } = open(flags);
  try {
    if (action === 'create') {
      const n = need(name, 'the list name', 'sendwell lists create NAME --reason TEXT');
      const reason = need(flags.reason, '--reason', 'sendwell lists create NAME --reason "You receive this because …" (R1: every mail of the list says why)');
      const l = consent.createList(n, { reason, doubleOptIn: !flags.singleOptIn, ...(flags.description ? { description: flags.description } : {}) });
      if (flags.json) io.stdout(`${JSON.stringify({ name: l.name, reason: l.reason, double_opt_in: l.doubleOptIn, description: l.description })}\n`);
      else io.stdout(`list ${l.name} created (${l.doubleOptIn ? 'double opt-in' : 'single opt-in'})\n`);
      return EXIT.OK;
    }
    const lists = consent.lists();
    if (flags.json) {
      io.stdout(`${JSON.stringify(lists.map((l) => ({ name: l.name, reason: l.reason, double_opt_in: l.doubleOptIn, description: l.description, from_config: l.fromConfig, counts: l.counts })))}\n`);
    } else if (!lists.length) {
      io.stdout('no lists; create one with `sendwell lists create NAME --reason TEXT` or [lists.NAME] in the config\n');
    } else {
      for (const l of lists) {
        io.stdout(`${l.name}${l.fromConfig ? ' (config)' : ''}: ${l.counts.confirmed} confirmed, ${l.counts.pending} pending, ${l.counts.unsubscribed} unsubscribed; ${l.doubleOptIn ? 'double' : 'single'} opt-in\n  reason: ${l.reason}\n`);
      }
    }
    return EXIT.OK;
  } finally {
    await mailer.close();
  }
}

export async function consentCommand(action: string, list: string | undefined, arg: string | undefined, flags: ListsFlags, io: Io): Promise<number> {
  if (!['add', 'import', 'export', 'list', 'revoke'].includes(action)) throw new SendwellError('EUSAGE', `consent ${action}: unknown action`, { hint: 'use add, import, export, list or revoke' });
  const name = need(list, 'the list name', `sendwell consent ${action} NAME${action === 'import' ? ' FILE.csv' : action === 'revoke' || action === 'add' ? ' ADDRESS' : ''}`);
  const { mailer, consent } = open(flags);
  try {
    consent.requireList(name);
    switch (action) {
      case 'add': {
        const address = need(arg, 'the address', 'sendwell consent add NAME ADDRESS --source TEXT');
        const source = need(flags.source, '--source', 'sendwell consent add NAME ADDRESS --source "where the person asked, e.g. a paper form of 2026-05-04"');
        const r = await consent.subscribe(name, address, { source, channel: 'cli', ...(flags.consentText ? { consentText: flags.consentText } : {}) });
        if (flags.json) io.stdout(`${JSON.stringify(r)}\n`);
        else io.stdout(`${address}: ${r.status}${r.confirmationSent ? '; a confirmation link was mailed (double opt-in)' : ''}\n`);
        return EXIT.OK;
      }
      case 'import': {
        const file = need(arg, 'the CSV file', 'sendwell consent import NAME FILE.csv (- for stdin)');
        const { parseConsentCsv } = await import('../consent/csv.js');
        const rows = parseConsentCsv(decodeUtf8(await readInput(file, 'CSV file'), file), file);
        const r = consent.importRows(name, rows, flags.source ?? `import:${file}`, { allOrNothing: !flags.allowInvalid });
        for (const s of r.skipped) io.stderr(`sendwell: ${file}:${s.line}: ${s.email || '(no email)'}: ${s.reason}\n`);
        if (flags.json) io.stdout(`${JSON.stringify(r)}\n`);
        else io.stdout(`${name}: ${r.imported} imported, ${r.updated} updated, ${r.skipped.length} invalid${r.skipped.length && !flags.allowInvalid ? ' (nothing imported: fix the lines above, or give --allow-invalid to import the rest)' : ''}\n`);
        return r.skipped.length ? EXIT.DATAERR : EXIT.OK;
      }
      case 'export': {
        const { subscriptionsToCsv } = await import('../consent/csv.js');
        io.stdout(subscriptionsToCsv(consent.subscriptions(name, statusFlag(flags))));
        return EXIT.OK;
      }
      case 'list': {
        const subs = consent.subscriptions(name, statusFlag(flags));
        if (flags.json) {
          const { subscriptionJson } = await import('../consent/routes.js');
          io.stdout(`${JSON.stringify(subs.map(subscriptionJson))}\n`);
        } else {
          for (const s of subs) {
            const when = s.status === 'confirmed' ? `confirmed ${new Date(s.confirmedAt ?? s.signupAt).toISOString()} (${s.confirmMethod})` : s.status === 'pending' ? `signed up ${new Date(s.signupAt).toISOString()}, not confirmed` : `unsubscribed ${new Date(s.unsubscribedAt ?? 0).toISOString()} (${s.unsubscribeMethod})`;
            io.stdout(`${s.address}  ${s.status}  ${when}  source: ${s.source}\n`);
          }
          if (!subs.length) io.stdout(`no subscriptions${flags.status ? ` with status ${flags.status}` : ''} on ${name}\n`);
        }
        return EXIT.OK;
      }
      default: {
        const address = need(arg, 'the address', 'sendwell consent revoke NAME ADDRESS');
        const s = consent.revoke(name, address, 'admin', 'sendwell consent revoke');
        if (!s) throw new SendwellError('EUSAGE', `${address} has no subscription to ${name}`, { hint: `\`sendwell consent list ${name}\` shows who has` });
        io.stdout(`${s.address}: unsubscribed from ${name}\n`);
        return EXIT.OK;
      }
    }
  } finally {
    await mailer.close();
  }
}

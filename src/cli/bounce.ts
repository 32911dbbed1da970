/**
 * `sendwell bounce ingest` (an MTA alias pipe: `bounces: "|sendwell bounce ingest"`),
 * `sendwell bounce poll` (an IMAP mailbox) and `sendwell suppress list|add|remove|import|export`.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { EXIT, SendwellError } from '../errors.js';
import { loadConfig } from '../config/load.js';
import { SuppressionList, type Suppression } from '../bounce/suppression.js';
import { loadVerpSecret } from '../bounce/verp.js';
import { fileMailLog } from '../queue/maillog.js';
import { openSqliteStore } from '../queue/sqlite/index.js';
import { readStdin } from './input.js';
import type { Io } from './output.js';
import { resolveStateDir } from './state-dir.js';
import type { ResolvedConfig } from '../config/load.js';
import type { IngestDeps } from '../bounce/ingest.js';

/**
 * What ingestion needs, as `serve` has it: the queue, the suppression list,
 * VERP, List-Unsubscribe mailto addresses on the bounce domain (R1), and
 * `[bounces] operator` for the alerts.
 */
async function ingestDeps(config: ResolvedConfig, stateDir: string): Promise<{ deps: IngestDeps; close: () => Promise<void> }> {
  const b = config.bounces;
  const store = openSqliteStore(stateDir);
  const suppression = new SuppressionList(stateDir, b.suppression);
  const log = fileMailLog(stateDir, config.logSyslog ? { syslog: config.logSyslog } : {});
  const deps: IngestDeps = { store, suppression, log };
  let mailer: import('../mailer.js').Mailer | undefined;
  let consent: import('../consent/service.js').ConsentService | undefined;
  const close = async () => {
    store.close();
    suppression.close();
    consent?.close();
    await mailer?.close();
    await log.close?.();
  };
  try {
    if (b.address) deps.verp = { address: b.address, secret: loadVerpSecret(b.secretFile ?? join(stateDir, 'bounce.key')) };
    const operator = b.operator;
    if (operator) {
      deps.alertOperator = async (subject, text) => {
        const { createMailer } = await import('../mailer.js');
        mailer ??= createMailer({ config, stateDir });
        await mailer.send({ to: operator, subject, text }, { submitter: 'sendwell:alerts' });
      };
    }
    if (b.address) {
      const { ConsentService } = await import('../consent/service.js');
      const { mailtoUnsubscriber } = await import('../consent/bulk.js');
      consent = ConsentService.fromConfig(config, stateDir);
      deps.unsubscribe = mailtoUnsubscriber(consent, b.address);
    }
  } catch (err) {
    await close();
    throw err;
  }
  return { deps, close };
}

export interface BounceFlags {
  config?: string;
  stateDir?: string;
  recipient?: string;
  json?: boolean;
}

/**
 * Exit codes are chosen for MTA pipes: 0 whenever the message was read (also
 * when it was no bounce or named nobody we know: never bounce a bounce), 75
 * (EX_TEMPFAIL) on temporary trouble so the MTA keeps it and tries again.
 */
export async function bounceIngestCommand(flags: BounceFlags, io: Io): Promise<number> {
  const raw = await readStdin();
  try {
    const config = loadConfig(flags.config ? { path: flags.config } : {});
    const stateDir = resolveStateDir(flags.stateDir, config);
    const { ingestBounce } = await import('../bounce/ingest.js');
    const { deps, close } = await ingestDeps(config, stateDir);
    try {
      // The envelope recipient as the MTA passes it: Postfix's pipe sets ORIGINAL_RECIPIENT,
      // Exim's pipe transport LOCAL_PART, LOCAL_PART_PREFIX/SUFFIX and DOMAIN.
      const env = process.env;
      const exim = env.LOCAL_PART && env.DOMAIN ? `${env.LOCAL_PART_PREFIX ?? ''}${env.LOCAL_PART}${env.LOCAL_PART_SUFFIX ?? ''}@${env.DOMAIN}` : undefined;
      const recipient = flags.recipient ?? env.ORIGINAL_RECIPIENT ?? exim ?? env.RECIPIENT;
      const result = await ingestBounce(raw, deps, recipient ? { recipient } : {});
      if (flags.json) io.stdout(`${JSON.stringify(result)}\n`);
      else if (result.unsubscribed) io.stdout(`unsubscribed ${result.unsubscribed.address} from ${result.unsubscribed.list}\n`);
      else if (result.ignored) io.stdout(`ignored: ${result.ignored}\n`);
      else for (const r of result.recipients) io.stdout(`${result.kind} ${r.address}${r.queueId ? ` (${r.queueId})` : ' (no queued message found)'}: ${r.category}, ${r.action}\n`);
      return EXIT.OK;
    } finally {
      await close();
    }
  } catch (err) {
    io.stderr(`sendwell bounce ingest: ${(err as Error).message}\n`);
    // Configuration or database trouble: keep the bounce in the MTA's queue.
    return err instanceof SendwellError && !err.temporary && err.code !== 'ECONFIG' && err.code !== 'ESECRET' ? EXIT.OK : EXIT.TEMPFAIL;
  }
}

/**
 * `sendwell bounce poll`: one poll of the `[bounces.imap]` mailbox. Exit 0 when
 * every message was handled, 75 when the server cannot be reached or messages
 * were left for the next poll, 77 when the login (or the password) fails, 78
 * when `[bounces.imap]` is missing or invalid.
 */
export async function bouncePollCommand(flags: BounceFlags, io: Io): Promise<number> {
  const config = loadConfig(flags.config ? { path: flags.config } : {});
  const imap = config.bounces.imap;
  if (!imap) {
    throw new SendwellError('ECONFIG', `${config.source ?? 'the configuration'} has no [bounces.imap] table`, {
      hint: 'add [bounces.imap] with url = "imaps://user@host" and password_file, password_env or password_command (see the README, Bounces)',
    });
  }
  const stateDir = resolveStateDir(flags.stateDir, config);
  const { pollImap, pollSummary } = await import('../bounce/imap.js');
  const { deps, close } = await ingestDeps(config, stateDir);
  try {
    const result = await pollImap(imap, deps);
    if (flags.json) io.stdout(`${JSON.stringify(result)}\n`);
    else io.stdout(`${pollSummary(result).join('\n')}\n`);
    return result.left > 0 ? EXIT.TEMPFAIL : EXIT.OK;
  } finally {
    await close();
  }
}

const CSV_HEADER = 'address,scope,reason,source,created_at,expires_at';

function csvCell(s: string): string {
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

function parseCsvLine(line: string): string[] {
  const out: string[] = [];
  let cur = '';
  let q = false;
  for (let i = 0; i < line.length; i++) {
    const c = line[i]!;
    if (q) {
      if (c === '"' && line[i + 1] === '"') {
        cur += '"';
        i++;
      } else if (c === '"') q = false;
      else cur += c;
    } else if (c === '"') q = true;
    else if (c === ',') {
      out.push(cur);
      cur = '';
    } else cur += c;
  }
  out.push(cur);
  return out;
}

export async function suppressCommand(action: string, arg: string | undefined, flags: BounceFlags & { reason?: string; scope?: string }, io: Io): Promise<number> {
  const config = loadConfig(flags.config ? { path: flags.config } : {});
  const list = new SuppressionList(resolveStateDir(flags.stateDir, config), config.bounces.suppression);
  try {
    switch (action) {
      case 'list': {
        const all = list.list();
        if (flags.json) io.stdout(`${JSON.stringify(all)}\n`);
        else if (all.length === 0) io.stdout('no suppressed addresses\n');
        else for (const s of all) io.stdout(`${s.address}  scope=${s.scope}  ${s.source} ${new Date(s.createdAt).toISOString().slice(0, 10)}  ${s.reason}\n`);
        return EXIT.OK;
      }
      case 'add': {
        if (!arg) throw new SendwellError('EUSAGE', 'sendwell suppress add needs an address', { hint: 'sendwell suppress add bob@example.org --reason "asked to stop"' });
        list.add(arg, flags.scope ?? '*', flags.reason ?? 'added by the administrator', 'manual');
        io.stdout(`suppressed ${arg} (scope ${flags.scope ?? '*'})\n`);
        return EXIT.OK;
      }
      case 'remove': {
        if (!arg) throw new SendwellError('EUSAGE', 'sendwell suppress remove needs an address', { hint: 'sendwell suppress remove bob@example.org' });
        const n = list.remove(arg, flags.scope);
        io.stdout(n ? `removed ${arg} (${n} entr${n === 1 ? 'y' : 'ies'})\n` : `${arg} was not suppressed\n`);
        return EXIT.OK;
      }
      case 'export': {
        io.stdout(`${CSV_HEADER}\n`);
        for (const s of list.list()) io.stdout(`${[s.address, s.scope, s.reason, s.source, new Date(s.createdAt).toISOString(), s.expiresAt ? new Date(s.expiresAt).toISOString() : ''].map(csvCell).join(',')}\n`);
        return EXIT.OK;
      }
      case 'import': {
        if (!arg) throw new SendwellError('EUSAGE', 'sendwell suppress import needs a CSV file (- for stdin)', { hint: `columns: ${CSV_HEADER} (only address is required)` });
        const text = arg === '-' ? (await readStdin()).toString('utf8') : readFileSync(arg, 'utf8');
        const lines = text.split(/\r?\n/).filter((l) => l.trim() !== '');
        const header = parseCsvLine(lines[0] ?? '').map((h) => h.trim().toLowerCase());
        const col = (name: string) => header.indexOf(name);
        if (col('address') < 0) throw new SendwellError('EUSAGE', `${arg}: no "address" column in the first line`, { hint: `start the file with: ${CSV_HEADER}` });
        // Check every line first: a bad line imports nothing.
        const rows = lines.slice(1).map((line, i) => {
          const f = parseCsvLine(line);
          const get = (name: string) => (col(name) >= 0 ? f[col(name)]?.trim() : undefined) || undefined;
          const address = get('address');
          if (!address || !/^[^\s@]+@[^\s@]+$/.test(address)) throw new SendwellError('EUSAGE', `${arg}: line ${i + 2} has no valid address`, { hint: 'fix or remove the line; nothing was imported' });
          const created = get('created_at');
          const expires = get('expires_at');
          return { address, scope: get('scope') ?? '*', reason: get('reason') ?? 'imported', source: (get('source') as Suppression['source'] | undefined) ?? 'import', created: created ? Date.parse(created) : Date.now(), expires: expires ? Date.parse(expires) : null };
        });
        for (const r of rows) list.add(r.address, r.scope, r.reason, r.source, r.created, r.expires);
        io.stdout(`imported ${rows.length} address${rows.length === 1 ? '' : 'es'}\n`);
        return EXIT.OK;
      }
      default:
        throw new SendwellError('EUSAGE', `unknown suppress action ${JSON.stringify(action)}`, { hint: 'one of: list, add, remove, import, export' });
    }
  } finally {
    list.close();
  }
}

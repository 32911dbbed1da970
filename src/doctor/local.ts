/** Local checks: configuration, secret files (R11), state directory, queue health. */
import { accessSync, constants, existsSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { ResolvedConfig } from '../config/load.js';
import { FLOOD_REASON_PREFIX } from '../queue/service.js';
import { check, type Check } from './types.js';

/** A secret file must exist and be readable by its owner only (0600/0400, R11). */
export function secretFileCheck(id: string, what: string, file: string, missingStatus: 'fail' | 'warn' = 'fail'): Check {
  let st;
  try {
    st = statSync(file);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? 'error';
    return check(id, missingStatus, `${what} ${file}`, `cannot be read (${code})`, `create it with mode 0600 (e.g. install -m 600 /dev/null ${file}, then write the secret into it)`, 'R11');
  }
  const mode = (st.mode & 0o777).toString(8).padStart(3, '0');
  if ((st.mode & 0o077) !== 0) {
    return check(id, 'fail', `${what} ${file}`, `mode ${mode}: other users can read it`, `chmod 600 ${file}`, 'R11');
  }
  try {
    accessSync(file, constants.R_OK);
  } catch {
    return check(id, 'fail', `${what} ${file}`, `mode ${mode}, but this user cannot read it`, `run sendwell as the file's owner, or chown it to that user (keep mode 0600)`, 'R11');
  }
  return check(id, 'ok', `${what} ${file}`, `mode ${mode}, readable by its owner only`, '', 'R11');
}

export function secretChecks(config: ResolvedConfig): Check[] {
  const out: Check[] = [];
  const relayFile = config.relay.password && 'file' in config.relay.password ? config.relay.password.file : undefined;
  if (relayFile) out.push(secretFileCheck('secret.relay', 'relay password file', relayFile));
  if (config.bounces.secretFile) out.push(secretFileCheck('secret.bounces', 'bounce key file', config.bounces.secretFile, 'warn'));
  const imap = config.bounces.imap?.password;
  if (imap && 'file' in imap && imap.file) out.push(secretFileCheck('secret.imap', 'bounce IMAP password file', imap.file));
  if (config.dkim) out.push(secretFileCheck('secret.dkim', 'DKIM key file', config.dkim.privateKeyFile));
  if (out.length === 0) out.push(check('secrets', 'skip', 'secret files', 'no password or key files configured', '', 'R11'));
  return out;
}

export function stateDirCheck(stateDir: string): Check {
  const title = `state directory ${stateDir}`;
  if (existsSync(stateDir)) {
    try {
      accessSync(stateDir, constants.W_OK | constants.X_OK);
      return check('state_dir', 'ok', title, 'exists and is writable');
    } catch {
      return check('state_dir', 'fail', title, 'exists but this user cannot write to it', `run sendwell as the directory's owner, or set state_dir to a directory this user owns (chown, mode 0700)`);
    }
  }
  let parent = dirname(stateDir);
  while (!existsSync(parent) && dirname(parent) !== parent) parent = dirname(parent);
  try {
    accessSync(parent, constants.W_OK | constants.X_OK);
    return check('state_dir', 'ok', title, 'does not exist yet; it will be created on first use');
  } catch {
    return check('state_dir', 'fail', title, `does not exist and ${parent} is not writable for this user`, `create it: install -d -m 700 ${stateDir} (owned by the user that runs sendwell)`);
  }
}

const DEFERRED_PILE = 100;
const DEFERRED_AGE_MS = 3_600_000;

function age(ms: number): string {
  const s = Math.round(ms / 1000);
  if (s < 120) return `${s} s`;
  if (s < 7200) return `${Math.round(s / 60)} min`;
  if (s < 172_800) return `${Math.round(s / 3600)} h`;
  return `${Math.round(s / 86_400)} d`;
}

export async function queueCheck(stateDir: string, now = Date.now()): Promise<Check> {
  const title = 'queue';
  if (!existsSync(join(stateDir, 'queue.db'))) return check('queue', 'skip', title, `no queue in ${stateDir} yet (nothing was queued)`);
  let store;
  try {
    const { openSqliteStore } = await import('../queue/sqlite/index.js');
    store = openSqliteStore(stateDir);
  } catch (err) {
    return check('queue', 'fail', title, `cannot open the queue: ${(err as Error).message}`, `check the permissions of ${stateDir}`);
  }
  try {
    const counts = store.countByState();
    const pending = store.pending();
    const waiting = counts.queued + counts.deferred + counts.active + counts.held;
    const oldestPending = pending.length ? Math.min(...pending.map((p) => p.message.createdAt)) : undefined;
    const oldestDeferred = pending.filter((p) => p.recipients.some((r) => r.state === 'deferred')).map((p) => p.message.createdAt);
    const deferredAge = oldestDeferred.length ? now - Math.min(...oldestDeferred) : 0;
    const summary = `${waiting} waiting (${counts.queued} queued, ${counts.deferred} deferred, ${counts.active} active, ${counts.held} held)` + (oldestPending !== undefined ? `, oldest ${age(now - oldestPending)} old` : '');
    const problems: string[] = [];
    const fixes: string[] = [];
    if (counts.held > 0) {
      const flood = pending.flatMap((p) => p.recipients).filter((r) => r.state === 'held' && r.lastReason?.startsWith(FLOOD_REASON_PREFIX)).length;
      problems.push(`${counts.held} recipient(s) held${flood ? ` (${flood} by the flood brake: sending is paused)` : ''}`);
      fixes.push(flood ? 'if the burst was intended, `sendwell queue resume` releases the flood brake\'s holds (R8); `sendwell queue` shows the others' : 'see why with `sendwell queue`, then `sendwell queue release ID` (or --all)');
    }
    if (counts.deferred > DEFERRED_PILE || deferredAge > DEFERRED_AGE_MS) {
      problems.push(counts.deferred > DEFERRED_PILE ? `deferred mail is piling up (${counts.deferred} > ${DEFERRED_PILE})` : `deferred mail waits for more than 1 h (oldest ${age(deferredAge)})`);
      fixes.push('`sendwell log` shows why the relay defers; check the relay checks below, and that `sendwell worker` or `sendwell flush` runs (T1)');
    }
    if (problems.length) return check('queue', 'warn', title, `${summary}; ${problems.join('; ')}`, fixes.join('; '), 'T1');
    return check('queue', 'ok', title, summary, '', 'T1');
  } finally {
    store.close();
  }
}

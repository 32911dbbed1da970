/**
 * The embedded queue store: one SQLite file in the state directory, shared
 * safely by every process on the host (CLI runs, a web app, the daemon).
 *
 * WAL with synchronous=FULL: a commit survives power loss, so "queued" means
 * queued. Every read-then-write runs as BEGIN IMMEDIATE, which takes the write
 * lock up front and honours busy_timeout instead of failing with SQLITE_BUSY.
 */
import { chmodSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import Sqlite from 'better-sqlite3';
import { SendwellError } from '../../errors.js';
import type { QueueStore } from '../store.js';
import { adminOp, releaseHeldOp } from './admin.js';
import { amendBouncedOp, dsnOps, purgeBodiesOp } from './bounces.js';
import { takeTokensOp } from './buckets.js';
import { claimOp } from './claim.js';
import { delayOps, findByEnvidOp } from './delay.js';
import { completeOp } from './complete.js';
import { contentRecipientsOp } from './bulk.js';
import { enqueueOp } from './enqueue.js';
import { floodOps } from './flood.js';
import { heartbeatOp, reapExpiredOp, recoverOwnOp } from './leases.js';
import { readOps } from './read.js';
import { MIGRATIONS } from './schema.js';

/** How long a process waits for another one's write lock before giving up. */
const BUSY_TIMEOUT_MS = 15_000;
export const DB_FILE = 'queue.db';

function migrate(db: Sqlite.Database, file: string): void {
  const version = db.pragma('user_version', { simple: true }) as number;
  if (version > MIGRATIONS.length) {
    throw new SendwellError('ECONFIG', `${file} was written by a newer sendwell (schema ${version}, this one knows ${MIGRATIONS.length})`, {
      hint: 'upgrade sendwell, or point --state-dir at another directory',
    });
  }
  if (version === MIGRATIONS.length) return;
  db.transaction(() => {
    // Re-read inside the write lock: another process may have migrated meanwhile.
    const v = db.pragma('user_version', { simple: true }) as number;
    for (let i = v; i < MIGRATIONS.length; i++) db.exec(MIGRATIONS[i]!);
    db.pragma(`user_version = ${MIGRATIONS.length}`);
  }).immediate();
}

/**
 * WAL mode, once per database file. Switching needs an exclusive lock, and when
 * several processes open a new queue at once SQLite can answer SQLITE_BUSY
 * without waiting (no busy handler for that case): retry for the busy timeout.
 */
function setWal(db: Sqlite.Database): void {
  const deadline = Date.now() + BUSY_TIMEOUT_MS;
  for (let delay = 2; ; delay = Math.min(delay * 2, 100)) {
    try {
      if (db.pragma('journal_mode', { simple: true }) === 'wal') return;
      db.pragma('journal_mode = WAL');
      return;
    } catch (err) {
      if ((err as { code?: string }).code !== 'SQLITE_BUSY' || Date.now() > deadline) throw err;
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, delay);
    }
  }
}

/**
 * Open (and migrate) the state database: the queue, and the credentials of the
 * server (SMTP users, API tokens). Every handle sets the same pragmas.
 */
export function openDatabase(stateDir: string): Sqlite.Database {
  const file = join(stateDir, DB_FILE);
  let db: Sqlite.Database;
  try {
    mkdirSync(stateDir, { recursive: true, mode: 0o700 });
    db = new Sqlite(file, { timeout: BUSY_TIMEOUT_MS });
    chmodSync(file, 0o600);
  } catch (err) {
    throw new SendwellError('ECONFIG', `cannot open the queue in ${stateDir}: ${(err as Error).message}`, {
      hint: 'check that the state directory (--state-dir, SENDWELL_STATE_DIR, state_dir) exists and is writable by this user',
      cause: err,
    });
  }
  setWal(db);
  db.pragma('synchronous = FULL');
  db.pragma('foreign_keys = ON');
  migrate(db, file);
  return db;
}

/**
 * The ops below prepare their statements when they are made; this defers each
 * prepare to the statement's first use, so that opening the store for one
 * enqueue (`sendmail -odq`) prepares the few statements it runs, not ~40.
 */
function preparedOnFirstUse(db: Sqlite.Database): Sqlite.Database {
  const prepare = (sql: string) => {
    // Each method prepares the statement, then the object uses the statement's own methods.
    const lazy = {} as Pick<Sqlite.Statement, 'get' | 'all' | 'run' | 'iterate' | 'raw'>;
    let rawRows = false;
    const real = (): Sqlite.Statement => {
      const stmt = db.prepare(sql);
      if (rawRows) stmt.raw(true);
      lazy.raw = (toggle?: boolean) => (stmt.raw(toggle), lazy as Sqlite.Statement);
      lazy.get = stmt.get.bind(stmt);
      lazy.all = stmt.all.bind(stmt);
      lazy.run = stmt.run.bind(stmt);
      lazy.iterate = stmt.iterate.bind(stmt);
      return stmt;
    };
    lazy.get = (...args: unknown[]) => real().get(...args);
    lazy.all = (...args: unknown[]) => real().all(...args);
    lazy.run = (...args: unknown[]) => real().run(...args);
    lazy.iterate = (...args: unknown[]) => real().iterate(...args);
    // Rows as arrays (statements whose callers read many rows).
    lazy.raw = (toggle?: boolean) => ((rawRows = toggle ?? true), lazy as Sqlite.Statement);
    return lazy;
  };
  return new Proxy(db, {
    get(target, key) {
      if (key === 'prepare') return prepare;
      const v = Reflect.get(target, key, target) as unknown;
      return typeof v === 'function' ? v.bind(target) : v;
    },
  });
}

/** The queue store on the state database; `database`: a connection opened already (openDatabase), which close() closes. */
export function openSqliteStore(stateDir: string, database?: Sqlite.Database): QueueStore {
  const opened = database ?? openDatabase(stateDir);
  const db = preparedOnFirstUse(opened);
  const reads = readOps(db);
  const dsn = dsnOps(db);
  const delay = delayOps(db);
  const hold = adminOp(db, 'hold');
  const release = adminOp(db, 'release');
  const retry = adminOp(db, 'retry');
  const cancel = adminOp(db, 'cancel');
  // One transaction function for every batch (making one per call costs ~8 µs of a submission).
  const inTransaction = db.transaction(<T>(fn: () => T): T => fn());
  return {
    enqueue: enqueueOp(db),
    batch: <T>(fn: () => T): T => inTransaction.immediate(fn) as T,
    claim: claimOp(db),
    complete: completeOp(db),
    heartbeat: heartbeatOp(db),
    recoverOwn: recoverOwnOp(db),
    reapExpired: reapExpiredOp(db),
    ...reads,
    // The submission's reads, in place of read.ts's: the flood count without scanning the
    // window each time (flood.ts), bulk detection without re-preparing (bulk.ts).
    ...floodOps(db),
    contentRecipients: contentRecipientsOp(db),
    hold: (ids, reason, now) => hold(ids, now, reason),
    release: (ids, now) => release(ids, now),
    retry: (ids, now) => retry(ids, now),
    cancel: (ids, now) => cancel(ids, now),
    releaseHeld: releaseHeldOp(db),
    amendBounced: amendBouncedOp(db),
    needingDsn: dsn.needingDsn,
    markDsnSent: dsn.markDsnSent,
    needingDelayWarning: delay.needingDelayWarning,
    markDelayWarned: delay.markDelayWarned,
    findByEnvid: findByEnvidOp(db),
    purgeBodies: purgeBodiesOp(db),
    takeTokens: takeTokensOp(db),
    close: () => opened.close(),
  };
}

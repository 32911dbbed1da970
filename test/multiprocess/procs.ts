/**
 * Helpers for the tests that run sendwell as several real processes (the
 * multi-process test and the crash test): the built CLI as a child, a
 * config file, read-only looks at the queue database, and parsing what the
 * test SMTP server received. Every wait here is bounded in time.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Sqlite from 'better-sqlite3';
import type { ReceivedMessage } from '../helpers/smtp-server.js';

export const ROOT = new URL('../../', import.meta.url).pathname;
export const BIN = join(ROOT, 'dist/cli/bin.cjs');

export function requireBuiltCli(): void {
  if (!existsSync(BIN)) throw new Error(`${BIN} is missing: run \`npm run build\` first (npm run test:crash / test:multiprocess do)`);
}

/** No limit at all: 0 switches a bucket off (see src/queue/limits.ts). */
export const NO_LIMITS = {
  per_minute: 0,
  per_hour: 0,
  per_day: 0,
  per_recipient_per_hour: 0,
  per_domain_per_minute: 0,
  per_sender_per_hour: 0,
};

/** Write a sendwell.toml (only sections given; the rest are defaults). */
export function writeConfig(path: string, sections: Record<string, Record<string, string | number | boolean>>): string {
  const lines: string[] = [];
  for (const [section, keys] of Object.entries(sections)) {
    lines.push(`[${section}]`);
    for (const [k, v] of Object.entries(keys)) lines.push(`${k} = ${typeof v === 'string' ? JSON.stringify(v) : String(v)}`);
    lines.push('');
  }
  writeFileSync(path, lines.join('\n'), { mode: 0o600 });
  return path;
}

export interface Child {
  proc: ChildProcess;
  /** Everything on stdout/stderr so far (stderr kept to its last 64 KiB). */
  stdout(): string;
  stderr(): string;
  /** Resolves with the exit code (or the signal name). */
  exited: Promise<number | string>;
  /** Resolves once stderr contains `text`; rejects after timeoutMs or when the process exits first. */
  waitForStderr(text: string | RegExp, timeoutMs: number): Promise<void>;
}

const KEEP = 64 * 1024;

/** Spawn `node ARGS…` in `cwd` with a minimal environment (no developer config leaks in). */
export function spawnNode(args: string[], cwd: string, env: Record<string, string> = {}): Child {
  const proc = spawn(process.execPath, args, {
    cwd,
    env: { PATH: process.env.PATH ?? '', TZ: 'UTC', HOME: cwd, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  const waiters: Array<() => void> = [];
  proc.stdout!.on('data', (d: Buffer) => (out = (out + d.toString()).slice(-KEEP)));
  proc.stderr!.on('data', (d: Buffer) => {
    err = (err + d.toString()).slice(-KEEP);
    for (const w of waiters.splice(0)) w();
  });
  const exited = new Promise<number | string>((resolve) => {
    proc.on('exit', (code, signal) => resolve(code ?? signal ?? 'unknown'));
    proc.on('error', (e) => resolve(`spawn error: ${e.message}`));
  });
  const child: Child = {
    proc,
    stdout: () => out,
    stderr: () => err,
    exited,
    waitForStderr(text, timeoutMs) {
      return new Promise<void>((resolve, reject) => {
        const match = () => (typeof text === 'string' ? err.includes(text) : text.test(err));
        if (match()) return resolve();
        const timer = setTimeout(() => reject(new Error(`no ${String(text)} on stderr within ${timeoutMs} ms; stderr: ${err.slice(-2000)}`)), timeoutMs);
        const check = () => {
          if (match()) {
            clearTimeout(timer);
            resolve();
          } else waiters.push(check);
        };
        waiters.push(check);
        void exited.then((code) => {
          clearTimeout(timer);
          if (match()) resolve();
          else reject(new Error(`exited (${code}) before ${String(text)} appeared on stderr: ${err.slice(-2000)}`));
        });
      });
    },
  };
  return child;
}

/** The built CLI: `sendwell ARGS…`. */
export function spawnCli(args: string[], cwd: string, env: Record<string, string> = {}): Child {
  return spawnNode([BIN, ...args], cwd, env);
}

/** SIGTERM, then SIGKILL if it has not exited after graceMs. Returns the exit code or signal. */
export async function stop(child: Child, graceMs = 10_000): Promise<number | string> {
  if (child.proc.exitCode !== null || child.proc.signalCode !== null) return child.exited;
  child.proc.kill('SIGTERM');
  const timer = setTimeout(() => child.proc.kill('SIGKILL'), graceMs);
  try {
    return await child.exited;
  } finally {
    clearTimeout(timer);
  }
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Poll `cond` every `everyMs` until true or `timeoutMs` passed; returns the last value. */
export async function until(cond: () => boolean, timeoutMs: number, everyMs = 100): Promise<boolean> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    if (cond()) return true;
    if (Date.now() >= end) return false;
    await sleep(everyMs);
  }
}

/** A read-only view of the queue database another process is writing. */
export class QueueDb {
  private readonly db: Sqlite.Database;
  constructor(stateDir: string) {
    this.db = new Sqlite(join(stateDir, 'queue.db'), { readonly: true, timeout: 15_000 });
  }
  counts(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const r of this.db.prepare('SELECT state, COUNT(*) AS n FROM recipient GROUP BY state').all() as Array<{ state: string; n: number }>) out[r.state] = r.n;
    return out;
  }
  /** Recipients not yet in a terminal state. */
  pending(): number {
    return (this.db.prepare(`SELECT COUNT(*) AS n FROM recipient WHERE state IN ('queued','active','deferred','held')`).get() as { n: number }).n;
  }
  rows(): Array<{ message_id: string; address: string; state: string; attempts: number; last_reason: string | null; lease_owner: string | null }> {
    return this.db
      .prepare('SELECT m.message_id, r.address, r.state, r.attempts, r.last_reason, r.lease_owner FROM recipient r JOIN message m ON m.id = r.queue_id ORDER BY r.id')
      .all() as Array<{ message_id: string; address: string; state: string; attempts: number; last_reason: string | null; lease_owner: string | null }>;
  }
  messages(): number {
    return (this.db.prepare('SELECT COUNT(*) AS n FROM message').get() as { n: number }).n;
  }
  close(): void {
    this.db.close();
  }
}

/** The Message-ID header of a received message (first occurrence, angle brackets kept). */
export function messageIdOf(raw: Buffer): string | undefined {
  const head = raw.subarray(0, Math.max(0, raw.indexOf('\r\n\r\n')) || raw.length).toString('latin1');
  return /^Message-ID:[ \t]*(<[^>\r\n]+>)/im.exec(head)?.[1];
}

/**
 * Delivery counts at the server: per Message-ID (one SMTP transaction each)
 * and per Message-ID + recipient.
 */
export function tally(messages: ReceivedMessage[], complete: (raw: Buffer) => boolean = () => true) {
  const byMessage = new Map<string, number>();
  const byRecipient = new Map<string, number>();
  let incomplete = 0;
  for (const m of messages) {
    const id = messageIdOf(m.raw);
    if (!id || !complete(m.raw)) {
      incomplete++;
      continue;
    }
    byMessage.set(id, (byMessage.get(id) ?? 0) + 1);
    for (const to of m.to) byRecipient.set(`${id} ${to.toLowerCase()}`, (byRecipient.get(`${id} ${to.toLowerCase()}`) ?? 0) + 1);
  }
  const extra = (m: Map<string, number>) => [...m.values()].reduce((s, n) => s + n - 1, 0);
  return { byMessage, byRecipient, duplicateMessages: extra(byMessage), duplicateRecipients: extra(byRecipient), incomplete };
}

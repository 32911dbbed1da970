/**
 * The main thread's side of the submission thread (submit-thread.ts): one
 * group in flight at a time; the caller collects the next one meanwhile.
 */
import { Worker } from 'node:worker_threads';
import { SendwellError } from '../errors.js';
import type { Decided, ErrorData, Submission } from './submit-core.js';
import { errorFromData } from './submit-core.js';
import type { GroupReply, ThreadInit } from './submit-thread.js';
import { threadEntry } from './thread-entry.js';

export type GroupResults = Array<{ ok: true; d: Decided } | { ok: false; e: ErrorData }>;

export class SubmitThread {
  readonly ready: Promise<void>;
  private readonly worker: Worker;
  private pending: { seq: number; resolve: (r: GroupResults) => void; reject: (e: unknown) => void } | undefined;
  private seq = 0;
  private dead: string | undefined;
  private closing = false;
  private idleWaiters: Array<() => void> = [];
  private exited: Promise<void>;

  constructor(init: ThreadInit, onDead: (why: string) => void) {
    // Referenced until it is ready (nothing else may keep the process alive yet),
    // then only while a group is in flight.
    this.worker = new Worker(threadEntry('submit-thread', import.meta.url), { workerData: init });
    let ready!: () => void;
    let failed!: (e: unknown) => void;
    this.ready = new Promise<void>((res, rej) => ((ready = res), (failed = rej)));
    const die = (why: string, err?: unknown) => {
      if (this.dead) return;
      this.dead = why;
      failed(err ?? new Error(why));
      const p = this.pending;
      this.pending = undefined;
      // The group's fate is unknown (the thread may have committed it): a temporary
      // failure, so the client tries again later, as after any crash.
      p?.reject(new SendwellError('ECONFIG', `the submission thread stopped (${why}); the message may not be queued`, { temporary: true, hint: 'try again' }));
      this.runIdleWaiters();
      if (!this.closing) onDead(why);
    };
    this.worker.on('message', (m: GroupReply | { ready: true }) => {
      if ('ready' in m) {
        if (!this.pending) this.worker.unref();
        return ready();
      }
      const p = this.pending;
      if (!p || p.seq !== m.seq) return;
      this.pending = undefined;
      this.worker.unref();
      // Writers that waited for this commit go before the next group is sent.
      this.runIdleWaiters();
      if (m.ok) p.resolve(m.results);
      else p.reject(errorFromData(m.e));
    });
    this.worker.on('error', (err) => die(err.message, err));
    this.exited = new Promise<void>((res) => this.worker.once('exit', (code) => (die(`exit ${code}`), res())));
  }

  /** A group is being committed. */
  get busy(): boolean {
    return this.pending !== undefined;
  }

  /**
   * Run `fn` when no group is being committed: now, or right after the commit in
   * flight and before the next group starts. For this process's other writers,
   * which would otherwise block their event loop waiting for the write lock.
   */
  whenIdle(fn: () => void): void {
    if (this.pending) this.idleWaiters.push(fn);
    else fn();
  }

  private runIdleWaiters(): void {
    const ws = this.idleWaiters;
    this.idleWaiters = [];
    for (const w of ws) {
      try {
        w();
      } catch {
        // A waiter's own failure is its business (the worker records commit errors itself).
      }
    }
  }

  /** Commit `subs` as one group at `now`: per-submission results, or a rejection if the commit failed. */
  commit(now: number, subs: Submission[]): Promise<GroupResults> {
    if (this.dead) return Promise.reject(new SendwellError('ECONFIG', `the submission thread stopped (${this.dead})`, { temporary: true, hint: 'try again' }));
    if (this.pending) return Promise.reject(new Error('SubmitThread.commit: a group is already in flight'));
    const seq = ++this.seq;
    return new Promise<GroupResults>((resolve, reject) => {
      this.pending = { seq, resolve, reject };
      // Keep the process alive until the commit has answered.
      this.worker.ref();
      this.worker.postMessage({ seq, now, subs });
    });
  }

  /** Let the group in flight finish, then stop the thread. */
  async close(): Promise<void> {
    if (this.dead) return;
    this.closing = true;
    this.worker.ref();
    this.worker.postMessage('close');
    await this.exited;
  }
}

/**
 * The worker's store work on the delivery hot path (claim rounds and outcome
 * commits) behind one async interface, so a long drain can run it on a
 * thread of its own (io-thread.ts) while the event loop only talks SMTP.
 * Measured draining 20,000 messages over 8 connections: SQLite took ~40 % of
 * the single thread's time (bench/RESULTS.md).
 */
import { Worker as Thread } from 'node:worker_threads';
import { SendwellError } from '../errors.js';
import { claimRound, type ClaimRound, type ClaimRoundOptions } from './claim-round.js';
import type { Completion, QueueStore } from './store.js';
import { errorFromData, type ErrorData } from './submit-core.js';
import { threadEntry } from './thread-entry.js';

export interface DeliveryIo {
  claim(o: ClaimRoundOptions): Promise<ClaimRound>;
  /** Commit outcomes (one transaction); resolves with how many were applied. */
  complete(owner: string, now: number, completions: Completion[]): Promise<number>;
  close(): Promise<void>;
  /** Settles once calls are served without a start-up wait (a thread's I/O); rejects if it cannot start. */
  ready?: Promise<void>;
}

/**
 * On the caller's own connection. `gate` runs a write now or once another
 * writer of this process (the submission thread of `serve`) is between
 * commits: waiting for the lock would block the event loop.
 */
export function directIo(store: QueueStore, gate?: (fn: () => void) => void): DeliveryIo {
  const run = <T>(fn: () => T): Promise<T> =>
    new Promise<T>((resolve, reject) => {
      const go = () => {
        try {
          resolve(fn());
        } catch (err) {
          reject(err);
        }
      };
      if (gate) gate(go);
      else go();
    });
  return {
    claim: (o) => run(() => claimRound(store, o)),
    complete: (owner, now, completions) => run(() => store.complete(owner, now, completions)),
    close: async () => {},
  };
}

type IoCall = { op: 'claim'; o: ClaimRoundOptions } | { op: 'complete'; owner: string; now: number; completions: Completion[] };
/**
 * Requests and results cross as JSON text, bodies as transferred buffers:
 * structured cloning thousands of small objects cost the event loop more
 * (measured: postMessage 7.7 % of the main thread draining 20,000 messages).
 */
export type IoRequest = { seq: number; json: string };
export type IoReply = { seq: number; ok: true; json: string; bodies?: Array<Uint8Array | null> } | { seq: number; ok: false; e: ErrorData };
export type { IoCall };

/** The store work on a thread with its own connection to the same database. */
export function threadIo(stateDir: string): DeliveryIo {
  const thread = new Thread(threadEntry('io-thread', import.meta.url), { workerData: { stateDir } });
  thread.unref();
  const pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: unknown) => void }>();
  let seq = 0;
  let dead: string | undefined;
  let started: { resolve: () => void; reject: (e: Error) => void };
  const ready = new Promise<void>((resolve, reject) => (started = { resolve, reject }));
  ready.catch(() => {}); // also reported to the pending calls; a caller that never waits for it is fine
  const stopped = (why: string) => new SendwellError('ECONFIG', `the queue I/O thread stopped (${why})`, { temporary: true, hint: 'run the queue again (sendwell flush)' });
  const fail = (why: string) => {
    if (dead) return;
    dead = why;
    started.reject(new Error(why));
    // Whatever was in flight may or may not be committed: like a crash, the leases expire and the rows are retried.
    for (const p of pending.values()) p.reject(stopped(why));
    pending.clear();
  };
  thread.on('message', (m: IoReply | 'ready') => {
    if (m === 'ready') return started.resolve();
    const p = pending.get(m.seq);
    if (!p) return;
    pending.delete(m.seq);
    // Referenced only while a request is in flight: an idle thread never keeps the process alive.
    if (pending.size === 0) thread.unref();
    if (!m.ok) return p.reject(errorFromData(m.e));
    const result = JSON.parse(m.json) as unknown;
    if (m.bodies) {
      // A claim round: one body per message, in order (null where not read).
      (result as ClaimRound).messages.forEach((msg, i) => {
        const b = m.bodies![i];
        if (msg.message && b) msg.message.raw = Buffer.from(b.buffer, b.byteOffset, b.byteLength);
      });
    }
    p.resolve(result);
  });
  thread.on('error', (err) => fail(err.message));
  const exited = new Promise<void>((res) => thread.once('exit', (code) => (fail(`exit ${code}`), res())));
  const call = <T>(req: IoCall): Promise<T> => {
    if (dead) return Promise.reject(stopped(dead));
    const s = ++seq;
    return new Promise<T>((resolve, reject) => {
      pending.set(s, { resolve: resolve as (v: unknown) => void, reject });
      thread.ref();
      thread.postMessage({ seq: s, json: JSON.stringify(req) } satisfies IoRequest);
    });
  };
  return {
    ready,
    claim: (o) => call<ClaimRound>({ op: 'claim', o }),
    complete: (owner, now, completions) => call<number>({ op: 'complete', owner, now, completions }),
    close: async () => {
      if (dead) return;
      thread.ref();
      thread.postMessage('close');
      await exited;
    },
  };
}

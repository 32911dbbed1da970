/**
 * The submission thread of `sendwell serve`: group commits of SMTP submissions
 * on their own SQLite connection (WAL, synchronous=FULL), so the event loop
 * keeps talking SMTP to the other clients while a commit waits for the disk.
 * The main thread sends every submission that arrived meanwhile as one group;
 * each is acknowledged (250) only after the group's commit returned here.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { SuppressionList, type SuppressionPolicy } from '../bounce/suppression.js';
import { openSqliteStore } from './sqlite/index.js';
import { errorToData, submitOne, type BulkDetection, type Decided, type ErrorData, type FloodOptions, type Submission } from './submit-core.js';

export interface ThreadInit {
  stateDir: string;
  flood: FloodOptions;
  bulk: BulkDetection;
  /** The suppression policy, when the service checks suppressions. */
  suppression?: SuppressionPolicy;
}

export interface GroupRequest {
  seq: number;
  now: number;
  subs: Submission[];
}

export type GroupReply = { seq: number; ok: true; results: Array<{ ok: true; d: Decided } | { ok: false; e: ErrorData }> } | { seq: number; ok: false; e: ErrorData };

const init = workerData as ThreadInit;
const store = openSqliteStore(init.stateDir);
const suppression = init.suppression ? new SuppressionList(init.stateDir, init.suppression) : undefined;
const deps = { store, suppression, flood: init.flood, bulk: init.bulk, stateDir: init.stateDir };
parentPort!.postMessage({ ready: true });

parentPort!.on('message', (req: GroupRequest | 'close') => {
  if (req === 'close') {
    store.close();
    suppression?.close();
    parentPort!.close();
    return;
  }
  const results: Array<{ ok: true; d: Decided } | { ok: false; e: ErrorData }> = [];
  let reply: GroupReply;
  try {
    store.batch(() => {
      const recentBy = new Map<string, number>();
      for (const s of req.subs) {
        // postMessage turns a Buffer into a Uint8Array: the store wants a Buffer.
        const raw = Buffer.from(s.raw.buffer, s.raw.byteOffset, s.raw.byteLength);
        try {
          results.push({ ok: true, d: submitOne(deps, { ...s, raw }, req.now, recentBy) });
        } catch (e) {
          results.push({ ok: false, e: errorToData(e) });
        }
      }
    });
    reply = { seq: req.seq, ok: true, results };
  } catch (e) {
    // The commit itself failed: nothing in the group was saved.
    reply = { seq: req.seq, ok: false, e: errorToData(e) };
  }
  parentPort!.postMessage(reply);
});

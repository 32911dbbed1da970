/**
 * The queue I/O thread of a long drain (delivery-io.ts): claim rounds and
 * outcome commits on a connection of its own, in the order they were asked.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { claimRound } from './claim-round.js';
import type { IoCall, IoReply, IoRequest } from './delivery-io.js';
import { openSqliteStore } from './sqlite/index.js';
import { errorToData } from './submit-core.js';

const store = openSqliteStore((workerData as { stateDir: string }).stateDir);
parentPort!.postMessage('ready');

parentPort!.on('message', (req: IoRequest | 'close') => {
  if (req === 'close') {
    store.close();
    parentPort!.close();
    return;
  }
  let reply: IoReply;
  const transfer: ArrayBuffer[] = [];
  try {
    const call = JSON.parse(req.json) as IoCall;
    if (call.op === 'claim') {
      const round = claimRound(store, call.o);
      // Bodies travel beside the JSON, moved rather than copied when each has a buffer of its own.
      const bodies: Array<Uint8Array | null> = [];
      for (const m of round.messages) {
        const raw = m.message?.raw ?? null;
        bodies.push(raw);
        if (!raw || !m.message) continue;
        if (raw.byteOffset === 0 && raw.buffer.byteLength === raw.byteLength && raw.buffer instanceof ArrayBuffer) transfer.push(raw.buffer);
        m.message.raw = null;
      }
      reply = { seq: req.seq, ok: true, json: JSON.stringify(round), bodies };
    } else {
      reply = { seq: req.seq, ok: true, json: JSON.stringify(store.complete(call.owner, call.now, call.completions)) };
    }
  } catch (e) {
    reply = { seq: req.seq, ok: false, e: errorToData(e) };
  }
  parentPort!.postMessage(reply, transfer);
});

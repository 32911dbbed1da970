/**
 * A producer process for the multi-process test:
 *   node --import tsx test/multiprocess/submit-child.ts STATE_DIR TAG COUNT [START_AT_EPOCH_MS]
 * Waits until START_AT (so that all producers overlap whatever their start-up
 * time), then durably queues COUNT one-recipient messages with Message-IDs
 * <mp.TAG.i@example.test> through QueueService.submit (the library path), one
 * commit each, and prints {"tag","count","start","end"} on stdout. Exit 1 on any error.
 */
import { QueueService } from '../../src/queue/service.js';

const [stateDir, tag, countArg, startAtArg] = process.argv.slice(2);
const count = Number(countArg);
const startAt = Number(startAtArg ?? 0);
if (!stateDir || !tag || !Number.isInteger(count) || count < 1 || count > 100_000) {
  process.stderr.write('usage: submit-child.ts STATE_DIR TAG COUNT\n');
  process.exit(64);
}

// Never delivers (queue only); the relay is only named. Events go to the shared mail log. The flood brake would hold
// a test's burst from one submitter, so it is set out of the way.
const service = new QueueService({
  stateDir,
  relay: { url: 'smtp://127.0.0.1:9' },
  flood: { messages: 1_000_000, windowMs: 60_000, duplicateWindowMs: 0 },
});
// Bounded: never wait more than 30 s for the start signal.
const wait = Math.min(30_000, Math.max(0, startAt - Date.now()));
if (wait > 0) await new Promise((r) => setTimeout(r, wait));
const started = Date.now();
try {
  for (let i = 0; i < count; i++) {
    const messageId = `<mp.${tag}.${i}@example.test>`;
    const raw = Buffer.from(
      `From: Producer ${tag} <producer-${tag}@example.test>\r\nTo: <sink-${i % 5}@example.test>\r\nSubject: ${tag} ${i}\r\n` +
        `Date: Fri, 04 Dec 2026 16:00:00 +0000\r\nMessage-ID: ${messageId}\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\n` +
        `message ${i} from producer ${tag} (pid ${process.pid})\r\n`,
      'latin1',
    );
    service.submit({ raw, messageId, envelopeFrom: `producer-${tag}@example.test`, recipients: [`sink-${i % 5}@example.test`], submitter: `producer-${tag}` });
  }
  process.stdout.write(`${JSON.stringify({ tag, count, start: started, end: Date.now() })}\n`);
} catch (err) {
  process.stderr.write(`submit-child ${tag}: ${(err as Error).stack ?? String(err)}\n`);
  process.exitCode = 1;
} finally {
  await service.close();
}

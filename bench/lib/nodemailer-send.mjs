// The reference client: nodemailer's pool sending the benchmark messages.
//   node bench/lib/nodemailer-send.mjs PORT N BODY_BYTES CONNS MODE TAG
// MODE raw: the same RFC 5322 bytes sendwell sends (sendMail({ envelope, raw })),
// MODE compose: nodemailer builds the MIME message from text (its usual use).
// All N sendMail() calls are issued at once, as in perf-baselines.md; prints
// {"sent","failed","ms"} and exits 1 unless every message was accepted.
import nodemailer from 'nodemailer';
import { benchMessage, body, BENCH_FROM, BENCH_TO } from './message.mjs';

const [port, n, bodyBytes, conns, mode, tag] = process.argv.slice(2);
const N = Number(n);
const transporter = nodemailer.createTransport({ pool: true, maxConnections: Number(conns), host: '127.0.0.1', port: Number(port), secure: false, ignoreTLS: true });
const started = performance.now();
let sent = 0;
let failed = 0;
let firstError;
const jobs = [];
for (let i = 0; i < N; i++) {
  const mail =
    mode === 'compose'
      ? { from: `Bench <${BENCH_FROM}>`, to: BENCH_TO, subject: `bench ${i}`, text: body(Number(bodyBytes)), messageId: `<${tag}.${i}@example.test>`, date: new Date() }
      : { envelope: { from: BENCH_FROM, to: [BENCH_TO] }, raw: benchMessage(i, Number(bodyBytes), tag).raw };
  jobs.push(
    transporter.sendMail(mail).then(
      () => sent++,
      (e) => {
        failed++;
        firstError ??= e;
      },
    ),
  );
}
await Promise.all(jobs);
const ms = performance.now() - started;
transporter.close();
process.stdout.write(`${JSON.stringify({ sent, failed, ms, error: firstError ? String(firstError.message ?? firstError) : undefined })}\n`);
process.exitCode = failed === 0 && sent === N ? 0 : 1;

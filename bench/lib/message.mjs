// Benchmark messages: RFC 5322 headers plus a plain ASCII body of exactly
// `bodyBytes` bytes in 72-character lines (CRLF counted), like the baseline
// scripts in /work/shared/research/perf-baselines.md. Plain JS so the
// nodemailer child runs under bare node, as the sendwell CLI does.
export const BENCH_FROM = 'bench-sender@example.test';
export const BENCH_TO = 'bench-rcpt@example.test';

const bodies = new Map();

/** Now, as an RFC 5322 date (the sendmail drop-in lints the Date: H2). Fixed length. */
export function rfc5322Date(d = new Date()) {
  return d.toUTCString().replace('GMT', '+0000');
}

export function body(bodyBytes) {
  let b = bodies.get(bodyBytes);
  if (b !== undefined) return b;
  const lines = [];
  let left = bodyBytes;
  let n = 0;
  while (left > 0) {
    const take = Math.min(72, left);
    if (take <= 2) {
      lines.push('x'.repeat(take));
      break;
    }
    const text = `${String(n++).padStart(6, '0')} ${'abcdefghijklmnopqrstuvwxyz0123456789 '.repeat(3)}`.slice(0, take - 2);
    lines.push(`${text}\r\n`);
    left -= take;
  }
  b = lines.join('');
  bodies.set(bodyBytes, b);
  return b;
}

/** One message; `i` and `tag` make the Message-ID unique. */
export function benchMessage(i, bodyBytes = 1024, tag = 'bench', to = BENCH_TO) {
  const messageId = `<${tag}.${i}@example.test>`;
  const head =
    `From: Bench <${BENCH_FROM}>\r\n` +
    `To: <${to}>\r\n` +
    `Subject: bench ${i}\r\n` +
    `Date: ${rfc5322Date()}\r\n` +
    `Message-ID: ${messageId}\r\n` +
    `MIME-Version: 1.0\r\n` +
    `Content-Type: text/plain; charset=us-ascii\r\n` +
    `Content-Transfer-Encoding: 7bit\r\n` +
    `Auto-Submitted: auto-generated\r\n` +
    `\r\n`;
  return { raw: Buffer.from(head + body(bodyBytes), 'latin1'), messageId };
}

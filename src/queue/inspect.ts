/**
 * `sendwell queue` output (T1): Postfix's mailq layout, so what admins know
 * from `mailq` reads the same here, plus JSON lines with Postfix's
 * `postqueue -j` field names.
 */
import type { AttemptRow, QueuedMessage, RecipientRow } from './store.js';

const DAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

function arrival(t: number): string {
  const d = new Date(t);
  const p = (n: number) => String(n).padStart(2, '0');
  return `${DAYS[d.getDay()]} ${MONTHS[d.getMonth()]} ${String(d.getDate()).padStart(2, ' ')} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
}

/** Postfix marks: `*` active, `!` held, none otherwise. */
function mark(rows: RecipientRow[]): string {
  if (rows.some((r) => r.state === 'active')) return '*';
  if (rows.some((r) => r.state === 'held')) return '!';
  return ' ';
}

const PENDING = new Set(['queued', 'active', 'deferred', 'held']);
const INDENT = ' '.repeat(44);

/** Why a recipient waits, in words. */
export function waitReason(r: RecipientRow, now: number): string | null {
  switch (r.state) {
    case 'queued':
      return r.lastReason;
    case 'active':
      return 'being delivered now';
    case 'deferred': {
      const mins = Math.max(0, Math.round((r.nextAttemptAt - now) / 60_000));
      return `${r.lastReason ?? 'deferred'}; next attempt in ${mins} min`;
    }
    case 'held':
      return `held: ${r.lastReason ?? 'by the administrator'}`;
    default:
      return null;
  }
}

export function formatMailq(entries: Array<{ message: QueuedMessage; recipients: RecipientRow[] }>, now: number): string {
  if (entries.length === 0) return 'Mail queue is empty\n';
  let out = '-Queue ID-      --Size-- ----Arrival Time---- -Sender/Recipient-------\n';
  let bytes = 0;
  for (const { message, recipients } of entries) {
    const waiting = recipients.filter((r) => PENDING.has(r.state));
    bytes += message.size;
    out += `${message.id}${mark(waiting)} ${String(message.size).padStart(8)} ${arrival(message.createdAt)}  ${message.envelopeFrom || 'MAILER-DAEMON'}\n`;
    // Group recipients by reason, like Postfix: the reason in parentheses, then its recipients.
    const byReason = new Map<string, RecipientRow[]>();
    for (const r of waiting) {
      const reason = waitReason(r, now) ?? '';
      byReason.set(reason, [...(byReason.get(reason) ?? []), r]);
    }
    for (const [reason, rows] of byReason) {
      if (reason) out += `(${reason})\n`;
      for (const r of rows) out += `${INDENT}${r.address}\n`;
    }
    out += '\n';
  }
  const n = entries.length;
  out += `-- ${Math.ceil(bytes / 1024)} Kbytes in ${n} Request${n === 1 ? '' : 's'}.\n`;
  return out;
}

/** One JSON object per message, with Postfix's `postqueue -j` names (unknown members are to be ignored). */
export function mailqJson(entries: Array<{ message: QueuedMessage; recipients: RecipientRow[] }>, now: number): string {
  return entries
    .map(({ message, recipients }) =>
      JSON.stringify({
        queue_name: recipients.some((r) => r.state === 'held') ? 'hold' : recipients.some((r) => r.state === 'active') ? 'active' : recipients.some((r) => r.state === 'deferred') ? 'deferred' : 'incoming',
        queue_id: message.id,
        arrival_time: Math.floor(message.createdAt / 1000),
        message_size: message.size,
        sender: message.envelopeFrom,
        message_id: message.messageId,
        recipients: recipients
          .filter((r) => PENDING.has(r.state))
          .map((r) => ({ address: r.address, state: r.state, delay_reason: waitReason(r, now) ?? undefined, attempts: r.attempts, next_attempt: Math.floor(r.nextAttemptAt / 1000) })),
      }),
    )
    .map((l) => `${l}\n`)
    .join('');
}

/** `sendwell queue show ID`: the message's headers, each recipient, every attempt. */
export function formatShow(message: QueuedMessage, recipients: RecipientRow[], attempts: AttemptRow[], raw: Buffer | null, now: number): string {
  const lines: string[] = [];
  lines.push(`Queue ID:    ${message.id}`);
  lines.push(`Message-ID:  ${message.messageId}`);
  lines.push(`Sender:      <${message.envelopeFrom}>`);
  lines.push(`Arrival:     ${new Date(message.createdAt).toISOString()}`);
  lines.push(`Size:        ${message.size} octets${message.hasBody ? '' : ' (body purged after delivery)'}`);
  lines.push(`Submitter:   ${message.submitter}`);
  lines.push(`Category:    ${message.list ? `bulk (list ${message.list})` : 'transactional'}`);
  // Only what the submitter gave (sendmail -N/-R/-V, RCPT NOTIFY=, …); else [dsn] of the config applies.
  const dsn = [message.dsnNotify ? `NOTIFY=${message.dsnNotify.join(',')}` : '', message.dsnRet ? `RET=${message.dsnRet}` : '', message.dsnEnvid !== null ? `ENVID=${message.dsnEnvid}` : ''].filter(Boolean);
  if (dsn.length) lines.push(`DSN:         ${dsn.join(' ')}`);
  lines.push('', 'Recipients:');
  for (const r of recipients) {
    const why = waitReason(r, now) ?? r.lastReason;
    lines.push(`  ${r.state.padEnd(10)} ${r.address}  attempts=${r.attempts}${r.lastDsn ? ` dsn=${r.lastDsn}` : ''}${r.relayQueueId ? ` relay-queue-id=${r.relayQueueId}` : ''}${why ? `  (${why})` : ''}`);
  }
  lines.push('', 'Attempts:');
  if (attempts.length === 0) lines.push('  none yet');
  for (const a of attempts) {
    lines.push(`  ${new Date(a.at).toISOString()}  ${a.status.padEnd(9)} ${a.address}  relay=${a.relay ?? 'none'}  dsn=${a.dsn ?? '-'}  (${a.reply ?? ''})`);
  }
  if (raw) {
    const s = raw.toString('utf8');
    const end = s.indexOf('\r\n\r\n');
    lines.push('', 'Headers:', ...(end === -1 ? s : s.slice(0, end)).split('\r\n').map((l) => `  ${l}`));
  }
  return `${lines.join('\n')}\n`;
}

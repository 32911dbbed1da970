/**
 * Real spam scanners, optional: SpamAssassin's spamd (the spamc protocol over TCP)
 * and rspamd (HTTP `POST /checkv2`). Both get the message with a synthetic
 * `Received:` header first, because SpamAssassin's date tests compare Date with the
 * Received timestamps and skip mail that has none.
 */
import { connect } from 'node:net';
import { SendwellError } from '../../errors.js';

/** One rule a scanner reported. */
export interface ScannerRule {
  name: string;
  /** Points, when the scanner reports them (spamd REPORT, rspamd). */
  score?: number;
  description?: string;
}

export interface ScannerScore {
  /** The scanner's total score. */
  score: number;
  /** Its own threshold (spamd `required_score`, rspamd `required_score`), when reported. */
  required?: number;
  /** Whether the scanner itself calls the mail spam. */
  spam: boolean;
  /** Rules it hit, highest score first where scores are known. */
  rules: ScannerRule[];
  /** rspamd's action (`no action`, `add header`, `reject`, …). */
  action?: string;
}

export const DEFAULT_SCAN_TIMEOUT_MS = 10_000;
/** spamd refuses larger messages by default (spamc -s 500 KB); we send at most this much. */
export const MAX_SCAN_BYTES = 512 * 1024;

/**
 * The message with a `Received:` header in front, stamped `now`, as the first relay
 * would add it. Messages that already have Received headers are returned unchanged.
 */
export function withSyntheticReceived(raw: Buffer, now: Date, by = 'sendwell.preflight.invalid'): Buffer {
  const head = raw.subarray(0, Math.min(raw.length, 64 * 1024)).toString('latin1');
  const end = head.search(/\r?\n\r?\n/);
  const headers = end < 0 ? head : head.slice(0, end);
  if (/^received:/im.test(headers)) return raw;
  const eol = head.includes('\r\n') ? '\r\n' : '\n';
  const stamp = rfc5322Date(now);
  const line = `Received: from localhost (localhost [127.0.0.1])${eol}\tby ${by} (sendwell spam preflight) with ESMTP${eol}\t; ${stamp}${eol}`;
  return Buffer.concat([Buffer.from(line, 'latin1'), raw]);
}

const DAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
function rfc5322Date(d: Date): string {
  const p = (n: number) => String(n).padStart(2, '0');
  return `${DAYS[d.getUTCDay()]}, ${p(d.getUTCDate())} ${MONTHS[d.getUTCMonth()]} ${d.getUTCFullYear()} ${p(d.getUTCHours())}:${p(d.getUTCMinutes())}:${p(d.getUTCSeconds())} +0000`;
}

/** A scanner could not be asked (unreachable, time-out, unexpected reply). Never fatal: it becomes a warning. */
export class SpamScanError extends Error {
  override readonly name = 'SpamScanError';
  constructor(
    readonly scanner: 'spamd' | 'rspamd',
    readonly target: string,
    message: string,
    cause?: unknown,
  ) {
    super(`${scanner} at ${target}: ${message}`, cause === undefined ? undefined : { cause });
  }
}

function scanError(scanner: 'spamd' | 'rspamd', target: string, message: string, cause?: unknown): SpamScanError {
  return new SpamScanError(scanner, target, message, cause);
}

/** Parse "host:port" ("[::1]:783" for IPv6; port default 783). */
export function parseHostPort(spec: string, defaultPort = 783): { host: string; port: number } {
  const m = /^\[([^\]]+)\](?::(\d{1,5}))?$/.exec(spec) ?? /^([^:\s]+)(?::(\d{1,5}))?$/.exec(spec);
  if (!m) throw new SendwellError('ECONFIG', `spam.spamd = ${JSON.stringify(spec)} is not "host:port"`, { hint: 'write e.g. spamd = "127.0.0.1:783"' });
  const port = m[2] === undefined ? defaultPort : Number(m[2]);
  if (port < 1 || port > 65535) throw new SendwellError('ECONFIG', `spam.spamd = ${JSON.stringify(spec)}: port out of range`, { hint: 'write e.g. spamd = "127.0.0.1:783"' });
  return { host: m[1]!, port };
}

/**
 * Parse a spamd reply (`SPAMD/1.1 0 EX_OK`, headers, body) to SYMBOLS or REPORT.
 * SYMBOLS' body is `RULE_A,RULE_B`; REPORT's body is the report with its
 * " pts rule name  description" table.
 */
export function parseSpamdResponse(reply: string): ScannerScore {
  const sep = reply.search(/\r?\n\r?\n/);
  const head = sep < 0 ? reply : reply.slice(0, sep);
  const body = sep < 0 ? '' : reply.slice(sep).replace(/^\r?\n\r?\n/, '');
  const lines = head.split(/\r?\n/);
  const status = /^SPAMD\/[\d.]+\s+(\d+)\s*(.*)$/.exec(lines[0] ?? '');
  if (!status) throw new Error(`unexpected reply ${JSON.stringify((lines[0] ?? '').slice(0, 80))}`);
  if (status[1] !== '0') throw new Error(`spamd answered ${status[1]} ${status[2]}`);
  const spamLine = lines.find((l) => /^Spam:/i.test(l));
  const m = spamLine ? /^Spam:\s*(\w+)\s*;\s*(-?[\d.]+)\s*\/\s*(-?[\d.]+)/i.exec(spamLine) : null;
  if (!m) throw new Error('reply has no "Spam: True ; score / threshold" header');
  const out: ScannerScore = { spam: /^(true|yes)$/i.test(m[1]!), score: Number(m[2]), required: Number(m[3]), rules: [] };
  const table = /^\s*pts\s+rule name\s+description\s*$/m.exec(body);
  if (table) {
    const rows = body.slice(table.index + table[0].length).split(/\r?\n/);
    for (const row of rows) {
      const r = /^\s*(-?\d+(?:\.\d+)?)\s+([A-Za-z0-9_]+)\s+(.*)$/.exec(row);
      if (r) out.rules.push({ name: r[2]!, score: Number(r[1]), description: r[3]!.trim() });
      else if (/^\s{10,}\S/.test(row) && out.rules.length > 0) {
        const last = out.rules[out.rules.length - 1]!;
        last.description = `${last.description ?? ''} ${row.trim()}`.trim();
      }
    }
    out.rules.sort((a, b) => (b.score ?? 0) - (a.score ?? 0));
  } else {
    const names = body.trim().split(/[,\s]+/).filter((s) => /^[A-Za-z0-9_]+$/.test(s));
    out.rules = names.map((name) => ({ name }));
  }
  return out;
}

/** Ask spamd about a message (`REPORT` by default: score, rules and their points). */
export function spamdCheck(
  raw: Buffer,
  options: { spamd: string; timeoutMs?: number; command?: 'REPORT' | 'SYMBOLS'; now?: Date; user?: string },
): Promise<ScannerScore> {
  const { host, port } = parseHostPort(options.spamd);
  const target = options.spamd;
  const timeoutMs = options.timeoutMs ?? DEFAULT_SCAN_TIMEOUT_MS;
  const message = withSyntheticReceived(raw, options.now ?? new Date()).subarray(0, MAX_SCAN_BYTES);
  const command = options.command ?? 'REPORT';
  const request = Buffer.concat([
    Buffer.from(`${command} SPAMC/1.5\r\nContent-length: ${message.length}\r\n${options.user ? `User: ${options.user}\r\n` : ''}\r\n`, 'latin1'),
    message,
  ]);
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let settled = false;
    const socket = connect({ host, port });
    const fail = (msg: string, cause?: unknown) => {
      if (settled) return;
      settled = true;
      socket.destroy();
      reject(scanError('spamd', target, msg, cause));
    };
    socket.setTimeout(timeoutMs, () => fail(`no answer within ${Math.round(timeoutMs / 1000)} s`));
    socket.on('error', (err: NodeJS.ErrnoException) => fail(err.code === 'ECONNREFUSED' ? 'connection refused (is spamd running?)' : err.message, err));
    socket.on('connect', () => socket.write(request));
    socket.on('data', (d: Buffer) => chunks.push(d));
    socket.on('end', () => {
      if (settled) return;
      try {
        const result = parseSpamdResponse(Buffer.concat(chunks).toString('utf8'));
        settled = true;
        resolve(result);
      } catch (err) {
        fail((err as Error).message, err);
      }
    });
  });
}

interface RspamdSymbol {
  name?: string;
  score?: number;
  metric_score?: number;
  description?: string;
}

/** Parse rspamd's `/checkv2` JSON reply. */
export function parseRspamdResponse(json: unknown): ScannerScore {
  if (typeof json !== 'object' || json === null) throw new Error('reply is not a JSON object');
  const j = json as { score?: unknown; required_score?: unknown; action?: unknown; symbols?: unknown; error?: unknown };
  if (typeof j.error === 'string') throw new Error(`rspamd error: ${j.error}`);
  if (typeof j.score !== 'number') throw new Error('reply has no numeric "score"');
  const rules: ScannerRule[] = [];
  if (typeof j.symbols === 'object' && j.symbols !== null) {
    for (const [key, v] of Object.entries(j.symbols as Record<string, RspamdSymbol>)) {
      const rule: ScannerRule = { name: typeof v?.name === 'string' ? v.name : key };
      if (typeof v?.score === 'number') rule.score = v.score;
      if (typeof v?.description === 'string') rule.description = v.description;
      rules.push(rule);
    }
  }
  rules.sort((a, b) => (b.score ?? 0) - (a.score ?? 0) || a.name.localeCompare(b.name));
  const action = typeof j.action === 'string' ? j.action : undefined;
  const out: ScannerScore = { score: j.score, spam: action !== undefined ? action !== 'no action' && action !== 'greylist' : false, rules };
  if (typeof j.required_score === 'number') {
    out.required = j.required_score;
    if (action === undefined) out.spam = j.score >= j.required_score;
  }
  if (action !== undefined) out.action = action;
  return out;
}

/** Ask rspamd (`POST <url>/checkv2`) about a message. */
export async function rspamdCheck(
  raw: Buffer,
  options: { rspamd: string; timeoutMs?: number; now?: Date; envelope?: { from: string; to: string[] } },
): Promise<ScannerScore> {
  const target = options.rspamd;
  let url: URL;
  try {
    url = new URL(target.replace(/\/+$/, '') + '/checkv2');
    if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error('not http');
  } catch (err) {
    throw new SendwellError('ECONFIG', `spam.rspamd = ${JSON.stringify(target)} is not an http:// URL`, { hint: 'write e.g. rspamd = "http://127.0.0.1:11333"', cause: err });
  }
  const timeoutMs = options.timeoutMs ?? DEFAULT_SCAN_TIMEOUT_MS;
  const body = withSyntheticReceived(raw, options.now ?? new Date());
  // Outbound scan: an empty User and Ip tell rspamd the mail comes from an authenticated local sender.
  const headers: Record<string, string> = { 'Content-Type': 'message/rfc822', Pass: 'all' };
  if (options.envelope?.from) headers.From = options.envelope.from;
  if (options.envelope?.to.length) headers.Rcpt = options.envelope.to[0]!;
  let res: Response;
  try {
    res = await fetch(url, { method: 'POST', headers, body, signal: AbortSignal.timeout(timeoutMs) });
  } catch (err) {
    const e = err as Error & { cause?: NodeJS.ErrnoException };
    const msg = e.name === 'TimeoutError' ? `no answer within ${Math.round(timeoutMs / 1000)} s` : e.cause?.code === 'ECONNREFUSED' ? 'connection refused (is rspamd running?)' : (e.cause?.message ?? e.message);
    throw scanError('rspamd', target, msg, err);
  }
  let text = '';
  try {
    text = await res.text();
  } catch (err) {
    throw scanError('rspamd', target, `reading the reply failed: ${(err as Error).message}`, err);
  }
  if (!res.ok) throw scanError('rspamd', target, `HTTP ${res.status} ${text.slice(0, 200)}`.trim());
  try {
    return parseRspamdResponse(JSON.parse(text));
  } catch (err) {
    throw scanError('rspamd', target, (err as Error).message, err);
  }
}

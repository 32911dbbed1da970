/**
 * SMTP reply parsing (RFC 5321 §4.2): `CODE SP text` or, for multi-line
 * replies, `CODE-text` lines followed by a final `CODE SP text` line.
 *
 * The parser is incremental: feed it socket chunks, it returns every reply
 * completed so far and keeps partial lines for the next chunk. Anything that is
 * not SMTP (a line without a 3-digit code, a code that changes inside one reply,
 * a line or reply that is absurdly long) is an `EPROTOCOL` SendwellError; the
 * parser never throws anything else.
 */
import { SendwellError } from '../../errors.js';

/**
 * Longest reply line accepted, in octets including CRLF. RFC 5321 §4.5.3.1.5
 * allows 512; real servers send longer texts (e.g. EHLO lines, policy URLs), so
 * be lenient but bounded so a hostile server cannot make us buffer without end.
 */
export const MAX_REPLY_LINE_OCTETS = 8192;
/** Most lines in one multi-line reply (EHLO replies have a few dozen at most). */
export const MAX_REPLY_LINES = 512;

/** RFC 3463 enhanced status code at the start of a reply text: class.subject.detail */
const ENHANCED_RE = /^([245])\.(\d{1,3})\.(\d{1,3})(?=\s|$)/;
// eslint-disable-next-line no-control-regex
const CONTROL_RE = /[\u0000-\u0008\u000b-\u001f\u007f]/g;

export interface SmtpReply {
  /** The 3-digit reply code. */
  code: number;
  /** RFC 3463 code (`5.7.1`) when the text starts with one. */
  enhanced?: string;
  /** Text of each line, without the code and without the enhanced code. */
  lines: string[];
  /** The full reply on one line: `550 5.7.1 Relay access denied`. */
  full: string;
}

/** `2`, `3`, `4` or `5`: the class of the reply. */
export function replyClass(reply: Pick<SmtpReply, 'code'>): number {
  return Math.floor(reply.code / 100);
}

/** Extract an RFC 3463 enhanced status code from the start of a reply text. */
export function extractEnhancedStatus(text: string): string | undefined {
  const m = ENHANCED_RE.exec(text);
  return m ? `${m[1]}.${Number(m[2])}.${Number(m[3])}` : undefined;
}

/** Replace control characters so a server's text is safe to print. */
export function sanitizeText(text: string): string {
  return text.replace(CONTROL_RE, ' ');
}

function protocolError(message: string, line: string): SendwellError {
  const shown = sanitizeText(line.length > 120 ? `${line.slice(0, 120)}…` : line);
  return new SendwellError('EPROTOCOL', `${message}: ${JSON.stringify(shown)}`, {
    temporary: false,
    response: shown,
    hint: 'the server does not speak SMTP as expected — check that relay.url points at an SMTP server and port (e.g. not an HTTP or IMAP port, or implicit TLS on a plain port)',
  });
}

// eslint-disable-next-line no-control-regex
const HAS_CONTROL_RE = /[\u0000-\u0008\u000b-\u001f\u007f]/;

/** Build an SmtpReply from its lines (code prefix already removed). */
export function makeReply(code: number, rawTexts: string[]): SmtpReply {
  // One line (every reply of a transaction): the general case below, without its arrays.
  if (rawTexts.length === 1) {
    let t = rawTexts[0]!;
    if (HAS_CONTROL_RE.test(t)) t = sanitizeText(t);
    const m = ENHANCED_RE.exec(t);
    if (!m) {
      const joined = t.trim();
      return { code, lines: [t], full: joined === '' ? String(code) : `${code} ${joined}` };
    }
    const enhanced = `${m[1]}.${Number(m[2])}.${Number(m[3])}`;
    const rest = t.slice(m[0].length).trimStart();
    const joined = rest.trim();
    return { code, lines: [rest], full: joined === '' ? `${code} ${enhanced}` : `${code} ${enhanced} ${joined}`, enhanced };
  }
  return makeReplyGeneral(code, rawTexts);
}

/** Any number of lines (exported to check the one-line path against it). */
export function makeReplyGeneral(code: number, rawTexts: string[]): SmtpReply {
  const texts = rawTexts.map(sanitizeText);
  const enhanced = texts.length > 0 ? extractEnhancedStatus(texts[0]!) : undefined;
  const lines = enhanced
    ? texts.map((t) => {
        const m = ENHANCED_RE.exec(t);
        return m ? t.slice(m[0].length).trimStart() : t;
      })
    : texts;
  const joined = lines.join(' ').trim();
  const full = [String(code), enhanced, joined].filter((s) => s !== undefined && s !== '').join(' ');
  const reply: SmtpReply = { code, lines, full };
  if (enhanced !== undefined) reply.enhanced = enhanced;
  return reply;
}

/** Incremental reply parser. */
export class ReplyParser {
  private partial: Buffer = Buffer.alloc(0);
  private pendingCode: number | undefined;
  private pendingLines: string[] = [];

  /** True when bytes of an incomplete line or reply are buffered. */
  get hasBuffered(): boolean {
    return this.partial.length > 0 || this.pendingLines.length > 0;
  }

  /** Feed a chunk; returns the replies it completed. Throws EPROTOCOL SendwellErrors only. */
  push(chunk: Buffer): SmtpReply[] {
    const out: SmtpReply[] = [];
    let buf = this.partial.length ? Buffer.concat([this.partial, chunk]) : chunk;
    let start = 0;
    for (;;) {
      const nl = buf.indexOf(0x0a, start);
      if (nl < 0) break;
      if (nl + 1 - start > MAX_REPLY_LINE_OCTETS) {
        throw protocolError(`reply line longer than ${MAX_REPLY_LINE_OCTETS} octets`, buf.subarray(start, start + 120).toString('utf8'));
      }
      let end = nl;
      if (end > start && buf[end - 1] === 0x0d) end--;
      const reply = this.lineAt(buf, start, end);
      start = nl + 1;
      if (reply) out.push(reply);
    }
    buf = buf.subarray(start);
    if (buf.length > MAX_REPLY_LINE_OCTETS) {
      throw protocolError(`reply line longer than ${MAX_REPLY_LINE_OCTETS} octets`, buf.subarray(0, 120).toString('utf8'));
    }
    // Copy so a small remainder does not pin a large socket buffer.
    this.partial = buf.length ? Buffer.from(buf) : Buffer.alloc(0);
    return out;
  }

  /** The line buf[start, end): code and separator read from the bytes, only the text decoded. */
  private lineAt(buf: Buffer, start: number, end: number): SmtpReply | undefined {
    const n = end - start;
    const c0 = buf[start]!;
    const c1 = buf[start + 1]!;
    const c2 = buf[start + 2]!;
    const sep = n > 3 ? buf[start + 3]! : 0x20;
    const wellFormed = n >= 3 && c0 >= 0x32 && c0 <= 0x35 && c1 >= 0x30 && c1 <= 0x39 && c2 >= 0x30 && c2 <= 0x39 && (sep === 0x20 || sep === 0x2d);
    const code = (c0 - 0x30) * 100 + (c1 - 0x30) * 10 + (c2 - 0x30);
    // Anything unusual takes the string path, which names the problem.
    if (!wellFormed || (this.pendingCode !== undefined && this.pendingCode !== code)) return this.line(buf.toString('utf8', start, end));
    const text = n > 4 ? buf.toString('utf8', start + 4, end) : '';
    if (sep === 0x2d || this.pendingLines.length > 0) return this.line(`${code}${sep === 0x2d ? '-' : ' '}${text}`);
    return makeReply(code, [text]);
  }

  private line(line: string): SmtpReply | undefined {
    const m = /^([2-5]\d\d)([ -]|$)/.exec(line);
    if (!m) throw protocolError('not an SMTP reply line', line);
    const code = Number(m[1]);
    if (this.pendingCode !== undefined && this.pendingCode !== code) {
      throw protocolError(`reply code changed from ${this.pendingCode} to ${code} inside a multi-line reply`, line);
    }
    const text = line.slice(4);
    if (m[2] === '-') {
      this.pendingCode = code;
      this.pendingLines.push(text);
      if (this.pendingLines.length > MAX_REPLY_LINES) throw protocolError(`reply with more than ${MAX_REPLY_LINES} lines`, line);
      return undefined;
    }
    const lines = [...this.pendingLines, text];
    this.pendingCode = undefined;
    this.pendingLines = [];
    return makeReply(code, lines);
  }
}

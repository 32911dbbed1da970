/**
 * A strict RFC 5322 §3.4 address-list parser for the lint rules.
 *
 * Unlike lenient parsers it refuses what RFC 5322 does not allow (missing angle brackets
 * around an address after a display name, text glued after an address, CFWS inside an
 * addr-spec such as `user@good.example(x)evil.example`), so that a lint finding can say
 * "invalid" where other software would silently guess. The addr-spec found is returned
 * exactly as written; its conservative check is {@link parseAddress} in address-check.ts.
 *
 * Accepted beyond the strict grammar, because RFC 5322 requires parsers to accept it:
 * `obs-phrase` (a `.` inside a display name, "Jane Q. Doe") and a comment after an
 * address used as the display name (`jane@example.org (Jane Doe)`).
 */
import { decodeEncodedWords } from './rfc2047.js';

export interface Mailbox {
  /** Display name, unquoted and RFC 2047-decoded ('' when none). */
  name: string;
  /** The addr-spec exactly as written, without angle brackets. */
  address: string;
  /** The group it belongs to, when written as `group: a, b;`. */
  group?: string;
}

export type AddressListResult =
  | { ok: true; mailboxes: Mailbox[]; groups: number }
  | { ok: false; reason: string; mailboxes: Mailbox[] };

/** Refuse longer values outright: nobody needs them, and they bound parsing time. */
export const MAX_ADDRESS_FIELD_LENGTH = 64 * 1024;

type TokenKind = 'atom' | 'quoted' | 'literal' | 'special' | 'comment';

interface Token {
  kind: TokenKind;
  /** For specials the character; for quoted strings the unquoted text; for atoms/literals the text; for comments the content. */
  text: string;
  start: number;
  end: number;
  /** Whitespace or a comment directly before this token. */
  cfwsBefore: boolean;
}

class ParseError extends Error {}

const SPECIALS = '()<>[]:;@\\,.';

function isAtext(c: number): boolean {
  // Printable ASCII except specials and the quote, plus UTF-8 non-ASCII (RFC 6532).
  if (c >= 0x80) return c > 0x9f;
  return c > 0x20 && c < 0x7f && c !== 0x22 && !SPECIALS.includes(String.fromCharCode(c));
}

function tokenize(s: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  let cfws = false;
  while (i < s.length) {
    const c = s.charCodeAt(i);
    const ch = s[i]!;
    if (c === 0x20 || c === 0x09 || c === 0x0d || c === 0x0a) {
      i += 1;
      cfws = true;
      continue;
    }
    if (ch === '(') {
      const start = i;
      let depth = 0;
      let text = '';
      for (; i < s.length; i++) {
        const d = s[i]!;
        if (d === '\\') {
          i += 1;
          text += s[i] ?? '';
          continue;
        }
        if (d === '(') {
          depth += 1;
          if (depth > 1) text += d;
          if (depth > 32) throw new ParseError('comments nested too deeply');
          continue;
        }
        if (d === ')') {
          depth -= 1;
          if (depth === 0) break;
          text += d;
          continue;
        }
        text += d;
      }
      if (depth !== 0) throw new ParseError('unclosed comment');
      i += 1;
      tokens.push({ kind: 'comment', text: text.trim(), start, end: i, cfwsBefore: cfws });
      cfws = true;
      continue;
    }
    if (ch === '"') {
      const start = i;
      let text = '';
      i += 1;
      let closed = false;
      for (; i < s.length; i++) {
        const d = s[i]!;
        if (d === '\\') {
          i += 1;
          if (i >= s.length) break;
          text += s[i];
          continue;
        }
        if (d === '"') {
          closed = true;
          break;
        }
        if (d === '\r' || d === '\n') continue;
        text += d;
      }
      if (!closed) throw new ParseError('unclosed quoted string');
      i += 1;
      tokens.push({ kind: 'quoted', text, start, end: i, cfwsBefore: cfws });
      cfws = false;
      continue;
    }
    if (ch === '[') {
      const close = s.indexOf(']', i);
      if (close < 0) throw new ParseError('unclosed domain literal [');
      const text = s.slice(i, close + 1);
      if (/[\[\\\s]/.test(text.slice(1, -1))) throw new ParseError('invalid domain literal');
      tokens.push({ kind: 'literal', text, start: i, end: close + 1, cfwsBefore: cfws });
      i = close + 1;
      cfws = false;
      continue;
    }
    if ('<>:;@,.'.includes(ch)) {
      tokens.push({ kind: 'special', text: ch, start: i, end: i + 1, cfwsBefore: cfws });
      i += 1;
      cfws = false;
      continue;
    }
    if (isAtext(c)) {
      const start = i;
      while (i < s.length && isAtext(s.charCodeAt(i))) i += 1;
      tokens.push({ kind: 'atom', text: s.slice(start, i), start, end: i, cfwsBefore: cfws });
      cfws = false;
      continue;
    }
    if (ch === ')') throw new ParseError('unbalanced )');
    if (ch === ']') throw new ParseError('unbalanced ]');
    if (ch === '\\') throw new ParseError('backslash outside a quoted string');
    throw new ParseError(`control or invalid character U+${c.toString(16).toUpperCase().padStart(4, '0')}`);
  }
  return tokens;
}

class Parser {
  /** Index of the next token (comments included; they are CFWS except after an address, where one is the old-style name). */
  pos = 0;
  constructor(
    private readonly source: string,
    private readonly tokens: Token[],
  ) {}

  /** The next non-comment token. */
  peek(offset = 0): Token | undefined {
    let p = this.pos;
    let seen = 0;
    while (p < this.tokens.length) {
      const t = this.tokens[p]!;
      if (t.kind !== 'comment') {
        if (seen === offset) return t;
        seen += 1;
      }
      p += 1;
    }
    return undefined;
  }

  /** Consume the next non-comment token (marked cfwsBefore when a comment was skipped). */
  next(): Token {
    let comment = false;
    while (this.pos < this.tokens.length && this.tokens[this.pos]!.kind === 'comment') {
      this.pos += 1;
      comment = true;
    }
    const t = this.tokens[this.pos];
    if (!t) throw new ParseError('unexpected end of the field');
    this.pos += 1;
    return comment ? { ...t, cfwsBefore: true } : t;
  }

  /** Comments directly at the current position (consumed). */
  takeComments(): string[] {
    const out: string[] = [];
    while (this.pos < this.tokens.length && this.tokens[this.pos]!.kind === 'comment') {
      out.push(this.tokens[this.pos]!.text);
      this.pos += 1;
    }
    return out;
  }

  isSpecial(t: Token | undefined, ch: string): boolean {
    return t !== undefined && t.kind === 'special' && t.text === ch;
  }

  expectSpecial(ch: string, what: string): Token {
    const t = this.peek();
    if (!this.isSpecial(t, ch)) throw new ParseError(t ? `expected ${what} but found ${JSON.stringify(this.describe(t))}` : `expected ${what} at the end`);
    return this.next();
  }

  describe(t: Token): string {
    return this.source.slice(t.start, Math.min(t.end, t.start + 40));
  }

  /** addr-spec = local-part "@" domain, with no CFWS inside. Returns the exact source text. */
  addrSpec(): string {
    const first = this.next();
    const start = first.start;
    let last = first;
    if (first.kind === 'atom') {
      while (this.isSpecial(this.tokens[this.pos], '.')) {
        const dot = this.next();
        const part = this.tokens[this.pos];
        if (dot.cfwsBefore || !part || part.kind !== 'atom' || part.cfwsBefore) throw new ParseError('invalid dot in the local part');
        last = this.next();
      }
    } else if (first.kind !== 'quoted') {
      throw new ParseError(`expected an address but found ${JSON.stringify(this.describe(first))}`);
    }
    const at = this.tokens[this.pos];
    if (!this.isSpecial(at, '@')) throw new ParseError(`address ${JSON.stringify(this.source.slice(start, last.end))} has no @domain`);
    if (at!.cfwsBefore) throw new ParseError('whitespace or comment before @');
    this.next();
    const dom = this.tokens[this.pos];
    if (!dom || (dom.kind !== 'atom' && dom.kind !== 'literal')) throw new ParseError('missing domain after @');
    if (dom.cfwsBefore) throw new ParseError('whitespace or comment after @');
    last = this.next();
    if (dom.kind === 'atom') {
      while (this.isSpecial(this.tokens[this.pos], '.')) {
        const dot = this.next();
        const part = this.tokens[this.pos];
        if (dot.cfwsBefore || !part || part.kind !== 'atom' || part.cfwsBefore) throw new ParseError('invalid dot in the domain');
        last = this.next();
      }
    }
    const following = this.tokens[this.pos];
    if (following && !following.cfwsBefore && following.kind !== 'special' && following.kind !== 'comment') {
      throw new ParseError(`text glued to the address: ${JSON.stringify(this.source.slice(start, following.end))}`);
    }
    return this.source.slice(start, last.end);
  }

  /** phrase = 1*word / obs-phrase; returns the decoded display name. */
  phrase(): string {
    const words: string[] = [];
    let pendingAtoms: string[] = [];
    const flush = (): void => {
      if (pendingAtoms.length) words.push(decodeEncodedWords(pendingAtoms.join(' ')));
      pendingAtoms = [];
    };
    for (;;) {
      const t = this.peek();
      if (!t) break;
      if (t.kind === 'atom') {
        pendingAtoms.push(this.next().text);
      } else if (t.kind === 'quoted') {
        flush();
        words.push(decodeEncodedWords(this.next().text));
      } else if (this.isSpecial(t, '.') && (words.length > 0 || pendingAtoms.length > 0)) {
        this.next();
        const prev = pendingAtoms.pop() ?? words.pop() ?? '';
        pendingAtoms.push(`${prev}.`);
      } else break;
    }
    flush();
    return words.join(' ').replace(/\s+/g, ' ').trim();
  }

  /** Parse a mailbox at the current position. */
  mailbox(group?: string): Mailbox {
    // A mailbox is either `[phrase] <addr-spec>` or a bare addr-spec: look for '<' first.
    const save = this.pos;
    const nameStart = this.peek();
    if (nameStart && (nameStart.kind === 'atom' || nameStart.kind === 'quoted')) {
      // Try a bare addr-spec.
      const afterWord = this.findAfterLocal();
      if (afterWord !== undefined && this.isSpecial(afterWord, '@')) {
        const address = this.addrSpec();
        const comments = this.takeComments();
        return { name: decodeEncodedWords(comments.join(' ')).trim(), address, ...(group !== undefined ? { group } : {}) };
      }
      this.pos = save;
    }
    const name = this.phrase();
    const open = this.peek();
    if (!this.isSpecial(open, '<')) {
      if (!open) throw new ParseError(name ? `${JSON.stringify(name)} is not an address (no <address> or @domain)` : 'empty address');
      if (this.isSpecial(open, '@') && name) throw new ParseError(`an address after a display name must be in angle brackets (${JSON.stringify(name)} <…>)`);
      throw new ParseError(`expected an address but found ${JSON.stringify(this.describe(open))}`);
    }
    this.next();
    if (this.isSpecial(this.peek(), '>')) throw new ParseError('empty address <>');
    if (this.isSpecial(this.peek(), '@')) throw new ParseError('source routes (<@host:addr>) are not accepted');
    const address = this.addrSpec();
    this.expectSpecial('>', 'a closing >');
    this.takeComments();
    return { name, address, ...(group !== undefined ? { group } : {}) };
  }

  /** The token after a possible dot-atom/quoted local part starting at the current position (no consumption). */
  private findAfterLocal(): Token | undefined {
    let p = this.pos;
    while (p < this.tokens.length && this.tokens[p]!.kind === 'comment') p += 1;
    const first = this.tokens[p];
    if (!first) return undefined;
    p += 1;
    if (first.kind === 'atom') {
      while (this.isSpecial(this.tokens[p], '.') && this.tokens[p + 1]?.kind === 'atom') p += 2;
    }
    return this.tokens[p];
  }

  atEnd(): boolean {
    return this.peek() === undefined;
  }
}

export interface AddressListOptions {
  /** Allow `group: a, b;` syntax (address-list fields To/Cc/Bcc/Reply-To); From/Sender do not. */
  allowGroups?: boolean;
}

/**
 * Parse a mailbox-list or address-list header value (already unfolded). Never throws.
 * On failure, `mailboxes` holds what was parsed before the error (for counting).
 */
export function parseAddressList(value: string, options: AddressListOptions = {}): AddressListResult {
  const mailboxes: Mailbox[] = [];
  let groups = 0;
  try {
    if (value.length > MAX_ADDRESS_FIELD_LENGTH) throw new ParseError(`field is longer than ${MAX_ADDRESS_FIELD_LENGTH} characters`);
    const p = new Parser(value, tokenize(value));
    if (p.atEnd()) throw new ParseError('no address');
    for (;;) {
      // Group?
      const save = p.pos;
      let isGroup = false;
      if (options.allowGroups) {
        const name = p.phrase();
        if (p.isSpecial(p.peek(), ':')) {
          isGroup = true;
          p.next();
          groups += 1;
          if (p.isSpecial(p.peek(), ';')) p.next();
          else {
            for (;;) {
              mailboxes.push(p.mailbox(name));
              if (p.isSpecial(p.peek(), ',')) {
                p.next();
                continue;
              }
              p.expectSpecial(';', 'a , or the ; that ends the group');
              break;
            }
          }
        } else {
          p.pos = save;
        }
      }
      if (!isGroup) mailboxes.push(p.mailbox());
      if (p.atEnd()) break;
      p.expectSpecial(',', 'a comma between addresses');
      if (p.atEnd()) throw new ParseError('trailing comma');
    }
    return { ok: true, mailboxes, groups };
  } catch (err) {
    const reason = err instanceof ParseError ? err.message : 'could not be parsed';
    return { ok: false, reason, mailboxes };
  }
}

/** RFC 2047 encoded-word decoding (`=?charset?B|Q?text?=`), for display names and Subject. */

const ENCODED_WORD = /=\?([^?\s*]+)(?:\*[^?\s]*)?\?([BbQq])\?([^?\s]*)\?=/g;
/** Two encoded-words separated only by whitespace: the whitespace is dropped (RFC 2047 §6.2). */
const BETWEEN_WORDS = /(\?=)[ \t\r\n]+(?==\?[^?\s*]+(?:\*[^?\s]*)?\?[BbQq]\?[^?\s]*\?=)/g;

function decodeBytes(bytes: Buffer, charset: string): string {
  try {
    return new TextDecoder(charset.toLowerCase()).decode(bytes);
  } catch {
    return bytes.toString('latin1');
  }
}

function decodeQ(text: string): Buffer {
  const out: number[] = [];
  for (let i = 0; i < text.length; i++) {
    const ch = text[i]!;
    if (ch === '_') out.push(0x20);
    else if (ch === '=' && /^[0-9A-Fa-f]{2}$/.test(text.slice(i + 1, i + 3))) {
      out.push(parseInt(text.slice(i + 1, i + 3), 16));
      i += 2;
    } else out.push(ch.charCodeAt(0) & 0xff);
  }
  return Buffer.from(out);
}

/** Decode every encoded-word in `value`; malformed words are left as they are. Never throws. */
export function decodeEncodedWords(value: string): string {
  if (!value.includes('=?')) return value;
  return value.replace(BETWEEN_WORDS, '$1').replace(ENCODED_WORD, (word, charset: string, enc: string, text: string) => {
    try {
      const bytes = enc.toUpperCase() === 'B' ? Buffer.from(text, 'base64') : decodeQ(text);
      return decodeBytes(bytes, charset);
    } catch {
      return word;
    }
  });
}

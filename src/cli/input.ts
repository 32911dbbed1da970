/** Reading files and stdin for the CLI, with errors that say which file. */
import { readFile } from 'node:fs/promises';
import { SendwellError } from '../errors.js';

export async function readStdin(): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/** Read FILE, or stdin for `-`. */
export async function readInput(path: string, what: string): Promise<Buffer> {
  if (path === '-') return readStdin();
  try {
    return await readFile(path);
  } catch (err) {
    throw new SendwellError('EUSAGE', `${what} ${path} cannot be read: ${(err as NodeJS.ErrnoException).code ?? String(err)}`, {
      hint: 'check the path and its permissions',
      cause: err,
    });
  }
}

export function decodeUtf8(buf: Buffer, what: string): string {
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(buf);
  } catch {
    throw new SendwellError('EMESSAGE', `${what} is not valid UTF-8`, {
      hint: 'convert it first, e.g. iconv -f latin1 -t utf-8 (H5: text bodies are UTF-8)',
    });
  }
}

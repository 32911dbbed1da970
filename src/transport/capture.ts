/**
 * `capture:DIR`: write each message into DIR instead of sending it (tests,
 * dry runs, development). The message is written unchanged as
 * `<timestamp>-<random>.eml`; the envelope goes into the sibling `.json`, so
 * nothing is added to the message itself. Every recipient counts as accepted.
 * Files are written under a temporary name and renamed, so a watcher never
 * sees half a message.
 */
import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { SendwellError, type RecipientOutcome } from '../errors.js';
import type { Envelope, Transport, TransportResult } from './types.js';

export interface CaptureParams {
  dir: string;
  url: string;
  /** For tests: the time used in file names. */
  now?: () => Date;
}

/** The `.json` file written beside each captured message. */
export interface CapturedEnvelope {
  from: string;
  to: string[];
  smtputf8?: boolean;
  dsn?: Envelope['dsn'];
  capturedAt: string;
  size: number;
  /** The `.eml` file name. */
  file: string;
}

function stamp(d: Date): string {
  return d.toISOString().replace(/[-:]/g, '').replace('.', '');
}

export class CaptureTransport implements Transport {
  readonly name = 'capture';

  constructor(private readonly params: CaptureParams) {}

  async send(envelope: Envelope, raw: Buffer): Promise<TransportResult> {
    const dir = this.params.dir;
    const now = (this.params.now ?? (() => new Date()))();
    const base = `${stamp(now)}-${randomBytes(6).toString('hex')}`;
    const eml = path.join(dir, `${base}.eml`);
    const json = path.join(dir, `${base}.json`);
    const record: CapturedEnvelope = {
      from: envelope.from,
      to: [...envelope.to],
      ...(envelope.smtputf8 ? { smtputf8: true } : {}),
      ...(envelope.dsn ? { dsn: envelope.dsn } : {}),
      capturedAt: now.toISOString(),
      size: raw.length,
      file: `${base}.eml`,
    };
    try {
      await fs.mkdir(dir, { recursive: true, mode: 0o700 });
      await writeAtomic(json, Buffer.from(JSON.stringify(record, null, 2) + '\n'));
      await writeAtomic(eml, raw);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code ?? 'error';
      throw new SendwellError('ECAPTURE', `cannot write the captured message into ${dir} (${code})`, {
        hint: 'check that the capture directory exists or can be created, and is writable',
        cause: err,
      });
    }
    return {
      recipients: envelope.to.map((address): RecipientOutcome => ({ address, status: 'accepted' })),
      response: `captured as ${eml}`,
      relayQueueId: base,
      info: { relay: this.params.url },
    };
  }

  async close(): Promise<void> {
    // nothing kept open
  }
}

async function writeAtomic(file: string, data: Buffer): Promise<void> {
  const tmp = `${file}.${process.pid}.tmp`;
  await fs.writeFile(tmp, data, { mode: 0o600, flag: 'wx' });
  await fs.rename(tmp, file);
}

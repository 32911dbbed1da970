/**
 * Local submission to a running `sendwell serve`, like Postfix's postdrop and
 * pickup: any local user's CLI, sendmail drop-in or library writes the message
 * into the daemon's maildrop directory, and the daemon queues it with the
 * submitting user taken from the file's owner (the kernel's word, not the
 * client's). All users' mail then shares one queue, one rate limit, one log.
 *
 * The directory is world-writable but not listable (mode 1733), and every file
 * name carries 128 random bits, so users cannot see or guess each other's mail.
 * A message is durable once its file is renamed into place (write, fsync,
 * rename); the daemon answers with a small `.ack` file the client may wait for.
 */
import { randomBytes } from '../random.js';
import { closeSync, existsSync, fsyncSync, openSync, readFileSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { SendwellError } from '../errors.js';
import { pidAlive } from './pid.js';
import type { MessageDsn } from './dsn-params.js';

export const MAILDROP_DIR = 'maildrop';
/** Holds the daemon's pid while it picks up mail. */
export const PICKUP_FILE = '.pickup';
/** How long a client waits for the daemon's answer before reporting "handed over". */
export const ACK_WAIT_MS = 5_000;

export interface DropFile {
  version: 1;
  envelopeFrom: string;
  recipients: string[];
  /** base64 of the RFC 5322 message */
  raw: string;
  idempotencyKey?: string;
  /** The submitter's DSN parameters (sendmail -N/-R/-V, the library's `dsn`); the daemon checks them again. */
  dsn?: MessageDsn;
}

export type Ack = { ok: true; queueId: string; held: string[] } | { ok: false; error: { code: string; message: string; hint: string } };

export function maildropPath(stateDir: string): string {
  return join(stateDir, MAILDROP_DIR);
}


/** The maildrop of a running daemon for this state directory, or null. */
export function runningMaildrop(stateDir: string): string | null {
  const dir = maildropPath(stateDir);
  try {
    const pid = Number(readFileSync(join(dir, PICKUP_FILE), 'utf8').trim());
    return Number.isInteger(pid) && pid > 0 && pidAlive(pid) ? dir : null;
  } catch {
    return null;
  }
}

/** Client side: hand a message to the daemon. Resolves with its answer, or null when none came in time. */
export async function dropMessage(dir: string, msg: Omit<DropFile, 'version' | 'raw'> & { raw: Buffer }, waitMs = ACK_WAIT_MS): Promise<Ack | null> {
  const name = randomBytes(16).toString('hex');
  const tmp = join(dir, `${name}.tmp`);
  const body: DropFile = {
    version: 1,
    envelopeFrom: msg.envelopeFrom,
    recipients: msg.recipients,
    raw: msg.raw.toString('base64'),
    ...(msg.idempotencyKey ? { idempotencyKey: msg.idempotencyKey } : {}),
    ...(msg.dsn ? { dsn: msg.dsn } : {}),
  };
  try {
    // 0644: the daemon's user must read it; the directory is not listable and the name unguessable.
    const fd = openSync(tmp, 'wx', 0o644);
    try {
      writeSync(fd, JSON.stringify(body));
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, join(dir, `${name}.msg`));
  } catch (err) {
    throw new SendwellError('ECONFIG', `cannot hand the message to sendwell serve via ${dir}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`, {
      temporary: true,
      hint: 'nothing was queued; check that the maildrop directory exists with mode 1733, or stop the daemon to use a queue of your own',
      cause: err,
    });
  }
  const ackFile = join(dir, `${name}.ack`);
  const deadline = Date.now() + waitMs;
  while (Date.now() < deadline) {
    if (existsSync(ackFile)) {
      try {
        const ack = JSON.parse(readFileSync(ackFile, 'utf8')) as Ack;
        unlinkSync(ackFile);
        return ack;
      } catch {
        // written but not complete yet
      }
    }
    await sleep(20);
  }
  return null;
}


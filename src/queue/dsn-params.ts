/**
 * Per-message DSN parameters (RFC 3461): what a submitter asked for with
 * `sendmail -N/-R/-V`, `MAIL FROM … RET= ENVID=` and `RCPT TO … NOTIFY=`, or
 * the library's `send(mail, { dsn })`. They are kept with the message in the
 * queue, sent to the relay on every attempt, and decide sendwell's own
 * notices. What the submitter did not give comes from `[dsn]` of the config
 * at delivery time; without an ENVID of its own the queue ID is the ENVID.
 *
 * Small on purpose: the sendmail drop-in loads it on its start-up path.
 */
import { SendwellError } from '../errors.js';
import type { DsnOptions } from '../transport/types.js';

export type DsnNotify = NonNullable<DsnOptions['notify']>;
export type DsnRet = NonNullable<DsnOptions['ret']>;

/** What a submitter may give per message; every part optional. */
export interface MessageDsn {
  /** NOTIFY: `['NEVER']`, or any of SUCCESS, FAILURE, DELAY. */
  notify?: DsnNotify;
  /** RET: FULL or HDRS. */
  ret?: DsnRet;
  /** ENVID, as the submitter gave it (xtext-decoded); passed on unchanged (RFC 3461 §5.2.1). */
  envid?: string;
}

/**
 * An ENVID sendwell keeps: printable ASCII, 1–100 characters (RFC 3461 §4.4
 * limits it to 100), no leading or trailing space. It goes into the
 * Original-Envelope-Id field of notices as it is, so CR and LF can never appear.
 */
export const ENVID = /^[\x21-\x7e](?:[\x20-\x7e]{0,98}[\x21-\x7e])?$/;

const WORDS = ['SUCCESS', 'FAILURE', 'DELAY'] as const;

/**
 * A NOTIFY value (`"success,failure"`, `"NEVER"`, or an array of words) as
 * stored, or undefined when it is not one: NEVER stands alone (RFC 3461 §4.1).
 */
export function parseNotify(v: string | readonly string[]): DsnNotify | undefined {
  const words = (typeof v === 'string' ? v.split(',') : [...v]).map((w) => String(w).trim().toUpperCase()).filter(Boolean);
  if (words.length === 0) return undefined;
  if (words.includes('NEVER')) return words.every((w) => w === 'NEVER') ? ['NEVER'] : undefined;
  if (!words.every((w) => (WORDS as readonly string[]).includes(w))) return undefined;
  // One of each, in the RFC's order: stored and compared as text.
  return WORDS.filter((w) => words.includes(w));
}

/** NOTIFY as it is stored and sent: `SUCCESS,FAILURE`, `NEVER`. */
export function formatNotify(n: DsnNotify): string {
  return n.join(',');
}

/**
 * Check DSN parameters from a caller that is not the sendmail command line
 * (library, maildrop file, HTTP): throws EUSAGE naming `where` and the fix.
 */
export function checkMessageDsn(input: { notify?: unknown; ret?: unknown; envid?: unknown } | undefined, where: string): MessageDsn {
  if (input === undefined || input === null) return {};
  const bad = (what: string, hint: string) => new SendwellError('EUSAGE', `${where}: ${what}`, { hint });
  const out: MessageDsn = {};
  if (input.notify !== undefined) {
    const n = typeof input.notify === 'string' || Array.isArray(input.notify) ? parseNotify(input.notify as string | string[]) : undefined;
    if (!n) throw bad(`${JSON.stringify(input.notify)} is not a DSN NOTIFY value`, "give ['NEVER'], or any of 'SUCCESS', 'FAILURE', 'DELAY'");
    out.notify = n;
  }
  if (input.ret !== undefined) {
    const r = typeof input.ret === 'string' ? input.ret.toUpperCase() : '';
    if (r !== 'FULL' && r !== 'HDRS') throw bad(`${JSON.stringify(input.ret)} is not a DSN RET value`, "give 'FULL' or 'HDRS'");
    out.ret = r;
  }
  if (input.envid !== undefined) {
    if (typeof input.envid !== 'string' || !ENVID.test(input.envid)) throw bad(`${JSON.stringify(input.envid)} is not a DSN envelope ID`, 'use 1 to 100 printable ASCII characters (RFC 3461 §4.4)');
    out.envid = input.envid;
  }
  return out;
}

/** The store's fields for a submission's DSN parameters (none for those not given). */
export function dsnFields(d: MessageDsn | undefined): { dsnEnvid?: string; dsnNotify?: DsnNotify; dsnRet?: DsnRet } {
  return {
    ...(d?.envid !== undefined ? { dsnEnvid: d.envid } : {}),
    ...(d?.notify !== undefined ? { dsnNotify: d.notify } : {}),
    ...(d?.ret !== undefined ? { dsnRet: d.ret } : {}),
  };
}

/**
 * The DSN parameters of one delivery attempt: the submitter's ENVID, else the
 * queue ID (so a DSN from further down the line names the message); their
 * NOTIFY and RET when given. The transport puts these over `[dsn]` of the
 * config, and sends them only when the relay offers DSN.
 */
export function envelopeDsn(m: { dsnEnvid: string | null; dsnNotify: DsnNotify | null; dsnRet: DsnRet | null }, queueId: string): DsnOptions {
  return { envid: m.dsnEnvid ?? queueId, ...(m.dsnNotify ? { notify: m.dsnNotify } : {}), ...(m.dsnRet ? { ret: m.dsnRet } : {}) };
}

/**
 * May sendwell send the sender a notice of this kind? The message's own NOTIFY
 * decides, else `fallback` (`[dsn] notify`). RFC 3461 §5.2.5 (c), §5.2.6 (b):
 * a NOTIFY without DELAY (FAILURE) forbids the delayed (failed) notice; with no
 * NOTIFY at all, failure and delay notices are the default (§4.1).
 */
export function notifies(kind: 'FAILURE' | 'DELAY', own: DsnNotify | null | undefined, fallback?: DsnNotify): boolean {
  const n: readonly string[] | undefined = own ?? fallback;
  return n === undefined || n.length === 0 || n.includes(kind);
}

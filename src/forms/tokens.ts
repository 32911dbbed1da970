/**
 * The form's signed tokens, both checked with one HMAC key kept in the state
 * directory (`forms.key`, 0600):
 *
 * - the time token: when the form was loaded, so a submission sooner than
 *   min_fill_time or later than token_max_age is refused;
 * - the proof of work, ALTCHA v1 compatible: challenge = SHA-256(salt + number),
 *   signature = HMAC-SHA-256(key, challenge), the expiry inside the salt
 *   (`?expires=<unix s>`), the widget posts base64(JSON{algorithm, challenge,
 *   number, salt, signature}) as the `altcha` field.
 *
 * Both are single use: the caller records them in the replay store.
 */
import { createHash, createHmac, randomBytes, randomInt, timingSafeEqual } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { SendwellError } from '../errors.js';

export const KEY_FILE = 'forms.key';

/** The HMAC key; created on first use. Unreadable or group/world-readable: an error (the caller refuses, never skips the check). */
export function loadFormKey(stateDir: string): Buffer {
  const file = join(stateDir, KEY_FILE);
  if (!existsSync(file)) {
    try {
      mkdirSync(stateDir, { recursive: true, mode: 0o700 });
      writeFileSync(file, `${randomBytes(32).toString('hex')}\n`, { mode: 0o600, flag: 'wx' });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') {
        throw new SendwellError('ESECRET', `cannot create the form key ${file}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`, {
          hint: `make the state directory writable, or create the key: openssl rand -hex 32 > ${file}; chmod 600 ${file}`,
          cause: err,
        });
      }
    }
  }
  if ((statSync(file).mode & 0o077) !== 0) {
    throw new SendwellError('ESECRET', `the form key ${file} can be read by other users`, {
      hint: `chmod 600 ${file}: with the key anyone can forge form tokens and proof-of-work challenges (R11)`,
      rule: 'R11',
    });
  }
  const hex = readFileSync(file, 'utf8').trim();
  if (!/^[0-9a-f]{64,}$/i.test(hex)) {
    throw new SendwellError('ESECRET', `the form key ${file} is not a hex key of 32 bytes or more`, { hint: `remove it and let sendwell create one, or: openssl rand -hex 32 > ${file}; chmod 600 ${file}` });
  }
  return Buffer.from(hex, 'hex');
}

const b64url = (b: Buffer) => b.toString('base64url');
const sameText = (a: string, b: string) => a.length === b.length && timingSafeEqual(Buffer.from(a), Buffer.from(b));

// ---- time token ----------------------------------------------------------

function tokenMac(key: Buffer, form: string, issued: number, nonce: string): string {
  return b64url(createHmac('sha256', key).update(`sendwell-form-token\0${form}\0${issued}\0${nonce}`).digest()).slice(0, 32);
}

/** `t1.<issued ms, base 36>.<nonce>.<mac>` */
export function issueTimeToken(key: Buffer, form: string, now: number): string {
  const nonce = randomBytes(9).toString('base64url');
  return `t1.${now.toString(36)}.${nonce}.${tokenMac(key, form, now, nonce)}`;
}

export type TimeTokenResult = { ok: true; issued: number; id: string } | { ok: false; reason: 'token-missing' | 'token-invalid' | 'too-fast' | 'token-expired' };

export function checkTimeToken(key: Buffer, form: string, token: string | undefined, now: number, minFillMs: number, maxAgeMs: number): TimeTokenResult {
  if (!token) return { ok: false, reason: 'token-missing' };
  const m = /^t1\.([0-9a-z]{1,12})\.([A-Za-z0-9_-]{12})\.([A-Za-z0-9_-]{32})$/.exec(token);
  if (!m) return { ok: false, reason: 'token-invalid' };
  const issued = parseInt(m[1]!, 36);
  if (!sameText(m[3]!, tokenMac(key, form, issued, m[2]!))) return { ok: false, reason: 'token-invalid' };
  const age = now - issued;
  if (age < minFillMs) return { ok: false, reason: 'too-fast' };
  if (age > maxAgeMs) return { ok: false, reason: 'token-expired' };
  return { ok: true, issued, id: m[2]! };
}

// ---- proof of work (ALTCHA v1) --------------------------------------------

export interface AltchaChallenge {
  algorithm: 'SHA-256';
  challenge: string;
  maxnumber: number;
  salt: string;
  signature: string;
}

const sha256hex = (s: string) => createHash('sha256').update(s).digest('hex');
const hmacHex = (key: Buffer, s: string) => createHmac('sha256', key).update(s).digest('hex');

export function createChallenge(key: Buffer, form: string, maxNumber: number, expiresAt: number): AltchaChallenge {
  // The expiry and the form travel inside the salt, so the signed challenge binds them.
  const salt = `${randomBytes(12).toString('hex')}?expires=${Math.floor(expiresAt / 1000)}&form=${encodeURIComponent(form)}`;
  const number = randomInt(0, maxNumber + 1);
  const challenge = sha256hex(salt + number);
  return { algorithm: 'SHA-256', challenge, maxnumber: maxNumber, salt, signature: hmacHex(key, challenge) };
}

export type PowResult = { ok: true; challenge: string; expiresAt: number } | { ok: false; reason: 'pow-missing' | 'pow-malformed' | 'pow-invalid-signature' | 'pow-invalid-solution' | 'pow-expired' | 'pow-wrong-form' };

/** Verify the `altcha` field (base64 JSON). */
export function verifySolution(key: Buffer, form: string, payload: string | undefined, now: number): PowResult {
  if (!payload) return { ok: false, reason: 'pow-missing' };
  let p: Record<string, unknown>;
  try {
    if (payload.length > 2000) throw new Error('too long');
    p = JSON.parse(Buffer.from(payload, 'base64').toString('utf8')) as Record<string, unknown>;
  } catch {
    return { ok: false, reason: 'pow-malformed' };
  }
  const { algorithm, challenge, number, salt, signature } = p;
  if (algorithm !== 'SHA-256' || typeof challenge !== 'string' || typeof salt !== 'string' || typeof signature !== 'string' || !Number.isSafeInteger(number) || (number as number) < 0) {
    return { ok: false, reason: 'pow-malformed' };
  }
  if (!sameText(signature, hmacHex(key, challenge))) return { ok: false, reason: 'pow-invalid-signature' };
  if (!sameText(challenge, sha256hex(salt + String(number)))) return { ok: false, reason: 'pow-invalid-solution' };
  const params = new URLSearchParams(salt.slice(salt.indexOf('?') + 1));
  const expires = Number(params.get('expires'));
  // Our challenges always carry an expiry; one without it is not ours.
  if (!salt.includes('?') || !Number.isFinite(expires) || expires <= 0 || expires * 1000 < now) return { ok: false, reason: 'pow-expired' };
  if (params.get('form') !== form) return { ok: false, reason: 'pow-wrong-form' };
  return { ok: true, challenge, expiresAt: expires * 1000 };
}

/** Solve a challenge (tests, and the reference for the browser solver). */
export function solveChallenge(c: AltchaChallenge): number | null {
  for (let n = 0; n <= c.maxnumber; n++) if (sha256hex(c.salt + n) === c.challenge) return n;
  return null;
}

export function solutionPayload(c: AltchaChallenge, number: number): string {
  return Buffer.from(JSON.stringify({ algorithm: c.algorithm, challenge: c.challenge, number, salt: c.salt, signature: c.signature, took: 0 })).toString('base64');
}

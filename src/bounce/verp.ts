/**
 * VERP envelope senders (R2, R3): `bounces+<recipient>.<mac>@bounces.example.org`,
 * one per recipient, so a bounce names the recipient it is about even when its
 * body does not. The token is the recipient's queue row in lower-case base32
 * (it survives case-folding relays), the MAC an HMAC-SHA256 over it, so forged
 * or mangled bounces are recognised and ignored. The local part stays far
 * below 64 octets.
 */
import { chmodSync, existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { SendwellError } from '../errors.js';
import { nodeCrypto, randomBytes } from '../random.js';

const B32 = 'abcdefghijklmnopqrstuvwxyz234567';
/** 10 base32 characters: 50 bits of MAC. */
const MAC_CHARS = 10;

export interface Verp {
  /** The base address, e.g. `bounces@bounces.example.org`. */
  address: string;
  secret: Buffer;
}

function encodeInt(n: number): string {
  let s = '';
  do {
    s = B32[n % 32]! + s;
    n = Math.floor(n / 32);
  } while (n > 0);
  return s;
}

function decodeInt(s: string): number | null {
  let n = 0;
  for (const c of s) {
    const v = B32.indexOf(c);
    if (v < 0) return null;
    n = n * 32 + v;
  }
  return Number.isSafeInteger(n) ? n : null;
}

function mac(secret: Buffer, token: string): string {
  const d = nodeCrypto().createHmac('sha256', secret).update(`sendwell-verp:${token}`).digest();
  let bits = 0;
  let value = 0;
  let out = '';
  for (const byte of d) {
    value = (value << 8) | byte;
    bits += 8;
    while (bits >= 5 && out.length < MAC_CHARS) {
      out += B32[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
    if (out.length >= MAC_CHARS) break;
  }
  return out;
}

function split(address: string): [string, string] {
  const at = address.lastIndexOf('@');
  return [address.slice(0, at), address.slice(at + 1).toLowerCase()];
}

/** The VERP envelope sender for one recipient row. */
export function verpAddress(v: Verp, recipientId: number): string {
  const [local, domain] = split(v.address);
  const token = encodeInt(recipientId);
  return `${local}+${token}.${mac(v.secret, token)}@${domain}`;
}

/** The recipient row a VERP address names, or null if it is not ours or the MAC is wrong. */
export function parseVerp(v: Verp, address: string): { recipientId: number } | null {
  const [baseLocal, baseDomain] = split(v.address);
  const [local, domain] = split(address.trim().replace(/^<|>$/g, ''));
  if (domain !== baseDomain) return null;
  const m = new RegExp(`^${baseLocal.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\+([a-z2-7]{1,13})\\.([a-z2-7]{${MAC_CHARS}})$`, 'i').exec(local);
  if (!m) return null;
  const token = m[1]!.toLowerCase();
  const given = Buffer.from(m[2]!.toLowerCase());
  const expected = Buffer.from(mac(v.secret, token));
  if (!nodeCrypto().timingSafeEqual(given, expected)) return null;
  const id = decodeInt(token);
  return id === null ? null : { recipientId: id };
}

/** Read the HMAC key, creating a random one (mode 0600) when the file does not exist (R11). */
export function loadVerpSecret(file: string): Buffer {
  if (!existsSync(file)) {
    try {
      mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
      writeFileSync(file, `${randomBytes(32).toString('hex')}\n`, { mode: 0o600, flag: 'wx' });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') {
        throw new SendwellError('ESECRET', `cannot create the bounce key ${file}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`, {
          hint: 'set bounces.secret_file to a writable place, or create it: openssl rand -hex 32 > FILE; chmod 600 FILE',
          rule: 'R11',
          cause: err,
        });
      }
    }
  }
  const mode = statSync(file).mode & 0o077;
  if (mode !== 0) {
    throw new SendwellError('ESECRET', `the bounce key ${file} can be read by other users`, {
      hint: `chmod 600 ${file}: with the key anyone can forge bounces that suppress addresses (R11)`,
      rule: 'R11',
    });
  }
  const key = readFileSync(file, 'utf8').trim();
  if (!/^[0-9a-f]{32,}$/i.test(key)) {
    throw new SendwellError('ESECRET', `the bounce key ${file} is not a hex key`, { hint: `remove it and let sendwell create one, or write: openssl rand -hex 32 > ${file}; chmod 600 ${file}` });
  }
  chmodSync(file, 0o600);
  return Buffer.from(key, 'hex');
}

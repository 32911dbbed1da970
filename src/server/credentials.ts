/**
 * Credentials of `sendwell serve`: SMTP users (AUTH) and HTTP API tokens.
 * Only hashes are stored (R11): scrypt for user passwords, SHA-256 for
 * tokens (they are 256-bit random, so a slow hash adds nothing). Every
 * comparison is constant-time.
 */
import { createHash, randomBytes, scrypt as scryptCb, timingSafeEqual, type ScryptOptions } from 'node:crypto';
import type { Database } from 'better-sqlite3';
import { SendwellError } from '../errors.js';
import { openDatabase } from '../queue/sqlite/index.js';

const scrypt = (password: string, salt: Buffer, keylen: number, options: ScryptOptions) =>
  new Promise<Buffer>((resolve, reject) => scryptCb(password, salt, keylen, options, (err, key) => (err ? reject(err) : resolve(key))));

/** OWASP's scrypt minimum (N=2^17, r=8, p=1) costs 128 MiB per check; 2^15 keeps AUTH fast on a small host. */
const SCRYPT = { N: 2 ** 15, r: 8, p: 1, keylen: 32, maxmem: 64 * 1024 * 1024 };
const USER_NAME = /^[A-Za-z0-9._@+-]{1,64}$/;
const TOKEN_PREFIX = 'sw_';

export interface UserInfo {
  name: string;
  createdAt: number;
}

export interface TokenInfo {
  id: string;
  name: string;
  createdAt: number;
  revokedAt: number | null;
}

export async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(16);
  const key = await scrypt(password, salt, SCRYPT.keylen, { N: SCRYPT.N, r: SCRYPT.r, p: SCRYPT.p, maxmem: SCRYPT.maxmem });
  return `scrypt$${SCRYPT.N}$${SCRYPT.r}$${SCRYPT.p}$${salt.toString('base64')}$${key.toString('base64')}`;
}

export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const [kind, n, r, p, salt, hash] = stored.split('$');
  if (kind !== 'scrypt' || !salt || !hash) return false;
  const expected = Buffer.from(hash, 'base64');
  const key = await scrypt(password, Buffer.from(salt, 'base64'), expected.length, { N: Number(n), r: Number(r), p: Number(p), maxmem: SCRYPT.maxmem });
  return key.length === expected.length && timingSafeEqual(key, expected);
}

const sha256 = (s: string) => createHash('sha256').update(s).digest();

export class Credentials {
  private readonly db: Database;
  /** A hash to compare against for unknown users, so timing does not reveal which names exist. */
  private dummyHash: Promise<string> | undefined;

  constructor(stateDirOrDb: string | Database) {
    this.db = typeof stateDirOrDb === 'string' ? openDatabase(stateDirOrDb) : stateDirOrDb;
  }

  async addUser(name: string, password: string, now = Date.now()): Promise<void> {
    if (!USER_NAME.test(name)) {
      throw new SendwellError('EUSAGE', `user name ${JSON.stringify(name)} is not allowed`, { hint: 'use 1-64 letters, digits and . _ @ + -' });
    }
    if (password.length < 12) {
      throw new SendwellError('EUSAGE', 'the password is shorter than 12 characters', { hint: 'use a long random password, e.g. `openssl rand -base64 24`', rule: 'R11' });
    }
    const hash = await hashPassword(password);
    this.db.prepare('INSERT INTO smtp_user (name, hash, created_at) VALUES (?, ?, ?) ON CONFLICT(name) DO UPDATE SET hash = excluded.hash').run(name, hash, now);
  }

  removeUser(name: string): boolean {
    return this.db.prepare('DELETE FROM smtp_user WHERE name = ?').run(name).changes > 0;
  }

  listUsers(): UserInfo[] {
    return this.db
      .prepare<[], { name: string; created_at: number }>('SELECT name, created_at FROM smtp_user ORDER BY name')
      .all()
      .map((u) => ({ name: u.name, createdAt: u.created_at }));
  }

  /** True when the user exists and the password matches. Takes the same time for unknown users. */
  async checkUser(name: string, password: string): Promise<boolean> {
    const row = this.db.prepare<[string], { hash: string }>('SELECT hash FROM smtp_user WHERE name = ?').get(name);
    if (!row) {
      this.dummyHash ??= hashPassword(randomBytes(16).toString('hex'));
      await verifyPassword(password, await this.dummyHash);
      return false;
    }
    return verifyPassword(password, row.hash);
  }

  /** A new API token; the secret is shown once and only its hash is kept. */
  createToken(name: string, now = Date.now()): { id: string; token: string } {
    if (!/^[\x20-\x7e]{1,100}$/.test(name)) {
      throw new SendwellError('EUSAGE', `token name ${JSON.stringify(name)} is not allowed`, { hint: 'use up to 100 printable ASCII characters, e.g. "wiki" or "monitoring"' });
    }
    const id = randomBytes(6).toString('hex');
    const secret = randomBytes(32).toString('base64url');
    this.db.prepare('INSERT INTO api_token (id, name, hash, created_at) VALUES (?, ?, ?, ?)').run(id, name, sha256(secret).toString('hex'), now);
    return { id, token: `${TOKEN_PREFIX}${id}_${secret}` };
  }

  revokeToken(id: string, now = Date.now()): boolean {
    return this.db.prepare('UPDATE api_token SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL').run(now, id).changes > 0;
  }

  listTokens(): TokenInfo[] {
    return this.db
      .prepare<[], { id: string; name: string; created_at: number; revoked_at: number | null }>('SELECT id, name, created_at, revoked_at FROM api_token ORDER BY created_at')
      .all()
      .map((t) => ({ id: t.id, name: t.name, createdAt: t.created_at, revokedAt: t.revoked_at }));
  }

  /** The token's record when the bearer token is valid and not revoked, else null. */
  checkToken(bearer: string): TokenInfo | null {
    const m = /^sw_([0-9a-f]{12})_([A-Za-z0-9_-]{43})$/.exec(bearer);
    if (!m) return null;
    const row = this.db
      .prepare<[string], { id: string; name: string; hash: string; created_at: number; revoked_at: number | null }>('SELECT id, name, hash, created_at, revoked_at FROM api_token WHERE id = ?')
      .get(m[1]!);
    const given = sha256(m[2]!);
    const expected = row ? Buffer.from(row.hash, 'hex') : sha256('no such token');
    const equal = timingSafeEqual(given, expected);
    if (!row || !equal || row.revoked_at !== null) return null;
    return { id: row.id, name: row.name, createdAt: row.created_at, revokedAt: row.revoked_at };
  }

  close(): void {
    this.db.close();
  }
}

/**
 * Random bytes and SHA-256 for the submission path without loading node:crypto.
 *
 * `sendmail -odq` (cron, PHP's mail()) needs a few random bytes (queue ID,
 * Message-ID, Received ID) and one SHA-256 (the content hash) before its
 * commit; loading node:crypto for them costs ~4 ms of a ~100 ms run (it pulls
 * in the cipher and stream modules). Random bytes come from the kernel's
 * CSPRNG (/dev/urandom, the source OpenSSL seeds from) read in small batches,
 * and short inputs are hashed here; node:crypto is the fallback (no
 * /dev/urandom) and hashes long inputs. The results are the same either way:
 * random bytes from a CSPRNG, and SHA-256 (compared with node:crypto in
 * random.test.ts).
 */
const { closeSync, openSync, readSync } = process.getBuiltinModule('node:fs');

/** node:crypto, loaded on first use. */
export function nodeCrypto(): typeof import('node:crypto') {
  return process.getBuiltinModule('node:crypto');
}

const POOL_SIZE = 256;
let pool: Buffer | undefined;
let poolPos = POOL_SIZE;
/** False once /dev/urandom could not be read (e.g. Windows): node:crypto from then on. */
let urandom = process.platform !== 'win32';

function refill(): boolean {
  let fd: number | undefined;
  try {
    fd = openSync('/dev/urandom', 'r');
    const next = Buffer.allocUnsafe(POOL_SIZE);
    for (let got = 0; got < POOL_SIZE; ) {
      const n = readSync(fd, next, got, POOL_SIZE - got, null);
      if (n <= 0) throw new Error('short read');
      got += n;
    }
    pool = next;
    poolPos = 0;
    return true;
  } catch {
    urandom = false;
    return false;
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

/** `n` bytes from the kernel's CSPRNG (each byte handed out once), like crypto.randomBytes(n). */
export function randomBytes(n: number): Buffer {
  if (!urandom || n > POOL_SIZE) return nodeCrypto().randomBytes(n);
  if (poolPos + n > POOL_SIZE && !refill()) return nodeCrypto().randomBytes(n);
  const out = Buffer.from(pool!.subarray(poolPos, poolPos + n));
  pool!.fill(0, poolPos, poolPos + n);
  poolPos += n;
  return out;
}

/** A uniform random integer in [0, max), max ≤ 256, like crypto.randomInt(max). */
export function randomBelow(max: number): number {
  // Bytes at or above the largest multiple of max are drawn again (no modulo bias).
  const limit = 256 - (256 % max);
  for (;;) {
    const b = randomBytes(1)[0]!;
    if (b < limit) return b % max;
  }
}

// SHA-256 (FIPS 180-4).
const K = new Uint32Array([
  0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5, 0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3,
  0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
  0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13,
  0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
  0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3, 0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208,
  0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
]);

/** Inputs longer than this are hashed by node:crypto (faster once loaded); the result is the same. */
const JS_HASH_MAX = 64 * 1024;

function sha256Js(data: Uint8Array): Buffer {
  // Pad: 0x80, zeros, the bit length as a 64-bit big-endian number; a multiple of 64 bytes.
  const blocks = Math.ceil((data.length + 9) / 64);
  const m = new Uint8Array(blocks * 64);
  m.set(data);
  m[data.length] = 0x80;
  const view = new DataView(m.buffer);
  const bits = data.length * 8;
  view.setUint32(m.length - 8, Math.floor(bits / 0x1_0000_0000));
  view.setUint32(m.length - 4, bits >>> 0);
  const w = new Uint32Array(64);
  let h0 = 0x6a09e667, h1 = 0xbb67ae85, h2 = 0x3c6ef372, h3 = 0xa54ff53a, h4 = 0x510e527f, h5 = 0x9b05688c, h6 = 0x1f83d9ab, h7 = 0x5be0cd19;
  for (let off = 0; off < m.length; off += 64) {
    for (let i = 0; i < 16; i++) w[i] = view.getUint32(off + i * 4);
    for (let i = 16; i < 64; i++) {
      const x = w[i - 15]!;
      const y = w[i - 2]!;
      const s0 = ((x >>> 7) | (x << 25)) ^ ((x >>> 18) | (x << 14)) ^ (x >>> 3);
      const s1 = ((y >>> 17) | (y << 15)) ^ ((y >>> 19) | (y << 13)) ^ (y >>> 10);
      w[i] = (w[i - 16]! + s0 + w[i - 7]! + s1) | 0;
    }
    let a = h0, b = h1, c = h2, d = h3, e = h4, f = h5, g = h6, h = h7;
    for (let i = 0; i < 64; i++) {
      const S1 = ((e >>> 6) | (e << 26)) ^ ((e >>> 11) | (e << 21)) ^ ((e >>> 25) | (e << 7));
      const t1 = (h + S1 + ((e & f) ^ (~e & g)) + K[i]! + w[i]!) | 0;
      const S0 = ((a >>> 2) | (a << 30)) ^ ((a >>> 13) | (a << 19)) ^ ((a >>> 22) | (a << 10));
      const t2 = (S0 + ((a & b) ^ (a & c) ^ (b & c))) | 0;
      h = g;
      g = f;
      f = e;
      e = (d + t1) | 0;
      d = c;
      c = b;
      b = a;
      a = (t1 + t2) | 0;
    }
    h0 = (h0 + a) | 0;
    h1 = (h1 + b) | 0;
    h2 = (h2 + c) | 0;
    h3 = (h3 + d) | 0;
    h4 = (h4 + e) | 0;
    h5 = (h5 + f) | 0;
    h6 = (h6 + g) | 0;
    h7 = (h7 + h) | 0;
  }
  const out = Buffer.allocUnsafe(32);
  [h0, h1, h2, h3, h4, h5, h6, h7].forEach((v, i) => out.writeUInt32BE(v >>> 0, i * 4));
  return out;
}

/** SHA-256 of `data` (a string is hashed as UTF-8), like createHash('sha256').update(data).digest(). */
export function sha256(data: string | Uint8Array): Buffer {
  const bytes = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
  return bytes.length > JS_HASH_MAX ? nodeCrypto().createHash('sha256').update(bytes).digest() : sha256Js(bytes);
}

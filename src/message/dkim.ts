/**
 * DKIM signing (RFC 6376) with nodemailer's signer, relaxed/relaxed. The
 * signed header list includes List-Unsubscribe and List-Unsubscribe-Post:
 * receivers honour one-click unsubscribe only when the signature covers
 * them (RFC 8058 §4).
 */
import { createPrivateKey } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import type { Readable } from 'node:stream';
import DKIM from 'nodemailer/lib/dkim';
import { SendwellError } from '../errors.js';

export const DKIM_SIGNED_HEADERS = [
  'From',
  'Sender',
  'Reply-To',
  'Subject',
  'Date',
  'Message-ID',
  'To',
  'Cc',
  'MIME-Version',
  'Content-Type',
  'Content-Transfer-Encoding',
  'In-Reply-To',
  'References',
  'Auto-Submitted',
  'List-Id',
  'List-Unsubscribe',
  'List-Unsubscribe-Post',
];

export interface DkimKey {
  domain: string;
  selector: string;
  /** PEM (RSA). */
  privateKey: string;
}

/** Read the key file: only its owner may read it (R11), and it must be a private key. */
export function loadDkimKey(file: string, domain: string, selector: string): DkimKey {
  let st;
  try {
    st = statSync(file);
  } catch (err) {
    throw new SendwellError('ESECRET', `the DKIM key ${file} cannot be read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`, {
      rule: 'R11',
      hint: `create one: openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out ${file} && chmod 600 ${file}; publish the public key as ${selector}._domainkey.${domain} TXT`,
    });
  }
  if ((st.mode & 0o077) !== 0) {
    throw new SendwellError('ESECRET', `the DKIM key ${file} is readable by others (mode ${(st.mode & 0o777).toString(8)})`, { rule: 'R11', hint: `protect it: chmod 600 ${file}` });
  }
  const pem = readFileSync(file, 'utf8');
  try {
    const key = createPrivateKey(pem);
    // nodemailer's signer does rsa-sha256 only.
    if (key.asymmetricKeyType !== 'rsa') throw new Error(`it is a ${key.asymmetricKeyType} key`);
  } catch (err) {
    throw new SendwellError('ESECRET', `${file} is not an RSA private key in PEM form: ${(err as Error).message}`, {
      rule: 'R11',
      hint: 'sendwell signs with RSA keys (2048 bits): openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048',
    });
  }
  return { domain, selector, privateKey: pem };
}

/** Sign a message; resolves with the bytes including the DKIM-Signature header. */
export async function dkimSign(raw: Buffer, key: DkimKey): Promise<Buffer> {
  const signer = new DKIM({ domainName: key.domain, keySelector: key.selector, privateKey: key.privateKey, headerFieldNames: DKIM_SIGNED_HEADERS.join(':') });
  const out: Readable = signer.sign(raw);
  const chunks: Buffer[] = [];
  for await (const c of out) chunks.push(Buffer.isBuffer(c) ? c : Buffer.from(c as string));
  return Buffer.concat(chunks);
}

/**
 * A throw-away test PKI, made with the `openssl` CLI at test time (once per
 * process, in a temp dir removed at exit):
 *
 * - `ca`: a test CA certificate (PEM) to give as relay.ca_file;
 * - `good`: a server certificate for localhost, 127.0.0.1 and ::1, signed by the CA;
 * - `expired`: the same names, signed by the CA, valid only in January 2020;
 * - `wrongHost`: signed by the CA, valid for wrong.example.test only;
 * - `selfSigned`: a self-signed certificate for localhost/127.0.0.1 (no CA).
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface KeyPair {
  key: string;
  cert: string;
}

export interface TestPki {
  dir: string;
  /** Path of the CA certificate file. */
  caFile: string;
  ca: string;
  good: KeyPair;
  expired: KeyPair;
  wrongHost: KeyPair;
  selfSigned: KeyPair;
}

let cached: TestPki | undefined;

function openssl(dir: string, args: string[]): void {
  execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
}

const CA_CONF = `[ ca ]
default_ca = testca
[ testca ]
database = db/index.txt
serial = db/serial
new_certs_dir = db
certificate = ca.crt
private_key = ca.key
default_md = sha256
policy = anything
unique_subject = no
copy_extensions = copy
email_in_dn = no
[ anything ]
commonName = supplied
`;

function leaf(dir: string, name: string, cn: string, san: string, dates: string[]): KeyPair {
  openssl(dir, ['req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${cn}`, '-addext', `subjectAltName=${san}`, '-addext', 'extendedKeyUsage=serverAuth', '-addext', 'basicConstraints=critical,CA:FALSE']);
  openssl(dir, ['ca', '-batch', '-config', 'ca.cnf', '-notext', '-in', `${name}.csr`, '-out', `${name}.crt`, ...dates]);
  return { key: readFileSync(join(dir, `${name}.key`), 'utf8'), cert: readFileSync(join(dir, `${name}.crt`), 'utf8') };
}

/** The test PKI (made on first use). */
export function testPki(): TestPki {
  if (cached) return cached;
  const dir = mkdtempSync(join(tmpdir(), 'sendwell-pki-'));
  process.on('exit', () => rmSync(dir, { recursive: true, force: true }));
  mkdirSync(join(dir, 'db'));
  writeFileSync(join(dir, 'db/index.txt'), '');
  writeFileSync(join(dir, 'db/serial'), '1000\n');
  writeFileSync(join(dir, 'ca.cnf'), CA_CONF);
  openssl(dir, ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', 'ca.key', '-out', 'ca.crt', '-days', '30', '-subj', '/CN=sendwell test CA', '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign']);
  const localSan = 'DNS:localhost,IP:127.0.0.1,IP:::1';
  const good = leaf(dir, 'good', 'localhost', localSan, ['-days', '30']);
  const expired = leaf(dir, 'expired', 'localhost', localSan, ['-startdate', '20200101000000Z', '-enddate', '20200201000000Z']);
  const wrongHost = leaf(dir, 'wrong', 'wrong.example.test', 'DNS:wrong.example.test', ['-days', '30']);
  openssl(dir, ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', 'self.key', '-out', 'self.crt', '-days', '30', '-subj', '/CN=localhost', '-addext', `subjectAltName=${localSan}`]);
  const selfSigned = { key: readFileSync(join(dir, 'self.key'), 'utf8'), cert: readFileSync(join(dir, 'self.crt'), 'utf8') };
  cached = { dir, caFile: join(dir, 'ca.crt'), ca: readFileSync(join(dir, 'ca.crt'), 'utf8'), good, expired, wrongHost, selfSigned };
  return cached;
}

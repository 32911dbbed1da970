/**
 * `[dkim] sign = "all"` in the daemon: mail handed over through the maildrop
 * (the CLI, the library, the sendmail drop-in of local users) is signed by
 * the daemon, which holds the key; verified by mailauth.
 */
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { chmodSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { dkimVerify } from 'mailauth/lib/dkim/verify.js';
import { loadConfig } from '../../src/config/load.js';
import { createMailer } from '../../src/mailer.js';
import { Daemon } from '../../src/server/daemon.js';
import { startSmtpServer, type TestServer } from '../helpers/smtp-server.js';

const work = mkdtempSync(join(tmpdir(), 'sendwell-dkim-'));
const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const keyFile = join(work, 'dkim.pem');
writeFileSync(keyFile, privateKey.export({ type: 'pkcs8', format: 'pem' }));
chmodSync(keyFile, 0o600);
const resolver = async () => [[`v=DKIM1; k=rsa; p=${publicKey.export({ type: 'spki', format: 'der' }).toString('base64')}`]];

describe('DKIM sign = "all" through the daemon', () => {
  let relay: TestServer;
  let daemon: Daemon;
  let cfgFile: string;
  before(async () => {
    relay = await startSmtpServer();
    cfgFile = join(work, 'sendwell.toml');
    writeFileSync(
      cfgFile,
      `state_dir = "${join(work, 'state')}"\n[relay]\nurl = "${relay.url('smtp', 'tls=never')}"\n[sender]\nfrom = "Ops <ops@example.test>"\n[http]\nlisten = "127.0.0.1:0"\n[smtp]\nlisten = ["127.0.0.1:0"]\n[dkim]\ndomain = "example.test"\nselector = "s1"\nprivate_key_file = "${keyFile}"\nsign = "all"\n`,
    );
    daemon = await Daemon.start({ config: loadConfig({ path: cfgFile, env: {} }), stateDir: join(work, 'state'), log: () => {} });
  });
  after(async () => {
    await daemon.stop(2000);
    await relay.close();
  });

  it('mail through the maildrop is signed once, by the daemon', async () => {
    const mailer = createMailer({ config: loadConfig({ path: cfgFile, env: {} }) });
    const r = await mailer.send({ to: 'bob@example.test', subject: 'Disk space', text: 'The disk is 91 % full.' });
    await mailer.close();
    assert.equal(r.viaDaemon, true);
    const deadline = Date.now() + 15_000;
    while (relay.messages.length === 0 && Date.now() < deadline) await sleep(50);
    const raw = relay.messages[0]!.raw;
    assert.equal(raw.toString('latin1').match(/^DKIM-Signature:/gim)?.length, 1, 'one signature');
    const v = await dkimVerify(raw, { resolver });
    assert.equal(v.results[0]!.status.result, 'pass', JSON.stringify(v.results[0]!.status));
    assert.equal(v.results[0]!.signingDomain, 'example.test');
  });

  it('mail through the SMTP listener is signed, and the signature covers what the daemon added', async () => {
    const { default: nodemailer } = await import('nodemailer');
    const t = nodemailer.createTransport({ host: '127.0.0.1', port: daemon.addresses.smtp[0]!.port, secure: false, ignoreTLS: true });
    await t.sendMail({ from: 'Wiki <wiki@example.test>', to: 'carol@example.test', subject: 'Page changed', text: 'See the page.' });
    t.close();
    const deadline = Date.now() + 15_000;
    const got = () => relay.messages.find((m) => m.to.includes('carol@example.test'));
    while (!got() && Date.now() < deadline) await sleep(50);
    const raw = got()!.raw;
    const v = await dkimVerify(raw, { resolver });
    assert.equal(v.results[0]!.status.result, 'pass', JSON.stringify(v.results[0]!.status));
  });
});

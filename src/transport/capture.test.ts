import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { SendwellError } from '../errors.js';
import type { CapturedEnvelope } from './capture.js';
import { createTransport } from './index.js';

const dir = mkdtempSync(join(tmpdir(), 'sendwell-capture-'));
after(() => rmSync(dir, { recursive: true, force: true }));

describe('capture transport', () => {
  it('writes the message unchanged as .eml and the envelope as .json, creating the directory 0700', async () => {
    const out = join(dir, 'outbox', 'nested');
    const raw = Buffer.from('Subject: captured\r\n\r\nGrüße\r\n', 'utf8');
    const t = createTransport({ url: `capture:${out}` });
    const r = await t.send({ from: 'jane@example.test', to: ['bob@example.test'], dsn: { ret: 'HDRS' } }, raw);
    await t.send({ from: '', to: ['carol@example.test'] }, raw);
    await t.close();
    assert.equal(statSync(out).mode & 0o777, 0o700);
    const files = readdirSync(out).sort();
    assert.equal(files.length, 4);
    assert.ok(files.every((f) => /^\d{8}T\d{9}Z-[0-9a-f]{12}\.(eml|json)$/.test(f)), files.join());
    const eml = join(out, `${r.relayQueueId}.eml`);
    assert.deepEqual(readFileSync(eml), raw);
    assert.equal(statSync(eml).mode & 0o777, 0o600);
    const env = JSON.parse(readFileSync(join(out, `${r.relayQueueId}.json`), 'utf8')) as CapturedEnvelope;
    assert.deepEqual({ ...env, capturedAt: 'x' }, { from: 'jane@example.test', to: ['bob@example.test'], dsn: { ret: 'HDRS' }, capturedAt: 'x', size: raw.length, file: `${r.relayQueueId}.eml` });
    assert.deepEqual(r.recipients, [{ address: 'bob@example.test', status: 'accepted' }]);
    assert.equal(r.info.relay, `capture:${out}`);
  });

  it('an unwritable place is ECAPTURE', async () => {
    const file = join(dir, 'a-file');
    writeFileSync(file, 'x');
    await assert.rejects(
      createTransport({ url: `capture:${join(file, 'sub')}` }).send({ from: 'a@example.test', to: ['b@example.test'] }, Buffer.from('x')),
      (e: unknown) => e instanceof SendwellError && e.code === 'ECAPTURE' && /cannot write/.test(e.message),
    );
  });
});

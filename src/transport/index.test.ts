import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { SendwellError } from '../errors.js';
import { DEFAULT_TIMEOUTS, createTransport, describeRelay } from './index.js';

const econfig = (re: RegExp) => (e: unknown) => e instanceof SendwellError && e.code === 'ECONFIG' && re.test(e.message);

describe('createTransport', () => {
  it('picks the transport from the URL without connecting', async () => {
    const smtp = createTransport({ url: 'smtp://127.0.0.1:1?tls=never' });
    assert.equal(smtp.name, 'smtp');
    await smtp.close();
    assert.equal(createTransport({ url: 'sendmail:' }).name, 'sendmail');
    assert.equal(createTransport({ url: 'capture:/tmp/x' }).name, 'capture');
  });
  it('checks timeouts', () => {
    assert.throws(() => createTransport({ url: 'smtp://localhost', timeouts: { connectMs: -1 } }), econfig(/connectMs = -1/));
    assert.throws(() => createTransport({ url: 'smtp://localhost', timeouts: { bogusMs: 1 } as never }), econfig(/unknown timeout "bogusMs"/));
    assert.throws(() => createTransport({ url: 'ftp://localhost' }), econfig(/unknown scheme/));
  });
  it('defaults follow RFC 5321 / Postfix, with a shorter greeting wait for scripts', () => {
    assert.deepEqual(DEFAULT_TIMEOUTS, { connectMs: 30_000, greetingMs: 60_000, commandMs: 300_000, dataMs: 600_000, sendmailMs: 60_000 });
  });
  it('a closed SMTP transport refuses to send (EUSAGE)', async () => {
    const t = createTransport({ url: 'smtp://127.0.0.1:1' });
    await t.close();
    await assert.rejects(t.send({ from: '', to: ['a@example.test'] }, Buffer.from('x')), (e: unknown) => e instanceof SendwellError && e.code === 'EUSAGE');
  });
  it('describeRelay is exported', () => {
    assert.equal(describeRelay('smtps://mail.example.test'), 'SMTP to mail.example.test:465 (implicit TLS, certificate verified)');
  });
});

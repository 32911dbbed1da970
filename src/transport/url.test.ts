import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { SendwellError } from '../errors.js';
import { describeRelay, parseRelayUrl, redactUrl } from './url.js';

const fails = (url: string, code: string, re: RegExp) =>
  assert.throws(() => parseRelayUrl(url), (e: unknown) => e instanceof SendwellError && e.code === code && re.test(e.message), url);

describe('relay URLs', () => {
  it('smtp:// defaults to port 25 with opportunistic, unverified STARTTLS (RFC 7435)', () => {
    assert.deepEqual(parseRelayUrl('smtp://localhost'), { kind: 'smtp', url: 'smtp://localhost:25', host: 'localhost', port: 25, tls: 'opportunistic', verify: false });
  });
  it('smtp://…?tls=never disables STARTTLS (C1 localhost:25); ?tls=verify verifies it', () => {
    assert.deepEqual(parseRelayUrl('smtp://127.0.0.1:25?tls=never'), { kind: 'smtp', url: 'smtp://127.0.0.1:25?tls=never', host: '127.0.0.1', port: 25, tls: 'none', verify: false });
    const v = parseRelayUrl('smtp://Relay.Example.Test?tls=verify');
    assert.deepEqual(v, { kind: 'smtp', url: 'smtp://relay.example.test:25?tls=verify', host: 'relay.example.test', port: 25, tls: 'opportunistic', verify: true });
  });
  it('smtp+starttls:// is 587, required and verified; smtps:// is 465 implicit and verified (C2)', () => {
    assert.deepEqual(parseRelayUrl('smtp+starttls://mail.example.test'), { kind: 'smtp', url: 'smtp+starttls://mail.example.test:587', host: 'mail.example.test', port: 587, tls: 'starttls', verify: true });
    assert.deepEqual(parseRelayUrl('smtps://mail.example.test:4650/'), { kind: 'smtp', url: 'smtps://mail.example.test:4650', host: 'mail.example.test', port: 4650, tls: 'implicit', verify: true });
  });
  it('IPv6 literals', () => {
    const t = parseRelayUrl('smtp://[::1]:2525');
    assert.equal(t.kind === 'smtp' && t.host, '::1');
    assert.equal(t.url, 'smtp://[::1]:2525');
    fails('smtp://[nonsense]', 'ECONFIG', /IPv6/);
  });
  it('sendmail: and capture:', () => {
    assert.deepEqual(parseRelayUrl('sendmail:'), { kind: 'sendmail', url: 'sendmail:/usr/sbin/sendmail', path: '/usr/sbin/sendmail' });
    assert.deepEqual(parseRelayUrl('sendmail:/opt/bin/sendmail'), { kind: 'sendmail', url: 'sendmail:/opt/bin/sendmail', path: '/opt/bin/sendmail' });
    assert.deepEqual(parseRelayUrl('capture:./outbox'), { kind: 'capture', url: 'capture:./outbox', dir: './outbox' });
    fails('sendmail:relative/path', 'ECONFIG', /absolute/);
    fails('capture:', 'ECONFIG', /directory/);
  });
  it('bad URLs are ECONFIG naming the value and listing the valid forms', () => {
    for (const [url, why] of [
      ['', /empty/],
      ['mail.example.test', /scheme/],
      ['http://mail.example.test', /unknown scheme "http:"/],
      ['smtp:mail.example.test', /expected smtp:\/\//],
      ['smtp://', /host is missing/],
      ['smtp://mail.example.test:0', /port "0"/],
      ['smtp://mail.example.test:99999', /port "99999"/],
      ['smtp://mail.example.test:abc', /port "abc"/],
      ['smtp://bad_host!', /not of the form|not a valid host/],
      ['smtp://999.1.1.1', /IPv4/],
      ['smtp://x.example.test?tls=maybe', /tls=maybe/],
      ['smtp://x.example.test?foo=1', /unknown parameter "foo"/],
      ['smtps://x.example.test?tls=never', /applies to smtp:\/\/ only/],
      ['smtp://x.example.test/path', /not of the form/],
    ] as const) {
      assert.throws(
        () => parseRelayUrl(url),
        (e: unknown) => e instanceof SendwellError && e.code === 'ECONFIG' && why.test(e.message) && e.message.includes(JSON.stringify(url).slice(1, -1)) && /smtp\+starttls:\/\//.test(e.hint),
        url,
      );
    }
  });
  it('credentials in the URL are refused with ESECRET (R11), and never echoed', () => {
    for (const url of ['smtp://jane:hunter2@mail.example.test', 'smtps://jane@mail.example.test', 'smtp://jane:p/a?s#s@mail.example.test:587']) {
      assert.throws(
        () => parseRelayUrl(url),
        (e: unknown) => e instanceof SendwellError && e.code === 'ESECRET' && e.rule === 'R11' && !/hunter2|p\/a\?s/.test(e.message + e.hint) && /password_file/.test(e.hint),
        url,
      );
    }
    assert.equal(redactUrl('smtp://jane:hunter2@mail.example.test:25'), 'smtp://***@mail.example.test:25');
  });
  it('describeRelay', () => {
    assert.equal(describeRelay('smtp://localhost?tls=never'), 'SMTP to localhost:25 (no TLS)');
    assert.equal(describeRelay('smtp+starttls://mail.example.test'), 'SMTP to mail.example.test:587 (STARTTLS required, certificate verified)');
    assert.equal(describeRelay('sendmail:'), 'the local sendmail command /usr/sbin/sendmail');
    assert.equal(describeRelay('smtp://u:pw@x'), 'invalid relay URL "smtp://***@x"');
  });
});

/** The SMTP listener's pure parts: networks, replies, limits, header completion. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { SendwellError } from '../../errors.js';
import type { Finding } from '../../policy/types.js';
import { RawMessage } from '../../message/raw.js';
import { ConnectionCounter, RateWindow } from './limits.js';
import { parseListenAddress } from './listener.js';
import { completeHeaders, loopReason, messageIdDomain, receivedValue } from './message.js';
import { addressLiteral, networkList, normalizeIp } from './networks.js';
import { formatReply, policyReply, REPLIES, replyText } from './replies.js';

describe('smtp networks', () => {
  it('matches IPv4 and IPv6 CIDRs, and IPv4-mapped IPv6 addresses against IPv4 networks', () => {
    const n = networkList(['127.0.0.1/32', '10.0.0.0/8', '::1/128', '2001:db8::/32', '192.0.2.7']);
    assert.equal(n.contains('127.0.0.1'), true);
    assert.equal(n.contains('127.0.0.2'), false);
    assert.equal(n.contains('::ffff:127.0.0.1'), true);
    assert.equal(n.contains('::ffff:7f00:1'), true);
    assert.equal(n.contains('::FFFF:10.1.2.3'), true);
    assert.equal(n.contains('::1'), true);
    assert.equal(n.contains('0:0:0:0:0:0:0:1'), true);
    assert.equal(n.contains('2001:DB8:1::5'), true);
    assert.equal(n.contains('2001:db9::1'), false);
    assert.equal(n.contains('192.0.2.7'), true);
    assert.equal(n.contains('192.0.2.8'), false);
    assert.equal(n.contains('fe80::1%eth0'), false);
    assert.equal(n.contains('not an address'), false);
    assert.equal(networkList([]).contains('127.0.0.1'), false);
  });

  it('refuses entries that are not networks, naming the setting', () => {
    for (const bad of ['127.0.0.1/33', '::1/129', 'localhost', '10.0.0.0/x', '']) {
      assert.throws(() => networkList([bad]), (e: SendwellError) => e.code === 'ECONFIG' && e.message.startsWith('smtp.allow_networks:'));
    }
  });

  it('normalises addresses and writes literals', () => {
    assert.equal(normalizeIp('::ffff:192.0.2.1'), '192.0.2.1');
    assert.equal(normalizeIp('[::1]'), '::1');
    assert.equal(addressLiteral('::1'), 'IPv6:::1');
    assert.equal(addressLiteral('::ffff:127.0.0.1'), '127.0.0.1');
  });

  it('parses listen addresses', () => {
    assert.deepEqual(parseListenAddress('127.0.0.1:2525'), { host: '127.0.0.1', port: 2525 });
    assert.deepEqual(parseListenAddress('[::1]:0'), { host: '::1', port: 0 });
    assert.deepEqual(parseListenAddress('localhost:25'), { host: 'localhost', port: 25 });
    for (const bad of ['2525', '127.0.0.1', '[::1]', '::1:25', '127.0.0.1:70000', '[nope]:25']) {
      assert.throws(() => parseListenAddress(bad), (e: SendwellError) => e.code === 'ECONFIG', bad);
    }
  });
});

describe('smtp replies', () => {
  it('are single ASCII lines with their enhanced code', () => {
    assert.equal(formatReply(REPLIES.queued('204ZABCDEFGHJK')), '250 2.0.0 queued as 204ZABCDEFGHJK');
    assert.equal(formatReply(REPLIES.tooBig(1000)), '552 5.3.4 message too big (R9: send a link instead); the limit is 1000 bytes');
    assert.match(formatReply(REPLIES.relayDenied('192.0.2.1', true)), /^554 5\.7\.1 relay access denied: 192\.0\.2\.1 may not relay without AUTH; log in with AUTH over STARTTLS/);
    assert.match(formatReply(REPLIES.rateLimit('127.0.0.1', 5, 5)), /^451 4\.7\.1 rate limit: .*\(R8\)$/);
    assert.equal(replyText('a\r\nb\tc\u00e9'), 'a b c?');
    assert.equal(replyText('x'.repeat(600)).length, 480);
  });

  it('a policy refusal names what, the rule and the fix, one line per error', () => {
    const f = (over: Partial<Finding>): Finding => ({ rule: 'R2.noreply-sender', guideRule: 'R2', severity: 'error', message: 'm', fix: 'Use an address that receives replies.', title: 'Sender is a no-reply address', ...over });
    const r = policyReply([f({ field: 'envelope.from', detail: 'noreply@example.test' }), f({ field: 'From', detail: 'noreply@example.test' }), f({ severity: 'warning', rule: 'H5.x' })]);
    assert.equal(
      formatReply(r),
      '550-5.7.1 sender noreply@example.test refused (R2.noreply-sender): Sender is a no-reply address. Use an address that receives replies.\r\n' +
        '550 5.7.1 From noreply@example.test refused (R2.noreply-sender): Sender is a no-reply address. Use an address that receives replies.',
    );
  });
});

describe('smtp limits', () => {
  it('counts connections per client', () => {
    const c = new ConnectionCounter(2);
    assert.equal(c.acquire('a'), true);
    assert.equal(c.acquire('a'), true);
    assert.equal(c.acquire('a'), false);
    assert.equal(c.acquire('b'), true);
    c.release('a');
    assert.equal(c.acquire('a'), true);
    assert.equal(new ConnectionCounter(0).acquire('a'), true);
  });

  it('limits messages per client in a sliding minute', () => {
    const r = new RateWindow(2);
    r.record('a', 1000);
    r.record('a', 2000);
    assert.deepEqual(r.check('a', 3000), { count: 2, exceeded: true });
    assert.deepEqual(r.check('b', 3000), { count: 0, exceeded: false });
    assert.deepEqual(r.check('a', 61_001), { count: 1, exceeded: false });
    assert.deepEqual(r.check('a', 62_001), { count: 0, exceeded: false });
  });
});

describe('smtp header completion', () => {
  const ctx = { now: new Date(Date.UTC(2025, 0, 2, 3, 4, 5)), formatDate: () => 'Thu, 02 Jan 2025 03:04:05 +0000', idLeft: () => 'abc.123', envelopeFrom: 'bounce@lists.example.org', hostname: 'relay.example.test' };

  it('adds a missing Date and Message-ID on the sender domain, keeps existing ones', () => {
    const c = completeHeaders(Buffer.from('From: Jane <jane@example.test>\nTo: bob@example.org\nSubject: x\n\nhi\n'), ctx);
    assert.deepEqual(c.added, ['Date', 'Message-ID']);
    assert.equal(c.messageId, '<abc.123@example.test>');
    assert.equal(c.msg.get('Date'), 'Thu, 02 Jan 2025 03:04:05 +0000');
    const kept = completeHeaders(Buffer.from('Date: Wed, 01 Jan 2025 00:00:00 +0000\r\nMessage-ID: <x@y.example>\r\nFrom: a@b.example\r\n\r\n'), ctx);
    assert.deepEqual(kept.added, []);
    assert.equal(kept.messageId, '<x@y.example>');
  });

  it('falls back to the envelope sender domain, then the host name', () => {
    assert.equal(messageIdDomain(RawMessage.parse(Buffer.from('From: root@localhost\r\n\r\n')), 'bounce@lists.example.org', 'h.example'), 'lists.example.org');
    assert.equal(messageIdDomain(RawMessage.parse(Buffer.from('Subject: x\r\n\r\n')), '', 'h.example'), 'h.example');
    assert.equal(messageIdDomain(RawMessage.parse(Buffer.from('From: J <j@b\u00fccher.example>\r\n\r\n')), '', 'h.example'), 'xn--bcher-kva.example');
  });

  it('writes a Received header and sees loops', () => {
    const v = receivedValue({ helo: 'client.example\r\nX: y', address: 'IPv6:::1', hostname: 'relay.example.test', protocol: 'ESMTPSA', id: 'abc.1', date: 'Thu, 02 Jan 2025 03:04:05 +0000' });
    assert.equal(v, 'from client.example??X:?y ([IPv6:::1]) by relay.example.test (sendwell) with ESMTPSA id abc.1; Thu, 02 Jan 2025 03:04:05 +0000');
    const ours = Array.from({ length: 4 }, () => `Received: ${v}\r\n`).join('');
    assert.match(loopReason(RawMessage.parse(Buffer.from(`${ours}\r\n`))) ?? '', /passed sendwell 4 times/);
    assert.equal(loopReason(RawMessage.parse(Buffer.from(`Received: ${v}\r\n\r\n`))), undefined);
    const many = Array.from({ length: 51 }, (_, i) => `Received: from a${i} by b${i}; x\r\n`).join('');
    assert.match(loopReason(RawMessage.parse(Buffer.from(`${many}\r\n`))) ?? '', /51 Received headers/);
  });
});

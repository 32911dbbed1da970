import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Phase } from '../../errors.js';
import { authDecision, chooseMechanism, plainToken } from './auth.js';
import { REPLY_RULES, isLoopback, matchReplyRule, replyError, socketError, tlsError } from './classify.js';
import { ReplyParser } from './reply.js';
import { defaultHeloName, validateHeloName } from './session.js';

const reply = (text: string) => new ReplyParser().push(Buffer.from(`${text}\r\n`))[0]!;
const ctx = (phase: Phase, command = phase === 'data' ? 'end of data' : phase.toUpperCase()) => ({ phase, command, host: 'mx.example.test', port: 25 });

describe('reply classification (a golden case per rule)', () => {
  const golden: Array<[string, Phase, string, string, string, boolean]> = [
    // [reply, phase, command, expected rule id, expected code, temporary]
    ['451 4.7.1 Rate limit exceeded, slow down', 'rcpt', 'RCPT TO', 'throttled', 'ERECIPIENTS', true],
    ['421 4.3.2 Service not available, closing channel', 'mail', 'MAIL FROM', 'service-unavailable', 'ECONNECTION', true],
    ['535 5.7.8 Authentication credentials invalid', 'auth', 'AUTH PLAIN', 'auth-credentials', 'EAUTH', false],
    ['534 5.7.9 Authentication mechanism is too weak', 'auth', 'AUTH PLAIN', 'auth-too-weak', 'EAUTH', false],
    ['538 5.7.11 Encryption required for requested authentication mechanism', 'auth', 'AUTH LOGIN', 'auth-needs-encryption', 'EAUTH', false],
    ['454 4.7.0 Temporary authentication failure', 'auth', 'AUTH PLAIN', 'auth-temporary', 'EAUTH', true],
    ['530 5.7.0 Must issue a STARTTLS command first', 'mail', 'MAIL FROM', 'tls-required', 'ETLS', false],
    ['530 5.7.0 Authentication required', 'mail', 'MAIL FROM', 'auth-required', 'EAUTH', false],
    ['553 5.6.7 SMTPUTF8 is required, but was not offered', 'rcpt', 'RCPT TO', 'smtputf8', 'ESMTPUTF8', false],
    ['552 5.3.4 Message size exceeds fixed limit', 'data', 'end of data', 'too-large', 'ESIZE', false],
    ['554 5.7.1 <x@example.test>: Relay access denied', 'rcpt', 'RCPT TO', 'relay-denied', 'ERECIPIENTS', false],
    ['452 4.5.3 Too many recipients', 'rcpt', 'RCPT TO', 'too-many-recipients', 'ERECIPIENTS', true],
    ['550 5.1.1 <nobody@example.test>: Recipient address rejected: User unknown', 'rcpt', 'RCPT TO', 'unknown-recipient', 'ERECIPIENTS', false],
    ['452 4.2.2 Mailbox full', 'rcpt', 'RCPT TO', 'mailbox-full', 'ERECIPIENTS', true],
    ['553 5.1.8 <noreply@nx.example.test>: Sender address rejected: Domain not found', 'mail', 'MAIL FROM', 'sender-rejected', 'EREJECTED', false],
    ['554 5.7.1 Message rejected as spam', 'data', 'end of data', 'content-rejected', 'EREJECTED', false],
    ['554 5.7.1 Your IP is on a block list', 'connect', 'greeting', 'greeting-refused', 'ECONNECTION', false],
    ['501 5.5.2 Invalid EHLO hostname', 'connect', 'EHLO', 'helo-refused', 'EREJECTED', false],
    ['450 4.2.0 Greylisted, please try again later', 'rcpt', 'RCPT TO', 'try-later', 'ERECIPIENTS', true],
    ['554 5.0.0 Transaction failed', 'data', 'DATA', 'refused', 'EREJECTED', false],
  ];
  for (const [text, phase, command, id, code, temporary] of golden) {
    it(`${id}: ${text}`, () => {
      const r = reply(text);
      const c = { ...ctx(phase), command };
      assert.equal(matchReplyRule(r, c).id, id);
      const e = replyError(r, c);
      assert.equal(e.code, code);
      assert.equal(e.temporary, temporary);
      assert.equal(e.phase, phase);
      assert.equal(e.responseCode, r.code);
      assert.equal(e.enhancedStatus, r.enhanced);
      assert.equal(e.response, text);
      assert.ok(e.hint.length > 10);
    });
  }
  it('every rule has a golden case', () => {
    const covered = new Set(golden.map((g) => g[3]));
    assert.deepEqual(REPLY_RULES.map((r) => r.id).filter((id) => !covered.has(id)), []);
  });
  it('the reply code class decides temporary even when the enhanced code disagrees', () => {
    assert.equal(replyError(reply('550 4.7.1 odd'), ctx('mail')).temporary, false);
    assert.equal(replyError(reply('450 5.7.1 odd'), ctx('mail')).temporary, true);
  });
  it('relay denied names C2 in the hint', () => {
    const e = replyError(reply('550 5.7.1 relay access denied'), ctx('rcpt'));
    assert.equal(e.rule, 'C2');
    assert.match(e.hint, /this host may not relay here; use the submission server \(C2\)/);
    assert.match(replyError(reply('552 5.3.4 too big'), ctx('mail')).hint, /\(R9\)/);
  });
  it('an unexpected success code is EPROTOCOL', () => {
    assert.equal(replyError(reply('250 ok'), ctx('data', 'DATA'), { expected: '354' }).code, 'EPROTOCOL');
  });
});

describe('socket and TLS failures', () => {
  const c = { host: '127.0.0.1', port: 25, phase: 'connect' as const, command: 'connect' };
  const errno = (code: string) => Object.assign(new Error(code), { code });
  it('connection refused to loopback says: is a local MTA running? (C1)', () => {
    const e = socketError(errno('ECONNREFUSED'), c);
    assert.equal(e.code, 'ECONNECTION');
    assert.equal(e.temporary, true);
    assert.equal(`${e.message} — ${e.hint}`.startsWith('connection refused by 127.0.0.1:25 — is a local MTA running? (C1)'), true);
    assert.equal(e.rule, 'C1');
    assert.equal(socketError(errno('ECONNREFUSED'), { ...c, host: 'mail.example.test' }).rule, 'C2');
  });
  it('happy-eyeballs AggregateError is unwrapped', () => {
    const agg = Object.assign(new AggregateError([errno('ECONNREFUSED'), errno('ECONNREFUSED')]), {});
    assert.equal(socketError(agg, { ...c, host: 'localhost' }).rule, 'C1');
  });
  it('DNS: ENOTFOUND permanent, EAI_AGAIN temporary; both EDNS naming relay.url', () => {
    const nf = socketError(errno('ENOTFOUND'), { ...c, host: 'nx.example.invalid' });
    assert.equal(nf.code, 'EDNS');
    assert.equal(nf.temporary, false);
    assert.match(nf.message, /nx\.example\.invalid could not be resolved/);
    assert.match(nf.hint, /relay\.url/);
    assert.equal(socketError(errno('EAI_AGAIN'), c).temporary, true);
  });
  it('resets are temporary ECONNECTION; OS timeouts ETIMEDOUT', () => {
    assert.equal(socketError(errno('ECONNRESET'), c).code, 'ECONNECTION');
    assert.equal(socketError(errno('ECONNRESET'), c).temporary, true);
    assert.equal(socketError(errno('ETIMEDOUT'), c).code, 'ETIMEDOUT');
  });
  it('TLS certificate errors say which, and suggest ca_file or smtp://', () => {
    for (const [code, re] of [
      ['DEPTH_ZERO_SELF_SIGNED_CERT', /self-signed/],
      ['CERT_HAS_EXPIRED', /expired/],
      ['ERR_TLS_CERT_ALTNAME_INVALID', /hostname mismatch/],
      ['UNABLE_TO_VERIFY_LEAF_SIGNATURE', /unknown CA/],
    ] as const) {
      const e = tlsError(errno(code), { ...c, verify: true });
      assert.equal(e.code, 'ETLS');
      assert.equal(e.phase, 'tls');
      assert.match(e.message, re);
    }
    assert.match(tlsError(errno('UNABLE_TO_VERIFY_LEAF_SIGNATURE'), { ...c, verify: true }).hint, /ca_file.*smtp:\/\//);
    const wrongPort = tlsError(Object.assign(new Error('SSL routines::wrong version number'), { code: 'ERR_SSL_WRONG_VERSION_NUMBER' }), { ...c, verify: true });
    assert.match(wrongPort.hint, /smtps:\/\/ only for port 465/);
  });
});

describe('AUTH guard (R11, C2)', () => {
  it('allows verified TLS and loopback only', () => {
    assert.deepEqual(authDecision({ host: 'mail.example.test', remoteAddress: '192.0.2.1', tls: { authorized: true } }), { allowed: true, because: 'verified-tls' });
    assert.deepEqual(authDecision({ host: 'localhost', remoteAddress: '127.0.0.1' }), { allowed: true, because: 'loopback' });
    assert.deepEqual(authDecision({ host: 'localhost', remoteAddress: '::1' }), { allowed: true, because: 'loopback' });
    const plain = authDecision({ host: 'mail.example.test', remoteAddress: '192.0.2.1' });
    assert.equal(plain.allowed, false);
    assert.match(!plain.allowed ? plain.message : '', /unencrypted/);
    const unverified = authDecision({ host: 'mail.example.test', remoteAddress: '192.0.2.1', tls: { authorized: false, authorizationError: 'DEPTH_ZERO_SELF_SIGNED_CERT' } });
    assert.equal(unverified.allowed, false);
    assert.match(!unverified.allowed ? unverified.hint : '', /\?tls=verify/);
  });
  it('judges by the connected address, not the name', () => {
    assert.equal(authDecision({ host: 'localhost', remoteAddress: '192.0.2.7' }).allowed, false);
    assert.equal(authDecision({ host: 'relay.example.test', remoteAddress: '::ffff:127.0.0.1' }).allowed, true);
  });
  it('isLoopback', () => {
    for (const h of ['127.0.0.1', '127.1.2.3', '::1', '[::1]', 'localhost', '0:0:0:0:0:0:0:1', '::ffff:127.0.0.1']) assert.equal(isLoopback(h), true, h);
    for (const h of ['128.0.0.1', '::2', 'example.test', '10.0.0.1', undefined]) assert.equal(isLoopback(h), false, String(h));
  });
  it('prefers PLAIN, then LOGIN', () => {
    assert.equal(chooseMechanism(['LOGIN', 'PLAIN', 'CRAM-MD5']), 'PLAIN');
    assert.equal(chooseMechanism(['login']), 'LOGIN');
    assert.equal(chooseMechanism(['XOAUTH2']), undefined);
    assert.equal(Buffer.from(plainToken('jane', 'pw'), 'base64').toString(), '\0jane\0pw');
  });
});

describe('EHLO name', () => {
  it('uses a fully qualified host name, else an address literal', () => {
    assert.equal(defaultHeloName('127.0.0.1', 'host.example.test'), 'host.example.test');
    assert.equal(defaultHeloName('127.0.0.1', 'box'), '[127.0.0.1]');
    assert.equal(defaultHeloName('::ffff:10.1.2.3', 'box'), '[10.1.2.3]');
    assert.equal(defaultHeloName('::1', 'box'), '[IPv6:::1]');
  });
  it('refuses CR/LF, spaces and junk (ECONFIG)', () => {
    for (const bad of ['a b', 'host\r\nMAIL FROM:<x>', '', 'host_', '-host']) {
      assert.throws(() => validateHeloName(bad), (e: unknown) => (e as { code?: string }).code === 'ECONFIG', bad);
    }
    assert.equal(validateHeloName('[192.0.2.1]'), '[192.0.2.1]');
    assert.equal(validateHeloName('host.example.test'), 'host.example.test');
  });
});

/**
 * classify(): the decisions the issue names, the confident/heuristic split and
 * how codes are read out of the server's text.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { classify, findEnhancedStatus, findReplyCode, type BounceCategory, type ClassifyInput } from './classify.js';

const cat = (input: ClassifyInput) => classify(input).category;

describe('classify: categories from issue 5', () => {
  const table: [ClassifyInput, BounceCategory][] = [
    [{ status: '5.1.1' }, 'unknown-user'],
    [{ status: '5.1.10', diagnostic: 'smtp; 550 5.1.10 RESOLVER.ADR.RecipientNotFound; Recipient not found by SMTP address lookup' }, 'unknown-user'],
    [{ status: '5.1.6' }, 'unknown-user'],
    [{ code: 550, diagnostic: '550 <a@example.org>: User unknown' }, 'unknown-user'],
    [{ code: 550, diagnostic: '550 No such user here' }, 'unknown-user'],
    [{ status: '5.1.2' }, 'unknown-domain'],
    [{ status: '5.4.4' }, 'unknown-domain'],
    [{ diagnostic: 'Host or domain name not found. Name service error for name=example.invalid type=MX: Host not found' }, 'unknown-domain'],
    [{ status: '5.2.2' }, 'mailbox-full'],
    [{ status: '4.2.2' }, 'mailbox-full'],
    [{ code: 552, diagnostic: '552 Mailbox full' }, 'mailbox-full'],
    [{ code: 452, diagnostic: '452 4.2.2 The email account that you tried to reach is over quota.' }, 'mailbox-full'],
    [{ status: '5.3.4' }, 'message-too-large'],
    [{ status: '5.2.3' }, 'message-too-large'],
    [{ code: 552, diagnostic: '552 Message size exceeds maximum permitted' }, 'message-too-large'],
    [{ status: '5.7.1', diagnostic: 'smtp; 550 5.7.1 Message blocked' }, 'policy-block'],
    [{ status: '5.7.1', diagnostic: 'smtp; 554 5.7.1 This message has been identified as spam' }, 'policy-block'],
    [{ status: '5.7.23' }, 'policy-block'],
    [{ status: '5.7.25' }, 'policy-block'],
    [{ status: '5.7.26' }, 'policy-block'],
    [{ status: '5.7.27' }, 'policy-block'],
    [{ code: 554, diagnostic: '554 rejected because 192.0.2.10 is in a black list at dnsbl.example.net' }, 'policy-block'],
    [{ code: 550, diagnostic: '550 5.7.1 DMARC policy violation' }, 'policy-block'],
    [{ status: '4.7.0', diagnostic: 'smtp; 421 4.7.0 Try again later, closing connection.' }, 'rate-limited'],
    [{ status: '4.7.28' }, 'rate-limited'],
    [{ code: 421, diagnostic: '421 Too many messages from your IP, slow down' }, 'rate-limited'],
    [{ status: '4.4.1', diagnostic: 'X-Postfix; connect to mx.example.org[192.0.2.25]:25: Connection refused' }, 'temporary'],
    [{ status: '4.3.0' }, 'temporary'],
    [{ status: '4.4.3', diagnostic: 'Host or domain name not found. Name service error for name=example.org type=MX: Host not found, try again' }, 'temporary'],
    [{ kind: 'complaint' }, 'complaint'],
    [{ status: '5.3.0', diagnostic: 'smtp; 554 5.3.0 Other mail system problem' }, 'other'],
    [{}, 'other'],
  ];
  for (const [input, want] of table) {
    it(`${JSON.stringify(input)} → ${want}`, () => assert.equal(cat(input), want));
  }
});

describe('classify: the two axes and suppression', () => {
  it('a confident hard bounce suppresses now; the same from a heuristic parse only counts', () => {
    assert.deepEqual(classify({ status: '5.1.1', confident: true }), {
      category: 'unknown-user',
      retry: false,
      blame: 'recipient',
      suppress: 'now',
      rule: 'B.5.1.1',
      reason: 'the mailbox does not exist',
    });
    assert.equal(classify({ status: '5.1.1', confident: false }).suppress, 'count');
    assert.equal(classify({ status: '5.1.1' }).suppress, 'count', 'confident defaults to false');
  });

  it('a 5.7.x block is our setup: no retry, operator, never suppress — even when confident', () => {
    const c = classify({ status: '5.7.1', diagnostic: 'smtp; 554 5.7.1 Client host [192.0.2.10] blocked using zen.spamhaus.org', confident: true });
    assert.deepEqual([c.category, c.retry, c.blame, c.suppress], ['policy-block', false, 'sender-setup', 'never']);
  });

  it('a delay never counts, whatever its status says', () => {
    assert.deepEqual(classify({ kind: 'delay', status: '4.2.2', confident: true }), classify({ kind: 'delay' }));
    assert.equal(classify({ kind: 'delay', status: '4.2.2' }).suppress, 'never');
  });

  it('auto-replies and other mail are never held against the recipient', () => {
    assert.equal(classify({ kind: 'auto-reply', status: '5.1.1', confident: true }).suppress, 'never');
    assert.equal(classify({ kind: 'not-a-bounce', diagnostic: 'user unknown' }).suppress, 'never');
  });

  it('a complaint suppresses now when it comes from an ARF report', () => {
    assert.equal(classify({ kind: 'complaint', confident: true }).suppress, 'now');
  });

  it('our own envelope sender refused is not the recipient\'s fault, even with 5.1.1', () => {
    const c = classify({ status: '5.1.1', diagnostic: 'smtp; 550 5.1.1 <bounces@bounces.example.org>: Sender address rejected: User unknown in local recipient table', confident: true });
    assert.deepEqual([c.rule, c.blame, c.suppress], ['B.sender-rejected', 'sender-setup', 'never']);
  });

  it('a synchronous refusal (reply code and text only) classifies like a DSN', () => {
    assert.equal(classify({ code: 550, diagnostic: '550 5.1.1 <a@example.org>: Recipient address rejected: User unknown', confident: true }).rule, 'B.5.1.1');
    assert.equal(classify({ code: 450, diagnostic: '450 4.7.1 <a@example.org>: Recipient address rejected: Greylisted for 300 seconds', confident: true }).rule, 'B.greylist');
  });
});

describe('classify: reading the status', () => {
  it('a generic DSN status is refined by the diagnostic (Exim and sendwell write 5.0.0)', () => {
    assert.equal(classify({ status: '5.0.0', diagnostic: 'smtp; 550 5.1.1 <a@example.org>... User unknown' }).rule, 'B.5.1.1');
    assert.equal(classify({ status: '5.1.0', diagnostic: 'smtp; 550 5.1.10 RESOLVER.ADR.RecipientNotFound' }).rule, 'B.5.1.10');
    assert.equal(classify({ status: '5.2.0', diagnostic: 'smtp; 552 5.2.2 Mailbox full' }).rule, 'B.5.2.2');
  });

  it('a specific status is not overridden by another code in the text, nor by another class', () => {
    assert.equal(classify({ status: '5.1.1', diagnostic: 'smtp; 550 5.7.1 whatever' }).rule, 'B.5.1.1');
    assert.equal(classify({ status: '5.0.0', diagnostic: 'smtp; 451 4.7.1 Greylisted' }).rule, 'B.5');
  });

  it('German and French texts: the reason, not the mere language (Absender is our sender, not the recipient)', () => {
    const rule = (diagnostic: string) => classify({ diagnostic, code: 550 }).rule;
    assert.equal(rule('550 Empfänger unbekannt'), 'B.user-unknown');
    assert.equal(rule('550 Absender unbekannt'), 'B.sender-rejected');
    assert.equal(rule('550 Domaine inconnu'), 'B.domain-unknown');
    assert.equal(rule('550 Postfach voll'), 'B.quota');
    assert.equal(rule('550 POSTFACH VOLL'), 'B.quota');
    assert.equal(rule('550 Die Nachricht ist zu gross'), 'B.size');
    // Nothing but "could not be delivered": no reason is invented.
    assert.equal(rule('550 Die Nachricht konnte nicht zugestellt werden'), 'B.5');
    assert.equal(rule("550 Le message n'a pas pu être remis"), 'B.5');
    // A temporary answer is read as its English counterpart is.
    assert.equal(classify({ diagnostic: '452 Postfach voll' }).rule, classify({ diagnostic: '452 Mailbox full' }).rule);
    assert.equal(classify({ diagnostic: '451 Benutzer unbekannt' }).rule, classify({ diagnostic: '451 User unknown' }).rule);
  });

  it('Exim\'s retry timeout: Status 5.0.0 after a 4xx reply is a soft bounce', () => {
    const c = classify({ status: '5.0.0', diagnostic: 'smtp; 451 4.3.0 <a@example.org>: Temporary lookup failure: retry timeout exceeded', confident: true });
    assert.deepEqual([c.rule, c.category, c.retry, c.suppress], ['B.retry-timeout', 'temporary', true, 'count']);
    assert.equal(classify({ status: '5.0.0', diagnostic: 'smtp; 451 4.3.0 Temporary lookup failure', confident: true }).rule, 'B.5');
  });

  it('a status field with a comment still reads', () => {
    assert.equal(classify({ status: '5.1.1 (bad destination mailbox)' }).rule, 'B.5.1.1');
  });

  it('findEnhancedStatus ignores IP addresses, versions and dates', () => {
    assert.equal(findEnhancedStatus('connect to 10.5.1.1 port 25'), undefined);
    assert.equal(findEnhancedStatus('Postfix 3.7.11 says hello'), undefined);
    assert.equal(findEnhancedStatus('on 4.12.2023 at noon'), undefined);
    assert.equal(findEnhancedStatus('Sorry, no mailbox here by that name. (#5.1.1)'), '5.1.1');
    assert.equal(findEnhancedStatus('550-5.7.26 unauthenticated'), '5.7.26');
    assert.equal(findEnhancedStatus('code 5.1.1.'), '5.1.1');
    assert.equal(findEnhancedStatus('status 5.01.001'), '5.1.1');
  });

  it('findReplyCode reads the code in front of an enhanced code, or leading a reply', () => {
    assert.equal(findReplyCode('host mx.example.org[192.0.2.25] said: 550 5.1.1 <a@example.org>: unknown'), 550);
    assert.equal(findReplyCode('550-5.7.26 This mail is unauthenticated'), 550);
    assert.equal(findReplyCode('<mail.example.org #5.1.1 smtp;550 5.1.1 User unknown>'), 550);
    assert.equal(findReplyCode("Remote Server returned '554 5.4.14 Hop count exceeded'"), 554);
    assert.equal(findReplyCode('452 Too many recipients'), 452);
    assert.equal(findReplyCode('connect to 192.0.2.25:25: Connection timed out at 18:11:43'), undefined);
    assert.equal(findReplyCode('we tried 500 times'), undefined);
    assert.equal(findReplyCode(undefined), undefined);
  });
});

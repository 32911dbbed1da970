/**
 * The bounce parser over the fixture corpus (test/fixtures/bounces: one .eml
 * per notice, written for this project from the public formats, with its
 * expected result in the .json beside it), plus the cases the corpus does not
 * show: LF line endings, mbox "From " lines, folding, read receipts, odd input.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { classify, type Classification } from './classify.js';
import { parseBounce, type ParsedBounce } from './parse.js';

const DIR = new URL('../../test/fixtures/bounces/', import.meta.url).pathname;

interface Expected {
  description: string;
  expect: ParsedBounce;
  /** One entry per recipient, in order: the fields of classify() that must match. */
  classify: Partial<Classification>[];
}

const fixtures = readdirSync(DIR)
  .filter((f) => f.endsWith('.eml'))
  .sort();

const load = (name: string) => ({
  raw: readFileSync(join(DIR, name)),
  expected: JSON.parse(readFileSync(join(DIR, name.replace(/\.eml$/, '.json')), 'utf8')) as Expected,
});

function classifyAll(b: ParsedBounce): Classification[] {
  return b.recipients.map((r) => classify({ status: r.status, diagnostic: r.diagnostic, kind: b.kind, confident: b.confident }));
}

describe('bounce corpus (test/fixtures/bounces)', () => {
  it('has every format the issue asks for, in CRLF', () => {
    const formats = new Set(fixtures.map((f) => load(f).expected.expect.format));
    for (const f of ['rfc3464', 'arf', 'exim', 'exchange', 'gmail', 'qmail', 'postfix', 'sendmail', 'plain', 'auto-reply', 'none']) assert.ok(formats.has(f as ParsedBounce['format']), `a fixture of format ${f}`);
    const kinds = new Set(fixtures.map((f) => load(f).expected.expect.kind));
    for (const k of ['bounce', 'delay', 'complaint', 'auto-reply', 'not-a-bounce']) assert.ok(kinds.has(k as ParsedBounce['kind']), `a fixture of kind ${k}`);
    for (const f of fixtures) {
      const text = readFileSync(join(DIR, f), 'latin1');
      assert.equal(/(?<!\r)\n/.test(text), false, `${f} has CRLF line endings only`);
      assert.doesNotMatch(text, /@(?!(?:[\w-]+\.)*(?:example\.(?:org|com|net|test)|invalid|test|example)\b)[\w.-]+\.[a-z]{2,}/i, `${f} uses reserved domains only`);
    }
  });

  for (const name of fixtures) {
    it(name, async () => {
      const { raw, expected } = load(name);
      const got = await parseBounce(raw);
      assert.deepEqual(got, expected.expect, expected.description);
      const cls = classifyAll(got);
      assert.equal(cls.length, expected.classify.length, 'one classification per recipient');
      expected.classify.forEach((want, i) => {
        const have = Object.fromEntries(Object.keys(want).map((k) => [k, cls[i]![k as keyof Classification]]));
        assert.deepEqual(have, want, `classification of ${got.recipients[i]!.address}`);
      });
      // The same notice with LF line endings (as read from an mbox) parses the same.
      assert.deepEqual(await parseBounce(raw.toString('latin1').replace(/\r\n/g, '\n')), expected.expect, 'LF variant');
      // And as a string.
      assert.deepEqual(await parseBounce(raw.toString('utf8')), expected.expect, 'string input');
    });
  }
});

describe('parseBounce details', () => {
  const dsn = (fields: string) =>
    [
      'From: MAILER-DAEMON@mx.example.org',
      'To: bounces@example.test',
      'Subject: Undelivered Mail Returned to Sender',
      'MIME-Version: 1.0',
      'Content-Type: multipart/report; report-type=delivery-status; boundary="b"',
      '',
      '--b',
      'Content-Type: text/plain',
      '',
      'Delivery failed.',
      '--b',
      'Content-Type: message/delivery-status',
      '',
      fields,
      '--b--',
      '',
    ].join('\r\n');

  it('skips a leading mbox From_ line', async () => {
    const raw = `From MAILER-DAEMON  Fri Dec  4 18:11:43 2026\n${dsn('Reporting-MTA: dns; mx.example.org\r\n\r\nFinal-Recipient: rfc822; a@example.org\r\nAction: failed\r\nStatus: 5.1.1\r\n')}`;
    const b = await parseBounce(raw);
    assert.equal(b.kind, 'bounce');
    assert.equal(b.subject, 'Undelivered Mail Returned to Sender');
    assert.equal(b.recipients[0]!.address, 'a@example.org');
  });

  it('only delayed recipients → delay, not final', async () => {
    const b = await parseBounce(dsn('Reporting-MTA: dns; mx.example.org\r\n\r\nFinal-Recipient: rfc822; a@example.org\r\nAction: delayed\r\nStatus: 4.4.1\r\nWill-Retry-Until: Fri, 8 Mar 2024 10:00:00 +0000\r\n'));
    assert.equal(b.kind, 'delay');
    assert.equal(b.confident, true);
    assert.equal(b.recipients[0]!.action, 'delayed');
    assert.equal(classify({ ...b.recipients[0]!, kind: b.kind, confident: b.confident }).suppress, 'never');
  });

  it('failed and delayed recipients → bounce about the failed ones only', async () => {
    const b = await parseBounce(
      dsn('Reporting-MTA: dns; mx.example.org\r\n\r\nFinal-Recipient: rfc822; a@example.org\r\nAction: delayed\r\nStatus: 4.4.1\r\n\r\nFinal-Recipient: rfc822; b@example.org\r\nAction: failed\r\nStatus: 5.1.2\r\n'),
    );
    assert.equal(b.kind, 'bounce');
    assert.deepEqual(
      b.recipients.map((r) => r.address),
      ['b@example.org'],
    );
  });

  it('an internationalised DSN (RFC 6533 message/global-delivery-status, utf-8 address type) reads the same', async () => {
    const raw = dsn('Reporting-MTA: dns; mx.example.org\r\n\r\nFinal-Recipient: utf-8; jürgen@example.org\r\nAction: failed\r\nStatus: 5.1.1\r\n').replace(
      'Content-Type: message/delivery-status',
      'Content-Type: message/global-delivery-status',
    );
    const b = await parseBounce(raw);
    assert.deepEqual([b.kind, b.confident, b.recipients], ['bounce', true, [{ address: 'jürgen@example.org', action: 'failed', status: '5.1.1' }]]);
  });

  it('a success DSN is not a bounce', async () => {
    const b = await parseBounce(dsn('Reporting-MTA: dns; mx.example.org\r\n\r\nFinal-Recipient: rfc822; a@example.org\r\nAction: relayed\r\nStatus: 2.0.0\r\n'));
    assert.equal(b.kind, 'not-a-bounce');
    assert.equal(b.format, 'rfc3464');
  });

  it('a missing Action is read from the status class, but not confidently', async () => {
    const b = await parseBounce(dsn('Reporting-MTA: dns; mx.example.org\r\n\r\nFinal-Recipient: rfc822; a@example.org\r\nStatus: 5.1.1 (user unknown)\r\n'));
    assert.equal(b.kind, 'bounce');
    assert.equal(b.confident, false);
    assert.deepEqual(b.recipients, [{ address: 'a@example.org', action: 'failed', status: '5.1.1' }]);
  });

  it('a missing blank line between per-message and recipient fields is tolerated; field names are case-insensitive', async () => {
    const b = await parseBounce(dsn('reporting-mta: dns; mx.example.org\r\nORIGINAL-ENVELOPE-ID: Q1\r\nfinal-recipient: RFC822; <A@Example.Org>\r\naction: Failed\r\nstatus: 5.1.1\r\n'));
    assert.equal(b.reportingMta, 'mx.example.org');
    assert.equal(b.envelopeId, 'Q1');
    assert.deepEqual(b.recipients, [{ address: 'A@example.org', action: 'failed', status: '5.1.1' }]);
    assert.equal(b.confident, true);
  });

  it('a report part without recipients falls back to the text', async () => {
    const b = await parseBounce(dsn('Reporting-MTA: dns; mx.example.org\r\n'));
    assert.equal(b.kind, 'bounce');
    assert.equal(b.format, 'plain');
    assert.equal(b.confident, false);
  });

  it('a read receipt (RFC 8098) is not a bounce', async () => {
    const raw = [
      'From: Jane <jane@example.org>',
      'To: reports@example.test',
      'Subject: Read: Monthly report',
      'MIME-Version: 1.0',
      'Content-Type: multipart/report; report-type=disposition-notification; boundary="m"',
      '',
      '--m',
      'Content-Type: text/plain',
      '',
      'Your message was displayed.',
      '--m',
      'Content-Type: message/disposition-notification',
      '',
      'Final-Recipient: rfc822; jane@example.org',
      'Disposition: manual-action/MDN-sent-manually; displayed',
      '--m--',
      '',
    ].join('\r\n');
    const b = await parseBounce(raw);
    assert.equal(b.kind, 'not-a-bounce');
    assert.deepEqual(b.recipients, []);
  });

  it('auto-reply markers: X-Autoreply, Precedence: auto_reply, subject only', async () => {
    const msg = (h: string, subject = 'Re: Monthly report') => `From: Jane <jane@example.org>\r\nTo: reports@example.test\r\nSubject: ${subject}\r\n${h}\r\n\r\nI am away.\r\n`;
    for (const h of ['X-Autoreply: yes', 'Precedence: auto_reply', 'X-Autorespond: Out of office']) {
      const b = await parseBounce(msg(h));
      assert.equal(b.kind, 'auto-reply', h);
      assert.equal(b.confident, false, h);
    }
    assert.equal((await parseBounce(msg('X-Mailer: x', 'Automatic reply: Monthly report'))).kind, 'auto-reply');
    assert.equal((await parseBounce(msg('X-Mailer: x', 'AUTO: Jane Doe is out of the office'))).kind, 'auto-reply');
    const rfc3834 = await parseBounce(msg('Auto-Submitted: auto-replied (vacation)'));
    assert.deepEqual([rfc3834.kind, rfc3834.confident, rfc3834.recipients], ['auto-reply', true, [{ address: 'jane@example.org' }]]);
    assert.equal((await parseBounce(msg('Auto-Submitted: no'))).kind, 'not-a-bounce');
  });

  it('a heuristic notice about an address on a Message-ID line does not name it as a recipient', async () => {
    const raw = 'From: postmaster@mail.example.net\r\nTo: bounces@example.test\r\nSubject: Undeliverable mail\r\n\r\nCould not deliver to mbox@example.org: 550 5.1.1 unknown user\r\nMessage-ID: <abc.123@example.test>\r\n';
    const b = await parseBounce(raw);
    assert.equal(b.format, 'plain');
    assert.deepEqual(
      b.recipients.map((r) => [r.address, r.status]),
      [['mbox@example.org', '5.1.1']],
    );
    assert.equal(b.originalMessageId, '<abc.123@example.test>');
  });

  describe('heuristic variants the corpus does not show', () => {
    const msg = (from: string, subject: string, body: string) => `From: ${from}\r\nTo: bounces@example.test\r\nSubject: ${subject}\r\n\r\n${body.replace(/\n/g, '\r\n')}`;
    const cases: [string, string, Partial<ParsedBounce>, string?][] = [
      [
        'Exchange 2010 "#550 ... ##" line',
        msg('postmaster@ex.example.com', 'Undeliverable: Hello', 'Delivery has failed to these recipients or groups:\n\nJane Roe (jane.roe@ex.example.com)\nThe e-mail address you entered couldn\'t be found.\n\nDiagnostic information for administrators:\n\nGenerating server: EX2010.ex.example.com\n\njane.roe@ex.example.com\n#550 5.1.1 RESOLVER.ADR.RecipNotFound; not found ##\n\nOriginal message headers:\n\nMessage-ID: <orig.1@example.test>\n'),
        { kind: 'bounce', format: 'exchange', reportingMta: 'EX2010.ex.example.com', originalMessageId: '<orig.1@example.test>', recipients: [{ address: 'jane.roe@ex.example.com', action: 'failed', status: '5.1.1', diagnostic: '550 5.1.1 RESOLVER.ADR.RecipNotFound; not found' }] },
        'B.5.1.1',
      ],
      [
        'Exchange without the administrators\' section: the explanation is the diagnostic',
        msg('postmaster@ex.example.com', 'Undeliverable: Hello', "Delivery has failed to these recipients or groups:\n\nJane Roe (jane.roe@ex.example.com)\nYour message wasn't delivered because the recipient's mailbox is full.\n"),
        { kind: 'bounce', format: 'exchange', recipients: [{ address: 'jane.roe@ex.example.com', action: 'failed', diagnostic: "Your message wasn't delivered because the recipient's mailbox is full." }] },
        'B.quota',
      ],
      [
        'Exchange delay notice',
        msg('postmaster@ex.example.com', 'Delivery delayed:Hello', "Delivery is delayed to these recipients or groups:\n\njane.roe@ex.example.com\n\nThis message hasn't been delivered yet. Delivery will continue to be attempted.\n"),
        { kind: 'delay', format: 'exchange', recipients: [{ address: 'jane.roe@ex.example.com', action: 'delayed' }] },
        'B.delay',
      ],
      [
        'older Gmail "failed permanently" text',
        msg('Mail Delivery Subsystem <mailer-daemon@mail.example.com>', 'Delivery Status Notification (Failure)', 'Delivery to the following recipient failed permanently:\n\n     someone@example.net\n\nTechnical details of permanent failure:\nGoogle tried to deliver your message, but it was rejected by the server for the recipient domain example.net by mx.example.net. [192.0.2.5].\n\nThe error that the other server returned was:\n550 5.1.1 <someone@example.net>: Recipient address rejected: User unknown in virtual alias table\n\n----- Original message -----\n\nMessage-ID: <orig.2@example.test>\n'),
        { kind: 'bounce', format: 'gmail', originalMessageId: '<orig.2@example.test>', recipients: [{ address: 'someone@example.net', action: 'failed', status: '5.1.1', diagnostic: '550 5.1.1 <someone@example.net>: Recipient address rejected: User unknown in virtual alias table' }] },
        'B.5.1.1',
      ],
      [
        'Sendmail warning (transient non-fatal errors)',
        msg('Mail Delivery Subsystem <MAILER-DAEMON@gate.example.com>', 'Warning: could not send message for past 4 hours', '   ----- Transcript of session follows -----\n<p.rossi@example.com>... Deferred: Connection timed out with mail.example.com.\nWarning: message still undelivered after 4 hours\n\n   ----- The following addresses have transient non-fatal errors -----\n<p.rossi@example.com>\n'),
        { kind: 'delay', format: 'sendmail', recipients: [{ address: 'p.rossi@example.com', action: 'delayed' }] },
        'B.delay',
      ],
      [
        'a daemon notice in no known format',
        msg('MAILER-DAEMON@mx.example.net', 'Mail System Error - Returned Mail', 'The following recipient could not be reached:\n  <nope@example.net> 550 5.1.1 mailbox unavailable\n'),
        { kind: 'bounce', format: 'plain', recipients: [{ address: 'nope@example.net', action: 'failed', status: '5.1.1', diagnostic: '550 5.1.1 mailbox unavailable' }] },
        'B.5.1.1',
      ],
      [
        'an internationalised address in a Postfix text is read whole',
        msg('MAILER-DAEMON@mx.example.net (Mail Delivery System)', 'Undelivered Mail Returned to Sender', 'This is the mail system at host mx.example.net.\n\n<jürgen.müller@bücher.example>: host mx.bücher.example[192.0.2.8] said: 550 5.1.1\n    unknown user (in reply to RCPT TO command)\n'),
        { kind: 'bounce', format: 'postfix', recipients: [{ address: 'jürgen.müller@bücher.example', action: 'failed', status: '5.1.1', diagnostic: '550 5.1.1 unknown user (in reply to RCPT TO command)', remoteMta: 'mx.bücher.example' }] },
        'B.5.1.1',
      ],
      ['bounce words from a person, no bounce subject', msg('Jane <jane@example.org>', 'Hello', 'user unknown 550 5.1.1 x@example.org'), { kind: 'not-a-bounce', format: 'none', recipients: [] }],
      [
        'French Exchange without the administrators\' section: the localised explanation is the diagnostic',
        msg('postmaster@ex.example.com', 'Non remis : Bonjour', "La remise aux destinataires ou groupes suivants a échoué :\n\nJeanne Roux (jeanne.roux@ex.example.com)\nL'adresse de messagerie que vous avez entrée est introuvable.\n"),
        { kind: 'bounce', format: 'exchange', recipients: [{ address: 'jeanne.roux@ex.example.com', action: 'failed', diagnostic: "L'adresse de messagerie que vous avez entrée est introuvable." }] },
        'B.user-unknown',
      ],
      [
        'a German notice from a gateway that is no daemon, recognised by its subject; the reason on the address line',
        msg('Poststelle <poststelle@gw.example.net>', 'Nicht zustellbar: Antrag', 'Die Nachricht konnte nicht zugestellt werden.\n\nk.wolf@example.net - Empfänger unbekannt\n'),
        { kind: 'bounce', format: 'plain', recipients: [{ address: 'k.wolf@example.net', action: 'failed', diagnostic: 'Empfänger unbekannt' }] },
        'B.user-unknown',
      ],
      [
        'a German delay notice in plain text',
        msg('MAILER-DAEMON@gw.example.net', 'Zustellung verzögert: Antrag', 'Ihre Nachricht an k.wolf@example.net wurde noch nicht zugestellt.\nDie Zustellung wird weiterhin versucht.\n'),
        { kind: 'delay', format: 'plain', recipients: [{ address: 'k.wolf@example.net', action: 'delayed' }] },
        'B.delay',
      ],
      [
        'prose next to an address that names no reason is not taken as one',
        msg('MAILER-DAEMON@gw.example.net', 'Unzustellbar: Antrag', 'Die Nachricht an k.wolf@example.net konnte nicht zugestellt werden.\nBitte wenden Sie sich an die Poststelle.\n'),
        { kind: 'bounce', format: 'plain', recipients: [{ address: 'k.wolf@example.net', action: 'failed' }] },
        'B.other',
      ],
      ['a person writing "ich bin bis Montag nicht im Büro" is an auto-reply at worst, never a bounce', msg('Jane <jane@example.org>', 'Termin', 'Hallo, ich bin bis Montag nicht im Büro.'), { kind: 'auto-reply', format: 'auto-reply', recipients: [{ address: 'jane@example.org' }] }],
      ['Abwesenheitsnotiz in the subject', msg('Jane <jane@example.org>', 'Abwesenheitsnotiz: Termin', 'Danke für Ihre Nachricht.'), { kind: 'auto-reply', format: 'auto-reply' }],
      ['a French absence subject', msg('Jeanne <jeanne@example.org>', "Message d'absence : Réunion", 'Merci pour votre message.'), { kind: 'auto-reply', format: 'auto-reply' }],
    ];
    for (const [name, raw, want, rule] of cases) {
      it(name, async () => {
        const b = await parseBounce(raw);
        assert.equal(b.confident, false);
        assert.deepEqual(Object.fromEntries(Object.keys(want).map((k) => [k, b[k as keyof ParsedBounce]])), want);
        if (rule) assert.equal(classify({ ...b.recipients[0]!, kind: b.kind, confident: b.confident }).rule, rule);
      });
    }
  });

  it('never throws and always answers with a known kind', async () => {
    const kinds = new Set(['bounce', 'delay', 'complaint', 'auto-reply', 'not-a-bounce']);
    const sample = readFileSync(join(DIR, fixtures[0]!), 'latin1');
    await fc.assert(
      fc.asyncProperty(fc.oneof(fc.string({ maxLength: 400 }), fc.tuple(fc.nat(sample.length), fc.nat(sample.length), fc.string({ maxLength: 40 })).map(([a, b, s]) => sample.slice(0, Math.min(a, b)) + s + sample.slice(Math.max(a, b)))), async (raw) => {
        const b = await parseBounce(raw);
        assert.ok(kinds.has(b.kind));
        assert.ok(Array.isArray(b.recipients));
      }),
      { numRuns: 150 },
    );
  });
});

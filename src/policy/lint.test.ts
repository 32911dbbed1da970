import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { CLEAN_ENVELOPE, FIXTURES, FIXTURE_NOW, build, withAttachment, type FixtureContext } from '../../test/fixtures/lint/fixtures.js';
import { FIXTURE_DIR, manifest } from '../../test/fixtures/lint/generate.js';
import { DEFAULT_POLICY, MIB, RULES, lintMessage, type LintContext, type LintReport, type PolicyOptions } from './index.js';

const TEXT_LINES = ['Content-Type: text/plain; charset=utf-8', '', 'Hello Max'];

function context(c: FixtureContext = {}): LintContext {
  const ctx: LintContext = {
    now: FIXTURE_NOW,
    submission: c.submission ?? true,
    policy: { ...DEFAULT_POLICY, ...c.policy, severity: { ...(c.policy?.severity ?? {}) } },
  };
  if (c.envelope !== null) ctx.envelope = c.envelope ?? CLEAN_ENVELOPE;
  if (c.smtputf8 !== undefined) ctx.smtputf8 = c.smtputf8;
  return ctx;
}

function ids(report: LintReport): string[] {
  return [...new Set(report.findings.map((f) => f.rule))].sort();
}

async function lint(raw: Buffer | string, c: FixtureContext = {}): Promise<LintReport> {
  return lintMessage(raw, context(c));
}

function withPolicy(p: Partial<PolicyOptions>): FixtureContext {
  return { policy: p };
}

describe('fixtures on disk', () => {
  it('match the definitions in fixtures.ts (regenerate with generate.ts)', () => {
    for (const f of FIXTURES) {
      const onDisk = readFileSync(join(FIXTURE_DIR, `${f.name}.eml`));
      assert.ok(onDisk.equals(f.raw), `${f.name}.eml differs from its definition`);
    }
    assert.equal(readFileSync(join(FIXTURE_DIR, 'manifest.json'), 'utf8'), manifest());
  });

  it('use CRLF line endings only (except the bare-newline fixture)', () => {
    for (const f of FIXTURES) {
      if (f.name === 'H1.bare-newline') continue;
      const s = f.raw.toString('latin1');
      assert.doesNotMatch(s, /(^|[^\r])\n/, `${f.name} has a bare LF`);
      assert.doesNotMatch(s, /\r(?!\n)/, `${f.name} has a bare CR`);
    }
  });

  it('cover every rule ID with a fixture of that name', () => {
    const names = new Set(FIXTURES.map((f) => f.name));
    for (const r of RULES) assert.ok(names.has(r.id), `no fixture for ${r.id}`);
  });
});

describe('each fixture fires exactly its rules', () => {
  for (const f of FIXTURES) {
    it(`${f.name}: ${f.description}`, async () => {
      const raw = readFileSync(join(FIXTURE_DIR, `${f.name}.eml`));
      const report = await lint(raw, f.ctx);
      assert.deepEqual(ids(report), [...f.expect].sort(), JSON.stringify(report.findings, null, 1));
      if (RULES.some((r) => r.id === f.name)) assert.ok(report.findings.some((x) => x.rule === f.name));
      const errors = report.findings.filter((x) => x.severity === 'error').length;
      assert.equal(report.errors, errors);
      assert.equal(report.warnings, report.findings.length - errors);
      assert.equal(report.ok, errors === 0);
    });
  }
});

describe('findings', () => {
  it('carry the table text: message says what and why, fix from the table, field where known', async () => {
    const report = await lint(build({ set: { From: 'Summer School <noreply@example.org>' } }));
    const f = report.findings[0]!;
    const rule = RULES.find((r) => r.id === 'R2.noreply-sender')!;
    assert.equal(f.rule, 'R2.noreply-sender');
    assert.equal(f.guideRule, 'R2');
    assert.equal(f.severity, 'error');
    assert.equal(f.field, 'From');
    assert.equal(f.detail, 'noreply@example.org');
    assert.equal(f.fix, rule.fix);
    assert.ok(f.message.startsWith(rule.title));
    assert.ok(f.message.includes('noreply@example.org'));
    assert.ok(f.message.endsWith(rule.why));
  });

  it('are sorted errors first, then in rule table order', async () => {
    const raw = build({ set: { Subject: null, From: 'noreply@example.org', Date: null } });
    const report = await lint(raw);
    const sev = report.findings.map((f) => f.severity);
    assert.deepEqual(sev, [...sev].sort((a, b) => (a === b ? 0 : a === 'error' ? -1 : 1)));
    assert.deepEqual(ids(report), ['H2.date-missing', 'H5.from-without-name', 'H5.subject-missing', 'R2.noreply-sender']);
    assert.deepEqual(
      report.findings.map((f) => f.rule),
      ['R2.noreply-sender', 'H2.date-missing', 'H5.subject-missing', 'H5.from-without-name'],
    );
  });

  it('accept a string as well as a Buffer', async () => {
    assert.deepEqual(ids(await lint(build().toString('utf8'))), []);
  });
});

describe('severity overrides (policy.severity)', () => {
  const noreply = build({ set: { From: 'Summer School <noreply@example.org>' } });

  it('downgrade an error to a warning', async () => {
    const report = await lint(noreply, withPolicy({ severity: { 'R2.noreply-sender': 'warning' } }));
    assert.equal(report.findings[0]!.severity, 'warning');
    assert.equal(report.ok, true);
    assert.equal(report.errors, 0);
    assert.equal(report.warnings, 1);
  });

  it('upgrade a warning to an error', async () => {
    const report = await lint(build({ set: { Subject: null } }), withPolicy({ severity: { 'H5.subject-missing': 'error' } }));
    assert.equal(report.ok, false);
    assert.equal(report.findings[0]!.severity, 'error');
  });

  it('off drops the rule', async () => {
    const report = await lint(noreply, withPolicy({ severity: { 'R2.noreply-sender': 'off' } }));
    assert.deepEqual(report.findings, []);
    assert.equal(report.ok, true);
  });

  it('a guide rule key (R2) applies to all its rules; an exact ID beats it', async () => {
    const raw = build({ set: { From: 'Jane <noreply@webserver>' } });
    assert.deepEqual(ids(await lint(raw, withPolicy({ severity: { R2: 'off' } }))), []);
    const r = await lint(raw, withPolicy({ severity: { R2: 'off', 'R2.sender-domain': 'warning' } }));
    assert.deepEqual(ids(r), ['R2.sender-domain']);
    assert.equal(r.findings[0]!.severity, 'warning');
  });

  it('a downgraded sender finding does not make Reply-To an R4 error', async () => {
    const raw = build({ set: { From: 'Summer School <noreply@example.org>', 'Reply-To': 'jane.doe@example.test' } });
    const r = await lint(raw, withPolicy({ severity: { 'R2.noreply-sender': 'warning' } }));
    assert.deepEqual(ids(r), ['R2.noreply-sender']);
  });
});

describe('R2 senders', () => {
  const cases: Array<[string, string]> = [
    ['noreply@example.org', 'R2.noreply-sender'],
    ['NoReply@example.org', 'R2.noreply-sender'],
    ['no-reply@example.org', 'R2.noreply-sender'],
    ['No_Reply@example.org', 'R2.noreply-sender'],
    ['no.reply@example.org', 'R2.noreply-sender'],
    ['noreply+registration@example.org', 'R2.noreply-sender'],
    ['donotreply@example.org', 'R2.noreply-sender'],
    ['DoNotReply@example.org', 'R2.noreply-sender'],
    ['do-not-reply@example.org', 'R2.noreply-sender'],
    ['do_not_reply@example.org', 'R2.noreply-sender'],
    ['jira-noreply@example.org', 'R2.noreply-sender'],
    ['nobody@example.org', 'R2.system-sender'],
    ['www-data@example.org', 'R2.system-sender'],
    ['WWW-Data@example.org', 'R2.system-sender'],
    ['root@localhost', 'R2.system-sender'],
    ['jane@localhost', 'R2.sender-domain'],
    ['jane@mail.localhost', 'R2.sender-domain'],
    ['jane@webserver', 'R2.sender-domain'],
    ['jane@example.invalid', 'R2.sender-domain'],
    ['jane@host.local', 'R2.sender-domain'],
    ['jane@localhost.localdomain', 'R2.sender-domain'],
    ['jane@[192.0.2.10]', 'R2.sender-domain'],
    ['jane@[IPv6:2001:db8::1]', 'R2.sender-domain'],
    ['jane@192.0.2.10', 'R2.sender-domain'],
  ];
  for (const [address, rule] of cases) {
    it(`${address} → ${rule} for From and envelope.from separately`, async () => {
      const r = await lint(build({ set: { From: `Jane Doe <${address}>` } }), { envelope: { from: address, to: ['max@example.org'] } });
      const found = r.findings.filter((f) => f.rule === rule);
      assert.deepEqual(found.map((f) => f.field).sort(), ['From', 'envelope.from'], JSON.stringify(r.findings, null, 1));
      assert.ok(found.every((f) => f.severity === 'error'));
    });
  }

  for (const address of ['jane.doe@example.test', 'jane@example.org', 'reply@example.org', 'noreplyteam-x@example.org'.replace('noreplyteam-x', 'info'), 'root@example.org', 'jane@example.example', 'post@xn--bcher-kva.example']) {
    it(`${address} is a valid sender`, async () => {
      const r = await lint(build({ set: { From: `Jane Doe <${address}>` } }), { envelope: { from: address, to: ['max@example.org'] } });
      assert.deepEqual(ids(r), []);
    });
  }

  it('root@localhost also has a bad domain', async () => {
    const r = await lint(build({ set: { From: 'Cron Daemon <root@localhost>' } }));
    assert.deepEqual(ids(r), ['R2.sender-domain', 'R2.system-sender']);
  });

  it('policy.allowSenders exempts an address (case-insensitive) from R2, in From and envelope', async () => {
    const raw = build({ set: { From: 'Summer School <NoReply@example.org>', 'Reply-To': 'jane.doe@example.test' } });
    const c: FixtureContext = { envelope: { from: 'noreply@example.org', to: ['max@example.org'] }, policy: { allowSenders: ['noreply@EXAMPLE.org'] } };
    assert.deepEqual(ids(await lint(raw, c)), []);
    // Only that address: another noreply is still an error.
    const other = build({ set: { From: 'Summer School <donotreply@example.org>' } });
    assert.deepEqual(ids(await lint(other, c)), ['R2.noreply-sender']);
  });

  it('allowSenders does not excuse invalid syntax (R3)', async () => {
    const r = await lint(build(), { envelope: { from: 'no reply@example.org', to: ['max@example.org'] }, policy: { allowSenders: ['no reply@example.org'] } });
    assert.deepEqual(ids(r), ['R3.envelope-sender-invalid']);
  });
});

describe('R3 envelope and From', () => {
  it('null sender: fine for a DSN, an R3 error for an ordinary mail', async () => {
    const dsn = FIXTURES.find((f) => f.name === 'clean-dsn')!;
    assert.deepEqual(ids(await lint(dsn.raw, { envelope: { from: '', to: ['jane.doe@example.test'] } })), []);
    const r = await lint(build(), { envelope: { from: '', to: ['max@example.org'] } });
    assert.deepEqual(ids(r), ['R3.null-envelope-sender']);
    assert.equal(r.findings[0]!.field, 'envelope.from');
    assert.equal(r.ok, false);
  });

  it('"<>" is the null sender too', async () => {
    assert.deepEqual(ids(await lint(build(), { envelope: { from: '<>', to: ['max@example.org'] } })), ['R3.null-envelope-sender']);
  });

  it('Auto-Submitted: auto-generated does not allow the null sender (only auto-replied)', async () => {
    const raw = build({ add: ['Auto-Submitted: auto-generated'] });
    assert.deepEqual(ids(await lint(raw, { envelope: { from: '', to: ['max@example.org'] } })), ['R3.null-envelope-sender']);
  });

  it('no envelope known: no envelope findings', async () => {
    assert.deepEqual(ids(await lint(build(), { envelope: null })), []);
  });

  for (const from of ['jane@example.test(x)evil.example', '<jane.doe@example.test', 'Jane <jane@example.test', 'jane@', '@example.test', '"jane doe"@example.test', 'jane..doe@example.test', 'jane@exam_ple.test', 'undisclosed-recipients:;', '']) {
    it(`From: ${JSON.stringify(from)} is R3.from-invalid`, async () => {
      const r = await lint(build({ set: { From: from } }));
      assert.ok(ids(r).includes('R3.from-invalid'), JSON.stringify(r.findings, null, 1));
    });
  }

  it('accepts old-style comments and obs-phrase in From', async () => {
    assert.deepEqual(ids(await lint(build({ set: { From: 'jane.doe@example.test (Jane Doe)' } }))), []);
    assert.deepEqual(ids(await lint(build({ set: { From: 'Jane Q. Doe <jane.doe@example.test>' } }))), []);
    assert.deepEqual(ids(await lint(build({ set: { From: '"Doe, Jane" <jane.doe@example.test>' } }))), []);
    assert.deepEqual(ids(await lint(build({ set: { From: '=?utf-8?q?J=C3=B6rg_M=C3=BCller?= <jane.doe@example.test>' } }))), []);
  });

  it('several From addresses with a Sender are fine', async () => {
    const raw = build({ set: { From: 'Jane Doe <jane.doe@example.test>, John Roe <john.roe@example.test>', Sender: 'Jane Doe <jane.doe@example.test>' } });
    assert.deepEqual(ids(await lint(raw)), []);
  });
});

describe('R4 Reply-To', () => {
  it('is fine with valid senders', async () => {
    assert.deepEqual(ids(await lint(build({ set: { 'Reply-To': 'Registration Office <office@example.org>' } }))), []);
  });
  it('is an error when the envelope sender is invalid', async () => {
    const r = await lint(build({ set: { 'Reply-To': 'office@example.org' } }), { envelope: { from: 'www-data', to: ['max@example.org'] } });
    assert.deepEqual(ids(r), ['R3.envelope-sender-unqualified', 'R4.reply-to-not-substitute']);
    assert.match(r.findings.find((f) => f.rule === 'R4.reply-to-not-substitute')!.detail!, /envelope\.from/);
  });
  it('is an error when From is missing', async () => {
    assert.deepEqual(ids(await lint(build({ set: { From: null, 'Reply-To': 'office@example.org' } }))), ['R3.from-missing', 'R4.reply-to-not-substitute']);
  });
});

describe('R7 HTML needs text', () => {
  const html = ['Content-Type: text/html; charset=utf-8', '', '<p>Hello</p>'];
  const text = ['Content-Type: text/plain; charset=utf-8', '', 'Hello'];
  const mixed = (parts: string[][]): Buffer =>
    build({ set: { 'Content-Type': 'multipart/mixed; boundary="m"' }, body: [...parts.flatMap((p) => ['--m', ...p]), '--m--', ''] });

  it('multipart/mixed with HTML and a text/plain *not* in an alternative is an error', async () => {
    assert.deepEqual(ids(await lint(mixed([text, html]))), ['R7.html-without-text']);
  });
  it('multipart/alternative [text, multipart/related [html, image]] is fine', async () => {
    const raw = build({
      body: [
        '--=_alt_7f3e', ...text,
        '--=_alt_7f3e', 'Content-Type: multipart/related; boundary="rel"', '',
        '--rel', ...html,
        '--rel', 'Content-Type: image/png', 'Content-Transfer-Encoding: base64', 'Content-ID: <logo@example.test>', '', 'iVBORw0KGgo=',
        '--rel--',
        '--=_alt_7f3e--', '',
      ],
    });
    assert.deepEqual(ids(await lint(raw)), []);
  });
  it('an HTML file attachment does not need a text version', async () => {
    const attachment = ['Content-Type: text/html; name="report.html"', 'Content-Disposition: attachment; filename="report.html"', '', '<p>report</p>'];
    assert.deepEqual(ids(await lint(mixed([text, attachment]))), []);
  });
  it('multipart/alternative with only HTML is an error', async () => {
    const raw = build({ body: ['--=_alt_7f3e', ...html, '--=_alt_7f3e--', ''] });
    assert.deepEqual(ids(await lint(raw)), ['R7.html-without-text']);
  });
  it('does not trust a synthesised text: base64 HTML alone is still an error', async () => {
    const raw = build({ set: { 'Content-Type': 'text/html; charset=utf-8', 'Content-Transfer-Encoding': 'base64' }, body: [Buffer.from('<p>Hello</p>').toString('base64'), ''] });
    assert.deepEqual(ids(await lint(raw)), ['R7.html-without-text']);
  });
});

describe('R9 attachments', () => {
  it('default limits: 600 KiB × 1 recipient is fine, × 2 warns, × 20 is an error', async () => {
    const raw = withAttachment(600 * 1024);
    const to = (n: number) => Array.from({ length: n }, (_, i) => `p${i}@example.org`);
    assert.deepEqual(ids(await lint(raw, { envelope: { from: 'jane.doe@example.test', to: to(1) } })), []);
    assert.deepEqual(ids(await lint(raw, { envelope: { from: 'jane.doe@example.test', to: to(2) } })), ['R9.large-attachments']);
    const r = await lint(raw, { envelope: { from: 'jane.doe@example.test', to: to(20) } });
    assert.deepEqual(ids(r), ['R9.attachments-too-large']);
    assert.match(r.findings[0]!.detail!, /600 KiB × 20 recipients = 11\.7 MiB \(limit 10 MiB\)/);
    assert.match(r.findings[0]!.fix, /link/);
    assert.match(r.findings[0]!.fix, /cloud share/);
  });
  it('counts To+Cc+Bcc when no envelope is known, decoded size (not base64 size)', async () => {
    const raw = withAttachment(400 * 1024, { Cc: 'a@example.org, b@example.org', Bcc: 'c@example.org' });
    // 400 KiB × 4 = 1.6 MiB > 1 MiB; base64 size would be 533 KiB.
    const r = await lint(raw, { envelope: null });
    assert.deepEqual(ids(r), ['R9.large-attachments']);
    assert.match(r.findings[0]!.detail!, /400 KiB × 4 recipients/);
    const one = await lint(withAttachment(1000 * 1024), { envelope: null, policy: { attachmentWarnBytes: MIB } });
    assert.deepEqual(ids(one), []);
  });
});

describe('H1 headers', () => {
  it('duplicate detection is case-insensitive and names the lines', async () => {
    const r = await lint(build({ add: ['message-id: <other@example.test>'] }));
    assert.deepEqual(ids(r), ['H1.duplicate-header']);
    assert.equal(r.findings[0]!.field, 'Message-ID');
    assert.match(r.findings[0]!.detail!, /2 times \(lines 5, 8\)/);
  });
  it('repeatable headers (Received, Comments, X-*) may repeat', async () => {
    assert.deepEqual(ids(await lint(build({ add: ['Comments: one', 'Comments: two', 'X-Tag: a', 'X-Tag: b'] }))), []);
  });
  it('8-bit headers: error without SMTPUTF8, fine with it, still an error when not UTF-8', async () => {
    const raw = build({ set: { Subject: 'Anmeldebestätigung' } });
    const without = await lint(raw);
    assert.deepEqual(ids(without), ['H1.raw-8bit-header']);
    assert.match(without.findings[0]!.detail!, /SMTPUTF8/);
    assert.match(without.findings[0]!.detail!, /RFC 2047/);
    const known = await lint(raw, { smtputf8: false });
    assert.deepEqual(ids(known), ['H1.raw-8bit-header']);
    assert.match(known.findings[0]!.detail!, /does not support SMTPUTF8: use RFC 2047/);
    assert.deepEqual(ids(await lint(raw, { smtputf8: true })), []);
    const latin1 = Buffer.from(raw.toString('utf8'), 'latin1'); // ä as the single byte 0xE4
    const r = await lint(latin1, { smtputf8: true });
    assert.deepEqual(ids(r), ['H1.raw-8bit-header']);
    assert.match(r.findings[0]!.detail!, /not valid UTF-8/);
  });
  it('UTF-8 addresses are valid only with SMTPUTF8', async () => {
    const raw = build({ set: { From: 'Jörg Müller <jörg@example.test>' } });
    assert.deepEqual(ids(await lint(raw, { smtputf8: true })), []);
    assert.deepEqual(ids(await lint(raw)), ['H1.raw-8bit-header', 'R3.from-invalid']);
  });
  it('MIME-Version is not required for a plain ASCII RFC 5322 message', async () => {
    const raw = build({ set: { 'MIME-Version': null, 'Content-Type': null }, body: ['Hello Max,', '', 'Jane', ''] });
    assert.deepEqual(ids(await lint(raw)), []);
  });
  it('a non-ASCII body makes a message MIME', async () => {
    const raw = build({ set: { 'MIME-Version': null, 'Content-Type': null }, body: ['Grüße', ''] });
    assert.deepEqual(ids(await lint(raw)), ['H1.missing-header', 'H1.undeclared-8bit-body']);
  });
  it('an LF-only message gets one bare-newline finding with a count', async () => {
    const raw = Buffer.from(build().toString('latin1').replace(/\r\n/g, '\n'), 'latin1');
    const r = await lint(raw);
    assert.deepEqual(ids(r), ['H1.bare-newline']);
    assert.match(r.findings[0]!.detail!, /^\d+ bare LFs, first at line 1$/);
  });
  it('a bare CR is found too', async () => {
    const raw = build({ body: ['--=_alt_7f3e', ...TEXT_LINES, 'a\rb', '--=_alt_7f3e', 'Content-Type: text/html', '', '<p>x</p>', '--=_alt_7f3e--', ''] });
    const r = await lint(raw);
    assert.deepEqual(ids(r), ['H1.bare-newline']);
    assert.match(r.findings[0]!.detail!, /1 bare CR, first at line 13/);
  });
  it('a 998-octet line is fine, 999 is not', async () => {
    const body = (n: number) => build({ body: ['--=_alt_7f3e', ...TEXT_LINES, 'x'.repeat(n), '--=_alt_7f3e', 'Content-Type: text/html', '', '<p>x</p>', '--=_alt_7f3e--', ''] });
    assert.deepEqual(ids(await lint(body(998))), []);
    assert.deepEqual(ids(await lint(body(999))), ['H1.line-too-long']);
  });
  it('header names: obsolete space before the colon is invalid', async () => {
    const r = await lint(build({ add: ['X-Mailer : x'] }));
    assert.deepEqual(ids(r), ['H1.header-name-invalid']);
  });
  it('a body line without a blank line before it is a malformed header line', async () => {
    const raw = Buffer.from(['From: Jane Doe <jane.doe@example.test>', 'To: max@example.org', 'Subject: x', 'Date: Wed, 15 Jan 2025 11:00:00 +0100', 'Message-ID: <a.b@example.test>', 'Hello Max', ''].join('\r\n'));
    assert.deepEqual(ids(await lint(raw)), ['H1.malformed-header']);
  });
  it('unresolved templates and JS artefacts', async () => {
    for (const s of ['Hello ${name}', 'Hello %FIRSTNAME%', 'Order [object Object]', 'Hello undefined']) {
      assert.deepEqual(ids(await lint(build({ set: { Subject: s } }))), ['H1.unresolved-template'], s);
    }
    assert.deepEqual(ids(await lint(build({ set: { Subject: '100% sure: {not a template}' } }))), []);
  });
  it('To: undisclosed-recipients:; is a valid empty group', async () => {
    assert.deepEqual(ids(await lint(build({ set: { To: 'undisclosed-recipients:;' } }))), []);
  });
  it('recipient counting includes groups; 10 visible addresses is fine, policy can lower it', async () => {
    const ten = Array.from({ length: 10 }, (_, i) => `p${i}@example.org`).join(', ');
    assert.deepEqual(ids(await lint(build({ set: { To: `Team: ${ten};` } }))), []);
    assert.deepEqual(ids(await lint(build({ set: { To: 'a@example.org, b@example.org', Cc: 'c@example.org' } }), withPolicy({ maxVisibleRecipients: 2 }))), ['R1.visible-recipients']);
    assert.deepEqual(ids(await lint(build({ set: { To: 'a@example.org', Bcc: ten } }))), []);
  });
});

describe('H2/H3 only at submission', () => {
  it('submission=false skips Date and Message-ID checks', async () => {
    const raw = build({ set: { Date: 'Mon, 13 Jan 2025 08:00:00 +0100', 'Message-ID': 'not-a-message-id' } });
    assert.deepEqual(ids(await lint(raw)), ['H2.date-skew', 'H3.message-id-invalid']);
    assert.deepEqual(ids(await lint(raw, { submission: false })), []);
  });
  it('a missing Date or Message-ID is still H1 at a retry', async () => {
    const raw = build({ set: { Date: null, 'Message-ID': null } });
    assert.deepEqual(ids(await lint(raw)), ['H2.date-missing', 'H3.message-id-missing']);
    const r = await lint(raw, { submission: false });
    assert.deepEqual(ids(r), ['H1.missing-header']);
    assert.deepEqual(r.findings.map((f) => f.field).sort(), ['Date', 'Message-ID']);
  });
  it('date skew uses ctx.now and policy.maxDateSkewMs, both directions', async () => {
    const at = (d: string) => build({ set: { Date: d } });
    assert.deepEqual(ids(await lint(at('Wed, 15 Jan 2025 10:14:00 +0000'))), []);
    assert.deepEqual(ids(await lint(at('Wed, 15 Jan 2025 10:16:00 +0000'))), ['H2.date-skew']);
    assert.deepEqual(ids(await lint(at('Wed, 15 Jan 2025 09:46:00 +0000'))), []);
    const past = await lint(at('Wed, 15 Jan 2025 09:40:00 +0000'));
    assert.match(past.findings[0]!.detail!, /is 20 min in the past \(allowed ±15 min\)/);
    const future = await lint(at('Wed, 15 Jan 2025 13:00:00 +0100'));
    assert.match(future.findings[0]!.detail!, /2 h in the future/);
    assert.deepEqual(ids(await lint(at('Wed, 15 Jan 2025 09:40:00 +0000'), withPolicy({ maxDateSkewMs: 30 * 60_000 }))), []);
    // Time zones: 05:00 EST is 10:00 UTC.
    assert.deepEqual(ids(await lint(at('Wed, 15 Jan 2025 05:00:00 EST'))), []);
  });
  it('Message-ID forms', async () => {
    const mid = (v: string) => build({ set: { 'Message-ID': v } });
    assert.deepEqual(ids(await lint(mid('<a.b-c@mail.example.test>'))), []);
    assert.deepEqual(ids(await lint(mid('<a@[192.0.2.1]>'))), []);
    for (const bad of ['<a b@example.test>', '<@example.test>', '<a@>', '<a@b@example.test>', 'a@example.test', '<a@example.test', '']) {
      assert.deepEqual(ids(await lint(mid(bad))), ['H3.message-id-invalid'], bad);
    }
    for (const local of ['<a@localhost>', '<a@webserver>', '<a@web.localhost>']) {
      const r = await lint(mid(local));
      assert.deepEqual(ids(r), ['H3.message-id-domain'], local);
      assert.equal(r.findings[0]!.severity, 'warning');
    }
  });
});

describe('messages written by other software', () => {
  it('nodemailer MailComposer output with text and html is clean', async () => {
    const { default: MailComposer } = await import('nodemailer/lib/mail-composer');
    const mail = new MailComposer({
      from: 'Jane Doe <jane.doe@example.test>',
      to: 'Max Mustermann <max.mustermann@example.org>',
      subject: 'Anmeldebestätigung',
      text: 'Grüße aus München',
      html: '<p>Grüße aus München</p>',
      date: FIXTURE_NOW,
      messageId: '<20250115.abc@example.test>',
    });
    const raw: Buffer = await new Promise((resolve, reject) => mail.compile().build((err: Error | null, msg: Buffer) => (err ? reject(err) : resolve(msg))));
    const r = await lint(raw);
    assert.deepEqual(ids(r), [], JSON.stringify(r.findings, null, 1));
  });

  it('never throws on arbitrary bytes', async () => {
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ maxLength: 2000 }), fc.boolean(), async (bytes, submission) => {
        const r = await lintMessage(Buffer.from(bytes), { now: FIXTURE_NOW, submission, policy: DEFAULT_POLICY, envelope: { from: '', to: [] } });
        assert.equal(r.errors + r.warnings, r.findings.length);
      }),
      { numRuns: 300 },
    );
  });

  it('never throws on mutated fixtures', async () => {
    const base = build().toString('latin1');
    await fc.assert(
      fc.asyncProperty(fc.nat(base.length - 1), fc.string({ maxLength: 20 }), async (pos, insert) => {
        const raw = Buffer.from(base.slice(0, pos) + insert + base.slice(pos), 'latin1');
        const r = await lintMessage(raw, context());
        assert.ok(Array.isArray(r.findings));
      }),
      { numRuns: 300 },
    );
  });

  it('deeply nested multiparts do not overflow the stack', async () => {
    const depth = 2000;
    const lines: string[] = [];
    for (let i = 0; i < depth; i++) lines.push(`--b${i}`, `Content-Type: multipart/mixed; boundary="b${i + 1}"`, '');
    lines.push(`--b${depth}`, 'Content-Type: text/plain', '', 'x');
    const raw = build({ set: { 'Content-Type': 'multipart/mixed; boundary="b0"' }, body: lines });
    const r = await lint(raw);
    assert.ok(Array.isArray(r.findings));
  });
});

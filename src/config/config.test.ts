import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { parse } from 'smol-toml';
import { SendwellError } from '../errors.js';
import { configToToml, findConfigFile, loadConfig, parseConfigText, validateConfig } from './load.js';
import { PRESETS, renderPreset } from './presets.js';
import { parseDuration, parseSize } from './units.js';

const dir = mkdtempSync(join(tmpdir(), 'sendwell-config-'));
function file(name: string, text: string, mode = 0o644): string {
  const p = join(dir, name);
  writeFileSync(p, text);
  chmodSync(p, mode);
  return p;
}
function fails(fn: () => unknown, code: string, pattern: RegExp): SendwellError {
  let caught: SendwellError | undefined;
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof SendwellError, String(e));
    assert.equal(e.code, code);
    assert.match(e.message, pattern);
    assert.ok(e.hint);
    caught = e;
    return true;
  });
  return caught!;
}

describe('config', () => {
  it('applies defaults when no file is found: the local MTA (C1)', () => {
    const c = loadConfig({ env: {}, path: undefined });
    // The search path may find a file on a developer machine; the defaults object itself is what we check.
    const d = validateConfig({}, 'defaults');
    assert.equal(d.relay.url, 'smtp://localhost:25');
    assert.equal(d.policy.max_visible_recipients, 10);
    assert.ok(c.relay.timeouts.connectMs > 0);
  });

  it('loads a file, converts units and keeps sender defaults', () => {
    const p = file('ok.toml', `
[relay]
url = "smtp+starttls://mail.example.test:587"
username = "jane"
password_file = "/etc/sendwell/relay.pass"
connect_timeout = "10s"
[sender]
from = "Jane Doe <jane@example.test>"
envelope_from = "bounces@example.test"
[policy]
date_skew = "5m"
attachment_max_size = "20MB"
allow_senders = ["noreply@example.test"]
[policy.severity]
"R2.noreply-sender" = "warning"
`);
    const c = loadConfig({ path: p });
    assert.equal(c.source, p);
    assert.equal(c.relay.url, 'smtp+starttls://mail.example.test:587');
    assert.deepEqual(c.relay.password, { file: '/etc/sendwell/relay.pass' });
    assert.equal(c.relay.timeouts.connectMs, 10_000);
    assert.equal(c.policy.maxDateSkewMs, 300_000);
    assert.equal(c.policy.attachmentMaxBytes, 20_000_000);
    assert.equal(c.policy.attachmentWarnBytes, 1024 * 1024);
    assert.deepEqual(c.policy.severity, { 'R2.noreply-sender': 'warning' });
    assert.equal(c.sender.envelopeFrom, 'bounces@example.test');
  });

  it('[queue] delay_warning: off by default ("0s"), a duration when set, like Postfix delay_warning_time', () => {
    assert.equal(validateConfig({}, 'defaults').queue.delay_warning, '0s');
    assert.equal(loadConfig({ path: file('nowarn.toml', '[queue]\nlifetime = "2d"\n') }).queue.delayWarningMs, 0);
    assert.equal(loadConfig({ path: file('warn.toml', '[queue]\ndelay_warning = "4h"\n') }).queue.delayWarningMs, 4 * 3_600_000);
    assert.equal(loadConfig({ path: file('warn0.toml', '[queue]\ndelay_warning = "0"\n') }).queue.delayWarningMs, 0);
    fails(() => loadConfig({ path: file('warnbad.toml', '[queue]\ndelay_warning = "soon"\n') }), 'ECONFIG', /queue\.delay_warning = "soon" is not a duration/);
  });

  it('names the key, the bad value and the fix', () => {
    const e = fails(() => loadConfig({ path: file('bad.toml', '[relay]\nconnect_timeout = "soon"\n') }), 'ECONFIG', /relay\.connect_timeout = "soon" is not a duration/);
    assert.match(e.hint, /sendwell config --defaults/);
    fails(() => loadConfig({ path: file('typo.toml', '[relay]\nurll = "smtp://x"\n') }), 'ECONFIG', /unknown key "urll" in \[relay\]/);
    fails(() => loadConfig({ path: file('sect.toml', '[relais]\nurl = "smtp://x"\n') }), 'ECONFIG', /unknown key "relais"/);
    fails(() => loadConfig({ path: file('sev.toml', '[policy.severity]\n"R2.noreply-sender" = "fatal"\n') }), 'ECONFIG', /policy\.severity\.R2\.noreply-sender/);
    fails(() => loadConfig({ path: file('sevkey.toml', '[policy.severity]\n"R2.no-reply" = "warning"\n') }), 'ECONFIG', /not a rule ID/);
  });

  it('reports TOML syntax errors with the file', () => {
    fails(() => loadConfig({ path: file('syntax.toml', '[relay\nurl = smtp://x\n') }), 'ECONFIG', /syntax\.toml: not valid TOML/);
  });

  it('refuses an inline password in a config others can read (R11)', () => {
    const body = '[relay]\nurl = "smtps://mail.example.test"\nusername = "jane"\npassword = "hunter2"\n';
    const e = fails(() => loadConfig({ path: file('pw.toml', body, 0o644) }), 'ESECRET', /other users can read/);
    assert.equal(e.rule, 'R11');
    assert.doesNotMatch(e.message + e.hint, /hunter2/);
    const ok = loadConfig({ path: file('pw600.toml', body, 0o600) });
    assert.deepEqual(ok.relay.password, { value: 'hunter2' });
    assert.doesNotMatch(configToToml(ok.file), /hunter2/);
    assert.match(configToToml(ok.file), /password = "\(redacted\)"/);
  });

  it('refuses contradictory settings', () => {
    fails(() => loadConfig({ path: file('two.toml', '[relay]\nurl = "smtp://x.example.test"\nusername = "j"\npassword_file = "/a"\npassword_env = "B"\n') }), 'ECONFIG', /give only one/);
    fails(() => loadConfig({ path: file('nouser.toml', '[relay]\nurl = "smtp://x.example.test"\npassword_env = "B"\n') }), 'ECONFIG', /relay\.username is not/);
    fails(() => loadConfig({ path: file('sizes.toml', '[policy]\nattachment_warn_size = "20MiB"\n') }), 'ECONFIG', /attachment_warn_size is larger/);
  });

  it('finds the file through --config, then SENDWELL_CONFIG', () => {
    const p = file('env.toml', '');
    assert.equal(findConfigFile(undefined, { SENDWELL_CONFIG: p }), p);
    fails(() => findConfigFile(join(dir, 'missing.toml')), 'ECONFIG', /does not exist/);
    fails(() => findConfigFile(undefined, { SENDWELL_CONFIG: join(dir, 'missing.toml') }), 'ECONFIG', /does not exist/);
  });

  it('writes a valid, commented config for every preset (C1-C3)', () => {
    for (const preset of PRESETS) {
      const text = renderPreset(preset, { host: 'mail.example.test', from: 'Jane <jane@example.test>' });
      assert.match(text, /guide rule C[123]/);
      const c = validateConfig(parseConfigText(text, preset), preset);
      assert.equal(c.sender.from, 'Jane <jane@example.test>');
      parse(text);
    }
    assert.match(renderPreset('local'), /url = "smtp:\/\/localhost:25\?tls=never"/);
    assert.match(renderPreset('submission', { host: 'mail.example.test' }), /url = "smtp\+starttls:\/\/mail\.example\.test:587"/);
    assert.match(renderPreset('smtps', { host: 'mail.example.test' }), /url = "smtps:\/\/mail\.example\.test:465"/);
    assert.match(renderPreset('sendmail'), /url = "sendmail:\/usr\/sbin\/sendmail"/);
    assert.match(renderPreset('smarthost', { host: 'relay.example.test' }), /url = "smtp:\/\/relay\.example\.test:25"/);
  });
});

describe('units', () => {
  it('parses durations and sizes', () => {
    assert.equal(parseDuration('500ms'), 500);
    assert.equal(parseDuration('15m'), 900_000);
    assert.equal(parseDuration(30), 30_000);
    assert.equal(parseDuration('soon'), null);
    assert.equal(parseSize('10MB'), 10_000_000);
    assert.equal(parseSize('1MiB'), 1_048_576);
    assert.equal(parseSize('512k'), 512_000);
    assert.equal(parseSize('10 parsecs'), null);
  });
});

describe('config: [doctor]', () => {
  it('takes outbound_ips and refuses what is not an address', () => {
    const ok = validateConfig(parseConfigText('[doctor]\noutbound_ips = ["192.0.2.10", "2001:db8::/32"]\n', 'x'), 'x');
    assert.deepEqual(ok.doctor.outbound_ips, ['192.0.2.10', '2001:db8::/32']);
    assert.throws(() => validateConfig(parseConfigText('[doctor]\noutbound_ips = ["mail.example.org"]\n', 'y'), 'y'), /doctor\.outbound_ips\.0 = "mail\.example\.org" is invalid|is not an IP/);
  });
});

/**
 * The fast config check (fast.ts) against the zod schema: whatever it passes,
 * zod passes with the same result (same keys, same order, same defaults);
 * whatever zod passes, it passes too (so the drop-in does not load zod for a
 * valid file).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { parse } from 'smol-toml';
import { fastValidate } from './fast.js';
import { PRESETS, renderPreset } from './presets.js';
import { withDefaults } from './resolve.js';
import { configSchema } from './schema.js';

/** A file that sets every section, including those with defaults inside (imap, lists, dkim, forms). */
const FULL = `
state_dir = "/var/spool/sendwell"
[relay]
url = "smtp+starttls://mail.example.org:587"
username = "jane"
password_file = "/etc/sendwell/relay.pw"
ca_file = "/etc/ssl/ca.pem"
helo_name = "host.example.org"
connect_timeout = 20
data_timeout = "5m"
[sender]
from = "Team <team@example.org>"
envelope_from = ""
reply_to = "help@example.org"
auto_submitted = false
[policy]
allow_senders = ["noreply@example.org"]
date_skew = "10m"
attachment_warn_size = "2MiB"
attachment_max_size = 20000000
max_visible_recipients = 5
severity = { "R2.noreply-sender" = "warning", R7 = "off" }
[dsn]
ret = "FULL"
notify = ["FAILURE"]
[queue]
concurrency = 8
retry_schedule = "1m, 5m, 10m*2"
retention = "3d"
delay_warning = "4h"
[limits]
per_minute = 0
per_hour = 100
[limits.flood]
messages = 10
duplicate_window = "2h"
[bounces]
address = "bounces@bounces.example.org"
verp = false
secret_file = "bounce.key"
suppression_scope = "global"
suppression_expiry = "30d"
[bounces.imap]
url = "imaps://bounces@imap.example.org"
password_env = "IMAP_PASSWORD"
[doctor]
outbound_ips = ["192.0.2.1", "2001:db8::/32"]
[smtp]
listen = ["127.0.0.1:2525", "[::1]:2525"]
allow_networks = ["127.0.0.1/32"]
require_auth = true
tls_cert_file = "cert.pem"
tls_key_file = "key.pem"
tls_listen = ["127.0.0.1:4650"]
max_message_size = "20MB"
[http]
listen = "localhost:8025"
public_url = "https://mail.example.org/sendwell"
trusted_proxies = ["10.0.0.0/8"]
[lists.newsletter]
reason = "you subscribed to the institute newsletter"
description = "Institute newsletter"
list_id = "newsletter.example.org"
[lists.staff]
reason = "you are a member of staff here"
double_opt_in = false
from = "Staff <staff@example.org>"
[bulk]
detect_recipients = 0
[dkim]
domain = "example.org"
selector = "mail2026"
private_key_file = "dkim.pem"
[forms.contact]
recipients = ["office@example.org"]
fields = ["name", "email", "message"]
[forms.news]
subscribe = "newsletter"
fields = ["email", { name = "name", type = "text", max_length = 80, required = false }]
consent_text = "Yes, send me the newsletter (v1)."
honeypot = "homepage"
pow_max_number = 20000
[log]
stderr = true
syslog = true
syslog_facility = "local3"
syslog_tag = "sendwell-web"
syslog_server = "udp://[2001:db8::1]:514"
[aliases]
root = "admin@example.org"
postmaster = ["root", "ops@example.org"]
"www-data" = "web@example.org"
[sendmail]
append_domain = "example.org"
max_hops = 30
[spam]
spamd = "127.0.0.1:783"
rspamd = "http://127.0.0.1:11333"
threshold = 7.5
action = "refuse"
`;

function zod(merged: Record<string, unknown>): unknown {
  const r = configSchema.safeParse(merged);
  return r.success ? r.data : undefined;
}

/** Same result, keys in the same order; returns whether the file is valid. */
function agree(merged: Record<string, unknown>): boolean {
  const z = zod(merged);
  const f = fastValidate(merged);
  if (f === undefined) {
    assert.equal(z, undefined, `the fast check refused what zod accepts: ${JSON.stringify(merged)}`);
    return false;
  }
  assert.notEqual(z, undefined, `the fast check accepted what zod refuses: ${JSON.stringify(merged)}`);
  assert.equal(JSON.stringify(f), JSON.stringify(z));
  return true;
}

describe('fast config check', () => {
  it('passes the defaults, every preset and a file with every section, as zod returns them', () => {
    const files = [{}, ...PRESETS.map((p) => parse(renderPreset(p)) as Record<string, unknown>), parse(FULL) as Record<string, unknown>];
    for (const raw of files) {
      const merged = withDefaults(raw);
      assert.ok(fastValidate(merged), JSON.stringify(raw));
      agree(merged);
    }
  });

  it('fills in the defaults inside sections as zod does', () => {
    const f = fastValidate(withDefaults(parse(FULL) as Record<string, unknown>))!;
    assert.equal(f.bounces.imap?.folder, 'INBOX');
    assert.equal(f.bounces.imap?.poll_interval, '5m');
    assert.equal(f.lists.newsletter?.double_opt_in, true);
    assert.equal(f.dkim?.sign, 'bulk');
    assert.equal(f.forms.contact?.receipt, false);
    assert.equal(f.forms.contact?.honeypot, 'website');
    assert.equal(f.forms.news?.min_fill_time, '3s');
    assert.deepEqual(fastValidate(withDefaults({}))!.log, { stderr: false, syslog: false, syslog_facility: 'mail', syslog_tag: 'sendwell' });
  });

  it('agrees with zod on files with a changed, added or removed key', () => {
    const base = parse(FULL) as Record<string, unknown>;
    // Paths of every value in the full file (and in the defaults), down to array items.
    const paths: string[][] = [];
    const walk = (v: unknown, path: string[]) => {
      if (path.length) paths.push(path);
      if (typeof v === 'object' && v !== null) for (const [k, x] of Object.entries(v)) walk(x, [...path, k]);
    };
    walk(withDefaults(base), []);
    const values = fc.oneof(
      fc.constantFrom<unknown>(
        '', 'x', '30s', '15 m', '10MiB', '5k', 'never', 'warn', 'refuse', 'bulk', 'all', 'FULL', 'HDRS', 'FAILURE', 'error', 'off',
        'root', 'www-data', 'a@b', 'admin@example.org', '|cmd', '/file', 'example.org', 'localhost:25', '127.0.0.1:2525', '[::1]:25',
        '10.0.0.0/8', '192.0.2.1', 'https://x.example.org/p', 'http://127.0.0.1:11333', 'imaps://u@h', 'R2', 'R2.noreply-sender', 'R9.nope',
        'newsletter', 'Newsletter', 'x'.repeat(9), 'x'.repeat(10), 'mail2026', 'a_b', 'A',
        'mail', 'local7', 'local8', 'kern', 'sendwell/smtp', '-t', 'x'.repeat(33), 'udp://loghost.example.org:514', 'tcp://127.0.0.1', 'tcp://[::1]:6514',
        'udp://-x', 'unix:/dev/log', 'unix:dev/log', 'syslog://h',
        0, -0, 1, 2, 5.5, -1, 100, 101, 2 ** 53, 1e21, Number.NaN, Number.POSITIVE_INFINITY,
        true, false, [], ['x'], ['127.0.0.1:1'], ['FAILURE', 'DELAY'], ['name'], {}, { a: 1 }, new Date(0),
      ),
      fc.string({ maxLength: 12 }),
      fc.integer({ min: -5, max: 200 }),
      fc.double(),
    );
    const edit = fc.record({
      path: fc.constantFrom(...paths),
      op: fc.constantFrom('set', 'set', 'set', 'add', 'delete'),
      key: fc.constantFrom('x', 'url', 'reason', 'root', 'newsletter', 'folder', 'sign', 'receipt', 'syslog_server', '__x'),
      value: values,
    });
    const seen = { valid: 0, invalid: 0 };
    fc.assert(
      fc.property(fc.array(edit, { minLength: 1, maxLength: 3 }), (edits) => {
        const merged = structuredClone(withDefaults(base));
        for (const e of edits) {
          let parent: unknown = merged;
          for (const p of e.path.slice(0, -1)) parent = (parent as Record<string, unknown> | undefined)?.[p];
          if (typeof parent !== 'object' || parent === null) continue;
          const last = e.path[e.path.length - 1]!;
          const obj = parent as Record<string, unknown>;
          if (e.op === 'delete') delete obj[last];
          else if (e.op === 'add') {
            const target = obj[last];
            if (typeof target === 'object' && target !== null && !Array.isArray(target)) (target as Record<string, unknown>)[e.key] = e.value;
          } else obj[last] = e.value;
        }
        seen[agree(merged) ? 'valid' : 'invalid']++;
      }),
      { numRuns: 3000 },
    );
    // Both outcomes are exercised.
    assert.ok(seen.valid > 300 && seen.invalid > 300, JSON.stringify(seen));
  });
});

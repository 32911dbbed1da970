/** `sendwell forms list`: the review list from the command line (real child processes, a real state directory). */
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { FormStore } from '../../src/forms/store.js';
import { runCli } from '../helpers/cli.js';

describe('sendwell forms list', () => {
  it('shows submissions newest first, filtered by verdict; unknown forms and verdicts are usage errors', async () => {
    const work = mkdtempSync(join(tmpdir(), 'sendwell-forms-cli-'));
    const state = join(work, 'state');
    const cfg = join(work, 'sendwell.toml');
    writeFileSync(cfg, `state_dir = "${state}"\n[sender]\nfrom = "Web <www@example.test>"\n[forms.contact]\nrecipients = ["office@example.test"]\nfields = ["name", "email", "message"]\n`);
    const store = new FormStore(state);
    store.record({ form: 'contact', receivedAt: Date.UTC(2026, 11, 1), ip: '192.0.2.1', userAgent: null, verdict: 'accepted', score: 0, reasons: [], fields: { name: 'Ann', email: 'ann@example.test', message: 'Hello' } });
    store.record({ form: 'contact', receivedAt: Date.UTC(2026, 11, 2), ip: '198.51.100.9', userAgent: null, verdict: 'quarantined', score: 7.5, reasons: ['url-in-text:+4', 'ad-terms:+1.5'], fields: { name: 'Buy', email: 'x@example.test', message: 'cheap http://spam.invalid' } });
    store.close();
    const run = (args: string[]) => runCli([...args, '--config', cfg], { cwd: work });
    const all = await run(['forms', 'list', 'contact']);
    assert.equal(all.code, 0, all.stderr);
    const lines = all.stdout.split('\n').filter((l) => /^\d{4}-/.test(l));
    assert.deepEqual(lines.map((l) => l.split(' ')[2]), ['quarantined', 'accepted']);
    assert.match(all.stdout, /score=7\.5 ip=198\.51\.100\.9 reasons=url-in-text:\+4,ad-terms:\+1\.5/);
    assert.match(all.stdout, /\n {4}message: "cheap http:\/\/spam\.invalid"\n/);
    const q = JSON.parse((await run(['forms', 'list', 'contact', '--verdict', 'quarantined', '--json'])).stdout) as Array<{ verdict: string; fields: Record<string, string> }>;
    assert.deepEqual(q.map((r) => r.verdict), ['quarantined']);
    assert.equal(q[0]!.fields.name, 'Buy');
    const unknown = await run(['forms', 'list', 'nope']);
    assert.equal(unknown.code, 64);
    assert.match(unknown.stderr, /no form "nope".*\n.*forms in the config: contact/);
    assert.equal((await run(['forms', 'list', 'contact', '--verdict', 'spam'])).code, 64);
  });
});

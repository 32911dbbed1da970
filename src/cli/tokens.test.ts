import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { SendwellError } from '../errors.js';
import { Credentials } from '../server/credentials.js';
import { tokensCommand } from './tokens.js';

function setup() {
  const dir = mkdtempSync(join(tmpdir(), 'sendwell-tokens-'));
  const config = join(dir, 'sendwell.toml');
  writeFileSync(config, '');
  const stateDir = join(dir, 'state');
  const out = { stdout: '', stderr: '' };
  const io = { stdout: (s: string) => void (out.stdout += s), stderr: (s: string) => void (out.stderr += s) };
  const reset = () => {
    out.stdout = '';
    out.stderr = '';
  };
  return { stateDir, flags: { stateDir, config }, out, io, reset };
}

describe('sendwell tokens', () => {
  it('create prints the token alone on stdout, once; only its hash is stored', async () => {
    const { stateDir, flags, out, io } = setup();
    assert.equal(await tokensCommand('create', 'wiki', flags, io), 0);
    const token = out.stdout.trim();
    assert.match(token, /^sw_[0-9a-f]{12}_[A-Za-z0-9_-]{43}$/);
    assert.match(out.stderr, /shown only once/);
    assert.match(out.stderr, /sendwell tokens revoke [0-9a-f]{12}/);
    const c = new Credentials(stateDir);
    assert.equal(c.checkToken(token)?.name, 'wiki');
    c.close();
    assert.ok(!readFileSync(join(stateDir, 'queue.db')).toString('latin1').includes(token.slice(16)), 'the secret is not in the database');
  });

  it('list (table and --json) and revoke', async () => {
    const { stateDir, flags, out, io, reset } = setup();
    await tokensCommand('list', undefined, flags, io);
    assert.match(out.stdout, /no API tokens \(no state in/);
    assert.ok(!existsSync(stateDir), 'listing creates no state directory');
    await assert.rejects(tokensCommand('revoke', '0123456789ab', flags, io), /no state there yet/);
    reset();
    await tokensCommand('create', 'wiki', flags, io);
    const token = out.stdout.trim();
    const id = token.slice(3, 15);
    await tokensCommand('create', 'monitoring', { ...flags, json: true }, io);
    reset();
    await tokensCommand('list', undefined, flags, io);
    const lines = out.stdout.trimEnd().split('\n');
    assert.match(lines[0]!, /^ID\s+NAME\s+CREATED\s+STATUS$/);
    assert.equal(lines.length, 3);
    assert.match(lines[1]!, new RegExp(`^${id}  wiki\\s+\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\dZ  active$`));
    assert.doesNotMatch(out.stdout, /sw_/, 'list never shows secrets');
    reset();
    assert.equal(await tokensCommand('revoke', id, flags, io), 0);
    assert.match(out.stdout, new RegExp(`revoked API token ${id} \\("wiki"\\)`));
    reset();
    await tokensCommand('revoke', id, flags, io);
    assert.match(out.stdout, /already revoked/);
    reset();
    await tokensCommand('revoke', id, { ...flags, json: true }, io);
    assert.deepEqual(JSON.parse(out.stdout), { ok: true, id, name: 'wiki', action: 'already-revoked' });
    reset();
    await tokensCommand('list', undefined, { ...flags, json: true }, io);
    const list = JSON.parse(out.stdout) as Array<{ id: string; name: string; created_at: string; revoked_at: string | null }>;
    assert.deepEqual(list.map((t) => [t.name, t.revoked_at === null]), [['wiki', false], ['monitoring', true]]);
    assert.deepEqual(Object.keys(list[0]!), ['id', 'name', 'created_at', 'revoked_at']);
    const c = new Credentials(stateDir);
    assert.equal(c.checkToken(token), null);
    c.close();
  });

  it('create --json includes the token once', async () => {
    const { flags, out, io } = setup();
    await tokensCommand('create', 'ci', { ...flags, json: true }, io);
    assert.equal(out.stdout.trimEnd().split('\n').length, 1, 'one line of JSON');
    const j = JSON.parse(out.stdout) as { id: string; name: string; token: string; shown_once: boolean };
    assert.equal(j.name, 'ci');
    assert.equal(j.shown_once, true);
    assert.ok(j.token.startsWith(`sw_${j.id}_`));
  });

  it('usage errors (64): missing name, bad or unknown ID, unknown action, stray argument', async () => {
    const { flags, io } = setup();
    const usage = (e: unknown) => e instanceof SendwellError && e.code === 'EUSAGE';
    await assert.rejects(tokensCommand('create', undefined, flags, io), usage);
    await assert.rejects(tokensCommand('create', 'bad\nname', flags, io), usage);
    await assert.rejects(tokensCommand('revoke', 'nope', flags, io), usage);
    await tokensCommand('create', 'x', flags, io);
    await assert.rejects(tokensCommand('revoke', '0123456789ab', flags, io), (e: SendwellError) => usage(e) && /no API token/.test(e.message));
    await assert.rejects(tokensCommand('rotate', undefined, flags, io), usage);
    await assert.rejects(tokensCommand('list', 'x', flags, io), usage);
  });
});

import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { SendwellError } from '../errors.js';
import { Credentials } from './credentials.js';

describe('Credentials (R11: hashes only)', () => {
  it('adds, checks, lists and removes SMTP users; stores no password', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sendwell-cred-'));
    const c = new Credentials(dir);
    await c.addUser('wiki', 'correct horse battery staple');
    assert.equal(await c.checkUser('wiki', 'correct horse battery staple'), true);
    assert.equal(await c.checkUser('wiki', 'wrong password here'), false);
    assert.equal(await c.checkUser('nobody', 'correct horse battery staple'), false);
    assert.deepEqual(c.listUsers().map((u) => u.name), ['wiki']);
    c.close();
    // After close() the WAL is checkpointed into the database file.
    const file = readFileSync(join(dir, 'queue.db')).toString('latin1');
    assert.ok(!file.includes('correct horse'), 'the password is not in the database');
    assert.match(file, /scrypt\$32768\$8\$1\$/);
    const again = new Credentials(dir);
    assert.equal(again.removeUser('wiki'), true);
    assert.equal(await again.checkUser('wiki', 'correct horse battery staple'), false);
    again.close();
  });

  it('refuses short passwords and odd user names', async () => {
    const c = new Credentials(mkdtempSync(join(tmpdir(), 'sendwell-cred-')));
    await assert.rejects(c.addUser('wiki', 'short'), (e: SendwellError) => e.code === 'EUSAGE' && /12 characters/.test(e.message));
    await assert.rejects(c.addUser('bad name', 'a long enough password'), (e: SendwellError) => e.code === 'EUSAGE');
    c.close();
  });

  it('creates tokens shown once, checks and revokes them', () => {
    const c = new Credentials(mkdtempSync(join(tmpdir(), 'sendwell-cred-')));
    const { id, token } = c.createToken('monitoring');
    assert.match(token, /^sw_[0-9a-f]{12}_[A-Za-z0-9_-]{43}$/);
    assert.equal(c.checkToken(token)?.name, 'monitoring');
    assert.equal(c.checkToken(token.slice(0, -1) + (token.endsWith('A') ? 'B' : 'A')), null);
    assert.equal(c.checkToken('Bearer nonsense'), null);
    assert.equal(c.revokeToken(id), true);
    assert.equal(c.checkToken(token), null);
    assert.equal(c.listTokens()[0]!.revokedAt !== null, true);
    c.close();
  });
});

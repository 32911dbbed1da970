import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { SendwellError } from '../errors.js';
import { resolvePassword } from './secrets.js';

const dir = mkdtempSync(join(tmpdir(), 'sendwell-secrets-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function file(name: string, content: string, mode: number): string {
  const p = join(dir, name);
  writeFileSync(p, content);
  chmodSync(p, mode);
  return p;
}

const isSecret = (re: RegExp, notIn?: string) => (e: unknown) =>
  e instanceof SendwellError && e.code === 'ESECRET' && e.rule === 'R11' && re.test(`${e.message} ${e.hint}`) && (notIn === undefined || !`${e.message} ${e.hint}`.includes(notIn));

describe('password sources (R11)', () => {
  it('reads a 0600 or 0400 file and trims one trailing newline', async () => {
    assert.equal(await resolvePassword({ file: file('a', 's3cret pass\n', 0o600) }), 's3cret pass');
    assert.equal(await resolvePassword({ file: file('b', 'x\r\n', 0o400) }), 'x');
    assert.equal(await resolvePassword({ file: file('c', 'two\n\n', 0o600) }), 'two\n');
  });
  it('refuses a file group or others can read, with the chmod hint and without the password', async () => {
    for (const mode of [0o640, 0o604, 0o644, 0o660]) {
      const p = file(`open${mode}`, 'hunter2\n', mode);
      await assert.rejects(resolvePassword({ file: p }), isSecret(new RegExp(`chmod 600 ${p}`), 'hunter2'));
    }
  });
  it('refuses a missing, empty or non-regular file', async () => {
    await assert.rejects(resolvePassword({ file: join(dir, 'missing') }), isSecret(/cannot be read \(ENOENT\)/));
    await assert.rejects(resolvePassword({ file: file('empty', '\n', 0o600) }), isSecret(/empty/));
    await assert.rejects(resolvePassword({ file: dir }), isSecret(/not a regular file/));
  });
  it('reads an environment variable; a missing one is ESECRET', async () => {
    assert.equal(await resolvePassword({ env: 'SW_PW' }, { env: { SW_PW: 'pw' } }), 'pw');
    await assert.rejects(resolvePassword({ env: 'SW_NOPE' }, { env: {} }), isSecret(/SW_NOPE/));
  });
  it('runs a command (first stdout line), like msmtp passwordeval', async () => {
    assert.equal(await resolvePassword({ command: "printf 'first\\nsecond\\n'" }), 'first');
    await assert.rejects(resolvePassword({ command: 'echo oops >&2; exit 3' }), isSecret(/exited with status 3: oops/));
    await assert.rejects(resolvePassword({ command: 'true' }), isSecret(/printed nothing/));
    await assert.rejects(resolvePassword({ command: 'exec sleep 5' }, { timeoutMs: 200 }), (e: unknown) => isSecret(/did not finish within 200 ms/)(e) && (e as SendwellError).temporary);
  });
  it('takes an inline value', async () => {
    assert.equal(await resolvePassword({ value: 'v' }), 'v');
    await assert.rejects(resolvePassword({ value: '' }), isSecret(/empty/));
  });
});

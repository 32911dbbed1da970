import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { describe, it } from 'node:test';
import { SendwellError } from '../errors.js';
import { Credentials } from '../server/credentials.js';
import { usersCommand, type PasswordInput } from './users.js';

function io() {
  const out = { stdout: '', stderr: '' };
  return { out, io: { stdout: (s: string) => void (out.stdout += s), stderr: (s: string) => void (out.stderr += s) } };
}

function pipeInput(text: string, tty = false): PasswordInput & { prompts: string[]; rawModes: boolean[] } {
  const stdin = new PassThrough() as PassThrough & { isTTY?: boolean; setRawMode?: (m: boolean) => unknown };
  const prompts: string[] = [];
  const rawModes: boolean[] = [];
  if (tty) {
    stdin.isTTY = true;
    stdin.setRawMode = (m: boolean) => rawModes.push(m);
    // Typed keys arrive after the prompt is shown.
    setImmediate(() => stdin.write(text));
  } else stdin.end(text);
  return { stdin, prompt: { write: (s: string) => (prompts.push(s), true) }, prompts, rawModes };
}

const dir = () => mkdtempSync(join(tmpdir(), 'sendwell-users-'));
const PW = 'correct horse battery staple';

describe('sendwell users (R11: hashed passwords)', () => {
  it('add --password-stdin, list, list --json, remove', async () => {
    const stateDir = dir();
    const a = io();
    assert.equal(await usersCommand('add', 'wiki', { stateDir, passwordStdin: true }, a.io, pipeInput(`${PW}\n`)), 0);
    assert.match(a.out.stdout, /^added SMTP user wiki/);
    const c = new Credentials(stateDir);
    assert.equal(await c.checkUser('wiki', PW), true, 'the final newline is not part of the password');
    c.close();

    const again = io();
    assert.equal(await usersCommand('add', 'wiki', { stateDir, passwordStdin: true }, again.io, pipeInput(`${PW}!\r\n`)), 0);
    assert.match(again.out.stdout, /^changed the password of SMTP user wiki/);

    const l = io();
    assert.equal(await usersCommand('list', undefined, { stateDir }, l.io), 0);
    assert.match(l.out.stdout, /^NAME +CREATED\nwiki +\d{4}-\d\d-\d\dT/);
    const j = io();
    await usersCommand('list', undefined, { stateDir, json: true }, j.io);
    const list = JSON.parse(j.out.stdout) as Array<{ name: string; created_at: string }>;
    assert.deepEqual(list.map((u) => u.name), ['wiki']);

    const r = io();
    assert.equal(await usersCommand('remove', 'wiki', { stateDir }, r.io), 0);
    assert.match(r.out.stdout, /removed SMTP user wiki/);
    await assert.rejects(usersCommand('remove', 'wiki', { stateDir }, io().io), (e: SendwellError) => e.code === 'EUSAGE' && /no SMTP user "wiki"/.test(e.message));
  });

  it('prompts on a terminal without echo, twice', async () => {
    const stateDir = dir();
    const input = pipeInput(`${PW}\r${PW}\r`, true);
    const a = io();
    assert.equal(await usersCommand('add', 'monitoring', { stateDir }, a.io, input), 0);
    assert.deepEqual(input.prompts.filter((p) => p.trim()).map((p) => p.trim()), ['Password for SMTP user monitoring:', 'Retype the password:']);
    assert.ok(input.prompts.every((p) => !p.includes(PW)), 'the password is never echoed');
    assert.deepEqual(input.rawModes, [true, false]);
    const c = new Credentials(stateDir);
    assert.equal(await c.checkUser('monitoring', PW), true);
    c.close();
  });

  it('refuses mismatching passwords, a missing password source, short passwords', async () => {
    const stateDir = dir();
    await assert.rejects(usersCommand('add', 'wiki', { stateDir }, io().io, pipeInput(`${PW}\rother password here\r`, true)), /do not match/);
    await assert.rejects(usersCommand('add', 'wiki', { stateDir }, io().io, pipeInput('')), (e: SendwellError) => e.code === 'EUSAGE' && /--password-stdin/.test(e.message + e.hint));
    await assert.rejects(usersCommand('add', 'wiki', { stateDir, passwordStdin: true }, io().io, pipeInput('short\n')), /12 characters/);
    await assert.rejects(usersCommand('add', 'wiki', { stateDir, passwordStdin: true }, io().io, pipeInput('')), /empty/);
    await assert.rejects(usersCommand('add', undefined, { stateDir }, io().io), /needs a user name/);
    const l = io();
    await usersCommand('list', undefined, { stateDir }, l.io);
    assert.match(l.out.stdout, /no SMTP users/);
  });
});

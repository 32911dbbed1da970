import assert from 'node:assert/strict';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { Readable } from 'node:stream';
import { describe, it } from 'node:test';
import { pathToFileURL } from 'node:url';
import { codeCacheFile, loadBundle, withBundleId } from './bundle-loader.js';

describe('bundle loader (code cache)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'sendwell-bundle-'));
  const url = pathToFileURL(join(dir, 'b.cjs'));
  const source = withBundleId('exports.answer = () => 42; exports.where = __filename; exports.req = typeof require("node:path").join;');

  it('runs a CommonJS bundle and uses a cache made from the same text', () => {
    const first = loadBundle(url, source);
    const e = first.exports as { answer: () => number; where: string; req: string };
    assert.equal(e.answer(), 42);
    assert.equal(e.where, join(dir, 'b.cjs'));
    assert.equal(e.req, 'function');
    assert.equal(first.cacheUsed, false);
    const cache = codeCacheFile(source, first.script);
    const second = loadBundle(url, source, cache);
    assert.equal(second.cacheUsed, true);
    assert.equal((second.exports as { answer: () => number }).answer(), 42);
  });

  it('ignores a cache made for another bundle, even of the same length', () => {
    const cache = codeCacheFile(source, loadBundle(url, source).script);
    const other = withBundleId(source.slice(source.indexOf('\n') + 1).replace('42', '43'));
    assert.equal(other.length, source.length);
    const r = loadBundle(url, other, cache);
    assert.equal(r.cacheUsed, false);
    assert.equal((r.exports as { answer: () => number }).answer(), 43);
    assert.equal(loadBundle(url, source, Buffer.from('garbage')).cacheUsed, false);
  });

  it('the built drop-in has a code cache this Node accepts (npm run build makes it)', (t) => {
    const bundle = new URL('../../dist/cli/sendmail-bundle.cjs', import.meta.url);
    if (!existsSync(bundle)) return t.skip('not built');
    const cache = readFileSync(new URL('../../dist/cli/sendmail-bundle.cjs.cache', import.meta.url));
    // Loading the bundle only defines its functions: the loader's check, then V8's.
    const r = loadBundle(bundle, readFileSync(bundle, 'utf8'), cache);
    assert.equal(r.cacheUsed, true);
    assert.equal(typeof (r.exports as { sendmailMain: unknown }).sendmailMain, 'function');
  });

  it('the built drop-in loads the installed better-sqlite3 addon itself when the versions match, else the installed package as it is', async (t) => {
    const bundle = new URL('../../dist/cli/sendmail-bundle.cjs', import.meta.url);
    if (!existsSync(bundle)) return t.skip('not built');
    const real = dirname(createRequire(import.meta.url).resolve('better-sqlite3/package.json'));
    const version = (JSON.parse(readFileSync(join(real, 'package.json'), 'utf8')) as { version: string }).version;
    for (const [installed, expectPackage] of [[version, false], ['0.0.0-other', true]] as const) {
      // A bundle in a tree of its own, whose node_modules holds an "installed" better-sqlite3 that says when its JavaScript runs.
      const root = mkdtempSync(join(tmpdir(), 'sendwell-bundle-sqlite-'));
      const cli = join(root, 'dist', 'cli');
      const pkg = join(root, 'node_modules', 'better-sqlite3');
      mkdirSync(cli, { recursive: true });
      mkdirSync(join(pkg, 'build', 'Release'), { recursive: true });
      copyFileSync(bundle, join(cli, 'sendmail-bundle.cjs'));
      writeFileSync(join(pkg, 'package.json'), JSON.stringify({ name: 'better-sqlite3', version, main: 'index.js' }).replace(version, installed));
      writeFileSync(join(pkg, 'index.js'), `globalThis.__installedSqlite = (globalThis.__installedSqlite ?? 0) + 1;\nmodule.exports = require(${JSON.stringify(real)});\n`);
      symlinkSync(join(real, 'build', 'Release', 'better_sqlite3.node'), join(pkg, 'build', 'Release', 'better_sqlite3.node'));
      const g = globalThis as { __installedSqlite?: number };
      g.__installedSqlite = 0;
      const file = pathToFileURL(join(cli, 'sendmail-bundle.cjs'));
      const { sendmailMain } = loadBundle(file, readFileSync(file, 'utf8')).exports as { sendmailMain: (args: string[], rt: object) => Promise<number> };
      const config = join(root, 'sendwell.toml');
      writeFileSync(config, '[sender]\nfrom = "Test <test@example.org>"\n', { mode: 0o600 });
      const err: string[] = [];
      const code = await sendmailMain(['-odq', '-t'], {
        stdin: Readable.from([Buffer.from('To: someone@example.org\r\nSubject: bundled sqlite\r\n\r\nA line.\r\n')]),
        env: { SENDWELL_CONFIG: config, SENDWELL_STATE_DIR: join(root, 'state'), PATH: process.env.PATH ?? '' },
        io: { stdout: () => undefined, stderr: (s: string) => err.push(s) },
      });
      assert.equal(code, 0, err.join(''));
      assert.equal(g.__installedSqlite > 0, expectPackage, `installed ${installed}`);
    }
  });
});

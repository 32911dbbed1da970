#!/usr/bin/env node
// Runs node's test runner over one suite: `unit` (src/**/*.test.ts, test/*.test.ts)
// or `integration` (test/integration/*.test.ts, needs a real MTA: see .ci/run).
// Node 20's --test takes no globs, so we list the files here.
import { spawnSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

const suite = process.argv[2] ?? 'unit';
const roots = suite === 'integration' ? ['test/integration'] : ['src', 'test/unit', 'test/cli', 'test/server'];

function walk(dir) {
  let out = [];
  let entries;
  try {
    entries = readdirSync(dir);
  } catch {
    return out;
  }
  for (const e of entries) {
    const p = join(dir, e);
    if (statSync(p).isDirectory()) out = out.concat(walk(p));
    else if (p.endsWith('.test.ts')) out.push(p);
  }
  return out;
}

const files = roots.flatMap(walk).sort();
if (files.length === 0) {
  console.error(`no test files for suite ${suite}`);
  process.exit(1);
}
const extra = process.argv.slice(3);
const r = spawnSync(process.execPath, ['--import', 'tsx', '--test', '--test-concurrency=2', ...extra, ...files], { stdio: 'inherit' });
process.exit(r.status ?? 1);

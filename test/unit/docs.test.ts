import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { it } from 'node:test';
import { updateReadme } from '../../src/docs.js';

it('README: the rule and error tables match the code (npm run docs:rules -- --write README.md)', () => {
  const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
  assert.equal(updateReadme(readme), readme);
});

it('README: names the two commands and the test command CI runs', () => {
  const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
  assert.match(readme, /^npm install\b/m);
  assert.match(readme, /^npm test$/m);
  const ci = readFileSync(new URL('../../.ci/run', import.meta.url), 'utf8');
  assert.match(ci, /^npm test$/m);
});

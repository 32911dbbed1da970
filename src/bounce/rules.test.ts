/**
 * The rule table as data: every rule is documented and has at least one
 * example that lands on exactly that rule (first match wins, so an example
 * caught by an earlier rule would show that the order hides it).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { classify, matchRule, type BounceCategory } from './classify.js';
import { BOUNCE_RULES } from './rules.js';

describe('BOUNCE_RULES', () => {
  it('IDs are unique and every rule says why', () => {
    const ids = BOUNCE_RULES.map((r) => r.id);
    assert.equal(new Set(ids).size, ids.length, `duplicate IDs: ${ids.filter((id, i) => ids.indexOf(id) !== i).join(', ')}`);
    for (const r of BOUNCE_RULES) {
      assert.match(r.id, /^B\.[A-Za-z0-9.-]+$/, r.id);
      assert.ok(r.why.length > 20, `${r.id} has a why`);
      assert.ok(r.reason.length > 5, `${r.id} has a reason`);
    }
  });

  for (const rule of BOUNCE_RULES) {
    it(`${rule.id}: its examples hit exactly this rule`, () => {
      assert.ok(rule.examples.length > 0, `${rule.id} has at least one example`);
      for (const ex of rule.examples) {
        assert.equal(matchRule(ex).id, rule.id, `example ${JSON.stringify(ex)}`);
        const c = classify(ex);
        assert.equal(c.rule, rule.id);
        assert.equal(c.category, rule.category);
        assert.equal(c.retry, rule.retry);
        assert.equal(c.blame, rule.blame);
      }
    });
  }

  it('ends with a catch-all and every category is reachable', () => {
    assert.deepEqual(BOUNCE_RULES.at(-1)!.match, {});
    const categories: BounceCategory[] = ['unknown-user', 'unknown-domain', 'mailbox-full', 'message-too-large', 'policy-block', 'rate-limited', 'temporary', 'complaint', 'other'];
    for (const c of categories) assert.ok(BOUNCE_RULES.some((r) => r.category === c), c);
  });

  it('only dead addresses and complaints suppress at once; our own setup never suppresses', () => {
    for (const r of BOUNCE_RULES) {
      if (r.suppress === 'now') assert.ok(['unknown-user', 'unknown-domain', 'complaint'].includes(r.category), `${r.id} suppresses now`);
      if (r.blame === 'sender-setup' || r.blame === 'content') assert.equal(r.suppress, 'never', `${r.id} blames ${r.blame}`);
      if (r.category === 'policy-block') assert.equal(r.blame, 'sender-setup', `${r.id} is a policy block`);
      if (r.category === 'rate-limited') assert.deepEqual([r.retry, r.suppress], [true, 'never'], `${r.id} is a rate limit`);
    }
  });

  it('text patterns are case-insensitive and not global (RegExp.test keeps no state)', () => {
    for (const r of BOUNCE_RULES) {
      if (!r.match.text) continue;
      assert.ok(r.match.text.flags.includes('i'), `${r.id} /i`);
      assert.ok(!r.match.text.flags.includes('g') && !r.match.text.flags.includes('y'), `${r.id} stateless`);
    }
  });
});

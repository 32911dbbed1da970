/**
 * A spam run against a form: 600 bot-like submissions of the usual kinds
 * (honeypot fillers, too fast, no proof of work, no token at all, replays,
 * URL and advertising spam that even pays the proof of work, one IP
 * hammering). Not one mail may leave: everything ends in the review list,
 * each with its verdict and reasons, each logged. Then people still get
 * through.
 *
 * The bots come from many addresses through a trusted proxy
 * (X-Forwarded-For), so each protection is met on its own and not just the
 * per-IP limit; the "one IP" bots come from one address. pow_max_number is
 * lowered to keep the solving time of the test small; the check is the same.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { solveChallenge, solutionPayload, type AltchaChallenge } from '../../src/forms/tokens.js';
import { startForms, type FormsHarness } from '../helpers/forms.js';

let clock = Date.UTC(2026, 2, 1, 9, 0, 0);

describe('spam run against a form', () => {
  let h: FormsHarness;
  before(async () => {
    h = await startForms(
      `
[forms.contact]
recipients = ["office@example.test"]
fields = ["name", "email", "message"]
receipt = true
pow_max_number = 20000
`,
      { clock: () => clock, http: 'trusted_proxies = ["127.0.0.1/32"]' },
    );
  });
  after(() => h.close());

  let n = 0;
  const ipFor = (i: number) => `198.51.100.${(i % 250) + 1}`;
  const prepare = async (ip: string) => {
    const c = (await (await fetch(`${h.base}/forms/contact/challenge`, { headers: { 'x-forwarded-for': ip } })).json()) as AltchaChallenge & { token: string };
    return { _token: c.token, altcha: solutionPayload(c, solveChallenge(c)!) };
  };
  const post = async (ip: string, fields: Record<string, string>) => {
    n++;
    const r = await fetch(`${h.base}/forms/contact`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-forwarded-for': ip },
      body: new URLSearchParams(fields).toString(),
    });
    await r.text();
    return r.status;
  };
  const victim = (i: number) => ({ name: `Bot ${i}`, email: `victim${i % 7}@example.test`, message: `Great offer ${i}! Visit http://shop.example.test/?id=${i}` });

  it('600 bot submissions: zero mails, all stored for review and logged', async () => {
    const statuses = new Map<string, number[]>();
    const run = async (kind: string, count: number, one: (i: number) => Promise<number>) => {
      const out: number[] = [];
      for (let i = 0; i < count; i += 25) out.push(...(await Promise.all(Array.from({ length: Math.min(25, count - i) }, (_, j) => one(i + j)))));
      statuses.set(kind, out);
    };
    // Honeypot fillers that even solve the proof of work and wait.
    await run('honeypot', 100, async (i) => {
      const t = await prepare(ipFor(i));
      clock += 10;
      return post(ipFor(i), { ...t, ...victim(i), website: 'http://seo.example.test' });
    });
    // Too fast: the form is sent within a second of loading.
    await run('too-fast', 100, async (i) => post(ipFor(i), { ...(await prepare(ipFor(i))), ...victim(i) }));
    // No proof of work: a token, but nobody ran the script.
    const tokens = await Promise.all(Array.from({ length: 100 }, async (_, i) => ((await (await fetch(`${h.base}/forms/contact/challenge`, { headers: { 'x-forwarded-for': ipFor(i) } })).json()) as { token: string }).token));
    clock += 60_000;
    await run('no-pow', 100, async (i) => post(ipFor(i), { _token: tokens[i]!, ...victim(i) }));
    // Plain form posters: no token, no proof of work.
    await run('no-token', 100, async (i) => post(ipFor(i), victim(i)));
    // URL and advertising spam from bots that pay the proof of work and wait long enough.
    const paid = await Promise.all(Array.from({ length: 100 }, (_, i) => prepare(ipFor(i))));
    clock += 30_000;
    await run('url-spam', 100, async (i) => post(ipFor(i), { ...paid[i]!, name: 'SEO services', email: `seo${i}@example.test`, message: `Boost your traffic with backlinks! http://bit.ly/${i} http://192.0.2.${i % 250}/casino http://www.example.test/${i}` }));
    // One IP: a solved form replayed, and fresh ones, far beyond the per-IP limit.
    const one = '203.0.113.9';
    const t = await prepare(one);
    clock += 30_000;
    await run('one-ip', 100, async (i) => post(one, { ...t, ...victim(i) }));

    await h.settle();
    assert.equal(n, 600);
    assert.equal(h.sink.messages.length, 0, `mails sent: ${h.sink.messages.map((m) => m.to.join()).join('; ')}`);
    const rows = h.forms.store.list('contact', { limit: 1000 });
    assert.equal(rows.length, 600);
    assert.equal(rows.filter((r) => r.verdict === 'accepted').length, 0);
    const reasons = (pred: (r: string) => boolean) => rows.filter((r) => r.reasons.some(pred)).length;
    assert.equal(reasons((r) => r === 'honeypot'), 100);
    assert.equal(reasons((r) => r === 'too-fast'), 100);
    assert.equal(reasons((r) => r === 'pow-missing'), 100);
    assert.equal(reasons((r) => r === 'token-missing'), 100);
    assert.ok(reasons((r) => r.startsWith('score>=')) >= 100, 'URL spam quarantined');
    assert.ok(reasons((r) => r === 'rate-ip') >= 89, 'one IP: limited after 10');
    // Fake success for honeypot and content spam, clear refusals for the rest.
    assert.ok(statuses.get('honeypot')!.every((s) => s === 200));
    assert.ok(statuses.get('url-spam')!.every((s) => s === 200));
    assert.ok(statuses.get('too-fast')!.every((s) => s === 403));
    assert.ok(statuses.get('no-token')!.every((s) => s === 403));
    assert.equal(statuses.get('one-ip')!.filter((s) => s === 429).length, 90);
    assert.equal(h.logs.filter((l) => /form contact: ip=\S+ verdict=(refused|quarantined) score=/.test(l)).length, 600);
  });

  it('after the run, people still get through', async () => {
    for (let i = 0; i < 3; i++) {
      const ip = `192.0.2.${200 + i}`;
      const t = await prepare(ip);
      clock += 20_000;
      const status = await post(ip, { ...t, name: `Person ${i}`, email: `person${i}@example.test`, message: 'Could you send me the opening hours for the holidays?' });
      assert.equal(status, 200);
    }
    await h.settle();
    assert.equal(h.sink.messages.filter((m) => m.to.join() === 'office@example.test').length, 3);
  });

  it('one IPv6 /64 is one visitor for the per-IP limit, however its addresses are written', async () => {
    // A host on IPv6 gets a whole /64 and can pick a new address for every request.
    const ips = Array.from({ length: 12 }, (_, i) => (i % 2 ? `2001:db8:7:9::${(i + 1).toString(16)}` : `2001:0DB8:0007:0009:${i}:0:0:1`));
    const statuses: number[] = [];
    for (const ip of ips) statuses.push(await post(ip, { name: 'Bot', email: 'bot@example.test', message: 'x' }));
    assert.deepEqual(statuses, [...Array(10).fill(403), 429, 429]);
    assert.equal(await post('2001:db8:7:a::1', { name: 'Bot', email: 'bot@example.test', message: 'x' }), 403, 'the next /64 is another visitor');
  });
});

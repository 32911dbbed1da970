import assert from 'node:assert/strict';
import { it } from 'node:test';
import { createMailer } from '../../src/index.js';

it("the library's lint() carries the spam score (R6) next to the guide's findings", async () => {
  const mailer = createMailer({ relay: 'capture:/nonexistent-never-used', from: 'Jane Doe <jane@example.test>' });
  const clean = await mailer.lint({ to: 'bob@example.test', subject: 'Backup report', text: 'All 12 volumes OK.' });
  assert.equal(clean.ok, true);
  assert.ok(clean.spam, 'a spam report is attached');
  assert.ok(clean.spam!.score < 1, `a clean composed message scores low (${clean.spam!.score})`);
  const raw = 'From: www-data@example.test\r\nTo: bob@example.test\r\nSubject: FREE MONEY FOR YOU NOW\r\n\r\nDear friend, click http://192.0.2.7/x\r\n';
  const spammy = await mailer.lint(raw);
  assert.ok(spammy.spam!.score > clean.spam!.score);
  await mailer.close();
});

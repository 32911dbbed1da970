import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import Sqlite from 'better-sqlite3';
import { DB_FILE, openSqliteStore } from './index.js';
import { MIGRATIONS } from './schema.js';

describe('queue database migrations', () => {
  it('upgrades a queue written by schema 6 in place, keeping its mail (7: DSN columns, 8: recipient_queue dropped, 9: indexes for pending work)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'sendwell-migrate-'));
    const old = new Sqlite(join(dir, DB_FILE));
    old.pragma('journal_mode = WAL');
    for (const m of MIGRATIONS.slice(0, 6)) old.exec(m);
    old.pragma('user_version = 6');
    old.prepare(`INSERT INTO message (id, message_id, envelope_from, raw, size, created_at, submitter) VALUES ('Q1', '<m@x>', 'a@example.test', x'00', 1, 1, 'cron')`).run();
    old.prepare(`INSERT INTO recipient (queue_id, address, domain, state, next_attempt_at, updated_at) VALUES ('Q1', 'b@example.test', 'example.test', 'queued', 1, 1)`).run();
    old.close();
    const s = openSqliteStore(dir);
    assert.deepEqual(s.recipients('Q1').map((r) => [r.address, r.state]), [['b@example.test', 'queued']]);
    s.close();
    const db = new Sqlite(join(dir, DB_FILE), { readonly: true });
    assert.equal(db.pragma('user_version', { simple: true }), MIGRATIONS.length);
    const indexes = db.prepare<[], { name: string }>("SELECT name FROM sqlite_schema WHERE type = 'index' AND tbl_name = 'recipient'").all().map((r) => r.name);
    assert.ok(!indexes.includes('recipient_queue'));
    // Lookups by message still use an index (UNIQUE (queue_id, address)).
    assert.match(db.prepare("EXPLAIN QUERY PLAN SELECT * FROM recipient WHERE queue_id = 'Q1'").all().map((r) => (r as { detail: string }).detail).join(';'), /USING INDEX sqlite_autoindex_recipient_1/);
    // 9: the DSN scan starts from failed recipients, body purging from messages that still have a body.
    const plan = (sql: string) => db.prepare(`EXPLAIN QUERY PLAN ${sql}`).all().map((r) => (r as { detail: string }).detail).join(';');
    assert.match(plan("SELECT id FROM message m WHERE m.id IN (SELECT queue_id FROM recipient WHERE state IN ('bounced','expired')) AND dsn_sent = 0"), /USING INDEX recipient_failed/);
    assert.match(plan('SELECT id FROM message WHERE raw IS NOT NULL AND created_at < 5'), /USING INDEX message_body_kept/);
    assert.deepEqual(db.prepare<[], { name: string }>("SELECT name FROM pragma_index_info('recipient_address')").all().map((r) => r.name), ['address']);
    db.close();
  });
});

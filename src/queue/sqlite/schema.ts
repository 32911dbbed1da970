/**
 * Numbered, append-only migrations. `PRAGMA user_version` records how far a
 * database is; a database newer than this code is refused.
 */
export const MIGRATIONS: string[] = [
  /* 1 */ `
  CREATE TABLE message (
    id              TEXT PRIMARY KEY,
    message_id      TEXT NOT NULL,
    envelope_from   TEXT NOT NULL,
    raw             BLOB,
    size            INTEGER NOT NULL,
    created_at      INTEGER NOT NULL,
    submitter       TEXT NOT NULL,
    idempotency_key TEXT UNIQUE,
    content_hash    TEXT,
    dsn_envid       TEXT,
    dsn_sent        INTEGER NOT NULL DEFAULT 0
  );
  CREATE TABLE recipient (
    id              INTEGER PRIMARY KEY,
    queue_id        TEXT NOT NULL REFERENCES message(id) ON DELETE CASCADE,
    address         TEXT NOT NULL,
    domain          TEXT NOT NULL,
    state           TEXT NOT NULL CHECK (state IN ('queued','active','deferred','held','delivered','bounced','expired','cancelled','suppressed')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL,
    lease_owner     TEXT,
    lease_until     INTEGER,
    last_code       INTEGER,
    last_dsn        TEXT,
    last_reason     TEXT,
    relay_queue_id  TEXT,
    updated_at      INTEGER NOT NULL,
    UNIQUE (queue_id, address)
  );
  -- Only runnable rows are indexed for the claim query.
  CREATE INDEX recipient_due ON recipient (next_attempt_at) WHERE state IN ('queued','deferred');
  CREATE INDEX recipient_active ON recipient (lease_owner, lease_until) WHERE state = 'active';
  CREATE INDEX recipient_queue ON recipient (queue_id);
  CREATE INDEX recipient_address ON recipient (address, updated_at);
  CREATE INDEX message_submitter ON message (submitter, created_at);
  CREATE INDEX message_content ON message (content_hash, created_at) WHERE content_hash IS NOT NULL;
  CREATE TABLE attempt (
    id              INTEGER PRIMARY KEY,
    recipient_id    INTEGER NOT NULL REFERENCES recipient(id) ON DELETE CASCADE,
    queue_id        TEXT NOT NULL,
    at              INTEGER NOT NULL,
    status          TEXT NOT NULL,
    code            INTEGER,
    dsn             TEXT,
    reply           TEXT,
    relay           TEXT,
    relay_queue_id  TEXT,
    delay_ms        INTEGER NOT NULL
  );
  CREATE INDEX attempt_queue ON attempt (queue_id, at);
  CREATE TABLE bucket (
    key             TEXT PRIMARY KEY,
    tokens          REAL NOT NULL,
    updated_at      INTEGER NOT NULL
  );
  `,
  /* 2: credentials of `sendwell serve` (hashes only, never the secrets: R11) */ `
  CREATE TABLE smtp_user (
    name            TEXT PRIMARY KEY,
    hash            TEXT NOT NULL,
    created_at      INTEGER NOT NULL
  );
  CREATE TABLE api_token (
    id              TEXT PRIMARY KEY,
    name            TEXT NOT NULL,
    hash            TEXT NOT NULL,
    created_at      INTEGER NOT NULL,
    revoked_at      INTEGER
  );
  `,
  /* 3: bounces: the suppression list and soft-bounce counts */ `
  CREATE TABLE suppression (
    address         TEXT NOT NULL,
    scope           TEXT NOT NULL,           -- the sending domain, or '*' for all
    reason          TEXT NOT NULL,
    source          TEXT NOT NULL,           -- bounce, complaint, manual, import
    created_at      INTEGER NOT NULL,
    expires_at      INTEGER,
    PRIMARY KEY (address, scope)
  );
  CREATE TABLE soft_bounce (
    id              INTEGER PRIMARY KEY,
    address         TEXT NOT NULL,
    scope           TEXT NOT NULL,
    at              INTEGER NOT NULL,
    reason          TEXT NOT NULL
  );
  CREATE INDEX soft_bounce_address ON soft_bounce (address, scope, at);
  CREATE INDEX message_message_id ON message (message_id);
  `,
];

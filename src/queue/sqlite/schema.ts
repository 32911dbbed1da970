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
  /* 4: consent (R1): lists, subscriptions with proof, their history, confirmation tokens */ `
  CREATE TABLE list (
    name            TEXT PRIMARY KEY,
    reason          TEXT NOT NULL,
    double_opt_in   INTEGER NOT NULL,
    description     TEXT,
    created_at      INTEGER NOT NULL
  );
  CREATE TABLE subscription (
    id              INTEGER PRIMARY KEY,
    list            TEXT NOT NULL,
    address         TEXT NOT NULL,           -- normalised (domain lower-cased)
    address_input   TEXT NOT NULL,           -- as entered
    status          TEXT NOT NULL,           -- pending, confirmed, unsubscribed
    source          TEXT NOT NULL,           -- e.g. form URL, import file, API token
    channel         TEXT NOT NULL,           -- form, import, api, cli
    consent_text    TEXT,                    -- the consent text or its version shown at sign-up
    signup_at       INTEGER NOT NULL,
    signup_ip       TEXT,
    signup_user_agent TEXT,
    confirm_sent_at INTEGER,
    confirmed_at    INTEGER,
    confirm_ip      TEXT,
    confirm_user_agent TEXT,
    confirm_method  TEXT,                    -- post-button, single-opt-in, import, admin
    unsubscribed_at INTEGER,
    unsubscribe_method TEXT,                 -- one-click, page, mailto, admin, bounce
    unsub_token     TEXT NOT NULL UNIQUE,
    UNIQUE (list, address)
  );
  CREATE TABLE consent_event (
    id              INTEGER PRIMARY KEY,
    subscription_id INTEGER NOT NULL,
    at              INTEGER NOT NULL,
    event           TEXT NOT NULL,
    ip              TEXT,
    user_agent      TEXT,
    detail          TEXT
  );
  CREATE INDEX consent_event_subscription ON consent_event (subscription_id, at);
  CREATE TABLE confirm_token (
    token_hash      TEXT PRIMARY KEY,
    purpose         TEXT NOT NULL,
    address         TEXT NOT NULL,
    payload         TEXT NOT NULL,           -- JSON
    rate_key        TEXT NOT NULL,           -- one mail per address and key per interval
    created_at      INTEGER NOT NULL,
    expires_at      INTEGER NOT NULL,
    used_at         INTEGER
  );
  CREATE INDEX confirm_token_rate ON confirm_token (address, rate_key, created_at);
  -- Bulk mail names its list; one-by-one mass mail has none (R1 detection).
  ALTER TABLE message ADD COLUMN list TEXT;
  `,
  /* 5: web forms (R10): submissions kept for review, rate counters, spent tokens */ `
CREATE TABLE form_submission (
  id          TEXT PRIMARY KEY,
  form        TEXT NOT NULL,
  received_at INTEGER NOT NULL,
  ip          TEXT NOT NULL,
  user_agent  TEXT,
  verdict     TEXT NOT NULL CHECK (verdict IN ('accepted','refused','quarantined')),
  score       REAL NOT NULL,
  reasons     TEXT NOT NULL,
  fields      TEXT NOT NULL,
  queue_id    TEXT,
  receipt     TEXT
);
CREATE INDEX form_submission_form ON form_submission(form, received_at);
CREATE TABLE form_rate (
  key          TEXT PRIMARY KEY,
  window_start INTEGER NOT NULL,
  count        INTEGER NOT NULL
);
CREATE TABLE form_spent (
  id         TEXT PRIMARY KEY,
  expires_at INTEGER NOT NULL
);
  `,
  /* 6: bulk detection (R1): who got each content lately, one row per address, so the count stays cheap when one address gets the same mail thousands of times */ `
  CREATE TABLE content_recipient (
    content_hash    TEXT NOT NULL,
    address         TEXT NOT NULL,
    last_at         INTEGER NOT NULL,
    PRIMARY KEY (content_hash, address)
  ) WITHOUT ROWID;
  CREATE INDEX content_recipient_recent ON content_recipient (content_hash, last_at);
  `,
  /* 7: per-message DSN parameters (RFC 3461: sendmail -N/-R, RCPT NOTIFY=, MAIL RET=; -V/ENVID= is dsn_envid of 1) and delay warnings */ `
  -- NULL: not given by the submitter; [dsn] of the config applies at delivery time.
  ALTER TABLE message ADD COLUMN dsn_notify TEXT;          -- 'NEVER', or SUCCESS,FAILURE,DELAY in that order
  ALTER TABLE message ADD COLUMN dsn_ret TEXT CHECK (dsn_ret IN ('FULL','HDRS'));
  -- One delay warning per message at most ([queue] delay_warning).
  ALTER TABLE message ADD COLUMN delay_warned INTEGER NOT NULL DEFAULT 0;
  -- A bounce that quotes the submitter's own ENVID (sent on unchanged) finds its message.
  CREATE INDEX message_dsn_envid ON message (dsn_envid) WHERE dsn_envid IS NOT NULL;
  `,
  /* 8: one index page less written per enqueue: recipient_queue (queue_id) repeats the first column of UNIQUE (queue_id, address), which serves the same lookups */ `
  DROP INDEX recipient_queue;
  `,
  /* 9: work that runs on every flush and start-up no longer scans every message kept */ `
  -- Every claim and outcome rewrote this index's entry through updated_at, which no query reads.
  DROP INDEX recipient_address;
  CREATE INDEX recipient_address ON recipient (address);
  -- Messages that may need a delivery status notification: found from failed recipients (few, next to all kept), not by scanning every message.
  CREATE INDEX recipient_failed ON recipient (queue_id) WHERE state IN ('bounced','expired');
  -- Purging delivered bodies looks only at messages that still have one.
  CREATE INDEX message_body_kept ON message (created_at) WHERE raw IS NOT NULL;
  `,
];

-- Governance (crates/govern): who may read what, for which purpose, and the audit chain.
-- Times are RFC 3339 UTC with microseconds and a `Z` (fixed width), so text order is time order
-- and range conditions work the same in SQLite and PostgreSQL. Secrets are never stored: API
-- keys, client secrets, passwords and one-time codes as Argon2id PHC strings, random tokens as
-- SM3 hex digests.

-- 数据使用方: a department (or system) that reads through the API.
CREATE TABLE IF NOT EXISTS gov_consumers (
    consumer_id            TEXT PRIMARY KEY,
    name                   TEXT NOT NULL,
    unit_code              TEXT,
    rate_limit_per_minute  INTEGER NOT NULL CHECK (rate_limit_per_minute >= 0),
    client_secret_hash     TEXT
);

-- API keys of a consumer; `key_prefix` (the secret's first characters, not enough to guess the
-- rest) finds the one row whose hash has to be checked.
CREATE TABLE IF NOT EXISTS gov_api_keys (
    key_id       TEXT PRIMARY KEY,
    consumer_id  TEXT NOT NULL REFERENCES gov_consumers (consumer_id),
    key_prefix   TEXT NOT NULL,
    key_hash     TEXT NOT NULL,
    revoked      INTEGER NOT NULL DEFAULT 0 CHECK (revoked IN (0, 1))
);
CREATE INDEX IF NOT EXISTS gov_api_keys_by_consumer ON gov_api_keys (consumer_id, key_prefix);

-- OAuth2 client-credentials access tokens.
CREATE TABLE IF NOT EXISTS gov_access_tokens (
    token_hash   TEXT PRIMARY KEY,
    consumer_id  TEXT NOT NULL REFERENCES gov_consumers (consumer_id),
    issued_at    TEXT NOT NULL,
    expires_at   TEXT NOT NULL
);

-- Console accounts and their roles (unit_code is '' for roles without a unit).
CREATE TABLE IF NOT EXISTS gov_accounts (
    account_id     TEXT PRIMARY KEY,
    username       TEXT NOT NULL UNIQUE,
    display_name   TEXT NOT NULL,
    password_hash  TEXT NOT NULL,
    disabled       INTEGER NOT NULL DEFAULT 0 CHECK (disabled IN (0, 1))
);
CREATE TABLE IF NOT EXISTS gov_account_roles (
    account_id  TEXT NOT NULL REFERENCES gov_accounts (account_id),
    role        TEXT NOT NULL CHECK (role IN ('administrator', 'provider_reviewer', 'matter_designer', 'auditor')),
    unit_code   TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (account_id, role, unit_code)
);

-- Sessions of console users, citizens and consumers. The principal is re-read on every use, so
-- a role taken away or an account disabled takes effect at once.
CREATE TABLE IF NOT EXISTS gov_sessions (
    token_hash      TEXT PRIMARY KEY,
    principal_kind  TEXT NOT NULL CHECK (principal_kind IN ('account', 'citizen', 'consumer')),
    principal_id    TEXT NOT NULL,
    created_at      TEXT NOT NULL,
    expires_at      TEXT NOT NULL
);

-- Citizen one-time codes (demo identity provider): one open challenge per resident ID.
CREATE TABLE IF NOT EXISTS gov_citizen_codes (
    resident_id  TEXT PRIMARY KEY,
    code_hash    TEXT NOT NULL,
    issued_at    TEXT NOT NULL,
    expires_at   TEXT NOT NULL,
    attempts     INTEGER NOT NULL DEFAULT 0,
    used         INTEGER NOT NULL DEFAULT 0 CHECK (used IN (0, 1))
);

-- 共享申请: a consumer's request for fields of a resource, for a purpose, until a date. The
-- catalogue facts a review needs (provider unit, share type, which fields are L3/L4) are copied
-- in when the request is made, so a review is judged on what was asked.
CREATE TABLE IF NOT EXISTS gov_grant_requests (
    request_id       TEXT PRIMARY KEY,
    consumer_id      TEXT NOT NULL REFERENCES gov_consumers (consumer_id),
    resource         TEXT NOT NULL,
    unit_code        TEXT NOT NULL,
    share_type       TEXT NOT NULL,
    fields_json      TEXT NOT NULL,
    sensitive_json   TEXT NOT NULL,
    unmasked_json    TEXT NOT NULL,
    purpose_kind     TEXT NOT NULL CHECK (purpose_kind IN ('matter', 'duty')),
    purpose_value    TEXT NOT NULL,
    justification    TEXT NOT NULL,
    valid_until      TEXT NOT NULL,
    state            TEXT NOT NULL CHECK (state IN ('pending', 'approved', 'refused')),
    reason           TEXT NOT NULL,
    requested_at     TEXT NOT NULL,
    reviewed_by      TEXT,
    reviewed_at      TEXT,
    review_note      TEXT,
    grant_id         TEXT
);
CREATE INDEX IF NOT EXISTS gov_grant_requests_by_state ON gov_grant_requests (state, unit_code);

-- 共享授权: what a consumer may read, per field, masked or not.
CREATE TABLE IF NOT EXISTS gov_grants (
    grant_id       TEXT PRIMARY KEY,
    request_id     TEXT NOT NULL REFERENCES gov_grant_requests (request_id),
    consumer_id    TEXT NOT NULL REFERENCES gov_consumers (consumer_id),
    resource       TEXT NOT NULL,
    purpose_kind   TEXT NOT NULL,
    purpose_value  TEXT NOT NULL,
    valid_until    TEXT NOT NULL,
    granted_at     TEXT NOT NULL,
    expires_at     TEXT NOT NULL,
    revoked_at     TEXT
);
CREATE INDEX IF NOT EXISTS gov_grants_by_consumer ON gov_grants (consumer_id, resource);
CREATE TABLE IF NOT EXISTS gov_grant_fields (
    grant_id  TEXT NOT NULL REFERENCES gov_grants (grant_id),
    field     TEXT NOT NULL,
    masked    INTEGER NOT NULL CHECK (masked IN (0, 1)),
    PRIMARY KEY (grant_id, field)
);

-- 审计链: entry_hash = SM3(prev_hash || canonical bytes of the entry, seq included). Rows are
-- only ever inserted; `gov_audit_head` is the single-row lock every append takes first (so
-- appends are serialised and the chain cannot fork) and the expected end of the chain (so a
-- deleted tail is noticed).
CREATE TABLE IF NOT EXISTS gov_audit_entries (
    seq             INTEGER PRIMARY KEY,
    actor_kind      TEXT NOT NULL,
    actor_id        TEXT NOT NULL,
    subject         TEXT NOT NULL,
    subject_masked  TEXT NOT NULL,
    action          TEXT NOT NULL,
    resources_json  TEXT NOT NULL,
    fields_json     TEXT NOT NULL,
    purpose         TEXT NOT NULL,
    request_id      TEXT NOT NULL,
    detail          TEXT NOT NULL,
    at              TEXT NOT NULL,
    prev_hash       TEXT NOT NULL,
    entry_hash      TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS gov_audit_by_subject ON gov_audit_entries (subject, seq);
CREATE INDEX IF NOT EXISTS gov_audit_by_actor ON gov_audit_entries (actor_id, seq);

CREATE TABLE IF NOT EXISTS gov_audit_head (
    id         INTEGER PRIMARY KEY CHECK (id = 1),
    last_seq   INTEGER NOT NULL,
    last_hash  TEXT NOT NULL
);
INSERT INTO gov_audit_head (id, last_seq, last_hash)
VALUES (1, 0, '0000000000000000000000000000000000000000000000000000000000000000');

-- Checkpoints: the chain's hash at a seq, written every N entries and on demand; a later
-- rewrite of everything before a checkpoint no longer matches it.
CREATE TABLE IF NOT EXISTS gov_audit_checkpoints (
    seq         INTEGER PRIMARY KEY,
    entry_hash  TEXT NOT NULL,
    created_at  TEXT NOT NULL
);

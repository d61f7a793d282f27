-- Foundation: partners, their documents and review audit, credentials, admin users.
-- Times are UTC milliseconds since the epoch; ids are UUIDv7 text. The PostgreSQL migration
-- has the same tables and columns so one set of queries serves both.

CREATE TABLE partners (
    id                TEXT PRIMARY KEY,
    company_name      TEXT NOT NULL,
    credit_code       TEXT NOT NULL UNIQUE,
    operator_id       TEXT NOT NULL UNIQUE,
    contact_name      TEXT NOT NULL,
    contact_phone     TEXT NOT NULL,
    contact_email     TEXT NOT NULL,
    roles             TEXT NOT NULL,
    protocol          TEXT NOT NULL,
    callback_base_url TEXT NOT NULL,
    state             TEXT NOT NULL,
    state_reason      TEXT,
    portal_token_hash TEXT NOT NULL UNIQUE,
    created_at        BIGINT NOT NULL,
    updated_at        BIGINT NOT NULL
);
CREATE INDEX partners_state ON partners (state, created_at);

CREATE TABLE partner_documents (
    id           TEXT PRIMARY KEY,
    partner_id   TEXT NOT NULL REFERENCES partners (id),
    kind         TEXT NOT NULL,
    file_name    TEXT NOT NULL,
    content_type TEXT NOT NULL,
    size_bytes   BIGINT NOT NULL,
    sha256       TEXT NOT NULL,
    uploaded_at  BIGINT NOT NULL
);
CREATE INDEX partner_documents_partner ON partner_documents (partner_id, uploaded_at);

CREATE TABLE audit_log (
    id           TEXT PRIMARY KEY,
    at           BIGINT NOT NULL,
    actor        TEXT NOT NULL,
    action       TEXT NOT NULL,
    subject_type TEXT NOT NULL,
    subject_id   TEXT NOT NULL,
    from_state   TEXT,
    to_state     TEXT,
    reason       TEXT
);
CREATE INDEX audit_log_subject ON audit_log (subject_type, subject_id, at);

-- REST/OAuth2 client credentials. The secret is stored as an argon2 hash; `pending_secret`
-- holds it encrypted with the master key only until the partner has seen it once.
CREATE TABLE api_credentials (
    id             TEXT PRIMARY KEY,
    partner_id     TEXT NOT NULL REFERENCES partners (id),
    client_id      TEXT NOT NULL UNIQUE,
    secret_hash    TEXT NOT NULL,
    pending_secret TEXT,
    created_at     BIGINT NOT NULL,
    expires_at     BIGINT
);
CREATE INDEX api_credentials_partner ON api_credentials (partner_id, created_at);

CREATE TABLE access_tokens (
    token_hash TEXT PRIMARY KEY,
    partner_id TEXT NOT NULL REFERENCES partners (id),
    client_id  TEXT NOT NULL,
    scopes     TEXT NOT NULL,
    issued_at  BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);

-- T/CEC 102 secrets, encrypted with the master key. direction 'issued': we issued them to the
-- partner (it calls us); 'received': the partner issued them to us (we call it).
CREATE TABLE cec_credentials (
    id              TEXT PRIMARY KEY,
    partner_id      TEXT NOT NULL REFERENCES partners (id),
    direction       TEXT NOT NULL,
    operator_id     TEXT NOT NULL,
    secrets         TEXT NOT NULL,
    base_url        TEXT,
    version_segment TEXT NOT NULL,
    created_at      BIGINT NOT NULL,
    expires_at      BIGINT
);
CREATE INDEX cec_credentials_partner ON cec_credentials (partner_id, direction, created_at);
CREATE INDEX cec_credentials_operator ON cec_credentials (operator_id, direction);

CREATE TABLE admin_users (
    id            TEXT PRIMARY KEY,
    username      TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    created_at    BIGINT NOT NULL
);

CREATE TABLE admin_sessions (
    token_hash TEXT PRIMARY KEY,
    admin_id   TEXT NOT NULL REFERENCES admin_users (id),
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);

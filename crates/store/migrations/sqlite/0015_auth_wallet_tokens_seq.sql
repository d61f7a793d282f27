-- Wallet top-ups are paid through a payment gateway: the wallet is credited only when the
-- gateway says the trade succeeded, once (the move from `pending` is a compare-and-set in the
-- same transaction as the wallet entry). Statuses: pending, succeeded, failed, cancelled, expired.
CREATE TABLE wallet_top_ups (
    id           TEXT PRIMARY KEY,
    user_id      TEXT NOT NULL REFERENCES users (id),
    method       TEXT NOT NULL,
    amount       BIGINT NOT NULL,
    status       TEXT NOT NULL,
    external_ref TEXT UNIQUE,
    pay_url      TEXT,
    settled_at   BIGINT,
    created_at   BIGINT NOT NULL,
    updated_at   BIGINT NOT NULL
);
CREATE INDEX wallet_top_ups_user ON wallet_top_ups (user_id, created_at);

-- T/CEC 102 access tokens we issued (stored as SHA-256) and the replay guard's recent request
-- keys: in the database so a restart, or another instance, keeps both. Expired rows are pruned.
CREATE TABLE cec_tokens (
    token_hash  TEXT PRIMARY KEY,
    operator_id TEXT NOT NULL,
    expires_at  BIGINT NOT NULL
);
CREATE INDEX cec_tokens_expiry ON cec_tokens (expires_at);

CREATE TABLE cec_replay_keys (
    request_key TEXT PRIMARY KEY,
    keep_until  BIGINT NOT NULL
);
CREATE INDEX cec_replay_keys_expiry ON cec_replay_keys (keep_until);

-- The counter behind the unique part of our StartChargeSeqs: taken atomically, so two
-- orders in one second (on one instance or several) never draw the same number.
CREATE TABLE seq_counters (
    name  TEXT PRIMARY KEY,
    value BIGINT NOT NULL
);
INSERT INTO seq_counters (name, value) VALUES ('start_charge_seq', 0);

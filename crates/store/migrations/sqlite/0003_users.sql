-- Our drivers (flow A): accounts, login sessions and wallets. Money is integer
-- ten-thousandths of a yuan.
CREATE TABLE users (
    id            TEXT PRIMARY KEY,
    phone         TEXT NOT NULL UNIQUE,
    display_name  TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    wallet_balance BIGINT NOT NULL DEFAULT 0,
    created_at    BIGINT NOT NULL
);

CREATE TABLE user_sessions (
    token_hash TEXT PRIMARY KEY,
    user_id    TEXT NOT NULL REFERENCES users (id),
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);

-- Every wallet movement, so the balance can always be explained.
CREATE TABLE wallet_entries (
    id         TEXT PRIMARY KEY,
    user_id    TEXT NOT NULL REFERENCES users (id),
    amount     BIGINT NOT NULL,
    balance    BIGINT NOT NULL,
    reason     TEXT NOT NULL,
    reference  TEXT,
    created_at BIGINT NOT NULL
);
CREATE INDEX wallet_entries_user ON wallet_entries (user_id, created_at);

-- Transactional outbox: every message to a partner is written in the same transaction as the
-- change it announces and delivered by the dispatcher, in order per (partner, ordering_key).
CREATE TABLE outbox (
    seq             BIGSERIAL PRIMARY KEY,
    id              TEXT NOT NULL UNIQUE,
    partner_id      TEXT NOT NULL REFERENCES partners (id),
    kind            TEXT NOT NULL,
    ordering_key    TEXT NOT NULL,
    payload         TEXT NOT NULL,
    status          TEXT NOT NULL,
    attempts        BIGINT NOT NULL DEFAULT 0,
    next_attempt_at BIGINT NOT NULL,
    lease_until     BIGINT,
    last_error      TEXT,
    created_at      BIGINT NOT NULL,
    delivered_at    BIGINT
);
CREATE INDEX outbox_due ON outbox (status, next_attempt_at);
CREATE INDEX outbox_key ON outbox (partner_id, ordering_key, seq);

CREATE TABLE outbox_attempts (
    outbox_seq BIGINT NOT NULL REFERENCES outbox (seq),
    attempt    BIGINT NOT NULL,
    at         BIGINT NOT NULL,
    outcome    TEXT NOT NULL,
    error      TEXT,
    PRIMARY KEY (outbox_seq, attempt)
);

-- Inbound idempotency: a notification or command seen once is recognised when it comes again.
CREATE TABLE inbound_messages (
    partner_id  TEXT NOT NULL,
    kind        TEXT NOT NULL,
    message_key TEXT NOT NULL,
    response    TEXT,
    received_at BIGINT NOT NULL,
    PRIMARY KEY (partner_id, kind, message_key)
);

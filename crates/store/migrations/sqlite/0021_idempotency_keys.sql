-- Idempotency keys of partner REST commands that create things (`POST /sessions`): the same key
-- again with the same request answers what the first one answered; with another request it is
-- refused. `resource` is what the first request committed to before acting (the session's order
-- number), so a retry after a crash half-way acts on the same thing instead of a second one.
-- `status` and `response` stay empty until the first request has its answer.
CREATE TABLE idempotency_keys (
    partner_id      TEXT NOT NULL REFERENCES partners (id),
    operation       TEXT NOT NULL,
    idem_key        TEXT NOT NULL,
    request_hash    TEXT NOT NULL,
    resource        TEXT NOT NULL,
    status          INTEGER,
    response        TEXT,
    created_at      BIGINT NOT NULL,
    PRIMARY KEY (partner_id, operation, idem_key)
);

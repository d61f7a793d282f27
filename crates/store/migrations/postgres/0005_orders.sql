-- Charging orders (both flows), their history, bills, payments and settlement lines.
-- `body` is the domain Order as JSON; the columns beside it are what we search by.
CREATE TABLE orders (
    id           TEXT PRIMARY KEY,
    seq          TEXT NOT NULL UNIQUE,
    flow         TEXT NOT NULL,
    partner_id   TEXT REFERENCES partners (id),
    user_id      TEXT,
    connector_id TEXT NOT NULL,
    state        TEXT NOT NULL,
    body         TEXT NOT NULL,
    version      BIGINT NOT NULL,
    created_at   BIGINT NOT NULL,
    updated_at   BIGINT NOT NULL
);
CREATE INDEX orders_user ON orders (user_id, created_at);
CREATE INDEX orders_partner ON orders (partner_id, created_at);
CREATE INDEX orders_state ON orders (state, updated_at);

CREATE TABLE order_transitions (
    order_id   TEXT NOT NULL REFERENCES orders (id),
    n          BIGINT NOT NULL,
    at         BIGINT NOT NULL,
    from_state TEXT NOT NULL,
    to_state   TEXT NOT NULL,
    event      TEXT NOT NULL,
    detail     TEXT,
    PRIMARY KEY (order_id, n)
);

-- What the partner billed, what we computed, and anything that did not add up.
CREATE TABLE order_bills (
    order_id       TEXT PRIMARY KEY REFERENCES orders (id),
    partner_record TEXT NOT NULL,
    user_amounts   TEXT NOT NULL,
    discrepancies  TEXT NOT NULL,
    created_at     BIGINT NOT NULL
);

CREATE TABLE payments (
    id           TEXT PRIMARY KEY,
    order_id     TEXT NOT NULL REFERENCES orders (id),
    user_id      TEXT NOT NULL,
    method       TEXT NOT NULL,
    amount       BIGINT NOT NULL,
    status       TEXT NOT NULL,
    external_ref TEXT UNIQUE,
    created_at   BIGINT NOT NULL,
    updated_at   BIGINT NOT NULL
);
CREATE UNIQUE INDEX payments_one_success ON payments (order_id) WHERE status = 'succeeded';

CREATE TABLE settlement_lines (
    order_id       TEXT PRIMARY KEY REFERENCES orders (id),
    partner_id     TEXT NOT NULL REFERENCES partners (id),
    flow           TEXT NOT NULL,
    energy         TEXT NOT NULL,
    gross          BIGINT NOT NULL,
    partner_amount BIGINT NOT NULL,
    our_amount     BIGINT NOT NULL,
    at             BIGINT NOT NULL
);
CREATE INDEX settlement_lines_partner ON settlement_lines (partner_id, at);

-- Commercial terms per partner (commission, user pricing, revenue share) as JSON.
CREATE TABLE partner_terms (
    partner_id TEXT PRIMARY KEY REFERENCES partners (id),
    terms      TEXT NOT NULL,
    updated_at BIGINT NOT NULL
);

-- Catalog sync bookkeeping per partner (flow A).
CREATE TABLE partner_sync (
    partner_id      TEXT PRIMARY KEY REFERENCES partners (id),
    last_query_time BIGINT,
    last_run_at     BIGINT NOT NULL,
    last_result     TEXT NOT NULL
);

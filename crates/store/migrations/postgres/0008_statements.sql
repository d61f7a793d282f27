-- Settlement statements per partner and period: the lines and totals frozen when drafted, the
-- differences reconciliation found, and the state finance moves it through.
CREATE TABLE statements (
    id              TEXT PRIMARY KEY,
    partner_id      TEXT NOT NULL REFERENCES partners (id),
    period_start    BIGINT NOT NULL,
    period_end      BIGINT NOT NULL,
    state           TEXT NOT NULL,
    body            TEXT NOT NULL,
    differences     TEXT NOT NULL,
    created_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL,
    UNIQUE (partner_id, period_start, period_end)
);

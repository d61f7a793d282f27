-- A platform partner's own statement of its users' sessions on our piles for one period, as it
-- uploaded it (order key, energy, amount per line, JSON). Uploading the same period again
-- replaces it. Flow-B statements of exactly that period are reconciled against it.
CREATE TABLE partner_statements (
    id              TEXT PRIMARY KEY,
    partner_id      TEXT NOT NULL REFERENCES partners (id),
    period_start    BIGINT NOT NULL,
    period_end      BIGINT NOT NULL,
    entry_count     BIGINT NOT NULL,
    total_energy    TEXT NOT NULL,
    total_amount    TEXT NOT NULL,
    entries         TEXT NOT NULL,
    uploaded_by     TEXT NOT NULL,
    uploaded_at     BIGINT NOT NULL,
    UNIQUE (partner_id, period_start, period_end)
);

-- What a statement's flow-B lines were compared with: the partner's uploaded statement, its
-- answer to check_charge_orders, or nothing.
ALTER TABLE statements ADD COLUMN reconciled_with TEXT NOT NULL DEFAULT 'none';

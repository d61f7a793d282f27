-- Our own daily check of flow-A orders per partner and Beijing day: what was found missing or
-- not matching (JSON list of findings). Checking a day again replaces its row.
CREATE TABLE daily_checks (
    id              TEXT PRIMARY KEY,
    partner_id      TEXT NOT NULL REFERENCES partners (id),
    day             TEXT NOT NULL,
    orders          BIGINT NOT NULL,
    finding_count   BIGINT NOT NULL,
    findings        TEXT NOT NULL,
    checked_at      BIGINT NOT NULL,
    UNIQUE (partner_id, day)
);
CREATE INDEX daily_checks_day ON daily_checks (day, finding_count);

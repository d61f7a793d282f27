-- Where a partner wants our signed webhooks when its protocol is not our REST API: a T/CEC 102
-- partner registers one with its endpoint (T/CEC 102 has no message for settlement notices).
-- No row: the partner hears nothing by webhook, and nothing is queued for it.
CREATE TABLE partner_webhooks (
    partner_id      TEXT PRIMARY KEY REFERENCES partners (id),
    url             TEXT NOT NULL,
    updated_at      BIGINT NOT NULL
);

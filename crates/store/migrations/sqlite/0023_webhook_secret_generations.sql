-- Webhook signing keys are derived from the master key and a generation; rotating a partner's
-- key moves it to the next generation, and the previous key still signs until
-- `previous_valid_until` so the partner can switch its receiver without missing an event.
-- No row: generation 0, never rotated.
CREATE TABLE webhook_secret_generations (
    partner_id              TEXT PRIMARY KEY REFERENCES partners (id),
    generation              BIGINT NOT NULL,
    previous_valid_until    BIGINT,
    rotated_at              BIGINT NOT NULL
);

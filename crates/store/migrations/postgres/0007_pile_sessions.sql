-- The OCPP side of a flow-B order: the pile and connector it runs on, the id tag we sent with
-- RemoteStartTransaction (how the pile's StartTransaction finds its order), the transaction the
-- pile opened and the meter curve it reported (what the bill is computed from).
CREATE TABLE pile_sessions (
    order_id       TEXT PRIMARY KEY REFERENCES orders (id),
    ocpp_id        TEXT NOT NULL,
    connector_no   BIGINT NOT NULL,
    id_tag         TEXT NOT NULL UNIQUE,
    transaction_id BIGINT,
    readings       TEXT NOT NULL,
    created_at     BIGINT NOT NULL
);
CREATE UNIQUE INDEX pile_sessions_transaction ON pile_sessions (ocpp_id, transaction_id);

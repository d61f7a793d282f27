-- The OCPP side of a flow-B reservation: the reservation order (its seq is the partner's
-- ReserveSeq) and the hold we asked our pile for with ReserveNow — the reservation id and id
-- tag we chose (a later start by the same partner sends that tag, so the pile lets it in), the
-- end of the hold, and the start order that consumed it, if any.
CREATE TABLE pile_reservations (
    order_id       TEXT PRIMARY KEY REFERENCES orders (id),
    partner_id     TEXT NOT NULL REFERENCES partners (id),
    connector_id   TEXT NOT NULL,
    ocpp_id        TEXT NOT NULL,
    connector_no   BIGINT NOT NULL,
    reservation_id BIGINT NOT NULL,
    id_tag         TEXT NOT NULL UNIQUE,
    expires_at     BIGINT NOT NULL,
    used_by        TEXT REFERENCES orders (id),
    created_at     BIGINT NOT NULL
);
CREATE UNIQUE INDEX pile_reservations_id ON pile_reservations (ocpp_id, reservation_id);
CREATE INDEX pile_reservations_connector ON pile_reservations (connector_id, expires_at);

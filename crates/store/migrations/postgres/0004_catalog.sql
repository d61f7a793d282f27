-- The charging catalog: stations, equipment (piles) and connectors, ours (partner_id NULL) and
-- partners' (flow A). Identifiers a partner gave are kept as given, unique per partner.
-- Coordinates are WGS-84; prices live in `tariff` JSON as decimal strings.
CREATE TABLE stations (
    id             TEXT PRIMARY KEY,
    partner_id     TEXT REFERENCES partners (id),
    external_id    TEXT NOT NULL,
    name           TEXT NOT NULL,
    address        TEXT NOT NULL,
    area_code      TEXT NOT NULL,
    lat            DOUBLE PRECISION NOT NULL,
    lng            DOUBLE PRECISION NOT NULL,
    station_type   BIGINT NOT NULL,
    station_status BIGINT NOT NULL,
    service_tel    TEXT NOT NULL,
    business_hours TEXT,
    tariff         TEXT NOT NULL,
    -- flow B: every approved platform may see it, or only those in station_visibility.
    public         BIGINT NOT NULL DEFAULT 1,
    detail         TEXT NOT NULL,
    updated_at     BIGINT NOT NULL,
    UNIQUE (partner_id, external_id)
);
CREATE UNIQUE INDEX stations_own_external ON stations (external_id) WHERE partner_id IS NULL;
CREATE INDEX stations_updated ON stations (partner_id, updated_at);

CREATE TABLE equipment (
    id             TEXT PRIMARY KEY,
    station_id     TEXT NOT NULL REFERENCES stations (id),
    external_id    TEXT NOT NULL,
    equipment_type BIGINT NOT NULL,
    power_kw       TEXT NOT NULL,
    detail         TEXT NOT NULL,
    -- Our own piles: the OCPP charge point identity and its Basic-auth password hash.
    ocpp_id        TEXT UNIQUE,
    ocpp_password_hash TEXT,
    UNIQUE (station_id, external_id)
);

CREATE TABLE connectors (
    id              TEXT PRIMARY KEY,
    station_id      TEXT NOT NULL REFERENCES stations (id),
    equipment_id    TEXT NOT NULL REFERENCES equipment (id),
    external_id     TEXT NOT NULL,
    connector_type  BIGINT NOT NULL,
    power_kw        TEXT NOT NULL,
    ocpp_connector  BIGINT,
    status          BIGINT NOT NULL DEFAULT 0,
    status_at       BIGINT,
    detail          TEXT NOT NULL,
    UNIQUE (equipment_id, external_id)
);
CREATE INDEX connectors_station ON connectors (station_id);

CREATE TABLE station_visibility (
    station_id TEXT NOT NULL REFERENCES stations (id),
    partner_id TEXT NOT NULL REFERENCES partners (id),
    PRIMARY KEY (station_id, partner_id)
);

-- The catalog stores the domain's own words for station, equipment and connector types and for
-- statuses, not the T/CEC 102 numbering (which now lives only in the T/CEC adapter). Existing
-- codes convert to the word the adapter reads them as; a code the standard does not define
-- becomes the enum's catch-all (`other`, `unknown`).
--
-- SQLite cannot change a column's type: each column is rebuilt as text beside the old one,
-- filled from it, and takes its name once the old one is dropped.

ALTER TABLE stations ADD COLUMN station_type_word TEXT NOT NULL DEFAULT 'other';
UPDATE stations SET station_type_word = CASE station_type
    WHEN 1 THEN 'public' WHEN 50 THEN 'private' WHEN 100 THEN 'bus' WHEN 101 THEN 'sanitation'
    WHEN 102 THEN 'logistics' WHEN 103 THEN 'taxi' ELSE 'other' END;
ALTER TABLE stations DROP COLUMN station_type;
ALTER TABLE stations RENAME COLUMN station_type_word TO station_type;

ALTER TABLE stations ADD COLUMN station_status_word TEXT NOT NULL DEFAULT 'unknown';
UPDATE stations SET station_status_word = CASE station_status
    WHEN 1 THEN 'under_construction' WHEN 5 THEN 'closed' WHEN 6 THEN 'maintenance'
    WHEN 50 THEN 'operating' ELSE 'unknown' END;
ALTER TABLE stations DROP COLUMN station_status;
ALTER TABLE stations RENAME COLUMN station_status_word TO station_status;

ALTER TABLE equipment ADD COLUMN equipment_type_word TEXT NOT NULL DEFAULT 'other';
UPDATE equipment SET equipment_type_word = CASE equipment_type
    WHEN 1 THEN 'dc' WHEN 2 THEN 'ac' WHEN 3 THEN 'ac_dc' WHEN 4 THEN 'wireless' ELSE 'other' END;
ALTER TABLE equipment DROP COLUMN equipment_type;
ALTER TABLE equipment RENAME COLUMN equipment_type_word TO equipment_type;

ALTER TABLE connectors ADD COLUMN connector_type_word TEXT NOT NULL DEFAULT 'other';
UPDATE connectors SET connector_type_word = CASE connector_type
    WHEN 1 THEN 'household_socket' WHEN 2 THEN 'ac_socket' WHEN 3 THEN 'ac_cable'
    WHEN 4 THEN 'dc_cable' WHEN 5 THEN 'wireless' ELSE 'other' END;
ALTER TABLE connectors DROP COLUMN connector_type;
ALTER TABLE connectors RENAME COLUMN connector_type_word TO connector_type;

ALTER TABLE connectors ADD COLUMN status_word TEXT NOT NULL DEFAULT 'offline';
UPDATE connectors SET status_word = CASE status
    WHEN 0 THEN 'offline' WHEN 1 THEN 'available' WHEN 2 THEN 'occupied' WHEN 3 THEN 'charging'
    WHEN 4 THEN 'reserved' WHEN 255 THEN 'faulted' ELSE 'unknown' END;
ALTER TABLE connectors DROP COLUMN status;
ALTER TABLE connectors RENAME COLUMN status_word TO status;

-- The catalog stores the domain's own words for station, equipment and connector types and for
-- statuses, not the T/CEC 102 numbering (which now lives only in the T/CEC adapter). Existing
-- codes convert to the word the adapter reads them as; a code the standard does not define
-- becomes the enum's catch-all (`other`, `unknown`).

ALTER TABLE stations
    ALTER COLUMN station_type TYPE TEXT USING CASE station_type
        WHEN 1 THEN 'public' WHEN 50 THEN 'private' WHEN 100 THEN 'bus' WHEN 101 THEN 'sanitation'
        WHEN 102 THEN 'logistics' WHEN 103 THEN 'taxi' ELSE 'other' END,
    ALTER COLUMN station_status TYPE TEXT USING CASE station_status
        WHEN 1 THEN 'under_construction' WHEN 5 THEN 'closed' WHEN 6 THEN 'maintenance'
        WHEN 50 THEN 'operating' ELSE 'unknown' END;

ALTER TABLE equipment
    ALTER COLUMN equipment_type TYPE TEXT USING CASE equipment_type
        WHEN 1 THEN 'dc' WHEN 2 THEN 'ac' WHEN 3 THEN 'ac_dc' WHEN 4 THEN 'wireless' ELSE 'other' END;

ALTER TABLE connectors
    ALTER COLUMN connector_type TYPE TEXT USING CASE connector_type
        WHEN 1 THEN 'household_socket' WHEN 2 THEN 'ac_socket' WHEN 3 THEN 'ac_cable'
        WHEN 4 THEN 'dc_cable' WHEN 5 THEN 'wireless' ELSE 'other' END,
    ALTER COLUMN status DROP DEFAULT,
    ALTER COLUMN status TYPE TEXT USING CASE status
        WHEN 0 THEN 'offline' WHEN 1 THEN 'available' WHEN 2 THEN 'occupied' WHEN 3 THEN 'charging'
        WHEN 4 THEN 'reserved' WHEN 255 THEN 'faulted' ELSE 'unknown' END,
    ALTER COLUMN status SET DEFAULT 'offline';

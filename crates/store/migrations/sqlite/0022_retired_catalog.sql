-- A partner can take a station, or a connector it no longer lists, out of service on our
-- platform (the partner REST API's DELETE, or a station re-uploaded without some connectors).
-- The rows stay, because orders and settlement lines refer to them; `retired_at` (epoch
-- milliseconds, UTC) keeps them out of search and of the status hub. A later upload of the
-- same identifier brings the row back (the column is cleared).
ALTER TABLE stations ADD COLUMN retired_at BIGINT;
ALTER TABLE connectors ADD COLUMN retired_at BIGINT;

-- A charge record that does not add up is held for an admin: what its detail lines come to by
-- our arithmetic (the partner's figures stay in `partner_record`), and how the admin settled it.
ALTER TABLE order_bills ADD COLUMN detail_amounts TEXT;
ALTER TABLE order_bills ADD COLUMN resolution TEXT;

-- Statements read the payments of a period's orders by joining on the order.
CREATE INDEX payments_by_order ON payments (order_id);

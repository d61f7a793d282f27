-- Payments through a gateway: the page the user pays on, when the gateway settled the trade,
-- and the refund of a payment (by an admin, or automatically for a payment that arrived after
-- the order was paid or the payment was closed). Statuses added: `refunding` (the money must
-- go back; the gateway has not confirmed it yet) and `expired` (closed unpaid after a timeout).
ALTER TABLE payments ADD COLUMN pay_url TEXT;
ALTER TABLE payments ADD COLUMN settled_at BIGINT;
ALTER TABLE payments ADD COLUMN refund_ref TEXT;
ALTER TABLE payments ADD COLUMN refund_reason TEXT;
ALTER TABLE payments ADD COLUMN refunded_at BIGINT;
-- The expiry sweep and the refund retry look payments up by status and age.
CREATE INDEX payments_status ON payments (status, created_at);

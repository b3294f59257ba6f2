-- Each webhook subscription is drained on its own: a claim takes a few due deliveries of every
-- subscription (never more in flight than its share), so that a receiver that fails or never
-- answers delays only its own. Its circuit: failed deliveries in a row, and until when its
-- deliveries wait before one of them probes the receiver again (by the drainer's clock).
ALTER TABLE webhooks ADD COLUMN failures integer NOT NULL DEFAULT 0;
ALTER TABLE webhooks ADD COLUMN paused_until timestamptz;

-- A subscription's due deliveries, oldest first; and those some drainer holds, to count them.
CREATE INDEX outbox_webhook_due ON outbox (webhook_id, next_attempt_at, id)
    WHERE status = 'pending' AND kind = 'webhook';
CREATE INDEX outbox_webhook_leased ON outbox (webhook_id)
    WHERE lease_until IS NOT NULL AND status = 'pending' AND kind = 'webhook';

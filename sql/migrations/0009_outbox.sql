-- One durable outbox for everything that leaves optout: forwards to staff, the gateway's
-- copies, confirmation mails and webhook deliveries. A row is written in the transaction of
-- the change that causes it; drainers claim due rows with FOR UPDATE SKIP LOCKED under a
-- lease, send, and record the outcome (a sent row is deleted, a failed one is retried with
-- backoff or given up as `dead`, for staff to see).

-- Webhook subscriptions. The secret signs deliveries (Standard Webhooks); it must be kept to
-- be used, so it is stored as the receiver holds it.
CREATE TABLE webhooks (
    id          uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
    url         text        NOT NULL,
    events      text[]      NOT NULL,
    secret      text        NOT NULL,
    created_by  text        NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);

-- The message body of a gateway message, stored once for all its recipients' copies.
CREATE TABLE outbox_bodies (
    id          bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    created_at  timestamptz NOT NULL DEFAULT now(),
    message     bytea       NOT NULL
);

CREATE TABLE outbox (
    id              bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    kind            text        NOT NULL CHECK (kind IN ('forward', 'gateway', 'confirmation', 'webhook')),
    status          text        NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'dead')),
    created_at      timestamptz NOT NULL DEFAULT now(),
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    attempts        integer     NOT NULL DEFAULT 0,
    lease_token     uuid,
    lease_until     timestamptz,
    last_error      text,
    dead_at         timestamptz,
    -- Whom the row is about: rechecked against the list at send time (mail kinds), the
    -- order key of webhook deliveries, and what erasure removes.
    address         text,
    scope           text,
    -- Mail kinds: the envelope, and the message (whole, or a shared body plus the
    -- recipient's own headers made at send time).
    sender          text,
    recipient       text,
    message         bytea,
    body_id         bigint      REFERENCES outbox_bodies (id),
    inbound_id      uuid        REFERENCES inbound_messages (id) ON DELETE CASCADE,
    -- Webhook deliveries: the subscription and the event (the same id on every retry).
    webhook_id      uuid        REFERENCES webhooks (id) ON DELETE CASCADE,
    event_id        bigint,
    CHECK (kind <> 'webhook' OR (webhook_id IS NOT NULL AND event_id IS NOT NULL)),
    CHECK (kind <> 'gateway' OR (recipient IS NOT NULL AND (body_id IS NOT NULL OR message IS NOT NULL))),
    CHECK (kind <> 'forward' OR inbound_id IS NOT NULL)
);
-- The claim walks the due rows, oldest first.
CREATE INDEX outbox_due ON outbox (next_attempt_at, id) WHERE status = 'pending';
-- Per subscription and address ('' for an event about no one), a delivery waits for an
-- earlier one that is still pending.
CREATE INDEX outbox_webhook_order ON outbox (webhook_id, (coalesce(address, '')), id)
    WHERE status = 'pending' AND kind = 'webhook';
CREATE INDEX outbox_by_address ON outbox (address) WHERE address IS NOT NULL;
CREATE INDEX outbox_by_body ON outbox (body_id) WHERE body_id IS NOT NULL;
CREATE INDEX outbox_dead ON outbox (dead_at) WHERE status = 'dead';

-- The gateway's queued copies move over as the whole copies they are (their own unsubscribe
-- headers already in them). Their scope was not kept: at send time they are checked in
-- `global`, which any suppression of the recipient blocks.
INSERT INTO outbox (kind, created_at, next_attempt_at, attempts, last_error, address, sender, recipient, message)
SELECT 'gateway', created_at, next_attempt_at, attempts, last_error, lower(trim(recipient)), sender, recipient, message
  FROM gateway_outbox;
DROP TABLE gateway_outbox;

-- Forwards that were waiting on the inbound queue move over too; the inbound queue no longer
-- claims messages whose forward is pending.
INSERT INTO outbox (kind, next_attempt_at, attempts, inbound_id)
SELECT 'forward', next_attempt_at, forward_attempts, id FROM inbound_messages WHERE forward_pending;

-- Every event names who caused it, and is read in commit order by the feed: `tx` is the
-- writing transaction's id. Rows written before this migration have none and come first.
-- Neither column rewrites the table (no default on ADD, the default set afterwards).
ALTER TABLE events ADD COLUMN actor text;
ALTER TABLE events ADD COLUMN tx xid8;
ALTER TABLE events ALTER COLUMN tx SET DEFAULT pg_current_xact_id();
CREATE INDEX events_feed ON events (tx, id) WHERE tx IS NOT NULL;
CREATE INDEX events_before_feed ON events (id) WHERE tx IS NULL;

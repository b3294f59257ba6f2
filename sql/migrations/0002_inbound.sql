-- Inbound mail to info@cetit.be: every message kept as received, a durable work queue
-- over it, and the soft bounces that suppress once there are enough of them.

-- One row per message, whatever route it came by (LMTP, SMTP, HTTP). The raw bytes are
-- kept unchanged: they are the evidence for what the worker decided.
CREATE TABLE inbound_messages (
    id              uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
    received_at     timestamptz NOT NULL DEFAULT now(),
    via             text        NOT NULL CHECK (via IN ('smtp', 'lmtp', 'http')),
    mail_from       text,
    rcpt_to         text[]      NOT NULL DEFAULT '{}',
    raw             bytea       NOT NULL,
    size            integer     NOT NULL,
    -- "mid:<Message-ID>" or, without one, "sha256:<hex of the bytes>": a second delivery
    -- of the same message is recognised and not processed twice.
    dedup_key       text        NOT NULL UNIQUE,
    status          text        NOT NULL DEFAULT 'queued'
                    CHECK (status IN ('queued', 'processed', 'forwarded', 'held', 'failed')),
    classification  text        CHECK (classification IN ('unsubscribe', 'bounce', 'complaint', 'auto_reply', 'human')),
    kind            text,
    addresses       text[]      NOT NULL DEFAULT '{}',
    actions         jsonb       NOT NULL DEFAULT '[]'::jsonb,
    sender          text,
    subject         text,
    error           text,
    -- The queue: a worker leases a row until lease_until; a worker that dies leaves it to
    -- be claimed again once the lease runs out. attempts counts leases of the current step.
    attempts        integer     NOT NULL DEFAULT 0,
    lease_token     uuid,
    lease_until     timestamptz,
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    -- Forwarding to staff, after classification, retried with backoff.
    forward_pending boolean     NOT NULL DEFAULT false,
    forward_attempts integer    NOT NULL DEFAULT 0,
    processed_at    timestamptz
);
-- The claim query walks only the rows still to do, oldest first.
CREATE INDEX inbound_messages_queue ON inbound_messages (next_attempt_at) WHERE status = 'queued';
CREATE INDEX inbound_messages_held ON inbound_messages (received_at) WHERE status IN ('held', 'failed');
CREATE INDEX inbound_messages_sender ON inbound_messages (sender) WHERE sender IS NOT NULL;
CREATE INDEX inbound_messages_addresses ON inbound_messages USING gin (addresses);

-- Each soft bounce of an address, to count them within OPTOUT_SOFT_BOUNCE_DAYS.
CREATE TABLE soft_bounces (
    id          bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    address     text        NOT NULL,
    at          timestamptz NOT NULL DEFAULT now(),
    message_id  uuid        REFERENCES inbound_messages (id) ON DELETE SET NULL,
    status      text,
    UNIQUE (address, message_id)
);
CREATE INDEX soft_bounces_by_address ON soft_bounces (address, at);

-- Copies the sending gateway accepted but the relay did not take yet: kept until it does.
CREATE TABLE gateway_outbox (
    id              bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    created_at      timestamptz NOT NULL DEFAULT now(),
    sender          text        NOT NULL,
    recipient       text        NOT NULL,
    message         bytea       NOT NULL,
    attempts        integer     NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    last_error      text
);
CREATE INDEX gateway_outbox_due ON gateway_outbox (next_attempt_at);

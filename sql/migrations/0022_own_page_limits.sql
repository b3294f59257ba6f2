-- What is done through the own page's links, counted by keyed hash (of the person's recipient id,
-- or of the address for corrections) so that a link cannot be used without end: exports, actions
-- and corrections each have their own limit (CONTRACT: Self-service).
CREATE TABLE self_service_uses (
    key_hmac bytea       NOT NULL,
    kind     text        NOT NULL CHECK (kind IN ('export', 'action', 'correction')),
    at       timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX self_service_uses_by_key ON self_service_uses (key_hmac, kind, at);
-- What is older than the longest window (a day) is deleted as new uses are counted.
CREATE INDEX self_service_uses_by_time ON self_service_uses (at);

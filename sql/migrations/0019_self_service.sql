-- The person's own page (/me): links to it leave through the outbox as their own kind of mail;
-- requests for a link are counted per mailbox (3 a day) and per client (30 an hour), both by a
-- keyed hash, so that neither an address nor a client address is kept in clear; a correction
-- asked on the page keeps the person's words with the request.
ALTER TABLE outbox DROP CONSTRAINT outbox_kind_check;
ALTER TABLE outbox ADD CONSTRAINT outbox_kind_check
    CHECK (kind IN ('forward', 'gateway', 'confirmation', 'webhook', 'self_service'));

CREATE TABLE self_service_asks (
    mailbox_hmac bytea       NOT NULL,
    at           timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX self_service_asks_by_mailbox ON self_service_asks (mailbox_hmac, at);

CREATE TABLE self_service_clients (
    client_hmac bytea       NOT NULL,
    at          timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX self_service_clients_by_client ON self_service_clients (client_hmac, at);

ALTER TABLE privacy_requests ADD COLUMN text text;

-- What the person does on the page is recorded with source `self_service`.
ALTER TABLE suppressions DROP CONSTRAINT suppressions_source_check;
ALTER TABLE suppressions ADD CONSTRAINT suppressions_source_check
    CHECK (source IN ('one_click', 'link', 'reply', 'dsn', 'verp', 'arf', 'api', 'phone', 'import', 'gateway',
                      'self_service')) NOT VALID;
ALTER TABLE consents DROP CONSTRAINT consents_source_check;
ALTER TABLE consents ADD CONSTRAINT consents_source_check
    CHECK (source IN ('web_form', 'phone', 'event', 'import', 'api', 'self_service')) NOT VALID;

-- The suppression list, its history and the API keys.
-- Sized for tens of millions of addresses: every lookup the service does is an index lookup.

-- One row per (canonical address, scope). The primary key serves the check
-- (address = ANY($1)) and the lookups of one address; no second index is needed for them.
CREATE TABLE suppressions (
    address     text        NOT NULL,
    scope       text        NOT NULL CHECK (scope ~ '^[a-z0-9_-]{1,64}$'),
    reason      text        NOT NULL CHECK (reason IN ('unsubscribe', 'complaint', 'bounce', 'manual')),
    source      text        NOT NULL CHECK (source IN ('one_click', 'link', 'reply', 'dsn', 'arf', 'api',
                                                       'phone', 'import', 'gateway')),
    note        text,
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (address, scope),
    CHECK (reason NOT IN ('bounce', 'complaint') OR scope = 'global')
);
-- Paged listing and "since" filters walk this index; the cursor is (created_at, address, scope).
CREATE INDEX suppressions_created ON suppressions (created_at, address, scope);

-- Erased addresses stay suppressed in every scope by HMAC-SHA256(OPTOUT_HASH_KEY, address).
-- The key never reaches this database as data; the check matches both forms in one query.
CREATE TABLE erased_addresses (
    address_hmac bytea       PRIMARY KEY,
    reason       text        NOT NULL,
    erased_at    timestamptz NOT NULL DEFAULT now()
);

-- Append-only history. `address` is NULL for events that must not name one (an erasure).
CREATE TABLE events (
    id       bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at       timestamptz NOT NULL DEFAULT now(),
    address  text,
    type     text        NOT NULL,
    scope    text,
    reason   text,
    source   text,
    detail   jsonb       NOT NULL DEFAULT '{}'::jsonb
);
CREATE INDEX events_by_address ON events (address, id) WHERE address IS NOT NULL;
-- The staff console counts recent events by time: BRIN costs almost nothing per insert.
CREATE INDEX events_by_time ON events USING brin (at);

-- API keys are kept as SHA-256 of the key (the keys are 256-bit random, so no stretching is needed).
CREATE TABLE api_keys (
    id          bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name        text        NOT NULL,
    key_hash    bytea       NOT NULL UNIQUE,
    prefix      text        NOT NULL,
    scopes      text[]      NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    revoked_at  timestamptz
);

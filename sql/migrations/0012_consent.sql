-- Consent with proof, scopes with names, and privacy requests with a due date.

-- A registered scope: its labels in Dutch, English and French, and its consent rule.
-- An unregistered scope behaves as `none` and is labeled by its name.
CREATE TABLE scopes (
    scope      text        PRIMARY KEY CHECK (scope ~ '^[a-z0-9_-]{1,64}$'),
    labels     jsonb       NOT NULL DEFAULT '{}'::jsonb,
    consent    text        NOT NULL CHECK (consent IN ('required', 'soft_opt_in', 'none')),
    updated_at timestamptz NOT NULL DEFAULT now()
);

-- Who agreed to what, when and how (GDPR Art. 7(1)). One row per consent given; what the
-- person agreed to and how (text, version, language, source, IP, user agent, note) is written
-- once and never changed. The row's state moves pending -> given -> withdrawn (and back to
-- given when a resubscribe undoes the unsubscribe that withdrew it); every move is an event
-- in `events`, so the history is append-only there. A new consent after a withdrawal is a
-- new row. Erasure deletes the address's rows.
CREATE TABLE consents (
    id                   bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    address              text        NOT NULL,
    scope                text        NOT NULL CHECK (scope ~ '^[a-z0-9_-]{1,64}$'),
    status               text        NOT NULL CHECK (status IN ('pending', 'given', 'withdrawn')),
    source               text        NOT NULL CHECK (source IN ('web_form', 'phone', 'event', 'import', 'api')),
    text                 text        NOT NULL,
    text_version         text,
    language             text        NOT NULL CHECK (language IN ('nl', 'en', 'fr')),
    ip                   text,
    user_agent           text,
    note                 text,
    actor                text,
    created_at           timestamptz NOT NULL DEFAULT now(),
    given_at             timestamptz,
    confirmed_at         timestamptz,
    confirmed_ip         text,
    confirmed_user_agent text,
    withdrawn_at         timestamptz,
    -- What withdrew it: `unsubscribe:<scope>`, `complaint`, `objection`, `bounce`, ...
    withdrawn_by         text
);
CREATE INDEX consents_by_address ON consents (address, id);
-- The given consents of an address in a scope: what check_marks is kept from.
CREATE INDEX consents_given ON consents (address, scope) INCLUDE (confirmed_at) WHERE status = 'given';
-- At most 3 confirmation mails per address a day.
CREATE INDEX consents_pending_recent ON consents (address, created_at) WHERE confirmed_at IS NULL;

-- Privacy requests received by mail, due one month after arrival (GDPR Art. 12(3)).
-- Erasure clears the address and keeps the request: that it was asked and answered is the record.
CREATE TABLE privacy_requests (
    id          bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    kind        text        NOT NULL CHECK (kind IN ('access', 'correction', 'erasure', 'objection')),
    address     text,
    message_id  uuid        REFERENCES inbound_messages (id) ON DELETE SET NULL,
    received_at timestamptz NOT NULL,
    due         date        NOT NULL,
    status      text        NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'closed')),
    closed_at   timestamptz,
    closed_by   text,
    note        text,
    UNIQUE (message_id, kind)
);
CREATE INDEX privacy_requests_open ON privacy_requests (due, id) WHERE status = 'open';
CREATE INDEX privacy_requests_by_address ON privacy_requests (address) WHERE address IS NOT NULL;

ALTER TABLE inbound_messages DROP CONSTRAINT inbound_messages_classification_check;
ALTER TABLE inbound_messages ADD CONSTRAINT inbound_messages_classification_check
    CHECK (classification IN ('unsubscribe', 'bounce', 'complaint', 'auto_reply', 'human', 'privacy_request')) NOT VALID;

-- What the check reads: per address and scope, each suppression (mark = its reason, at = when)
-- and whether a consent is given (mark = 'consent', at = its newest confirmation, NULL when
-- none was confirmed). One index probe per checked address finds both, so a scope that needs
-- consent costs the check no second lookup. Kept by the triggers below from suppressions and
-- consents, which stay the record; every write to them, whatever its path, keeps it.
CREATE TABLE check_marks (
    address text        NOT NULL,
    scope   text        NOT NULL,
    mark    text        NOT NULL,
    at      timestamptz,
    PRIMARY KEY (address, scope, mark)
);
INSERT INTO check_marks (address, scope, mark, at) SELECT address, scope, reason, created_at FROM suppressions;
ANALYZE check_marks;

CREATE FUNCTION optout_marks_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO check_marks (address, scope, mark, at)
    SELECT address, scope, reason, created_at FROM inserted_rows
    ON CONFLICT (address, scope, mark) DO UPDATE SET at = EXCLUDED.at;
    RETURN NULL;
END
$$;
CREATE FUNCTION optout_marks_deleted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM check_marks m USING deleted_rows d
     WHERE m.address = d.address AND m.scope = d.scope AND m.mark = d.reason;
    RETURN NULL;
END
$$;
CREATE FUNCTION optout_marks_updated() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM check_marks m USING deleted_rows d
     WHERE m.address = d.address AND m.scope = d.scope AND m.mark = d.reason;
    INSERT INTO check_marks (address, scope, mark, at)
    SELECT address, scope, reason, created_at FROM inserted_rows
    ON CONFLICT (address, scope, mark) DO UPDATE SET at = EXCLUDED.at;
    RETURN NULL;
END
$$;
-- Statement-level, with the changed rows as a table: an import's COPY batch is one INSERT here.
CREATE TRIGGER suppressions_marks_inserted AFTER INSERT ON suppressions
    REFERENCING NEW TABLE AS inserted_rows FOR EACH STATEMENT EXECUTE FUNCTION optout_marks_inserted();
CREATE TRIGGER suppressions_marks_deleted AFTER DELETE ON suppressions
    REFERENCING OLD TABLE AS deleted_rows FOR EACH STATEMENT EXECUTE FUNCTION optout_marks_deleted();
CREATE TRIGGER suppressions_marks_updated AFTER UPDATE ON suppressions
    REFERENCING OLD TABLE AS deleted_rows NEW TABLE AS inserted_rows
    FOR EACH STATEMENT EXECUTE FUNCTION optout_marks_updated();
-- TRUNCATE fires no row or statement trigger of these: it empties the marks too.
CREATE FUNCTION optout_marks_truncated() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM check_marks WHERE mark <> 'consent';
    RETURN NULL;
END
$$;
CREATE TRIGGER suppressions_marks_truncated AFTER TRUNCATE ON suppressions
    FOR EACH STATEMENT EXECUTE FUNCTION optout_marks_truncated();

-- A consent's mark is worked out again for its address and scope whenever one changes.
CREATE FUNCTION optout_consent_mark(the_address text, the_scope text) RETURNS void LANGUAGE sql AS $$
    DELETE FROM check_marks WHERE address = the_address AND scope = the_scope AND mark = 'consent';
    INSERT INTO check_marks (address, scope, mark, at)
    SELECT the_address, the_scope, 'consent', max(confirmed_at) FROM consents
     WHERE address = the_address AND scope = the_scope AND status = 'given'
    HAVING count(*) > 0
    ON CONFLICT (address, scope, mark) DO UPDATE SET at = EXCLUDED.at;  -- another transaction's, just committed
$$;
CREATE FUNCTION optout_consent_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        PERFORM optout_consent_mark(OLD.address, OLD.scope);
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') AND (TG_OP = 'INSERT' OR (NEW.address, NEW.scope) <> (OLD.address, OLD.scope)) THEN
        PERFORM optout_consent_mark(NEW.address, NEW.scope);
    END IF;
    RETURN NULL;
END
$$;
CREATE TRIGGER consents_marks AFTER INSERT OR UPDATE OR DELETE ON consents
    FOR EACH ROW EXECUTE FUNCTION optout_consent_changed();
CREATE FUNCTION optout_consent_marks_truncated() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM check_marks WHERE mark = 'consent';
    RETURN NULL;
END
$$;
CREATE TRIGGER consents_marks_truncated AFTER TRUNCATE ON consents
    FOR EACH STATEMENT EXECUTE FUNCTION optout_consent_marks_truncated();

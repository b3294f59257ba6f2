-- An import's rows are audited as a set: one `imports` row per importing transaction, and on each
-- suppression it wrote, that transaction and an id taken from the events' own sequence, instead
-- of one `events` row per suppression. A million-row list cost a million events and their
-- index on the address, a third of the import's time. The view `history` reads the two as one:
-- every event, and a 'suppressed' event for each imported row still on the list, with the same
-- id, transaction and order as a row of `events` would have had. When an imported row leaves the
-- list (a lift; an erasure deletes the address's events right after), its event is written into
-- `events` with that id first, so the history keeps it.
CREATE TABLE imports (
    tx    xid8        PRIMARY KEY,  -- the importing transaction
    actor text,                     -- the API or staff key's name, or cli
    at    timestamptz NOT NULL DEFAULT now()
);

ALTER TABLE suppressions ADD COLUMN import_tx xid8, ADD COLUMN event_id bigint;
-- The feed walks an import's rows in (transaction, id) order, as it walks events_feed.
CREATE INDEX suppressions_imported ON suppressions (import_tx, event_id) WHERE import_tx IS NOT NULL;

CREATE VIEW history AS
SELECT id, tx, at, address, type, scope, reason, source, detail, actor FROM events
UNION ALL
SELECT s.event_id, s.import_tx, i.at, s.address, 'suppressed', s.scope, s.reason, s.source, '{}'::jsonb, i.actor
  FROM suppressions s JOIN imports i ON i.tx = s.import_tx
 WHERE s.import_tx IS NOT NULL;

CREATE FUNCTION optout_imported_rows_deleted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO events (id, tx, at, address, type, scope, reason, source, actor)
    OVERRIDING SYSTEM VALUE
    SELECT d.event_id, d.import_tx, i.at, d.address, 'suppressed', d.scope, d.reason, d.source, i.actor
      FROM deleted_rows d JOIN imports i ON i.tx = d.import_tx
     WHERE d.import_tx IS NOT NULL;
    RETURN NULL;
END
$$;
CREATE TRIGGER suppressions_imported_deleted AFTER DELETE ON suppressions
    REFERENCING OLD TABLE AS deleted_rows FOR EACH STATEMENT EXECUTE FUNCTION optout_imported_rows_deleted();

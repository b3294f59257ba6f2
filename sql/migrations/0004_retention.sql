-- Retention of raw inbound messages (OPTOUT_RETENTION_DAYS): the privacy statement promises
-- that mail is kept only as long as it is needed. Once a message has been processed (or
-- forwarded) and the retention period has passed, the worker clears its raw bytes; the row
-- stays, with what was decided (classification, addresses, actions), as the record of it.

-- Dropping NOT NULL and adding a column without a default change only the catalog: no
-- rewrite of the table, the lock is held for an instant.
ALTER TABLE inbound_messages ALTER COLUMN raw DROP NOT NULL;
ALTER TABLE inbound_messages ADD COLUMN raw_deleted_at timestamptz;

-- Raw bytes never go missing silently: only retention (which records when) may clear them.
-- NOT VALID skips a scan of the existing rows, which all still have their raw bytes; the
-- constraint holds for every row written from now on.
ALTER TABLE inbound_messages
    ADD CONSTRAINT inbound_messages_raw_kept_or_deleted
    CHECK (raw IS NOT NULL OR raw_deleted_at IS NOT NULL) NOT VALID;

-- The retention query walks only the rows that still hold raw bytes and are done with,
-- oldest first; rows already cleared, held, failed or queued are not in the index.
CREATE INDEX inbound_messages_raw_expiry ON inbound_messages (processed_at)
    WHERE raw IS NOT NULL AND status IN ('processed', 'forwarded');

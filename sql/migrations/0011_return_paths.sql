-- Return paths (VERP): every recipient of marketing mail is sent with its own envelope
-- sender, bounces+TOKEN@..., whose token names a recipient id and carries a MAC. The id is
-- a number of the address's row among the addresses CETIT knows: erasure deletes that row,
-- and with it what the id meant. Rows known before this migration get their id when a
-- return path is first made for them. No default on ADD COLUMN: the table is not rewritten.
CREATE SEQUENCE known_addresses_recipient_id_seq;
ALTER TABLE known_addresses ADD COLUMN recipient_id bigint;
ALTER TABLE known_addresses ALTER COLUMN recipient_id SET DEFAULT nextval('known_addresses_recipient_id_seq');
ALTER SEQUENCE known_addresses_recipient_id_seq OWNED BY known_addresses.recipient_id;
CREATE UNIQUE INDEX known_addresses_by_recipient_id ON known_addresses (recipient_id);

-- A bounce that reached a return path suppresses with source `verp`. NOT VALID: the rows
-- there are within the old list already; no scan of the table.
ALTER TABLE suppressions DROP CONSTRAINT suppressions_source_check;
ALTER TABLE suppressions ADD CONSTRAINT suppressions_source_check
    CHECK (source IN ('one_click', 'link', 'reply', 'dsn', 'verp', 'arf', 'api', 'phone', 'import', 'gateway')) NOT VALID;

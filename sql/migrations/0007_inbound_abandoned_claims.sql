-- The inbound queue tells a message that failed from a worker that died holding it.
-- A worker killed with its batch in hand (kill -9, a lost machine) is not the fault of the
-- messages it held: they are taken again once the short lease runs out, and that does not
-- count as one of their tries. Only a failure the worker records (classification raised,
-- timed out, or killed its classifying process) counts in `attempts`. A message that
-- workers keep dying on is still given up, after many more of those, in `abandoned`.

-- A column with a constant default changes only the catalog: no rewrite of the table.
ALTER TABLE inbound_messages ADD COLUMN abandoned integer NOT NULL DEFAULT 0;

COMMENT ON COLUMN inbound_messages.attempts IS
    'failures recorded by a worker in the current step (classification, acting on it); reset when the step is done';
COMMENT ON COLUMN inbound_messages.abandoned IS
    'claims of the current step whose lease ran out without the worker releasing it (it died or lost the database)';

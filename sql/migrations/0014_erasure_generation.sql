-- The generation of the erased addresses: every statement that changes erased_addresses moves
-- it. A process may keep the erased HMACs in memory and test a big check against them; the
-- check reads the generation in the same statement as its marks, so the same snapshot, and
-- uses the set in memory only when it was read at exactly that generation. An erasure is
-- therefore blocked by the first check whose snapshot sees it, in every process.
--
-- `changes` counts the changes; `token` is new and random with each one, so two generations
-- are equal only when they are the same committed change: not after a rolled-back one, not
-- after a failover that lost commits, not in a copy of the database that went its own way.
-- Erasures wait for one another on this row, for their commits only (the erasure writes
-- erased_addresses last). Writing erased_addresses with its triggers disabled (a data-only
-- restore without them, session_replication_role = replica) leaves the generation behind:
-- restart the service after such a load.
CREATE TABLE erasure_generation (
    only_row boolean PRIMARY KEY DEFAULT true CHECK (only_row),
    changes  bigint  NOT NULL DEFAULT 0,
    token    uuid    NOT NULL DEFAULT gen_random_uuid()
);
INSERT INTO erasure_generation DEFAULT VALUES;

CREATE FUNCTION optout_erasures_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE erasure_generation SET changes = changes + 1, token = gen_random_uuid();
    RETURN NULL;
END
$$;

CREATE TRIGGER erased_addresses_changed
    AFTER INSERT OR UPDATE OR DELETE ON erased_addresses
    FOR EACH STATEMENT EXECUTE FUNCTION optout_erasures_changed();
CREATE TRIGGER erased_addresses_truncated
    AFTER TRUNCATE ON erased_addresses
    FOR EACH STATEMENT EXECUTE FUNCTION optout_erasures_changed();

-- The generation of the erased addresses: every statement that changes erased_addresses moves
-- it. A process may keep the erased HMACs in memory and test a big check against them; the
-- check reads the generation in the same statement as its marks, so the same snapshot, and
-- uses the set in memory only when it was read at exactly that generation. An erasure is
-- therefore blocked by the first check whose snapshot sees it, in every process.
--
-- The epoch is new with every database this migration runs in: a process that moved from one
-- database to another (a restored copy, a test's fresh schema) cannot take a set for another's.
CREATE TABLE erasure_generation (
    only_row   boolean PRIMARY KEY DEFAULT true CHECK (only_row),
    epoch      uuid    NOT NULL DEFAULT gen_random_uuid(),
    generation bigint  NOT NULL DEFAULT 0
);
INSERT INTO erasure_generation DEFAULT VALUES;

CREATE FUNCTION optout_erasures_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE erasure_generation SET generation = generation + 1;
    RETURN NULL;
END
$$;

CREATE TRIGGER erased_addresses_changed
    AFTER INSERT OR UPDATE OR DELETE ON erased_addresses
    FOR EACH STATEMENT EXECUTE FUNCTION optout_erasures_changed();
CREATE TRIGGER erased_addresses_truncated
    AFTER TRUNCATE ON erased_addresses
    FOR EACH STATEMENT EXECUTE FUNCTION optout_erasures_changed();

-- A new suppression's mark is inserted plainly, without ON CONFLICT: (address, scope) is new
-- in suppressions (its key), so (address, scope, reason) cannot be in check_marks, which only
-- these triggers write, in the same transactions. The speculative insertion that ON CONFLICT
-- costs was a sixth of an import's time per row.
CREATE OR REPLACE FUNCTION optout_marks_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO check_marks (address, scope, mark, at)
    SELECT address, scope, reason, created_at FROM inserted_rows;
    RETURN NULL;
END
$$;

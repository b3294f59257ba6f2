-- An erasure and a suppression of the same address written at the same moment must not
-- leave the address in clear: the suppression's statement may have started (and taken its
-- snapshot, which does not see the erasure) before the erasure committed.
--
-- Both take an advisory lock on the address's text hash within their transaction: the
-- erasure an exclusive one before it reads anything, a suppression a shared one. A
-- suppression that came first commits before the erasure goes on, and is erased with the
-- rest; one that comes later waits until the erasure has committed and then, through this
-- VOLATILE function (each of its queries takes a fresh snapshot), finds the address
-- erased and writes nothing.
CREATE FUNCTION optout_erasure_of(address text, address_hmac bytea)
RETURNS TABLE (reason text, erased_at timestamptz)
LANGUAGE plpgsql VOLATILE AS $$
BEGIN
    PERFORM pg_advisory_xact_lock_shared(hashtextextended(address, 0));
    RETURN QUERY SELECT e.reason, e.erased_at FROM erased_addresses e WHERE e.address_hmac = optout_erasure_of.address_hmac;
END
$$;

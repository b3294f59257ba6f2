-- Addresses CETIT knows: a link or a return path was issued for them. Inbound mail from
-- strangers (a bounce, a complaint report, an address named in someone's words) acts only
-- on known addresses, so that spoofed mail cannot suppress people CETIT never mailed.
-- An address with a suppression or an event is known too; those are read from their own
-- tables, and this one is seeded with them once so that the record is complete from now on.
CREATE TABLE known_addresses (
    address  text        PRIMARY KEY,
    source   text        NOT NULL,  -- what first made it known: link, gateway, suppression, event, ...
    first_at timestamptz NOT NULL DEFAULT now()
);

INSERT INTO known_addresses (address, source)
SELECT DISTINCT address, 'suppression' FROM suppressions
ON CONFLICT (address) DO NOTHING;

INSERT INTO known_addresses (address, source)
SELECT DISTINCT address, 'event' FROM events WHERE address IS NOT NULL
ON CONFLICT (address) DO NOTHING;

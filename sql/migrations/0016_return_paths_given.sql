-- When an address was first given a return path (bounces+TOKEN@). From then on a bounce about
-- it counts only when it comes back through that return path: a report sent to info@, or to
-- another recipient's return path, about such an address is recorded and suppresses no one,
-- so that a stranger's forged reports cannot empty the list (CONTRACT: Inbound mail, evidence).
ALTER TABLE known_addresses ADD COLUMN return_path_at timestamptz;

-- Since 0011 every address numbered for a link or a gateway copy was given a return path with it.
-- One first known by a consent (numbered then, by the column's default) is marked when it is
-- next given a link.
UPDATE known_addresses SET return_path_at = first_at WHERE recipient_id IS NOT NULL AND source <> 'consent';

-- Confirmation mails are limited per mailbox, not per address: `jan+1@` and `jan+2@` reach the
-- one mailbox of `jan@`. A consent keeps the mailbox of its address (service.domain.addresses
-- .mailbox_of: the canonical address without the `+tag` of its local part), written with it;
-- the rows already there get it by the same rule here.
ALTER TABLE consents ADD COLUMN mailbox text;
UPDATE consents SET mailbox = regexp_replace(address, '^([^+@]*)\+[^@]*@', '\1@');
ALTER TABLE consents ALTER COLUMN mailbox SET NOT NULL;
-- The confirmation mails asked for a mailbox in the last day: every consent of the mailbox
-- since then is a candidate, so the index holds them all, not only the unconfirmed ones.
CREATE INDEX consents_by_mailbox ON consents (mailbox, created_at);
DROP INDEX consents_pending_recent;

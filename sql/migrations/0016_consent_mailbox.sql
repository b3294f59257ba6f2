-- Confirmation mails are limited per mailbox, not per address: `jan+1@` and `jan+2@` reach the
-- one mailbox of `jan@`, as `jan.peeters@gmail.com` and `janpeeters@googlemail.com` reach one
-- Gmail mailbox. A consent keeps the mailbox of its address (service.domain.addresses
-- .mailbox_of: the canonical address without the `+tag` of its local part; at gmail.com and
-- googlemail.com without its dots too, under gmail.com), written with it; the rows already
-- there get it by the same rule here. A canonical address has one @ (no quoted local part).
ALTER TABLE consents ADD COLUMN mailbox text;
-- The confirmation mails asked for a mailbox in the last day: every consent of the mailbox
-- since then is a candidate, so consents_by_mailbox (below) holds them all, and this index of
-- the unconfirmed ones goes (before the rewrite, which would build it again for nothing).
DROP INDEX consents_pending_recent;
-- The backfill is a rewrite of the table (a change of type with USING may read other columns;
-- here the type stays text), not an UPDATE. The table is locked (ACCESS EXCLUSIVE) from the
-- ADD COLUMN to the commit, and every suppression write waits for it (it withdraws consents):
-- an UPDATE fired the row trigger consents_marks for each consent, each a delete and an insert
-- in check_marks (20 s on 200,000 consents), and left a dead version of every row behind.
-- A rewrite fires no row trigger and builds each index once (1 s). The marks do not read the
-- mailbox (only address, scope, status and confirmed_at), so they stay as they are.
ALTER TABLE consents
    ALTER COLUMN mailbox TYPE text USING
        CASE WHEN split_part(address, '@', 2) IN ('gmail.com', 'googlemail.com')
             THEN replace(split_part(split_part(address, '@', 1), '+', 1), '.', '') || '@gmail.com'
             ELSE split_part(split_part(address, '@', 1), '+', 1) || '@' || split_part(address, '@', 2)
        END,
    ALTER COLUMN mailbox SET NOT NULL;
CREATE INDEX consents_by_mailbox ON consents (mailbox, created_at);

-- A request on /me queues the same row for every address: the address and the language asked in.
-- Whether a mail leaves, and the mail itself, are made when the row is sent (mail/outbox.py), so
-- that the request does the same work whether the address is known or not.
ALTER TABLE outbox ADD COLUMN language text;
ALTER TABLE outbox ADD CONSTRAINT outbox_self_service_has_a_message_or_a_language
    CHECK (kind <> 'self_service' OR message IS NOT NULL OR (address IS NOT NULL AND language IS NOT NULL));

-- Which addresses each inbound message mentions, for GDPR access and erasure: the canonical
-- form of every address found in the decoded message (headers, encoded words, base64 and
-- quoted-printable parts, HTML), as HMAC-SHA256 under OPTOUT_HASH_KEY, like erased_addresses.
-- The raw bytes cannot be searched for a person reliably (another case, an encoded body);
-- this index names no one in clear, so it may outlive the raw bytes' retention.
--
-- A row also marks its message as read: messages without one (those stored before this
-- migration, and new mail since the last access or erasure) are read when the index is
-- next needed, by the code that holds the key. No foreign key: the row goes with its
-- message when erasure deletes both, and stays out of the way of TRUNCATE and of the
-- receiver's insert.
CREATE TABLE message_mentions (
    message_id uuid    PRIMARY KEY,
    mentions   bytea[] NOT NULL
);
-- "Which messages mention this hash": mentions @> ARRAY[$1].
CREATE INDEX message_mentions_by_mention ON message_mentions USING gin (mentions);

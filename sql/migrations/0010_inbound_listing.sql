-- GET /v1/inbound lists stored messages newest first, a keyset page at a time: the cursor is
-- (received_at, id), walked through this index. Built inside the migration: inbound_messages
-- holds what arrived within the retention period and its records, small next to events.
CREATE INDEX inbound_messages_listing ON inbound_messages (received_at DESC, id DESC);

"""Two CTEs that every statement writing events embeds: the events, and one webhook delivery per
subscription to each one's public type, so a change, its events and their deliveries commit as one."""

from __future__ import annotations

# The columns of `events` that an event's rows give, in this order; the others keep their
# defaults (id, at, and tx: the writing transaction, which the feed reads).
EVENT_COLUMNS = "address, type, scope, reason, source, detail, actor"


def recorded_and_delivered(recorded: str, delivered: str, rows: str, published_as: str,
                           about: str = "r.address") -> str:
    """The CTE pair `<recorded> AS (...), <delivered> AS (...)`, to follow a WITH or a comma.

    `rows` is the SELECT (or VALUES) that yields the events, one column per EVENT_COLUMNS;
    `<recorded>` returns their id, address and type. `<delivered>` queues, for each event `r`,
    one 'webhook' delivery per subscription whose events name `published_as`: its public type,
    an expression that may read `r` (NULL: not published). `about` is the address a delivery
    is about, `r.address` unless the caller names another. The statements that embed it build
    it once, at import, so their SQL text stays the same and PostgreSQL can keep their plans."""
    return f"""{recorded} AS (
    INSERT INTO events ({EVENT_COLUMNS})
    {rows.strip()}
    RETURNING id, address, type
), {delivered} AS (
    INSERT INTO outbox (kind, webhook_id, event_id, address)
    SELECT 'webhook', w.id, r.id, {about} FROM {recorded} r
      JOIN webhooks w ON {published_as} = ANY (w.events)
)"""

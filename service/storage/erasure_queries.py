"""The SQL of GDPR access and erasure: the index of what each message mentions (keyed hashes),
the messages and queued copies about an address, and their deletion."""

from __future__ import annotations

import uuid
from typing import Sequence

import asyncpg

# Messages whose mentions were not recorded yet: one anti-join over the primary key of
# message_mentions, then the rows are read by id in batches. No row is locked: two
# readers at once at most read one message twice, and the second record is dropped.
UNINDEXED_MESSAGE_IDS = """
SELECT m.id FROM inbound_messages m
 WHERE NOT EXISTS (SELECT 1 FROM message_mentions mm WHERE mm.message_id = m.id)
 ORDER BY m.received_at
"""

MESSAGES_TO_INDEX = """
SELECT m.id, CASE WHEN m.size <= $2 THEN m.raw END AS raw, m.raw IS NOT NULL AS has_raw,
       m.mail_from, m.rcpt_to, m.sender, m.subject, m.addresses, m.actions
  FROM inbound_messages m
 WHERE m.id = ANY($1::uuid[])
"""


async def unindexed_message_ids(conn: asyncpg.Connection) -> list[uuid.UUID]:
    return [r["id"] for r in await conn.fetch(UNINDEXED_MESSAGE_IDS)]


async def messages_to_index(
    conn: asyncpg.Connection, ids: Sequence[uuid.UUID], raw_inline_limit: int
) -> list[asyncpg.Record]:
    """These messages with what they hold; raw bytes above `raw_inline_limit` are left out
    (fetch them with message_raw), so a batch stays small in memory."""
    return await conn.fetch(MESSAGES_TO_INDEX, list(ids), raw_inline_limit)


async def message_raw(conn: asyncpg.Connection, message_id: uuid.UUID) -> bytes | None:
    return await conn.fetchval("SELECT raw FROM inbound_messages WHERE id = $1", message_id)


# One statement for a batch: (id, hash) pairs flattened, a message mentioning nothing as
# (id, NULL), so that it is marked as read too.
RECORD_MENTIONS = """
INSERT INTO message_mentions (message_id, mentions)
SELECT id, coalesce(array_agg(mention ORDER BY mention) FILTER (WHERE mention IS NOT NULL), '{}')
  FROM unnest($1::uuid[], $2::bytea[]) AS u(id, mention)
 GROUP BY id
ON CONFLICT (message_id) DO NOTHING
"""


async def record_mentions(conn: asyncpg.Connection, mentions: Sequence[tuple[uuid.UUID, list[bytes]]]) -> None:
    ids, hashes = [], []
    for message_id, found in mentions:
        for mention in found or [None]:
            ids.append(message_id)
            hashes.append(mention)
    await conn.execute(RECORD_MENTIONS, ids, hashes)


async def message_ids_mentioning(conn: asyncpg.Connection, mention: bytes) -> list[uuid.UUID]:
    """The messages whose recorded mentions hold `mention` (the GIN index answers @>)."""
    rows = await conn.fetch(
        """SELECT mm.message_id FROM message_mentions mm
             JOIN inbound_messages m ON m.id = mm.message_id
            WHERE mm.mentions @> ARRAY[$1::bytea]""",
        mention,
    )
    return [r["message_id"] for r in rows]


async def messages_listed(conn: asyncpg.Connection, ids: Sequence[uuid.UUID]) -> list[asyncpg.Record]:
    """What GDPR access shows of each message, oldest first."""
    return await conn.fetch(
        """SELECT id::text AS id, to_json(received_at) #>> '{}' AS received_at, status, classification, subject
             FROM inbound_messages WHERE id = ANY($1::uuid[]) ORDER BY received_at""",
        list(ids),
    )


DELETE_MESSAGES = """
WITH unlisted AS (
    DELETE FROM message_mentions WHERE message_id = ANY($1::uuid[])
)
DELETE FROM inbound_messages WHERE id = ANY($1::uuid[])
"""


async def delete_messages(conn: asyncpg.Connection, ids: Sequence[uuid.UUID], address: str) -> int:
    """Delete these messages with their entries in the index, and the address's soft-bounce
    count; return how many messages."""
    await conn.execute("DELETE FROM soft_bounces WHERE address = $1", address)
    result = await conn.execute(DELETE_MESSAGES, list(ids))
    return int(result.split()[-1])

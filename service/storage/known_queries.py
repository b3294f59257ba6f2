"""Which addresses CETIT knows: a link or return path was issued for them, or they have a
suppression or an event. Inbound mail acts on others' addresses only when known."""

from __future__ import annotations

from typing import Sequence

import asyncpg

# An erased address is never written in clear again (matched by its HMAC from the key pads
# $3/$4, as the check does; the gate costs nothing while nobody was erased).
REMEMBER_ADDRESSES = """
INSERT INTO known_addresses (address, source)
SELECT DISTINCT u.a, $2::text FROM unnest($1::text[]) AS u(a)
 WHERE NOT (EXISTS (SELECT 1 FROM erased_addresses) AND EXISTS (
       SELECT 1 FROM erased_addresses e
        WHERE e.address_hmac = sha256($4::bytea || sha256($3::bytea || convert_to(u.a, 'UTF8')))))
ON CONFLICT (address) DO NOTHING
"""

# Suppressions and events made after the seeding migration are read from their own tables:
# no write on every suppression is needed to keep this record complete. One index probe per
# address and table, however many events an address has.
KNOWN_AMONG = """
SELECT u.a AS address, k.recipient_id
  FROM unnest($1::text[]) AS u(a)
  LEFT JOIN known_addresses k ON k.address = u.a
 WHERE k.address IS NOT NULL
    OR EXISTS (SELECT 1 FROM suppressions s WHERE s.address = u.a)
    OR EXISTS (SELECT 1 FROM events e WHERE e.address = u.a)
"""


async def remember_addresses(
    conn: asyncpg.Connection, addresses: Sequence[str], source: str, pads: tuple[bytes, bytes]
) -> None:
    """Record canonical addresses as known (a link or return path was issued), in one statement;
    erased ones are left out."""
    if addresses:
        await conn.execute(REMEMBER_ADDRESSES, list(addresses), source, pads[0], pads[1])


async def known_among(conn: asyncpg.Connection, addresses: Sequence[str]) -> set[str]:
    """The canonical addresses among `addresses` that CETIT knows."""
    return set(await recipients_among(conn, addresses))


async def recipients_among(conn: asyncpg.Connection, addresses: Sequence[str]) -> dict[str, int | None]:
    """The canonical addresses among `addresses` that CETIT knows, each with its recipient id:
    None for one never given a return path; one statement."""
    if not addresses:
        return {}
    return {r["address"]: r["recipient_id"] for r in await conn.fetch(KNOWN_AMONG, list(dict.fromkeys(addresses)))}


async def forget_address(conn: asyncpg.Connection, address: str) -> None:
    """Erasure: the address is no longer recorded in clear here."""
    await conn.execute("DELETE FROM known_addresses WHERE address = $1", address)


# Addresses known before 0011 have no recipient id yet: it is given when first needed.
NUMBER_RECIPIENTS = """
UPDATE known_addresses SET recipient_id = nextval('known_addresses_recipient_id_seq')
 WHERE address = ANY($1::text[]) AND recipient_id IS NULL
"""


async def recipient_ids(conn: asyncpg.Connection, addresses: Sequence[str], source: str,
                        pads: tuple[bytes, bytes]) -> dict[str, int]:
    """Record the canonical addresses as known and return each one's recipient id (an erased
    address gets none, and is not written)."""
    if not addresses:
        return {}
    await remember_addresses(conn, addresses, source, pads)
    await conn.execute(NUMBER_RECIPIENTS, list(addresses))
    rows = await conn.fetch("SELECT address, recipient_id FROM known_addresses WHERE address = ANY($1::text[])",
                            list(addresses))
    return {r["address"]: r["recipient_id"] for r in rows}


async def address_of_recipient(conn: asyncpg.Connection, recipient_id: int) -> str | None:
    return await conn.fetchval("SELECT address FROM known_addresses WHERE recipient_id = $1", recipient_id)


async def ids_of(conn: asyncpg.Connection, addresses: Sequence[str]) -> dict[str, int]:
    """The recipient ids of these canonical addresses, where they have one."""
    if not addresses:
        return {}
    rows = await conn.fetch("""SELECT address, recipient_id FROM known_addresses
                                WHERE address = ANY($1::text[]) AND recipient_id IS NOT NULL""", list(addresses))
    return {r["address"]: r["recipient_id"] for r in rows}

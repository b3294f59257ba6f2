"""The erased addresses' HMACs held in memory, so a big check hashes each address once.
The set is trusted only at the exact erasure generation the check's own snapshot reads."""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import TYPE_CHECKING, Mapping, Sequence

from ...storage import queries

if TYPE_CHECKING:
    import asyncpg

# 32-byte HMACs with their reason and time: about 200 bytes each in memory, 20 MB at most.
HELD_AT_MOST = 100_000

Erasure = tuple[str, datetime]  # reason, erased_at


class ErasedHashes:
    """One process's copy of erased_addresses, tagged with the generation it was read at."""

    def __init__(self, limit: int = HELD_AT_MOST) -> None:
        self.limit = limit
        self._generation: str | None = None
        self._held: dict[bytes, Erasure] = {}
        self._too_many = False  # erasures only grow: once past the limit, the database answers
        self._reading = asyncio.Lock()

    def known_empty(self) -> bool:
        """Whether the set held is empty: a check may leave hashing until it knows it must."""
        return self._generation is not None and not self._held

    def empty_at(self, generation: str) -> bool:
        """Whether no address was erased in the snapshot that read `generation`, as far as held."""
        return self._generation == generation and not self._held

    async def among(
        self, conn: asyncpg.Connection, generation: str, hashes: Sequence[bytes]
    ) -> Mapping[int, Erasure]:
        """The erasures among `hashes`, by position, as of the snapshot that read `generation`."""
        if self._generation != generation and not self._too_many:
            async with self._reading:
                if self._generation != generation and not self._too_many:
                    await self._read(conn)
        found = self.held_among(generation, hashes)
        return found if found is not None else await erasures_asked(conn, hashes)

    def held_among(self, generation: str, hashes: Sequence[bytes]) -> Mapping[int, Erasure] | None:
        """The erasures among `hashes` from the set held, when it was read at `generation`;
        None when the database must be asked (among)."""
        if self._generation != generation:
            return None
        held = self._held
        return {i: held[h] for i, h in enumerate(hashes) if h in held} if held else {}

    async def _read(self, conn: asyncpg.Connection) -> None:
        generation, rows = await queries.erasures_held(conn, self.limit)
        if len(rows) > self.limit:
            self._generation, self._held, self._too_many = None, {}, True
            return
        self._held = {bytes(h): (reason, at) for h, reason, at in rows if h is not None}
        self._generation = generation


async def erasures_asked(conn: asyncpg.Connection, hashes: Sequence[bytes]) -> Mapping[int, Erasure]:
    """The erasures among `hashes`, by position, from the database."""
    rows = await queries.erasures_among(conn, hashes)
    found = {bytes(r["address_hmac"]): (r["reason"], r["erased_at"]) for r in rows}
    return {i: found[h] for i, h in enumerate(hashes) if h in found} if found else {}

"""API keys: made at random, shown once, kept only as a SHA-256 digest with their scopes.
The one lookup of a key, for the API and the gateway alike, by digest and briefly cached."""

from __future__ import annotations

import hashlib
import secrets
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING


from ..storage import queries
from .errors import InvalidInput

if TYPE_CHECKING:
    import asyncpg

SCOPES = ("check", "links", "write", "inbound", "admin")


def key_digest(key: str) -> bytes:
    return hashlib.sha256(key.encode("utf-8", "surrogateescape")).digest()


def has_scope(granted: list[str] | tuple[str, ...], needed: str) -> bool:
    return "admin" in granted or needed in granted


async def list_keys(conn: asyncpg.Connection) -> list[asyncpg.Record]:
    """Every key, revoked ones included, without the keys themselves."""
    return await queries.list_api_keys(conn)


async def revoke_key(conn: asyncpg.Connection, key_id: int) -> bool:
    return await queries.revoke_api_key(conn, key_id)


async def create_key(conn: asyncpg.Connection, name: str, scopes: list[str]) -> tuple[int, str]:
    """Make a key; return its id and the key itself, which is never shown again."""
    unknown = [s for s in scopes if s not in SCOPES]
    if unknown or not scopes:
        raise InvalidInput(f"Key scopes must be among {', '.join(SCOPES)}; got {', '.join(unknown) or 'none'}.")
    if not name.strip():
        raise InvalidInput("A key needs a name that says who uses it.")
    prefix = secrets.token_hex(4)
    key = f"oo_{prefix}_{secrets.token_urlsafe(32)}"
    key_id = await queries.insert_api_key(conn, name, key_digest(key), prefix, sorted(set(scopes)))
    return key_id, key


CACHE_SECONDS = 10.0
CACHE_SIZE = 1024


@dataclass(frozen=True, slots=True)
class ApiKey:
    name: str
    scopes: tuple[str, ...]

    def allows(self, needed: str) -> bool:
        return has_scope(self.scopes, needed)


class ApiKeys:
    """Resolves keys to their name and scopes. A revoked key stops working within `ttl` seconds."""

    def __init__(self, pool: asyncpg.Pool, ttl: float = CACHE_SECONDS):
        self.pool = pool
        self.ttl = ttl
        self._cache: dict[bytes, tuple[float, ApiKey | None]] = {}

    async def lookup(self, key: str) -> ApiKey | None:
        return await self.lookup_digest(key_digest(key))

    async def lookup_digest(self, digest: bytes) -> ApiKey | None:
        """The key by its digest; None when unknown or revoked."""
        now = time.monotonic()
        hit = self._cache.get(digest)
        if hit is not None and hit[0] > now:
            return hit[1]
        async with self.pool.acquire() as conn:
            row = await queries.api_key_by_hash(conn, digest)
        found = ApiKey(row["name"], tuple(row["scopes"])) if row else None
        if len(self._cache) >= CACHE_SIZE:
            self._cache.clear()
        self._cache[digest] = (now + self.ttl, found)
        return found

"""Bearer API keys: looked up by digest, cached briefly so the check costs one query, not two.

Keys are compared as SHA-256 digests through the index, so the time a lookup takes says
nothing about the key an attacker guesses."""

from __future__ import annotations

import time
from typing import Awaitable, Callable

import asyncpg
from aiohttp import web

from ..domain.apikeys import has_scope, key_digest
from ..domain.errors import Forbidden, Unauthorized
from ..storage import queries

CACHE_SECONDS = 10.0
CACHE_SIZE = 1024


class ApiKeys:
    """Resolves keys to their scopes. A revoked key stops working within CACHE_SECONDS."""

    def __init__(self, pool: asyncpg.Pool, ttl: float = CACHE_SECONDS):
        self.pool = pool
        self.ttl = ttl
        self._cache: dict[bytes, tuple[float, tuple[str, ...] | None, str]] = {}

    async def scopes_for(self, key: str) -> tuple[tuple[str, ...] | None, str]:
        return await self.scopes_for_digest(key_digest(key))

    async def scopes_for_digest(self, digest: bytes) -> tuple[tuple[str, ...] | None, str]:
        """Scopes and name of a key by its digest (None when unknown or revoked)."""
        now = time.monotonic()
        hit = self._cache.get(digest)
        if hit is not None and hit[0] > now:
            return hit[1], hit[2]
        async with self.pool.acquire() as conn:
            row = await queries.api_key_by_hash(conn, digest)
        scopes, name = (tuple(row["scopes"]), row["name"]) if row else (None, "")
        if len(self._cache) >= CACHE_SIZE:
            self._cache.clear()
        self._cache[digest] = (now + self.ttl, scopes, name)
        return scopes, name


def requires(scope: str) -> Callable:
    """Mark a handler as needing an API key with `scope`; the auth middleware enforces it."""

    def mark(handler: Callable[[web.Request], Awaitable[web.StreamResponse]]):
        handler.required_scope = scope  # type: ignore[attr-defined]
        return handler

    return mark


async def authorize(request: web.Request, keys: ApiKeys, scope: str) -> str:
    """Return the key's name, or raise Unauthorized (401) / Forbidden (403)."""
    header = request.headers.get("Authorization", "")
    kind, _, key = header.partition(" ")
    if kind.lower() != "bearer" or not key.strip():
        raise Unauthorized("Send an API key as 'Authorization: Bearer <key>'.")
    scopes, name = await keys.scopes_for(key.strip())
    if scopes is None:
        raise Unauthorized("This API key is not known or has been revoked.")
    if not has_scope(scopes, scope):
        raise Forbidden(f"This API key lacks the scope {scope!r}.")
    return name

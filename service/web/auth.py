"""Bearer API keys at the HTTP edge: which scope a route needs, and the check of the header
(the lookup itself is domain.apikeys.ApiKeys, shared with the gateway)."""

from __future__ import annotations

from typing import Awaitable, Callable

from aiohttp import web

from ..domain.apikeys import ApiKeys
from ..domain.errors import Forbidden, Unauthorized

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
    found = await keys.lookup(key.strip())
    if found is None:
        raise Unauthorized("This API key is not known or has been revoked.")
    if not found.allows(scope):
        raise Forbidden(f"This API key lacks the scope {scope!r}.")
    return found.name

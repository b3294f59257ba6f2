"""API keys: made at random, shown once, kept only as a SHA-256 digest with their scopes."""

from __future__ import annotations

import hashlib
import secrets

import asyncpg

from ..storage import queries
from .errors import InvalidInput

SCOPES = ("check", "links", "write", "inbound", "admin")


def key_digest(key: str) -> bytes:
    return hashlib.sha256(key.encode("utf-8", "surrogateescape")).digest()


def has_scope(granted: list[str] | tuple[str, ...], needed: str) -> bool:
    return "admin" in granted or needed in granted


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

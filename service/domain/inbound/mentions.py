"""Which addresses a stored message mentions, kept as keyed hashes so that erasure finds it.
Each message is decoded and indexed once, when access or erasure first needs it."""

from __future__ import annotations

import asyncio
import html
import json
import re
import uuid
from email.message import Message
from typing import Iterable, Sequence, TYPE_CHECKING

from ...storage import erasure_queries, outbox_queries
from ..addresses import canonical_or_none
from ..suppressions.keyed_hash import KeyedHash
from . import mime

if TYPE_CHECKING:
    import asyncpg

# Characters an address may hold on each side of its "@" (non-ASCII letters included, for
# SMTPUTF8 local parts and IDN domains); bounded runs, so the scan is linear in the text.
_LOCAL_TAIL = re.compile(r"[\w.!#$%&'*+/=?^`{|}~-]{1,64}\Z")
_DOMAIN_HEAD = re.compile(r"[\w.-]{1,253}")
_AFTER_PUNCTUATION = re.compile(r"[=/'`{|}~!#$%&*?^]")
# Distinct spellings checked per message. A message that holds more (a pasted list, a
# hostile one) is indexed as far as this goes and marked as OVERFLOW; erasure reads such
# messages again in full for the one address it erases, so the bound costs no completeness.
MAX_CANDIDATES = 20_000
OVERFLOW = b""  # in a message's mentions: read only in part (an HMAC is never empty)
BATCH_MESSAGES = 50
RAW_INLINE_LIMIT = 1 << 20  # larger raw messages are fetched one by one


class _Reader:
    """The canonical addresses written in the texts of one message, up to `limit` spellings."""

    __slots__ = ("found", "seen", "limit", "overflow")

    def __init__(self, limit: int | None) -> None:
        self.found: set[str] = set()
        self.seen: set[str] = set()
        self.limit = limit
        self.overflow = False

    def read(self, text: str) -> None:
        """Each "@" is looked at with a bounded window on either side (local part at most 64
        characters, domain at most 253), so a hostile text costs time linear in its length,
        unlike an unanchored regular expression over long runs of letters."""
        at = text.find("@")
        while at != -1:
            local = _LOCAL_TAIL.search(text, max(0, at - 64), at)
            domain = _DOMAIN_HEAD.match(text, at + 1)
            if local and domain:
                tail = "@" + domain.group(0).rstrip(".-")
                written = local.group(0).lstrip(".")
                # "to=jan@x.be", "mailto:'jan@x.be'": the address may start after a character
                # that is allowed in a local part but rarely written in one.
                for spelling in {written, _AFTER_PUNCTUATION.split(written)[-1]}:
                    self._check((spelling + tail).lower())
                if self.overflow:
                    return
            at = text.find("@", at + 1)

    def _check(self, candidate: str) -> None:
        if candidate in self.seen:
            return
        if self.limit is not None and len(self.seen) >= self.limit:
            self.overflow = True
            return
        self.seen.add(candidate)
        address = canonical_or_none(candidate)
        if address is not None:
            self.found.add(address)


def _texts_of(raw: bytes) -> Iterable[str]:
    """The raw message as text, every header of every part decoded (RFC 2047 encoded words,
    report fields of DSN and ARF blocks, attached messages' headers), and the decoded text of
    every text part (base64 and quoted-printable undone, the charset applied, HTML as text)."""
    yield raw.decode("utf-8", "replace")
    try:
        msg = mime.parse(raw)
    except mime.UnreadableMessage:
        return
    for part in mime.walk(msg):
        for name in dict.fromkeys(part.keys()):
            yield from mime.header_values(part, name)
        if part.is_multipart():
            continue
        kind = mime.content_type(part)
        if kind.startswith(("text/", "message/")):
            text = _whole_text(part)
            yield html.unescape(text) if kind == "text/html" else text


def _whole_text(part: Message) -> str:
    """The whole decoded text of a leaf part. Unlike what the classifier reads, not cut short:
    a person named at the end of a long message is still named. Entities in HTML are undone
    by the caller (tags do not hide an address, "&#64;" does)."""
    try:
        payload = part.get_payload(decode=True)
    except Exception:
        payload = None
    if payload is None:
        return mime.part_text(part)
    try:
        return payload.decode(mime.content_param(part, "charset") or "utf-8", "replace")
    except LookupError:
        return payload.decode("utf-8", "replace")


def read_mentions(raw: bytes | None, *fields: object, limit: int | None = None) -> tuple[set[str], bool]:
    """The canonical addresses a message mentions anywhere, and those in the other `fields`
    kept of it (envelope, sender, subject, addresses, actions: all that is left after
    retention deleted the raw bytes); and whether `limit` cut the reading short."""
    reader = _Reader(limit)
    for field in fields:
        if field is not None and not reader.overflow:
            reader.read(field if isinstance(field, str) else json.dumps(field, ensure_ascii=False))
    if raw:
        try:
            for text in _texts_of(raw):
                if reader.overflow:
                    break
                reader.read(text)
        except Exception:  # a message the parser cannot walk is still read as raw text
            reader.read(raw.decode("utf-8", "replace"))
    return reader.found, reader.overflow


def mentioned_addresses(raw: bytes | None, *fields: object) -> set[str]:
    """Every canonical address the message mentions, read in full."""
    return read_mentions(raw, *fields)[0]


def _fields(row) -> tuple:
    return row["mail_from"], row["rcpt_to"], row["sender"], row["subject"], row["addresses"], row["actions"]


def _hash_rows(keyed_hash: KeyedHash, rows: Sequence[dict]) -> list[tuple]:
    """(message id, hashes of what it mentions, OVERFLOW too when read in part); in a thread."""
    hashed = []
    for row in rows:
        found, overflow = read_mentions(row["raw"], *_fields(row), limit=MAX_CANDIDATES)
        hashed.append((row["id"], keyed_hash.of_many(sorted(found)) + ([OVERFLOW] if overflow else [])))
    return hashed


async def index_messages(conn: asyncpg.Connection, keyed_hash: KeyedHash, batch: int = BATCH_MESSAGES) -> int:
    """Record the mentions of every stored message not read yet; return how many were read.

    Outside a transaction each batch commits on its own, so a long first run (the messages
    stored before this index existed) keeps what it did. The parse runs in a thread: a
    large backlog does not stall the web process.
    """
    ids = await erasure_queries.unindexed_message_ids(conn)
    for start in range(0, len(ids), batch):
        rows = await _rows_to_read(conn, ids[start:start + batch])
        await erasure_queries.record_mentions(conn, await asyncio.to_thread(_hash_rows, keyed_hash, rows))
    return len(ids)


async def messages_mentioning(conn: asyncpg.Connection, keyed_hash: KeyedHash, address: str) -> list[uuid.UUID]:
    """Every stored message that mentions the canonical `address`: by its keyed hash in the
    index (brought up to date first), and among the messages indexed only in part
    (OVERFLOW), by reading each again in full."""
    await index_messages(conn, keyed_hash)
    hashed = keyed_hash.of(address)
    found = await erasure_queries.message_ids_mentioning(conn, hashed)
    indexed = set(found)
    partial = [i for i in await erasure_queries.message_ids_mentioning(conn, OVERFLOW) if i not in indexed]
    for start in range(0, len(partial), BATCH_MESSAGES):
        rows = await _rows_to_read(conn, partial[start:start + BATCH_MESSAGES])
        found.extend(await asyncio.to_thread(_rows_mentioning, address, rows))
    return found


async def index_messages_from(pool: asyncpg.Pool, keyed_hash: KeyedHash) -> int:
    """As index_messages, for a request that must not hold a pooled connection while a thread
    parses: a connection is taken for each read and each write, and given back before each parse."""
    async with pool.acquire() as conn:
        ids = await erasure_queries.unindexed_message_ids(conn)
    for start in range(0, len(ids), BATCH_MESSAGES):
        async with pool.acquire() as conn:
            rows = await _rows_to_read(conn, ids[start:start + BATCH_MESSAGES])
        hashed = await asyncio.to_thread(_hash_rows, keyed_hash, rows)
        async with pool.acquire() as conn:
            await erasure_queries.record_mentions(conn, hashed)
    return len(ids)


async def messages_mentioning_from(pool: asyncpg.Pool, keyed_hash: KeyedHash, address: str) -> list[uuid.UUID]:
    """As messages_mentioning, taking a connection from the pool only for each read and write
    (index_messages_from)."""
    await index_messages_from(pool, keyed_hash)
    mention = keyed_hash.of(address)
    async with pool.acquire() as conn:
        found = await erasure_queries.message_ids_mentioning(conn, mention)
        partial = [i for i in await erasure_queries.message_ids_mentioning(conn, OVERFLOW) if i not in set(found)]
    for start in range(0, len(partial), BATCH_MESSAGES):
        async with pool.acquire() as conn:
            rows = await _rows_to_read(conn, partial[start:start + BATCH_MESSAGES])
        found.extend(await asyncio.to_thread(_rows_mentioning, address, rows))
    return found


async def _rows_to_read(conn: asyncpg.Connection, ids: Sequence[uuid.UUID]) -> list[dict]:
    rows = [dict(r) for r in await erasure_queries.messages_to_index(conn, ids, RAW_INLINE_LIMIT)]
    for row in rows:
        if row["raw"] is None and row["has_raw"]:
            row["raw"] = await erasure_queries.message_raw(conn, row["id"])
    return rows


def _rows_mentioning(address: str, rows: Sequence[dict]) -> list[uuid.UUID]:
    return [row["id"] for row in rows if address in mentioned_addresses(row["raw"], *_fields(row))]


async def outgoing_bodies_mentioning(conn: asyncpg.Connection, address: str, batch: int = BATCH_MESSAGES) -> list[int]:
    """The gateway's queued messages that are from or about `address` (decoded, as above);
    the copies to the person are found by their address.

    The outbox holds only what has not left yet, so it is read whole, not indexed.
    """
    found, after = [], 0
    while True:
        rows = await outbox_queries.bodies_after(conn, after, batch)
        if not rows:
            return found
        found.extend(await asyncio.to_thread(_bodies_mentioning, address, rows))
        after = rows[-1]["id"]


def _bodies_mentioning(address: str, rows: Sequence[asyncpg.Record]) -> list[int]:
    return [r["id"] for r in rows if address in mentioned_addresses(r["message"], r["sender"])]

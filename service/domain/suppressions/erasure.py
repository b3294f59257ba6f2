"""GDPR access and erasure.
Erasure removes every clear copy of an address; its HMAC stays, so it is never written in clear again."""

from __future__ import annotations

import dataclasses
import uuid
from typing import TYPE_CHECKING

from ...storage import consent_queries, erasure_queries, known_queries, outbox_queries, queries
from ..addresses import canonical_address
from ..events.model import EventType, HistoryType
from ..inbound import mentions
from ..consent.model import Consent, Request
from .keyed_hash import KeyedHash
from .model import ErasedSince, HistoryEvent, Removed, SubjectRecord, Suppression
from .rules import GLOBAL

if TYPE_CHECKING:
    import asyncpg

# When several suppressions are erased, the one that says most is kept (as its reason only).
_REASON_WEIGHT = {"complaint": 4, "bounce": 3, "unsubscribe": 2, "manual": 1}


async def subject_access(conn: asyncpg.Connection, keyed_hash: KeyedHash, email: str,
                         about: list[uuid.UUID] | None = None) -> SubjectRecord:
    """Everything held about an address (GDPR access), including whether it was erased.

    The messages are those erasure would delete: every message that mentions the address
    anywhere, found through the index of mentions (brought up to date first), or `about`
    when the caller found them already (mentions.messages_mentioning_from).
    """
    address = canonical_address(email)
    hashed = keyed_hash.of(address)
    if about is None:
        about = await mentions.messages_mentioning(conn, keyed_hash, address)
    suppressions = await queries.suppressions_of_address(conn, address)
    events = await queries.events_of_address(conn, address, 100_000)
    erased = await queries.erased_since(conn, hashed)
    messages = await erasure_queries.messages_listed(conn, about)
    consents = await consent_queries.consents_of_address(conn, address)
    requests = await consent_queries.requests_of_address(conn, address)
    return subject_record(address, suppressions, events, consents, requests,
                          erased=ErasedSince(erased["erased_at"], erased["reason"]) if erased else None,
                          messages=tuple(dict(m) for m in messages))


def subject_record(address: str, suppressions, events, consents, requests, *, erased: ErasedSince | None = None,
                   messages: tuple[dict, ...] = ()) -> SubjectRecord:
    """A subject's record from the rows read of it (the full access, or the own page's lighter one)."""
    return SubjectRecord(
        email=address,
        suppressions=tuple(Suppression(r["scope"], r["reason"], r["source"], r["created_at"], r["note"])
                           for r in suppressions),
        events=tuple(HistoryEvent(r["at"], r["type"], r["scope"], r["reason"], r["source"], r["detail"], r["actor"])
                     for r in events),
        erased=erased,
        messages=messages,
        consents=tuple(Consent.of(r) for r in consents),
        requests=tuple(Request.of(r) for r in requests),
    )


async def erase(conn: asyncpg.Connection, keyed_hash: KeyedHash, email: str, actor: str, source: str = "api") -> Removed:
    """Remove the address and its history in clear; keep it suppressed in every scope by HMAC.

    Run it in a transaction: the erased hash, which every later write consults, commits
    with the deletions. Messages not yet in the index of mentions are read first (call
    mentions.index_messages before the transaction too when many may be waiting, so that
    the transaction stays short). The erasure itself is recorded as an event that does not
    name the address.
    """
    address = canonical_address(email)
    hashed = keyed_hash.of(address)
    await queries.lock_for_erasure(conn, address)
    # The slow reading first, the deletions last: a suppression written in clear by a
    # transaction that commits while this one runs is then the less likely to be missed.
    about = await mentions.messages_mentioning(conn, keyed_hash, address)
    bodies = await mentions.outgoing_bodies_mentioning(conn, address)
    held = await queries.suppressions_of_address(conn, address)
    reason = max((r["reason"] for r in held), key=_REASON_WEIGHT.__getitem__, default="unsubscribe")
    suppressions, events = await queries.erase_address(conn, address)
    await known_queries.forget_address(conn, address)
    consents = await consent_queries.erase_address(conn, address)
    messages = await erasure_queries.delete_messages(conn, about, address)
    to_them, their_bodies = await outbox_queries.delete_about(conn, address)
    outgoing = to_them + await outbox_queries.delete_bodies(conn, bodies)
    await outbox_queries.delete_unused_bodies(conn, their_bodies)
    removed = Removed(suppressions, events, messages, outgoing, consents)
    await queries.keep_erased(conn, hashed, reason)
    # The event names no one; its webhook deliveries carry the address (other systems must
    # erase it too, GDPR Art. 19) until they are delivered.
    await queries.insert_event(conn, None, HistoryType.ERASED, scope=GLOBAL, reason=reason, source=source,
                               detail={"by": actor, **dataclasses.asdict(removed)}, actor=actor,
                               published_as=EventType.SUBJECT_ERASED, delivered_about=address)
    return removed

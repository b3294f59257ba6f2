"""Operations on the suppression list: check, suppress, lift, show, list and history."""

from __future__ import annotations

import asyncio
import base64
import json
from datetime import datetime
from typing import TYPE_CHECKING, Sequence

from ...storage import queries
from ..addresses import canonical_address, canonical_batch
from ..events.model import EventType
from .erased_hashes import ErasedHashes, erasures_asked
from .keyed_hash import address_hmac, hmac_from_pads, hmacs_from_pads
from .model import (AddressSuppressions, CheckResults, History, HistoryEvent, Lifted, Suppression,
                    SuppressionPage)
from ..errors import Conflict, InvalidInput, NotFound, TooMany, Unavailable
from .rules import GLOBAL, MAX_CHECK, PERMANENT_REASONS, Block, check_result, may_lift, stronger, valid_reason, valid_scope, valid_source, valid_text

if TYPE_CHECKING:
    import asyncpg

MAX_EVENTS = 10_000
OVERLAPPED = 1_000  # from this many addresses, a check hashes them while its query runs


async def check(
    conn: asyncpg.Connection, emails: Sequence[object], scope: str, pads: tuple[bytes, bytes],
    erased: ErasedHashes | None = None, *, canonical: Sequence[str | None] | None = None,
) -> CheckResults:
    """One result per input, in input order, from one query over the distinct canonical forms.

    The query finds what blocks each address (consent/rules.py), and the erased addresses'
    generation in its snapshot. While the database works, the addresses' HMACs are computed,
    for the erasures: `erased` (the process's ErasedHashes) holds those of the erased
    addresses; without it, the database is asked for each check. `canonical`: canonical_batch(emails), when the
    caller worked it out already (in a worker thread).
    """
    if len(emails) > MAX_CHECK:
        raise TooMany(f"At most {MAX_CHECK} recipients per check; got {len(emails)}. Split the list.")
    if canonical is None:
        canonical = canonical_batch(emails)
    unique = set(canonical)
    unique.discard(None)
    # Sorted, the array reaches PostgreSQL in index order (an index scan sorts it otherwise).
    distinct = sorted(unique)
    blocks: dict[str, Block] = {}
    if distinct:
        hashes = None
        if len(distinct) < OVERLAPPED:
            rows = await queries.check_marks(conn, distinct, scope)
        else:
            # The HMACs are worked out in a thread while the database works: the loop stays free.
            query = asyncio.ensure_future(queries.check_marks(conn, distinct, scope))
            try:
                if erased is None or not erased.known_empty():
                    hashes = await asyncio.to_thread(hmacs_from_pads, pads, distinct)
                rows = await query
            except BaseException:  # cancelled, say: no query may be left running on `conn`
                query.cancel()
                await asyncio.wait([query])
                raise
        generation, blocks = decide(rows)
        if erased is None or not erased.empty_at(generation):
            if hashes is None:
                hashes = hmacs_from_pads(pads, distinct)
            found = (await erased.among(conn, generation, hashes) if erased is not None
                     else await erasures_asked(conn, hashes))
            for i, (reason, at) in found.items():
                blocks[distinct[i]] = stronger(blocks.get(distinct[i]), Block(reason, GLOBAL, at))
    # Most recipients are allowed: only the others get a value of their own.
    blocked = {}
    if blocks or None in canonical:
        for i, c in enumerate(canonical):
            if c is None:
                blocked[i] = check_result(emails[i], None, invalid=True)
            elif c in blocks:
                blocked[i] = check_result(emails[i], blocks[c])
    return CheckResults(emails, blocked)


def decide(rows: Sequence[Sequence]) -> tuple[str, dict[str, Block]]:
    """The erased addresses' generation, and what blocks each address (but an erasure), from
    the check's rows: where an address has several, the one to report (rules.stronger)."""
    generation = ""
    blocks: dict[str, Block] = {}
    for address, scope, reason, since in rows:
        if address is None:
            generation = scope
        else:
            blocks[address] = stronger(blocks.get(address), Block(reason, scope, since))
    return generation, blocks


async def suppress(
    conn: asyncpg.Connection,
    email: str,
    scope: str,
    reason: str,
    source: str,
    note: str | None = None,
    detail: dict | None = None,
    *,
    pads: tuple[bytes, bytes],
    actor: str | None = None,
    campaign_unsubscribe: tuple[str, int] | None = None,
) -> tuple[bool, Suppression]:
    """Suppress an address in a scope; return (created, the suppression).

    `campaign_unsubscribe` (campaign, recipient id): an unsubscribe by a link of that campaign,
    counted for it in the same statement (a one-click costs one round trip).

    One statement writes the suppression and its event, so it is atomic even without a
    transaction around it. Given the key `pads` (hmac_pads of OPTOUT_HASH_KEY), the same
    statement first looks for the address among the erased: an erased address is blocked
    already, and writing it would put it back in clear (a one-click on an old link, a
    bounce, a reply, a staff entry), so nothing is written and the erasure is returned as
    the suppression that was already there. Every caller that holds the key passes it.
    """
    address = canonical_address(email)
    valid_scope(scope)
    valid_reason(reason)
    valid_source(source)
    if reason in PERMANENT_REASONS and scope != GLOBAL:
        raise InvalidInput(f"A {reason} suppression is always global; use scope 'global'.", field="scope")
    valid_text(note, "note")
    hashed = hmac_from_pads(pads, address)
    for _attempt in range(3):
        campaign, recipient_id = campaign_unsubscribe or (None, None)
        row = await queries.insert_suppression(conn, address, scope, reason, source, note, detail, hashed,
                                               actor=actor, published_as=EventType.SUPPRESSION_CREATED,
                                               campaign=campaign, recipient_id=recipient_id)
        campaign_unsubscribe = None  # counted once, whatever the next try finds
        if row is not None:
            if row["erased"]:
                return False, _erased_suppression(row["reason"], row["created_at"])
            return True, _suppression(row)
        existing = [r for r in await queries.suppressions_of_address(conn, address) if r["scope"] == scope]
        if existing:
            return False, _suppression(existing[0])
        # lifted between the two statements: try the insert again
    raise Unavailable("The suppression changed while it was being written; try again.")


async def lift(
    conn: asyncpg.Connection, email: str, scope: str, evidence: str, force: bool, actor: str,
    *, pads: tuple[bytes, bytes],
) -> Lifted:
    """Remove a suppression with the evidence that the person may be mailed again.

    An erased address (known by its keyed hash when the caller passes `pads`) is never
    lifted, not even by force: the person asked to be forgotten, and the 'lifted' event
    would name them in clear again.
    """
    address = canonical_address(email)
    valid_scope(scope)
    if not isinstance(evidence, str) or not evidence.strip():
        raise InvalidInput("Say why this person may be mailed again in 'evidence'.", field="evidence")
    valid_text(evidence, "evidence")
    if await queries.erased_since(conn, hmac_from_pads(pads, address)) is not None:
        raise Conflict("This address was erased on request: it stays suppressed in every scope and cannot be lifted.")
    row = await queries.suppression_for_update(conn, address, scope)
    if row is None:
        raise NotFound(f"No suppression of this address in scope {scope!r}.")
    if not may_lift(row["reason"], force):
        raise Conflict(
            f"This address is suppressed because of a {row['reason']}; lifting it needs \"force\": true."
        )
    await queries.delete_suppression(conn, address, scope)
    await queries.insert_event(
        conn, address, "lifted", scope=scope, reason=row["reason"], source=row["source"],
        detail={"evidence": evidence, "by": actor, "forced": bool(force)},
        actor=actor, published_as=EventType.SUPPRESSION_LIFTED,
    )
    return Lifted(address, scope)


async def suppressions_of(conn: asyncpg.Connection, email: str, hash_key: bytes) -> AddressSuppressions:
    """The address's suppressions; an erased address shows as one global suppression."""
    address = canonical_address(email)
    rows = await queries.suppressions_of_address(conn, address)
    if not rows:
        erased = await queries.erased_since(conn, address_hmac(hash_key, address))
        if erased is None:
            raise NotFound("This address is not suppressed in any scope.")
        return AddressSuppressions(address, (_erased_suppression(erased["reason"], erased["erased_at"]),))
    return AddressSuppressions(address, tuple(_suppression(r) for r in rows))


async def history(conn: asyncpg.Connection, email: str) -> History:
    address = canonical_address(email)
    rows = await queries.events_of_address(conn, address, MAX_EVENTS)
    return History(address, tuple(
        HistoryEvent(r["at"], r["type"], r["scope"], r["reason"], r["source"], r["detail"], r["actor"]) for r in rows
    ))


async def page(
    conn: asyncpg.Connection,
    cursor: str | None,
    limit: int,
    reason: str | None,
    scope: str | None,
    since: datetime | None,
) -> SuppressionPage:
    """A page of the list in (created_at, address, scope) order, with an opaque keyset cursor."""
    after = decode_cursor(cursor) if cursor else None
    if reason is not None:
        valid_reason(reason)
    if scope is not None:
        valid_scope(scope)
    rows = await queries.list_suppressions(conn, after, reason, scope, since, limit)
    items = tuple(_suppression(r, email=r["address"]) for r in rows)
    next_cursor = None
    if len(rows) == limit:
        last = rows[-1]
        next_cursor = encode_cursor(last["created_at"], last["address"], last["scope"])
    return SuppressionPage(items, next_cursor)


def encode_cursor(created_at: datetime, address: str, scope: str) -> str:
    raw = json.dumps([created_at.isoformat(), address, scope]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, str, str]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        at, address, scope = json.loads(raw)
        return datetime.fromisoformat(at), str(address), str(scope)
    except (ValueError, TypeError) as exc:
        raise InvalidInput("The cursor is not one this service gave out.", field="cursor") from exc


def _erased_suppression(reason: str, erased_at: datetime) -> Suppression:
    """How an erased address shows: one global suppression, since the erasure."""
    return Suppression(GLOBAL, reason, "api", erased_at, "erased on request: kept only as a keyed hash", erased=True)


def _suppression(row, email: str | None = None) -> Suppression:
    return Suppression(row["scope"], row["reason"], row["source"], row["created_at"], row["note"], email)

"""Operations on the suppression list: check, suppress, lift, show, list and history."""

from __future__ import annotations

import asyncio
import contextlib
from datetime import datetime
from typing import TYPE_CHECKING, AsyncIterator, Mapping, Sequence

from ...storage import queries
from ..addresses import canonical_address, canonical_batch, plain_batch
from ..cursors import decode_list_cursor, encode_list_cursor
from ..events.model import EventType, HistoryType
from .erased_hashes import Erasure, ErasedHashes, erasures_asked
from .keyed_hash import KeyedHash
from .model import (AddressSuppressions, CheckResults, History, HistoryEvent, Lifted, Suppression,
                    SuppressionPage)
from ..errors import Conflict, InvalidInput, NotFound, TooMany, Unavailable
from .rules import GLOBAL, MAX_CHECK, PERMANENT_REASONS, Block, check_result, may_lift, stronger, valid_reason, valid_scope, valid_source, valid_text

if TYPE_CHECKING:
    import asyncpg

MAX_EVENTS = 10_000
# A big check goes to the database in parts of this many recipients, one after the other on
# one connection: while the database reads one part, the process validates and hashes the
# next and reports the one before (check_in_parts). No step holds the event loop for more
# than a part's worth of work: a few milliseconds.
PART = 10_000
ON_THE_LOOP = 50  # recipients prepared without a worker thread: at worst a few ms of validation


async def check(
    conn: asyncpg.Connection, emails: Sequence[object], scope: str, keyed_hash: KeyedHash,
    erased: ErasedHashes | None = None,
) -> CheckResults:
    """One result per input, in input order (check_in_parts, gathered). A check of one part (a
    single address, a message's recipients) is one query, awaited as it is sent."""
    if len(emails) <= PART:
        return await _check_one_part(conn, emails, scope, keyed_hash, erased)
    async with contextlib.aclosing(check_in_parts(conn, emails, scope, keyed_hash, erased)) as in_parts:
        parts = [part async for part in in_parts]
    blocked = {}
    for n, part in enumerate(parts):
        blocked.update((n * PART + i, result) for i, result in part.blocked.items())
    return CheckResults(emails, blocked)


async def check_in_parts(
    conn: asyncpg.Connection, emails: Sequence[object], scope: str, keyed_hash: KeyedHash,
    erased: ErasedHashes | None = None, *, part_size: int = PART,
) -> AsyncIterator[CheckResults]:
    """The results of consecutive parts of `emails` (PART each), in input order.

    Each part is one query over its distinct canonical forms: what blocks each address
    (consent/rules.py) and the erased addresses' generation in its snapshot. The erasures are
    matched by the addresses' HMACs: `erased` (the process's ErasedHashes) holds those of the
    erased addresses; without it, the database is asked for each part. The query of the next
    part is under way while the caller handles a part it was given; the caller closes the
    iterator (contextlib.aclosing) when it stops early, so no query is left running on `conn`.
    """
    if len(emails) > MAX_CHECK:
        raise TooMany(f"At most {MAX_CHECK} recipients per check; got {len(emails)}. Split the list.")
    if len(emails) <= part_size:
        yield await _check_one_part(conn, emails, scope, keyed_hash, erased)
        return
    hashed = keyed_hash if erased is None or not erased.known_empty() else None
    async with contextlib.AsyncExitStack() as read:
        if len(emails) > ON_THE_LOOP:
            await read.enter_async_context(queries.one_snapshot(conn))
        parts = await read.enter_async_context(
            contextlib.aclosing(_checked_in_turn(conn, emails, scope, keyed_hash, erased, hashed, part_size)))
        async for part in parts:
            yield part


async def _checked_in_turn(
    conn: asyncpg.Connection, emails: Sequence[object], scope: str, keyed_hash: KeyedHash,
    erased: ErasedHashes | None, hashed: KeyedHash | None, part_size: int,
) -> AsyncIterator[CheckResults]:
    """check_in_parts: each part's query is sent before the part before it is handed over."""
    starts = range(0, len(emails), part_size)
    part = await _Part.prepared(emails[0:part_size], hashed)
    query = await part.query(conn, scope)
    try:
        for start in [*starts[1:], None]:
            following = await _Part.prepared(emails[start:start + part_size], hashed) if start is not None else None
            rows = await query if query is not None else []
            generation, blocks = decide(rows)
            erasures = await _erasures(conn, part, generation, keyed_hash, erased)  # before the next query
            query = await following.query(conn, scope) if following is not None else None
            yield part.results(blocks, erasures)
            part = following
    finally:
        if query is not None and not query.done():  # the caller stopped early, or was cancelled
            query.cancel()
            await asyncio.wait([query])


async def _check_one_part(conn: asyncpg.Connection, emails: Sequence[object], scope: str,
                          keyed_hash: KeyedHash, erased: ErasedHashes | None) -> CheckResults:
    """A check of one part: one query, awaited as it is sent."""
    hashed = keyed_hash if erased is None or not erased.known_empty() else None
    part = await _Part.prepared(emails, hashed)
    async with contextlib.AsyncExitStack() as read:
        if len(emails) > ON_THE_LOOP:
            await read.enter_async_context(queries.one_snapshot(conn))
        rows = await queries.check_marks(conn, part.distinct, scope) if part.distinct else []
        return await _results(conn, part, rows, keyed_hash, erased)


async def _results(conn: asyncpg.Connection, part: _Part, rows: Sequence[Sequence], keyed_hash: KeyedHash,
                   erased: ErasedHashes | None) -> CheckResults:
    generation, blocks = decide(rows)
    return part.results(blocks, await _erasures(conn, part, generation, keyed_hash, erased))


async def _erasures(conn: asyncpg.Connection, part: _Part, generation: str, keyed_hash: KeyedHash,
                    erased: ErasedHashes | None) -> Mapping[int, Erasure]:
    """The erasures among the part's distinct addresses, by position, as of `generation`: from
    the set the process holds when it is at that generation, else from the database."""
    if not part.distinct or (erased is not None and erased.empty_at(generation)):
        return {}
    hashes = part.hashes if part.hashes is not None else keyed_hash.of_many(part.distinct)
    found = erased.held_among(generation, hashes) if erased is not None else None
    if found is not None:
        return found
    return await erased.among(conn, generation, hashes) if erased is not None else await erasures_asked(conn, hashes)


class _Part:
    """A slice of a check: its inputs, their canonical forms, the distinct ones and, when the
    erasures may concern them, their HMACs."""

    def __init__(self, emails: Sequence[object], keyed_hash: KeyedHash | None,
                 canonical: list[str | None] | None = None) -> None:
        self.emails = emails
        self.canonical = canonical if canonical is not None else canonical_batch(emails)
        unique = set(self.canonical)
        unique.discard(None)
        # Sorted, the array reaches PostgreSQL in index order: the database, the busier side,
        # need not sort it.
        self.distinct = sorted(unique)
        self.hashes = keyed_hash.of_many(self.distinct) if keyed_hash is not None else None

    @classmethod
    async def prepared(cls, emails: Sequence[object], keyed_hash: KeyedHash | None) -> _Part:
        """A part of plain addresses (a few microseconds each) is prepared on the event loop; one
        with others in a worker thread: an address outside the plain ASCII shape needs the full
        validator (tens of microseconds each), and the loop serves others meanwhile."""
        plain = plain_batch(emails)
        if plain is None and len(emails) > ON_THE_LOOP:
            return await asyncio.to_thread(cls, emails, keyed_hash)
        return cls(emails, keyed_hash, plain)

    async def query(self, conn: asyncpg.Connection, scope: str) -> asyncio.Future | None:
        """The part's query, sent: under way on the database while this process goes on."""
        if not self.distinct:
            return None
        query = asyncio.ensure_future(queries.check_marks(conn, self.distinct, scope))
        try:
            await asyncio.sleep(0)  # one turn of the loop: the task sends the statement
        except BaseException:  # cancelled: no query may be left running on `conn`
            query.cancel()
            await asyncio.wait([query])
            raise
        return query

    def results(self, blocks: dict[str, Block], erasures: Mapping[int, Erasure]) -> CheckResults:
        distinct = self.distinct
        for i, (reason, at) in erasures.items():
            blocks[distinct[i]] = stronger(blocks.get(distinct[i]), Block(reason, GLOBAL, at))
        # Most recipients are allowed: only the others get a value of their own.
        blocked = {}
        canonical, emails = self.canonical, self.emails
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
    keyed_hash: KeyedHash,
    actor: str | None = None,
    campaign_unsubscribe: tuple[str, int] | None = None,
) -> tuple[bool, Suppression]:
    """Suppress an address in a scope; return (created, the suppression).

    `campaign_unsubscribe` (campaign, recipient id): an unsubscribe by a link of that campaign,
    counted for it in the same statement (a one-click costs one round trip).

    One statement writes the suppression and its event, so it is atomic even without a
    transaction around it. By the address's `keyed_hash` (OPTOUT_HASH_KEY), the same
    statement first looks for it among the erased: an erased address is blocked already,
    and writing it would put it back in clear (a one-click on an old link, a bounce, a
    reply, a staff entry), so nothing is written and the erasure is returned as the
    suppression that was already there.
    """
    address = canonical_address(email)
    _valid_suppression(scope, reason, source, note)
    hashed = keyed_hash.of(address)
    for _attempt in range(3):
        campaign, recipient_id = campaign_unsubscribe or (None, None)
        row = await queries.insert_suppression(conn, address, scope, reason, source, note, detail, hashed,
                                               actor=actor, published_as=EventType.SUPPRESSION_CREATED,
                                               campaign=campaign, recipient_id=recipient_id)
        campaign_unsubscribe = None  # counted once, whatever the next try finds
        if row is not None:
            if row["outcome"] == "erased":
                return False, _erased_suppression(row["reason"], row["created_at"])
            return True, _suppression(row)
        existing = [r for r in await queries.suppressions_of_address(conn, address) if r["scope"] == scope]
        if existing:
            return False, _suppression(existing[0])
        # lifted between the two statements: try the insert again
    raise Unavailable("The suppression changed while it was being written; try again.")


async def suppress_recipient(
    conn: asyncpg.Connection, recipient_id: int, scope: str, reason: str, source: str,
    detail: dict | None = None, *, keyed_hash: KeyedHash, actor: str | None = None,
    campaign: str | None = None,
) -> tuple[str | None, bool, Suppression | None]:
    """suppress() of the address that a link's recipient id names, found by the same statement
    (a one-click costs one round trip): (the address, created, the suppression). (None, False,
    the erasure) for an erased address; (None, False, None) when the id names no one any more."""
    _valid_suppression(scope, reason, source, None)
    for _attempt in range(3):
        row = await queries.insert_suppression(conn, None, scope, reason, source, None, detail,
                                               actor=actor, published_as=EventType.SUPPRESSION_CREATED,
                                               campaign=campaign, recipient_id=recipient_id if campaign else None,
                                               of_recipient=(recipient_id, keyed_hash.pads))
        campaign = None  # counted once, whatever the next try finds
        if row["outcome"] == "no_one":
            return None, False, None
        if row["outcome"] == "erased":
            return None, False, _erased_suppression(row["reason"], row["created_at"])
        if row["outcome"] == "inserted":
            return row["address"], True, _suppression(row)
        existing = [r for r in await queries.suppressions_of_address(conn, row["address"]) if r["scope"] == scope]
        if existing:
            return row["address"], False, _suppression(existing[0])
        # lifted between the two statements: try the insert again
    raise Unavailable("The suppression changed while it was being written; try again.")


def _valid_suppression(scope: str, reason: str, source: str, note: str | None) -> None:
    valid_scope(scope)
    valid_reason(reason)
    valid_source(source)
    if reason in PERMANENT_REASONS and scope != GLOBAL:
        raise InvalidInput(f"A {reason} suppression is always global; use scope 'global'.", field="scope")
    valid_text(note, "note")


async def lift(
    conn: asyncpg.Connection, email: str, scope: str, evidence: str, force: bool, actor: str,
    *, keyed_hash: KeyedHash,
) -> Lifted:
    """Remove a suppression with the evidence that the person may be mailed again.

    An erased address (known by its `keyed_hash`) is never lifted, not even by force: the
    person asked to be forgotten, and the 'lifted' event would name them in clear again.
    """
    address = canonical_address(email)
    valid_scope(scope)
    if not isinstance(evidence, str) or not evidence.strip():
        raise InvalidInput("Say why this person may be mailed again in 'evidence'.", field="evidence")
    valid_text(evidence, "evidence")
    if await queries.erased_since(conn, keyed_hash.of(address)) is not None:
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
        conn, address, HistoryType.LIFTED, scope=scope, reason=row["reason"], source=row["source"],
        detail={"evidence": evidence, "by": actor, "forced": bool(force)},
        actor=actor, published_as=EventType.SUPPRESSION_LIFTED,
    )
    return Lifted(address, scope)


async def suppressions_of(conn: asyncpg.Connection, email: str, keyed_hash: KeyedHash) -> AddressSuppressions:
    """The address's suppressions; an erased address shows as one global suppression."""
    address = canonical_address(email)
    rows = await queries.suppressions_of_address(conn, address)
    if not rows:
        erased = await queries.erased_since(conn, keyed_hash.of(address))
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
    after = decode_list_cursor(cursor) if cursor else None
    if reason is not None:
        valid_reason(reason)
    if scope is not None:
        valid_scope(scope)
    rows = await queries.list_suppressions(conn, after, reason, scope, since, limit)
    items = tuple(_suppression(r, email=r["address"]) for r in rows)
    next_cursor = None
    if len(rows) == limit:
        last = rows[-1]
        next_cursor = encode_list_cursor(last["created_at"], last["address"], last["scope"])
    return SuppressionPage(items, next_cursor)


def _erased_suppression(reason: str, erased_at: datetime) -> Suppression:
    """How an erased address shows: one global suppression, since the erasure."""
    return Suppression(GLOBAL, reason, "api", erased_at, "erased on request: kept only as a keyed hash", erased=True)


def _suppression(row, email: str | None = None) -> Suppression:
    return Suppression(row["scope"], row["reason"], row["source"], row["created_at"], row["note"], email)

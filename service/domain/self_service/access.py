"""Asking for a link to one's own page, and opening it.
Every address gets the same answer after the same work, so nothing tells whether it is known."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Callable

from ...storage import consent_queries, known_queries, outbox_queries, queries, self_service_queries
from ..addresses import canonical_address, mailbox_of
from ..consent.rules import MAX_CONFIRMATIONS_A_DAY
from ..errors import BadToken, TooManyRequests
from ..suppressions.keyed_hash import KeyedHash
from ..suppressions.rules import PERMANENT_REASONS
from ..tokens import SelfServiceTokens

if TYPE_CHECKING:
    import asyncpg

MAX_LINKS_A_DAY = MAX_CONFIRMATIONS_A_DAY
MAX_REQUESTS_AN_HOUR = 30
DAY, HOUR = timedelta(days=1), timedelta(hours=1)

# (token, address, language) -> the mail: (message, envelope sender, recipient).
Compose = Callable[[str, str, str], tuple[bytes, str, str]]


def _refuse(times: list[datetime], window: timedelta, now: datetime, what: str) -> None:
    retry_at = times[0] + window
    raise TooManyRequests(f"Too many {what}; try again after {retry_at.isoformat()}.",
                          retry_after=max(1, int((retry_at - now).total_seconds()) + 1), retry_at=retry_at.isoformat())


async def count_client(conn: asyncpg.Connection, client: str, keyed_hash: KeyedHash, now: datetime) -> None:
    """Count a request from this client; TooManyRequests past MAX_REQUESTS_AN_HOUR in the last hour.
    Run in a transaction: the client is locked, so that parallel requests are counted one at a time."""
    client_hmac = keyed_hash.of("client:" + client)
    await self_service_queries.lock_client(conn, client_hmac)
    times = await self_service_queries.client_requests_since(conn, client_hmac, now - HOUR)
    if len(times) >= MAX_REQUESTS_AN_HOUR:
        _refuse(times, HOUR, now, "requests from this client")
    await self_service_queries.record_client_request(conn, client_hmac, now)


async def ask_for_link(conn: asyncpg.Connection, email: object, language: str, *, keyed_hash: KeyedHash,
                       now: datetime) -> None:
    """Count the request against its mailbox and queue one row asking for a link, the same for every
    address: whether the address is known is decided when the row is sent (link_mail), so that the
    request does the same work, and takes the same time, whatever the address. Run in a
    transaction: the mailbox is locked."""
    address = canonical_address(email)
    mailbox = mailbox_of(address)
    await consent_queries.lock_mailbox(conn, mailbox)
    mailbox_hmac = keyed_hash.of("mailbox:" + mailbox)
    times = await self_service_queries.asks_since(conn, mailbox_hmac, now - DAY)
    if len(times) >= MAX_LINKS_A_DAY:
        _refuse(times, DAY, now, "links asked for this mailbox")
    await self_service_queries.record_ask(conn, mailbox_hmac, now)
    await outbox_queries.queue_link_asked(conn, address, language)


async def link_mail(conn: asyncpg.Connection, address: str, language: str, *, tokens: SelfServiceTokens,
                    keyed_hash: KeyedHash, compose: Compose, now: datetime) -> tuple[bytes, str, str] | None:
    """When a row asking for a link is sent: the mail, or None when none may leave, because the
    address is not known (as in the evidence rule), was erased, or is suppressed for a bounce or a
    complaint (in any scope: a spam trap, or a person who complained, must not get mail at a
    stranger's request, nor be locked out by it). An unsubscribe does not stop it: a person who
    unsubscribed still reaches their own page. Run in a transaction."""
    if await queries.erased_since(conn, keyed_hash.of(address)) is not None:
        return None
    if not await known_queries.known_among(conn, [address]):
        return None
    if any(row["reason"] in PERMANENT_REASONS for row in await queries.suppressions_of_address(conn, address)):
        return None
    recipient_id = (await known_queries.recipient_ids(conn, [address], "self_service", keyed_hash.pads)).get(address)
    if recipient_id is None:  # erased: written nowhere
        return None
    return compose(tokens.issue(recipient_id, now), address, language)


async def address_of(conn: asyncpg.Connection, recipient_id: int) -> str:
    """The address a valid link names; BadToken once it names no one (erased since)."""
    address = await known_queries.address_of_recipient(conn, recipient_id)
    if address is None:
        raise BadToken("This link names no one any more: ask for a new one.")
    return address

"""What a person does on their own page, each with actor `recipient` and source `self_service`.
The link proved the mailbox, so these actions need no further proof."""

from __future__ import annotations

from datetime import date, datetime
from typing import TYPE_CHECKING, Callable

from ...storage import consent_queries, outbox_queries
from ..consent import ledger
from ..consent.model import Consent
from ..consent.rules import due_date, valid_language
from ..errors import InvalidInput, InvalidScope
from ..events.model import Actor
from ..suppressions import erasure, suppression_list
from ..suppressions.keyed_hash import KeyedHash
from ..suppressions.model import Removed
from ..suppressions.rules import GLOBAL, valid_scope, valid_text

if TYPE_CHECKING:
    import asyncpg

SOURCE = "self_service"
MAX_CORRECTION = 5000

# (address, the person's words) -> the mail to staff: (message, envelope sender, recipient); None: no staff mailbox.
ComposeForStaff = Callable[[str, str], tuple[bytes, str, str] | None]


async def _offered_scope(conn: asyncpg.Connection, scope: object) -> str:
    """A scope the page offers: a registered one, or all marketing; a malformed one (a NUL, say)
    is refused before it reaches a query."""
    if scope == GLOBAL:
        return GLOBAL
    if await ledger.registered_scope(conn, valid_scope(scope)) is None:
        raise InvalidScope("Choose one of the kinds of mail the page offers.", field="scope")
    return scope


async def unsubscribe(conn: asyncpg.Connection, address: str, scope: object, keyed_hash: KeyedHash) -> bool:
    """As a one-click in that scope; whether the suppression is new."""
    created, _ = await suppression_list.suppress(conn, address, await _offered_scope(conn, scope), "unsubscribe", SOURCE,
                                           keyed_hash=keyed_hash, actor=Actor.RECIPIENT)
    return created


async def subscribe(conn: asyncpg.Connection, address: str, scope: object, text: str, language: str,
                    keyed_hash: KeyedHash, ip: str | None, user_agent: str | None) -> Consent:
    """A consent in that scope, its text the page's words, counting as confirmed."""
    return await ledger.give_on_own_page(conn, address, await _offered_scope(conn, scope), text,
                                         valid_language(language), keyed_hash, ip, user_agent)


async def correct(conn: asyncpg.Connection, address: str, text: object, now: datetime,
                  compose_for_staff: ComposeForStaff) -> date:
    """A privacy request of kind `correction`, due a month later (returned), with the person's words
    forwarded to staff."""
    words = valid_text(text, "text", MAX_CORRECTION)
    if not words or not words.strip():
        raise InvalidInput("Say what should be corrected.", field="text")
    row = await consent_queries.insert_request(conn, "correction", address, None, now, due_date(now), words)
    mail = compose_for_staff(address, words)
    if mail is not None:
        message, sender, recipient = mail
        await outbox_queries.queue_mail(conn, "self_service", address, sender, recipient, message)
    return row["due"]


async def erase(conn: asyncpg.Connection, keyed_hash: KeyedHash, address: str, now: datetime) -> Removed:
    """The erasure, at once, and its record: a closed request of kind `erasure` that names no one."""
    removed = await erasure.erase(conn, keyed_hash, address, Actor.RECIPIENT, source=SOURCE)
    row = await consent_queries.insert_request(conn, "erasure", None, None, now, due_date(now))
    await consent_queries.close_request(conn, row["id"], "Erased by the person on their own page.", Actor.RECIPIENT)
    return removed

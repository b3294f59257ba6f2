"""The consent ledger: who agreed to what, when and how; double opt-in; the scope registry.
A consent keeps its proof and is never rewritten: it is given, confirmed and withdrawn as events."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Callable

from ...storage import consent_queries, outbox_queries, queries
from ..addresses import canonical_address, mailbox_of
from ..events.model import Actor
from ..errors import Conflict, Expired, InvalidInput, NotFound, TooManyRequests
from ..suppressions.keyed_hash import KeyedHash
from ..suppressions.model import Reason
from ..suppressions.rules import GLOBAL, is_unicode_text, valid_scope, valid_text
from .model import Consent, Request, Scope
from .rules import (MAX_CONFIRMATIONS_A_DAY, REQUEST_KINDS, due_date, label_of, valid_consent_text, valid_ip,
                    valid_labels, valid_language, valid_rule, valid_source)

if TYPE_CHECKING:
    import asyncpg

# What blocks for good: no consent lifts these (CONTRACT: Consent).
_NOT_LIFTED_BY_CONSENT = ("bounce", "complaint", "manual")
# A `manual` suppression from these sources is the person's own opt-out: one given on the phone
# (the staff console records it so) or one on an old opt-out list (an import's default).
_OWN_OPT_OUT_SOURCES = ("phone", "import")


def _is_own_opt_out(suppression) -> bool:
    """Did the person opt out themselves? Then, as after an unsubscribe, only a consent they
    confirm counts, in every scope: one recorded by someone else must not outweigh it."""
    return suppression["reason"] == Reason.UNSUBSCRIBE or (
        suppression["reason"] == Reason.MANUAL and suppression["source"] in _OWN_OPT_OUT_SOURCES)


@dataclass(frozen=True, slots=True)
class ConsentInput:
    """A consent as asked for: checked by `read`, before anything is written."""

    email: str
    scope: str
    source: str
    text: str
    text_version: str | None
    language: str
    ip: str | None
    user_agent: str | None
    note: str | None
    confirm: bool

    @classmethod
    def read(cls, body: dict) -> "ConsentInput":
        email = body.get("email")
        if not isinstance(email, str):
            raise InvalidInput("'email' is required: the address that gave consent.", field="email")
        confirm = body.get("confirm", False)
        if not isinstance(confirm, bool):
            raise InvalidInput("'confirm' must be true (double opt-in: a confirmation mail) or false.",
                               field="confirm")
        return cls(
            email=email,
            scope=valid_scope(body.get("scope", GLOBAL)),
            source=valid_source(body.get("source")),
            text=valid_consent_text(body.get("text")),
            text_version=valid_text(body.get("text_version"), "text_version", 200),
            language=valid_language(body.get("language")),
            ip=valid_ip(body.get("ip")),
            user_agent=valid_text(body.get("user_agent"), "user_agent", 1000),
            note=valid_text(body.get("note"), "note", 2000),
            confirm=confirm,
        )


# (consent id, address, language, the scope's label in it) -> the confirmation mail:
# (message, envelope sender, recipient).
Compose = Callable[[int, str, str, str], tuple[bytes, str, str]]


async def give(conn: asyncpg.Connection, given: ConsentInput, *, actor: str, keyed_hash: KeyedHash,
               compose: Compose | None = None, now: datetime | None = None) -> Consent:
    """Record a consent: given at once, or pending with its confirmation mail queued.

    Refused (Conflict) for an address blocked for good in that scope (bounce, complaint, manual,
    erased), and without confirmation for one that opted out in any scope (an unsubscribe, or
    an opt-out by phone or from an imported list): only the person's own confirmation outweighs
    their opt-out, and a consent recorded by someone else in another scope (or in `global`)
    must not be a way around it. At most 3 confirmation mails per mailbox a day.
    """
    address = canonical_address(given.email)
    mailbox = mailbox_of(address)
    suppressions = await queries.suppressions_of_address(conn, address)
    for row in suppressions:
        if row["scope"] in (GLOBAL, given.scope) and row["reason"] in _NOT_LIFTED_BY_CONSENT:
            raise Conflict(f"This address is suppressed ({row['reason']}); a consent does not lift that.")
    unsubscribed = sorted(row["scope"] for row in suppressions if _is_own_opt_out(row))
    if unsubscribed and not given.confirm:
        raise Conflict(f"This address unsubscribed ({', '.join(unsubscribed)}): in every scope, only a consent the "
                       "person confirms counts now. Send it with \"confirm\": true, so that the person confirms "
                       "by mail.")
    now = now or datetime.now(timezone.utc)
    if given.confirm:
        if compose is None:
            raise Conflict("No confirmation mail can be sent from here.")
        sent = await consent_queries.confirmations_since(conn, mailbox, now - timedelta(days=1))
        if sent >= MAX_CONFIRMATIONS_A_DAY:
            raise TooManyRequests(f"At most {MAX_CONFIRMATIONS_A_DAY} confirmation mails a day go to one mailbox, "
                                  "counting every form of its address (a +tag, upper case, IDNA); try again "
                                  "tomorrow.", retry_after=86_400)
    row = await consent_queries.insert_consent(
        conn, address, given.scope, "pending" if given.confirm else "given", given.source, given.text,
        given.text_version, given.language, given.ip, given.user_agent, given.note, actor,
        keyed_hash.of(address), mailbox)
    if row["erased"]:
        raise Conflict("This address was erased on request: nothing is recorded for it.")
    consent = Consent.of(row)
    if given.confirm:
        registered = await consent_queries.scope(conn, given.scope)
        label = label_of(given.scope, registered["labels"] if registered else None, given.language)
        message, sender, recipient = compose(consent.id, address, given.language, label)
        await outbox_queries.queue_mail(conn, "confirmation", address, sender, recipient, message, given.scope)
    return consent


async def give_on_own_page(conn: asyncpg.Connection, address: str, scope: str, text: str, language: str,
                           keyed_hash: KeyedHash, ip: str | None, user_agent: str | None) -> Consent:
    """A consent given on the person's own page: its link proved the mailbox, so it counts as confirmed
    and outweighs the person's own unsubscribe; never a bounce, complaint or manual suppression."""
    for row in await queries.suppressions_of_address(conn, address):
        if row["scope"] in (GLOBAL, scope) and row["reason"] in _NOT_LIFTED_BY_CONSENT:
            raise Conflict(f"This address is suppressed ({row['reason']}); a consent does not lift that.")
    try:
        ip = valid_ip(ip) if ip else None
    except InvalidInput:
        ip = None
    agent = (user_agent or "")[:1000].encode("utf-8", "replace").decode("utf-8").replace("\x00", "") or None
    row = await consent_queries.insert_consent(
        conn, address, scope, "given", "self_service", text, None, language, ip, agent, None, Actor.RECIPIENT,
        keyed_hash.of(address), mailbox_of(address))
    if row["erased"]:
        raise Conflict("This address was erased on request: nothing is recorded for it.")
    await consent_queries.mark_confirmed(conn, row["id"], ip, agent)
    return Consent.of(await consent_queries.consent_by_id(conn, row["id"]))


async def consents_of(conn: asyncpg.Connection, email: str) -> list[Consent]:
    address = canonical_address(email)
    return [Consent.of(r) for r in await consent_queries.consents_of_address(conn, address)]


def _refuse_when_expired(row, max_age: timedelta, now: datetime | None) -> None:
    if row["status"] == "pending" and row["created_at"] + max_age <= (now or datetime.now(timezone.utc)):
        raise Expired("This confirmation link has expired: ask again where the consent was given.")


async def pending(conn: asyncpg.Connection, consent_id: int, *, max_age: timedelta,
                  now: datetime | None = None) -> Consent:
    """The consent a confirmation link names, for its page; NotFound once erased, Expired when
    it is still pending and its link is older than max_age."""
    row = await consent_queries.consent_by_id(conn, consent_id)
    if row is None:
        raise NotFound("This confirmation is no longer known.")
    _refuse_when_expired(row, max_age, now)
    return Consent.of(row)


async def confirm(conn: asyncpg.Connection, consent_id: int, ip: str | None, user_agent: str | None, *,
                  max_age: timedelta, now: datetime | None = None) -> Consent:
    """The person confirmed: the consent is given, with the time, IP and user agent of the click.

    Twice is once. A consent withdrawn since (an unsubscribe after the mail left) is not given
    again by an old confirmation link: Conflict, nothing changes. A link older than max_age
    confirms nothing: Expired, the consent stays pending.
    """
    row = await consent_queries.consent_for_update(conn, consent_id)
    if row is None:
        raise NotFound("This confirmation is no longer known.")
    if row["status"] == "given":
        return Consent.of(row)
    if row["status"] == "withdrawn":
        raise Conflict("This consent was withdrawn since: this confirmation link no longer counts.")
    _refuse_when_expired(row, max_age, now)
    for suppression in await queries.suppressions_of_address(conn, row["address"]):
        if suppression["scope"] in (GLOBAL, row["scope"]) and suppression["reason"] in _NOT_LIFTED_BY_CONSENT:
            raise Conflict(f"This address is suppressed ({suppression['reason']}); a consent does not lift that.")
    try:
        ip = valid_ip(ip) if ip else None
    except InvalidInput:  # not an IP (a Unix socket's peer): the time and user agent still prove it
        ip = None
    agent = (user_agent or "")[:1000]
    agent = agent if is_unicode_text(agent) and "\x00" not in agent else agent.encode("utf-8", "replace").decode(
        "utf-8").replace("\x00", "")
    confirmed = await consent_queries.confirm_consent(conn, consent_id, ip, agent or None)
    return Consent.of(confirmed)


# The scope registry.

async def scopes(conn: asyncpg.Connection) -> list[Scope]:
    return [Scope.of(r) for r in await consent_queries.scopes(conn)]


async def registered_scope(conn: asyncpg.Connection, name: str) -> Scope | None:
    """The registered scope of this name (as it is written: lower-case), or None."""
    row = await consent_queries.scope(conn, name)
    return Scope.of(row) if row is not None else None


async def register_scope(conn: asyncpg.Connection, name: object, labels: object, rule: object) -> tuple[Scope, bool]:
    row, created = await consent_queries.put_scope(conn, valid_scope(name), valid_labels(labels), valid_rule(rule))
    return Scope.of(row), created


# Privacy requests.

async def record_request(conn: asyncpg.Connection, kind: str, address: str | None, message_id,
                         received_at: datetime) -> Request | None:
    """A privacy request received by mail, due one month after it arrived; None when it was recorded already."""
    if kind not in REQUEST_KINDS:
        raise InvalidInput(f"Unknown request kind {kind!r}.")
    row = await consent_queries.insert_request(conn, kind, address, message_id, received_at, due_date(received_at))
    return Request.of(row) if row is not None else None


async def requests(conn: asyncpg.Connection, status: str | None, after_id: int, limit: int) -> list[Request]:
    if status not in (None, "open", "closed"):
        raise InvalidInput("'status' must be open or closed.", field="status")
    return [Request.of(r) for r in await consent_queries.requests(conn, status, after_id, limit)]


async def request(conn: asyncpg.Connection, request_id: int) -> Request:
    row = await consent_queries.request_by_id(conn, request_id)
    if row is None:
        raise NotFound(f"No privacy request {request_id}.")
    return Request.of(row)


async def close_request(conn: asyncpg.Connection, request_id: int, note: object, by: str) -> Request:
    text = valid_text(note, "note", 5000)
    if not text or not text.strip():
        raise InvalidInput("Say what was done in 'note'.", field="note")
    row = await consent_queries.close_request(conn, request_id, text, by)
    if row is None:
        existing = await consent_queries.request_by_id(conn, request_id)
        if existing is None:
            raise NotFound(f"No privacy request {request_id}.")
        raise Conflict(f"Privacy request {request_id} is closed already.")
    return Request.of(row)

"""Inbound messages: stored once however often they arrive, acted on once, described on request.
A message is known by its Message-ID and content digest, so a second delivery finds the first."""

from __future__ import annotations

import hashlib
import re
import uuid
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from enum import StrEnum
from typing import Sequence, TYPE_CHECKING

from ...storage import consent_queries, inbound_queries, known_queries, queries
from ..consent import ledger
from ..addresses import canonical_or_none
from ..campaigns.model import ReportKind, Thresholds
from ..cursors import decode_inbound_cursor, encode_inbound_cursor
from ..errors import DomainError, InvalidInput, NotFound, TooMany
from ..events.model import Actor, EventType, HistoryType
from ..suppressions import suppression_list
from ..suppressions.links import count_for_campaign
from ..suppressions.keyed_hash import KeyedHash
from .classify import Basis, Classification, Verdict
from .mime import delivered_to, message_id_of
from .model import BounceKind, InboundMessage, InboundStatus, ListedMessage, MessagePage

if TYPE_CHECKING:
    import asyncpg

VIAS = ("smtp", "lmtp", "http")
MAX_RECORDED = 100  # addresses a return-path bounce names besides its recipient, kept in its record


class Action(StrEnum):
    """The `type` of one entry in a message's actions (GET /v1/inbound/{id})."""

    SUPPRESSED = "suppressed"
    ALREADY_SUPPRESSED = "already_suppressed"
    INVALID_ADDRESS = "invalid_address"
    SOFT_BOUNCE = "soft_bounce"
    RECORDED = "recorded"
    NOT_ACTED = "not_acted"  # the evidence does not reach this address: left to staff
    HELD = "held"  # nothing was done: the message waits for staff
    PRIVACY_REQUEST = "privacy_request"  # recorded, due one month after the message arrived


# Why an address was not acted on, by what the message offered as evidence.
NOT_KNOWN = {
    Basis.REPORT: "a report about an address CETIT never mailed (no link or return path issued, "
                  "no suppression or event): not acted on",
    Basis.NAMED: "named in someone else's words, and CETIT does not know this address: "
                 "not acted on; the message goes to staff to act on",
}


# A bounce that did not come back through the return path of the address it names.
NOT_THROUGH_RETURN_PATH = ("a bounce about an address that was given a return path counts only when it comes "
                           "back through that return path: recorded, no one suppressed")


class MessageTooLarge(TooMany):
    code = "message_too_large"


@dataclass(frozen=True, slots=True)
class Stored:
    id: uuid.UUID
    duplicate: bool


_TRACE_HEADERS = re.compile(
    rb"^(?:received|return-path|delivered-to|x-original-to|x-envelope-[a-z-]+|x-received|arc-[a-z-]+)[ \t]*:.*(?:\n[ \t].*)*\n?",
    re.I | re.M,
)


def content_digest(raw: bytes) -> str:
    """SHA-256 of the message without the trace headers that each hop and retry adds."""
    text = raw.replace(b"\r\n", b"\n")
    head, sep, body = text.partition(b"\n\n")
    return hashlib.sha256(_TRACE_HEADERS.sub(b"", head + b"\n") + sep + body).hexdigest()


def body_digest(raw: bytes) -> str:
    """SHA-256 of what follows the header block."""
    text = raw.replace(b"\r\n", b"\n")
    _head, _sep, body = text.partition(b"\n\n")
    return hashlib.sha256(body).hexdigest()


def dedup_key(raw: bytes) -> str:
    """The same message again gets the same key: by its Message-ID, else by its content.

    With a Message-ID, the body is part of the key and the headers are not: a message
    delivered again with other or more headers (a spam score, another hop) is the same
    message, while two different messages that reuse one Message-ID (broken generators
    do this) are both kept and acted on.
    """
    message_id = message_id_of(raw)
    if message_id:
        return f"mid:{message_id}:{body_digest(raw)[:32]}"
    return "sha256:" + content_digest(raw)


def envelope_text(value: str) -> str:
    """An envelope address as PostgreSQL can keep it: bytes that were not UTF-8 (which the
    SMTP server hands over as surrogates) become U+FFFD, and NUL is dropped."""
    return value.encode("utf-8", "surrogateescape").decode("utf-8", "replace").replace("\x00", "")


async def store(
    conn: asyncpg.Connection, via: str, raw: bytes, mail_from: str | None = None, rcpt_to: Sequence[str] = ()
) -> Stored:
    """Keep the raw message in one statement (committed as it returns, or with the caller's
    transaction); report a duplicate instead of a second row.
    A message posted over HTTP without recipients has them read from its delivery headers, so
    that a bounce fetched from a return path's mailbox is read as if it had arrived there."""
    if via not in VIAS:
        raise InvalidInput(f"unknown route {via!r}")
    if not raw.strip():
        raise InvalidInput("The message is empty.")
    key = dedup_key(raw)
    sender = envelope_text(mail_from or "").strip().strip("<>") or None  # "<>": the null sender of a bounce
    if via == "http" and not rcpt_to:
        rcpt_to = delivered_to(raw)
    recipients = [envelope_text(r) for r in rcpt_to]
    new_id = await inbound_queries.insert_inbound_message(conn, via, sender, recipients, raw, key)
    if new_id is not None:
        return Stored(new_id, False)
    existing = await inbound_queries.inbound_id_by_dedup_key(conn, key)
    if existing is None:  # the first copy was rolled back between the two statements
        raise DomainError("The message could not be stored; send it again.")
    return Stored(existing, True)


async def _suppress(conn: asyncpg.Connection, message_id: uuid.UUID, address: str, scope: str,
                    reason: str, source: str, keyed_hash: KeyedHash, note: str | None = None) -> dict:
    detail = {"message_id": str(message_id)}
    actor = Actor.MAIL if reason in ("bounce", "complaint") else Actor.RECIPIENT
    try:
        created, item = await suppression_list.suppress(conn, address, scope, reason, source, note, detail,
                                                        keyed_hash=keyed_hash, actor=actor)
    except DomainError as exc:
        return {"type": Action.INVALID_ADDRESS, "value": address[:254], "error": exc.message}
    return {"type": Action.SUPPRESSED if created else Action.ALREADY_SUPPRESSED, "email": address,
            "scope": item.scope, "reason": item.reason, "source": item.source}


def addresses_to_act_on(verdict: Verdict) -> set[str]:
    """The distinct addresses the verdict proposes to act on (canonical where valid),
    what DMARC withheld included: the measure of OPTOUT_MAX_ACTIONS_PER_MESSAGE."""
    written = [s.address for s in verdict.suppress] + list(verdict.soft_bounces) + [s.address for s in verdict.withheld]
    return {canonical_or_none(a) or a.strip().lower() for a in written}


def addresses_about(verdict: Verdict, actions: Sequence[dict]) -> list[str]:
    """What a message's record names (GET /v1/inbound/{id} `addresses`): the addresses its reading
    found, then every address an action acted on, once each. A token names its address only
    when it is acted on (an opaque link token and a return path carry a recipient id)."""
    acted = [a["email"] for a in actions
             if a.get("type") in _ACTED and isinstance(a.get("email"), str)]
    return list(dict.fromkeys([*verdict.addresses, *acted]))


_ACTED = frozenset({Action.SUPPRESSED, Action.ALREADY_SUPPRESSED, Action.SOFT_BOUNCE})


def held_by_limit(actions: Sequence[dict]) -> bool:
    """Whether act_on held the message for staff and did nothing (see act_on)."""
    return any(a.get("type") == Action.HELD and "limit" in a for a in actions)


async def _known(conn: asyncpg.Connection, verdict: Verdict) -> dict[str, int | None]:
    """Which addresses taken from a report or named in words CETIT knows, each with its
    recipient id (None: never given a return path): one query."""
    wanted = {canonical_or_none(s.address) for s in verdict.suppress if s.basis.needs_known}
    wanted |= {canonical_or_none(a) for a in verdict.soft_bounces}
    wanted.discard(None)
    return await known_queries.recipients_among(conn, sorted(wanted))


def _bounced_elsewhere(verdict: Verdict, known: dict[str, int | None]) -> set[str]:
    """The addresses a bounce that did not reach a return path names and must not act on: each
    was given a return path, and its real bounces come back through it (a report sent to info@
    about them is anyone's to forge)."""
    if verdict.classification is not Classification.BOUNCE:
        return set()
    return {address for address, recipient_id in known.items() if recipient_id is not None}


async def act_on(
    conn: asyncpg.Connection, message_id: uuid.UUID, verdict: Verdict, soft_limit: int, soft_days: int,
    *, keyed_hash: KeyedHash, max_actions: int = 10, thresholds: Thresholds | None = None,
) -> list[dict]:
    """Carry out what the verdict calls for, inside the caller's transaction; return the actions.

    A message that would act on more than `max_actions` addresses (OPTOUT_MAX_ACTIONS_PER_MESSAGE)
    does nothing and returns one `held` action (with `limit`; `held_by_limit` tells it): the
    caller keeps the message held for staff. Otherwise a verified token or the sender's own
    request acts at once, while an address taken from a report or named in someone's words
    acts only when CETIT knows it; the rest are `not_acted`. A bounce about an address that was
    given a return path acts only through it (`_return_path_bounce`). Every suppression is an event
    whose detail names the message. Soft bounces are counted, and the one that reaches
    OPTOUT_SOFT_BOUNCE_LIMIT within OPTOUT_SOFT_BOUNCE_DAYS suppresses like a hard bounce.
    The `keyed_hash` of OPTOUT_HASH_KEY keeps an erased address from being written again.
    What was done to the recipient of the link the message carries counts for its campaign
    (`thresholds`: the campaign guardrails').
    """
    actions = await _act(conn, message_id, verdict, soft_limit, soft_days, keyed_hash, max_actions)
    if verdict.carried is not None and verdict.carried.campaign:
        await _count_for_campaign(conn, verdict, actions, thresholds or Thresholds())
    return actions


async def _count_for_campaign(conn: asyncpg.Connection, verdict: Verdict, actions: Sequence[dict],
                              thresholds: Thresholds) -> None:
    """A report counts for the campaign of the link it carries only when it was acted on for that
    link's own recipient: a bounce at a return path whose token names someone else, or one sent
    to info@ and not acted on, counts for none."""
    claim = verdict.carried
    address = claim.address
    if address is None and claim.recipient_id is not None:
        address = await known_queries.address_of_recipient(conn, claim.recipient_id)
    address = canonical_or_none(address or "")
    if address is None:
        return
    done = {a.get("type") for a in actions
            if isinstance(a.get("email"), str) and canonical_or_none(a["email"]) == address}
    kind = None
    if verdict.classification is Classification.BOUNCE:
        kind = (ReportKind.SOFT_BOUNCE if Action.SOFT_BOUNCE in done else
                ReportKind.HARD_BOUNCE if done & _SUPPRESSED else None)
    elif done & _SUPPRESSED:
        kind = {Classification.COMPLAINT: ReportKind.COMPLAINT,
                Classification.UNSUBSCRIBE: ReportKind.UNSUBSCRIBE}.get(verdict.classification)
    if kind is not None:
        await count_for_campaign(conn, replace(claim, address=address), kind, thresholds)


_SUPPRESSED = frozenset({Action.SUPPRESSED, Action.ALREADY_SUPPRESSED})


async def _act(conn: asyncpg.Connection, message_id: uuid.UUID, verdict: Verdict, soft_limit: int, soft_days: int,
               keyed_hash: KeyedHash, max_actions: int) -> list[dict]:
    if verdict.at_return_path:
        return await _return_path_bounce(conn, message_id, verdict, soft_limit, soft_days, keyed_hash)
    count = len(addresses_to_act_on(verdict))
    if count > max_actions:
        return [{"type": Action.HELD, "limit": max_actions, "addresses": count,
                 "reason": f"the message would act on {count} addresses, more than "
                           f"OPTOUT_MAX_ACTIONS_PER_MESSAGE={max_actions}: nothing was done; kept for staff"}]
    known = await _known(conn, verdict)
    elsewhere = _bounced_elsewhere(verdict, known)
    actions = []
    acted: set[tuple] = set()  # a report that names its recipient and carries their link acts once
    for item in verdict.suppress:
        if item.recipient_id is not None:  # a link token: its recipient id names the address, until erased
            named = await known_queries.address_of_recipient(conn, item.recipient_id)
            if named is None:
                actions.append({"type": Action.NOT_ACTED, "reason": "the link's address was erased: blocked already"})
                continue
            item = replace(item, address=named)
        address = canonical_or_none(item.address)
        if item.basis.needs_known and address is not None and address not in known:
            actions.append({"type": Action.NOT_ACTED, "email": address, "reason": NOT_KNOWN[item.basis]})
            continue
        if address in elsewhere:
            actions.append({"type": Action.NOT_ACTED, "email": address, "reason": NOT_THROUGH_RETURN_PATH})
            continue
        if (address, item.scope) in acted:
            continue
        acted.add((address, item.scope))
        actions.append(await _suppress(conn, message_id, item.address, item.scope, item.reason, item.source, keyed_hash))
    for item in verdict.withheld:
        actions.append({"type": Action.NOT_ACTED, "email": item.address[:254], "reason": verdict.withheld_reason})
    for written in verdict.soft_bounces:
        if canonical_or_none(written) in elsewhere:
            actions.append({"type": Action.NOT_ACTED, "email": canonical_or_none(written),
                            "reason": NOT_THROUGH_RETURN_PATH})
            continue
        actions.extend(await _soft_bounce(conn, message_id, written, set(known), soft_limit, soft_days, keyed_hash))
    for address in verdict.mentioned:
        actions.append({"type": Action.RECORDED, "email": address,
                        "note": "named in the bounce, not said to have failed"})
    if verdict.privacy:
        actions.extend(await _privacy_requests(conn, message_id, verdict, keyed_hash))
    return actions


async def _privacy_requests(conn: asyncpg.Connection, message_id: uuid.UUID, verdict: Verdict,
                            keyed_hash: KeyedHash) -> list[dict]:
    """Each kind asked for is a request due one month after the message arrived. An erased
    sender's request is recorded without their address: it names no one in clear again."""
    address = canonical_or_none(verdict.sender or "")
    if address is not None and await queries.erased_among(conn, [keyed_hash.of(address)]):
        address = None
    received_at = await consent_queries.message_received_at(conn, message_id) or datetime.now(timezone.utc)
    actions = []
    for kind in verdict.privacy:
        made = await ledger.record_request(conn, kind, address, message_id, received_at)
        if made is not None:
            actions.append({"type": Action.PRIVACY_REQUEST, "kind": kind, "request": made.id,
                            "due": made.due.isoformat()})
    return actions


async def without_erased(conn: asyncpg.Connection, addresses: Sequence[str], actions: list[dict],
                         keyed_hash: KeyedHash) -> tuple[list[str], list[dict]]:
    """What reading a message found, less every erased address: a message may name a person
    without writing their address (a link token in it), and one received before their
    erasure may be read after it; what is recorded of it must not name them in clear."""
    named = {a for a in addresses if isinstance(a, str)}
    named |= {a["email"] for a in actions if isinstance(a.get("email"), str)}
    if not named:
        return list(addresses), actions
    by_hash = {keyed_hash.of(a): a for a in named}
    erased = {by_hash[h] for h in await queries.erased_among(conn, list(by_hash))}
    if not erased:
        return list(addresses), actions
    kept = [a for a in addresses if a not in erased]
    redacted = [{**{k: v for k, v in a.items() if k != "email"}, "erased": True} if a.get("email") in erased else a
                for a in actions]
    return kept, redacted


async def _return_path_bounce(conn: asyncpg.Connection, message_id: uuid.UUID, verdict: Verdict, soft_limit: int,
                              soft_days: int, keyed_hash: KeyedHash) -> list[dict]:
    """A bounce at a return path acts on the one recipient its token names, and on no one else."""
    address = None
    if verdict.return_path_recipient is not None:
        address = await known_queries.address_of_recipient(conn, verdict.return_path_recipient)
    if address is None:
        why = ("its return path's token does not verify" if verdict.return_path_recipient is None else
               "its return path names no one CETIT knows now (erased, or never issued)")
        return [{"type": Action.NOT_ACTED, "reason": f"a bounce at a return path: {why}; no one is suppressed"}]
    if verdict.kind == BounceKind.HARD:
        actions = [await _suppress(conn, message_id, address, "global", "bounce", "verp", keyed_hash)]
    else:
        actions = await _soft_bounce(conn, message_id, address, {address}, soft_limit, soft_days, keyed_hash, source="verp")
    actions += [{"type": Action.RECORDED, "email": a, "note": "named in the bounce, not its recipient"}
                for a in verdict.mentioned if a != address][:MAX_RECORDED]
    return actions


async def _soft_bounce(conn: asyncpg.Connection, message_id: uuid.UUID, written: str, known: set[str],
                       soft_limit: int, soft_days: int, keyed_hash: KeyedHash, source: str = "dsn") -> list[dict]:
    address = canonical_or_none(written)
    if address is None:
        return [{"type": Action.INVALID_ADDRESS, "value": written[:254], "error": "not an address"}]
    if address not in known:
        return [{"type": Action.NOT_ACTED, "email": address, "reason": NOT_KNOWN[Basis.REPORT]}]
    count = await inbound_queries.count_soft_bounce(conn, address, message_id, "", soft_days)
    actions = [{"type": Action.SOFT_BOUNCE, "email": address, "count": count, "limit": soft_limit, "days": soft_days}]
    if count < soft_limit:  # the one that reaches the limit is a suppression, an event of its own
        await queries.insert_event(conn, address, HistoryType.SOFT_BOUNCE, scope="global", reason="bounce", source=source,
                                   detail={"message_id": str(message_id), "count": count, "limit": soft_limit,
                                           "days": soft_days},
                                   actor=Actor.MAIL, published_as=EventType.BOUNCE_SOFT)
    if count >= soft_limit:
        note = f"{count} soft bounces within {soft_days} days"
        actions.append(await _suppress(conn, message_id, address, "global", "bounce", source, keyed_hash, note))
    return actions


def parse_id(text: str) -> uuid.UUID:
    try:
        return uuid.UUID(text)
    except (ValueError, TypeError):
        raise NotFound("No inbound message has this id.") from None


async def listing(conn: asyncpg.Connection, cursor: str | None, status: str | None, since: datetime | None,
                  limit: int) -> MessagePage:
    """Stored messages, newest first, a page at a time (GET /v1/inbound)."""
    if status is not None and status not in InboundStatus.__members__.values():
        raise InvalidInput(f"'status' must be one of {', '.join(InboundStatus)}.", field="status")
    before = decode_inbound_cursor(cursor) if cursor else None
    rows = await inbound_queries.list_inbound(conn, before, status, since, limit)
    messages = tuple(ListedMessage(r["id"], r["received_at"], r["sender"], r["subject"], InboundStatus(r["status"]),
                                   r["classification"]) for r in rows)
    last = messages[-1] if len(messages) == limit else None
    return MessagePage(messages, encode_inbound_cursor(last.received_at, last.id) if last else None)


async def describe(conn: asyncpg.Connection, message_id: uuid.UUID) -> InboundMessage:
    row = await inbound_queries.inbound_message(conn, message_id)
    if row is None:
        raise NotFound("No inbound message has this id.")
    return InboundMessage(row["id"], InboundStatus(row["status"]), row["classification"], row["kind"],
                          tuple(row["addresses"]), tuple(row["actions"]), row["received_at"], row["processed_at"],
                          row["error"])

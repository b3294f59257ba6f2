"""Unsubscribe links: what a link carries, and what clicking, one-click and undo do."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, NamedTuple
from urllib.parse import quote

from ...storage import consent_queries, known_queries, queries
from ..addresses import canonical_address
from ..campaigns import guard
from ..campaigns.model import ReportKind, Thresholds, valid_campaign
from ..errors import Conflict, DomainError, Forbidden, InvalidInput
from ..events.model import Actor, EventType, HistoryType
from . import suppression_list
from .keyed_hash import KeyedHash
from .model import Link, LinkRefused
from .return_paths import ERASED_ID, ReturnPaths
from .rules import GLOBAL, valid_scope
from ..tokens import LinkClaim, TokenSigner

if TYPE_CHECKING:
    import asyncpg

MAX_LINKS = 10_000
MAX_HISTORY = 10_000  # events of one address read to find which link made its suppression
ONE_CLICK_BODY = "List-Unsubscribe=One-Click"
LINK_SOURCES = frozenset({"one_click", "link"})  # what a link may undo: what links did


def link_for(signer: TokenSigner, public_url: str, mailto: str, email: object, scope: str,
             campaign: str | None, recipient_id: int) -> Link | LinkRefused:
    """The URL and the RFC 8058 headers (List-Unsubscribe, List-Unsubscribe-Post) of one recipient
    whose recipient id is known (ERASED_ID for an erased address)."""
    try:
        canonical_address(email)
    except DomainError as exc:
        return LinkRefused(email, exc.code, exc.message)
    return _link(signer, public_url, mailto, email, scope, campaign, recipient_id)


def _link(signer: TokenSigner, public_url: str, mailto: str, email: object, scope: str, campaign: str | None,
          recipient_id: int) -> Link:
    token = signer.issue(recipient_id, scope, campaign)
    url = f"{public_url}/u/{token}"
    mail = f"mailto:{mailto}?subject={quote('unsubscribe ' + token)}"
    headers = {"List-Unsubscribe": f"<{url}>, <{mail}>", "List-Unsubscribe-Post": ONE_CLICK_BODY}
    return Link(email, url, headers)


async def issue_links(conn: asyncpg.Connection, signer: TokenSigner, public_url: str, mailto: str,
                      recipients: object, keyed_hash: KeyedHash,
                      return_paths: ReturnPaths, thresholds: Thresholds) -> list[Link | LinkRefused]:
    """Links for up to MAX_LINKS recipients, in input order (a bad address is reported in place),
    each with its return path. The addresses are recorded as known (mail goes to them, their
    bounces count) and numbered, in a few statements for all of them; tokens and return paths
    carry the number, never the address. An erased address is written nowhere: its link and its
    return path name no one. Each recipient given a link in a campaign counts once in its `sent`,
    which may pause it (`thresholds`)."""
    if not isinstance(recipients, list):
        raise InvalidInput("'recipients' must be a list of {\"email\", \"scope\"} objects.", field="recipients")
    if len(recipients) > MAX_LINKS:
        raise InvalidInput(f"At most {MAX_LINKS} recipients per call; got {len(recipients)}.", field="recipients")
    # Validating and signing 10,000 links is CPU work: off the event loop.
    wanted = await asyncio.to_thread(_wanted, recipients)
    addresses = sorted({w.address for w in wanted if w.address is not None})
    ids = await known_queries.recipient_ids(conn, addresses, "link", keyed_hash.pads)
    await guard.count_sent(conn, ((w.campaign, ids[w.address]) for w in wanted
                                  if w.campaign is not None and w.address in ids), thresholds)
    return await asyncio.to_thread(_links_of, signer, public_url, mailto, return_paths, wanted, ids)


@dataclass(frozen=True, slots=True)
class _Wanted:
    email: object
    scope: str
    campaign: str | None
    address: str | None = None
    refused: LinkRefused | None = None


def _wanted(recipients: list) -> list[_Wanted]:
    wanted = []
    for index, item in enumerate(recipients):
        if not isinstance(item, dict):
            raise InvalidInput(f"recipients[{index}] must be an object with 'email'.", field="recipients")
        scope = valid_scope(item.get("scope", GLOBAL))
        campaign = valid_campaign(item.get("campaign"), f"recipients[{index}].campaign")
        email = item.get("email")
        try:
            wanted.append(_Wanted(email, scope, campaign, address=canonical_address(email)))
        except DomainError as exc:
            wanted.append(_Wanted(email, scope, campaign, refused=LinkRefused(email, exc.code, exc.message)))
    return wanted


def _links_of(signer: TokenSigner, public_url: str, mailto: str, return_paths: ReturnPaths, wanted: list[_Wanted],
              ids: dict[str, int]) -> list[Link | LinkRefused]:
    links = []
    for item in wanted:
        if item.refused is not None:
            links.append(item.refused)
            continue
        recipient_id = ids.get(item.address, ERASED_ID)
        link = _link(signer, public_url, mailto, item.email, item.scope, item.campaign, recipient_id)
        links.append(replace(link, return_path=return_paths.address(recipient_id)))
    return links


async def resolve(conn: asyncpg.Connection, claim: LinkClaim) -> LinkClaim:
    """The claim with its address: an opaque token names a recipient id, which names the
    address until an erasure deletes it (then the address stays None: the erased state)."""
    if claim.address is not None or claim.recipient_id is None:
        return claim
    address = None
    if claim.recipient_id != ERASED_ID:
        address = await known_queries.address_of_recipient(conn, claim.recipient_id)
    return replace(claim, address=address)


async def unsubscribe(conn: asyncpg.Connection, claim: LinkClaim, scope: str, source: str,
                      keyed_hash: KeyedHash, registered: frozenset[str] = frozenset(),
                      thresholds: Thresholds | None = None) -> Unsubscribed:
    """Suppress the link's address in its scope (or global, when the person chose all mail).

    The page lists the registered scopes (`registered`): the person may leave any of them.
    Idempotent: a second call finds the suppression and changes nothing. Returns whether
    it was new, whether the address is erased (the same statement found out) and the address;
    an opaque link's address is found by that statement too (it need not be resolved). An old
    link (expired signature) unsubscribes all the same. The event names the link, so that
    only this link can undo what it did. An erased address (found by its `keyed_hash`) is
    blocked already and is not written again. The unsubscribe counts for the link's
    campaign, once per recipient.
    """
    if scope not in (claim.scope, GLOBAL) and scope not in registered:
        raise InvalidInput("A link unsubscribes from its own kind of mail, another registered kind, or all of it.")
    detail = {"campaign": claim.campaign} if claim.campaign else {}
    detail.update(link_scope=claim.scope, link=claim.link_id)
    if claim.address is None and claim.recipient_id not in (None, ERASED_ID):
        # An opaque link: the statement that suppresses finds the address its recipient id names.
        address, created, _ = await suppression_list.suppress_recipient(
            conn, claim.recipient_id, scope, "unsubscribe", source, detail, keyed_hash=keyed_hash, actor=Actor.RECIPIENT,
            campaign=claim.campaign or None)
        return Unsubscribed(created, address is None, address)
    if claim.address is None:  # the link names no one any more (erased): blocked already, nothing is written
        return Unsubscribed(False, True)
    # A link's own recipient id counts the unsubscribe for its campaign in the same statement; a
    # link made before links carried one names its address, which is looked up afterwards.
    counted_along = (claim.campaign, claim.recipient_id) if claim.campaign and claim.recipient_id else None
    created, item = await suppression_list.suppress(conn, claim.address, scope, "unsubscribe", source, detail=detail,
                                                    keyed_hash=keyed_hash, actor=Actor.RECIPIENT,
                                                    campaign_unsubscribe=counted_along)
    if claim.campaign and counted_along is None and not item.erased:
        await count_for_campaign(conn, claim, ReportKind.UNSUBSCRIBE, thresholds or Thresholds())
    return Unsubscribed(created, item.erased, None if item.erased else claim.address)


async def count_for_campaign(conn: asyncpg.Connection, claim: LinkClaim, kind: ReportKind,
                             thresholds: Thresholds) -> bool:
    """Count what the link's recipient did or reported for the link's campaign (a link made
    before links carried recipient ids names its address, which is looked up)."""
    if not claim.campaign:
        return False
    recipient_id = claim.recipient_id
    if recipient_id is None and claim.address is not None:
        recipient_id = (await known_queries.ids_of(conn, [claim.address])).get(claim.address)
    if recipient_id is None:
        return False
    return await guard.count_report(conn, claim.campaign, recipient_id, kind, thresholds)


class Unsubscribed(NamedTuple):
    created: bool  # the suppression is new
    erased: bool  # the address was erased: nothing was written, its page names no one
    address: str | None = None  # the address unsubscribed (None when erased)


async def is_erased(conn: asyncpg.Connection, address: str, keyed_hash: KeyedHash) -> bool:
    """Whether this (canonical) address was erased on request: its page then names no one."""
    return await queries.erased_since(conn, keyed_hash.of(address)) is not None


class Erased(Forbidden):
    """The link's address was erased on request: it stays suppressed, whatever the link says."""


async def resubscribe(conn: asyncpg.Connection, claim: LinkClaim, scope: str, keyed_hash: KeyedHash) -> bool:
    """Undo the unsubscribe that this very link made in `scope`; return whether there was one.

    Never a bounce or complaint, nor an unsubscribe made another way or with another link (an
    `events` link does not undo what a `newsletter` link did). With nothing left to undo (it was
    undone already, or the request is a replay) nothing changes and nothing is recorded. An
    erased address stays suppressed: its old link cannot subscribe it again.
    """
    if claim.expired:
        raise Forbidden("This link is too old to subscribe again.")
    valid_scope(scope)  # any scope this very link unsubscribed from (its page offers the registered ones)
    if claim.address is None or await queries.erased_since(conn, keyed_hash.of(claim.address)) is not None:
        raise Erased("This address was erased on request; it stays suppressed.")
    row = await queries.suppression_for_update(conn, claim.address, scope)
    if row is None:
        return False
    if row["reason"] != "unsubscribe" or row["source"] not in LINK_SOURCES:
        raise Conflict("This address was not suppressed by an unsubscribe link, so a link cannot undo it.")
    if not await _made_by(conn, claim, scope):
        raise Conflict("This unsubscribe was made with another link; only that link can undo it.")
    await queries.delete_suppression(conn, claim.address, scope)
    detail = {"campaign": claim.campaign} if claim.campaign else {}
    await queries.insert_event(
        conn, claim.address, HistoryType.RESUBSCRIBED, scope=scope, reason="unsubscribe", source="link",
        detail={**detail, "link": claim.link_id}, actor=Actor.RECIPIENT, published_as=EventType.SUPPRESSION_LIFTED,
    )
    # What the unsubscribe withdrew comes back with it: the consents it covered are given again.
    await consent_queries.restore_consents(conn, claim.address, scope, Actor.RECIPIENT)
    return True


async def _made_by(conn: asyncpg.Connection, claim: LinkClaim, scope: str) -> bool:
    """Whether the address's current suppression in `scope` was made with this link: every
    suppression is written with its 'suppressed' event, so the newest one in the scope is its own."""
    history = await queries.events_of_address(conn, claim.address, MAX_HISTORY)
    if len(history) >= MAX_HISTORY:
        return False  # the newest events may lie beyond what was read: keep the suppression
    made = [event for event in history if event["type"] == HistoryType.SUPPRESSED and event["scope"] == scope]
    return bool(made) and (made[-1]["detail"] or {}).get("link") == claim.link_id

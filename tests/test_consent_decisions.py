"""How the check decides with consent (CONTRACT: Consent), as a table of histories and answers.

Each row is what happened to one address, in order, and what the check then answers in each
scope asked about. `news` is registered `required`, `events` `none`, `shop` `soft_opt_in`;
`other` is not registered. Every step runs through the domain on a real PostgreSQL.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from service.domain.consent import ledger
from service.domain.consent.ledger import ConsentInput
from service.domain.errors import Conflict, Expired, TooManyRequests
from service.domain.suppressions import links, suppression_list
from service.domain.suppressions.keyed_hash import KeyedHash
from service.domain.suppressions.erasure import erase
from service.domain.tokens import LinkClaim
from service.storage import known_queries

HASH_KEY = b"consent-test-hash-key-" + b"k" * 10
KEYED_HASH = KeyedHash(HASH_KEY)
WHO = "lena.peeters@example.be"
SENT: list[tuple[int, str, str, str]] = []
MAX_AGE = timedelta(days=7)


def compose(consent_id: int, address: str, language: str, scope: str) -> tuple[bytes, str, str]:
    SENT.append((consent_id, address, language, scope))
    return b"Subject: bevestig\r\n\r\nklik\r\n", "bounces@cetit.be", address


def consent(scope: str, confirm: bool = False, **extra) -> ConsentInput:
    return ConsentInput.read({"email": WHO, "scope": scope, "source": "web_form", "language": "nl",
                              "text": f"Ja, stuur mij {scope}.", "text_version": "2026-12", "confirm": confirm,
                              "ip": "198.51.100.7", "user_agent": "Firefox", **extra})


async def run(conn, step: str) -> None:
    kind, _, arg = step.partition(" ")
    if kind == "give":  # a consent given at once
        await ledger.give(conn, consent(arg), actor="web", keyed_hash=KEYED_HASH, compose=compose)
    elif kind == "confirmed":  # double opt-in, confirmed by the person
        pending = await ledger.give(conn, consent(arg, confirm=True), actor="web", keyed_hash=KEYED_HASH, compose=compose)
        await ledger.confirm(conn, pending.id, "203.0.113.9", "Safari", max_age=MAX_AGE)
    elif kind == "pending":  # double opt-in, never confirmed
        await ledger.give(conn, consent(arg, confirm=True), actor="web", keyed_hash=KEYED_HASH, compose=compose)
    elif kind in ("unsubscribe", "complaint", "bounce", "manual"):
        reason, source = (kind, {"unsubscribe": "link", "complaint": "arf", "bounce": "dsn", "manual": "phone"}[kind])
        await suppression_list.suppress(conn, WHO, arg or "global", reason, source, keyed_hash=KEYED_HASH)
    elif kind == "resubscribe":  # the link of the unsubscribe in `arg` undoes it
        claim = await link_claim(conn, arg)
        assert await links.resubscribe(conn, claim, arg, KEYED_HASH)
    else:
        raise AssertionError(step)


async def link_claim(conn, scope: str) -> LinkClaim:
    ids = await known_queries.recipient_ids(conn, [WHO], "link", KEYED_HASH.pads)
    claim = LinkClaim(WHO, scope, None, datetime.now(timezone.utc), False, ids[WHO])
    return claim


async def unsubscribe_by_link(conn, scope: str) -> None:
    claim = await link_claim(conn, scope)
    await links.unsubscribe(conn, claim, scope, "link", KEYED_HASH)


async def answers(conn, scopes: tuple[str, ...]) -> dict[str, str]:
    got = {}
    for scope in scopes:
        result = (await suppression_list.check(conn, [WHO], scope, KEYED_HASH))[0]
        got[scope] = "allowed" if result.allowed else f"{result.reason}:{result.scope}"
    return got


TABLE = [
    # history, {scope: answer}
    ([], {"news": "no_consent:news", "events": "allowed", "shop": "allowed", "other": "allowed", "global": "allowed"}),
    (["give news"], {"news": "allowed", "events": "allowed"}),
    (["give global"], {"news": "allowed"}),
    (["give events"], {"news": "no_consent:news"}),
    (["pending news"], {"news": "no_consent:news"}),
    (["give news", "unsubscribe news"], {"news": "unsubscribe:news", "events": "allowed"}),
    (["give news", "unsubscribe global"], {"news": "unsubscribe:global", "events": "unsubscribe:global"}),
    # the newest act wins: a confirmed consent after a global unsubscribe allows that scope only
    (["unsubscribe global", "confirmed news"], {"news": "allowed", "events": "unsubscribe:global",
                                                "other": "unsubscribe:global"}),
    (["unsubscribe news", "confirmed news"], {"news": "allowed"}),
    (["unsubscribe global", "confirmed global"], {"news": "allowed", "events": "allowed"}),
    (["unsubscribe global", "confirmed news", "unsubscribe global"], {"news": "unsubscribe:global"}),
    (["unsubscribe global", "confirmed news", "unsubscribe news"], {"news": "unsubscribe:global"}),
    (["unsubscribe global", "pending news"], {"news": "unsubscribe:global"}),
    # what always blocks
    (["give news", "complaint"], {"news": "complaint:global", "events": "complaint:global"}),
    (["give news", "bounce"], {"news": "bounce:global"}),
    (["give news", "manual news"], {"news": "manual:news", "events": "allowed"}),
    # a suppression is reported before no_consent
    (["unsubscribe events"], {"news": "no_consent:news", "events": "unsubscribe:events"}),
    (["unsubscribe news"], {"news": "unsubscribe:news"}),
]


@pytest.fixture
async def registry(pool):
    async with pool.acquire() as conn:
        await ledger.register_scope(conn, "news", {"nl": "Nieuwsbrief", "en": "Newsletter"}, "required")
        await ledger.register_scope(conn, "events", {"nl": "Evenementen"}, "none")
        await ledger.register_scope(conn, "shop", {"nl": "Winkel"}, "soft_opt_in")
        await known_queries.recipient_ids(conn, [WHO], "link", KEYED_HASH.pads)  # a link was issued: the address is known
    return pool


@pytest.mark.parametrize("history, expected", TABLE, ids=[" > ".join(h) or "nothing" for h, _ in TABLE])
async def test_the_check_answers_by_the_newest_act(registry, history, expected):
    async with registry.acquire() as conn:
        for step in history:
            await run(conn, step)
        assert await answers(conn, tuple(expected)) == expected


async def test_an_unsubscribe_withdraws_the_consents_it_covers_as_events(registry):
    async with registry.acquire() as conn:
        await run(conn, "give news")
        await run(conn, "give events")
        await run(conn, "unsubscribe news")
        states = {c.scope: (c.status, c.withdrawn_by) for c in await ledger.consents_of(conn, WHO)}
        assert states == {"news": ("withdrawn", "unsubscribe:news"), "events": ("given", None)}
        await run(conn, "unsubscribe global")
        assert {c.status for c in await ledger.consents_of(conn, WHO)} == {"withdrawn"}
        types = [e["type"] for e in await conn.fetch("SELECT type FROM events WHERE address = $1 ORDER BY id", WHO)]
        assert types.count("consent_given") == 2 and types.count("consent_withdrawn") == 2


async def test_a_resubscribe_by_link_gives_back_what_its_unsubscribe_withdrew(registry):
    async with registry.acquire() as conn:
        await run(conn, "give news")
        await unsubscribe_by_link(conn, "news")
        assert await answers(conn, ("news",)) == {"news": "unsubscribe:news"}
        await run(conn, "resubscribe news")
        assert await answers(conn, ("news",)) == {"news": "allowed"}
        [news] = await ledger.consents_of(conn, WHO)
        assert (news.status, news.withdrawn_at) == ("given", None)


@pytest.mark.parametrize("before, confirm", [
    (["bounce"], True), (["complaint"], True), (["manual news"], True), (["manual global"], True),
    (["unsubscribe news"], False), (["unsubscribe global"], False),
])
async def test_a_consent_never_lifts_what_blocks_for_good_and_needs_confirmation_after_an_unsubscribe(
        registry, before, confirm):
    async with registry.acquire() as conn:
        for step in before:
            await run(conn, step)
        with pytest.raises(Conflict):
            await ledger.give(conn, consent("news", confirm=confirm), actor="web", keyed_hash=KEYED_HASH, compose=compose)
        assert await ledger.consents_of(conn, WHO) == []


@pytest.mark.parametrize("unsubscribed, scope", [
    ("news", "global"), ("news", "events"), ("news", "news"), ("events", "news"), ("global", "shop"),
])
async def test_after_an_unsubscribe_in_any_scope_an_unconfirmed_consent_is_refused_in_every_scope(
        registry, unsubscribed, scope):
    async with registry.acquire() as conn:
        await run(conn, f"unsubscribe {unsubscribed}")
        with pytest.raises(Conflict, match="unsubscribed"):
            await ledger.give(conn, consent(scope), actor="web", keyed_hash=KEYED_HASH, compose=compose)
        assert await ledger.consents_of(conn, WHO) == []
        pending = await ledger.give(conn, consent(scope, confirm=True), actor="web", keyed_hash=KEYED_HASH, compose=compose)
        assert pending.status == "pending"


async def test_a_confirmation_link_replayed_after_a_withdrawal_changes_nothing(registry):
    async with registry.acquire() as conn:
        pending = await ledger.give(conn, consent("news", confirm=True), actor="web", keyed_hash=KEYED_HASH, compose=compose)
        await run(conn, "unsubscribe news")
        with pytest.raises(Conflict):
            await ledger.confirm(conn, pending.id, None, None, max_age=MAX_AGE)
        [news] = await ledger.consents_of(conn, WHO)
        assert news.status == "withdrawn" and news.confirmed_at is None
        assert await answers(conn, ("news",)) == {"news": "unsubscribe:news"}


async def test_a_confirmation_older_than_its_max_age_is_refused_and_changes_nothing(registry):
    async with registry.acquire() as conn:
        pending = await ledger.give(conn, consent("news", confirm=True), actor="web", keyed_hash=KEYED_HASH, compose=compose)
        later = datetime.now(timezone.utc) + MAX_AGE + timedelta(minutes=1)
        with pytest.raises(Expired):
            await ledger.pending(conn, pending.id, max_age=MAX_AGE, now=later)
        with pytest.raises(Expired):
            await ledger.confirm(conn, pending.id, "203.0.113.9", "Safari", max_age=MAX_AGE, now=later)
        [news] = await ledger.consents_of(conn, WHO)
        assert (news.status, news.given_at, news.confirmed_at) == ("pending", None, None)
        assert await answers(conn, ("news",)) == {"news": "no_consent:news"}
        in_time = datetime.now(timezone.utc) + MAX_AGE - timedelta(minutes=1)
        assert (await ledger.pending(conn, pending.id, max_age=MAX_AGE, now=in_time)).status == "pending"
        confirmed = await ledger.confirm(conn, pending.id, None, None, max_age=MAX_AGE, now=in_time)
        assert confirmed.status == "given"
        assert (await ledger.pending(conn, pending.id, max_age=MAX_AGE, now=later)).status == "given"


async def test_confirming_twice_is_confirming_once(registry):
    async with registry.acquire() as conn:
        pending = await ledger.give(conn, consent("news", confirm=True), actor="web", keyed_hash=KEYED_HASH, compose=compose)
        first = await ledger.confirm(conn, pending.id, "203.0.113.9", "Safari", max_age=MAX_AGE)
        again = await ledger.confirm(conn, pending.id, "192.0.2.1", "curl", max_age=MAX_AGE)
        assert first.confirmed_at == again.confirmed_at and again.proof["confirmed_ip"] == "203.0.113.9"
        assert first.proof["ip"] == "198.51.100.7" and first.proof["user_agent"] == "Firefox"


async def test_at_most_three_confirmation_mails_per_address_a_day(registry):
    async with registry.acquire() as conn:
        SENT.clear()
        for _ in range(3):
            await ledger.give(conn, consent("news", confirm=True), actor="web", keyed_hash=KEYED_HASH, compose=compose)
        with pytest.raises(TooManyRequests):
            await ledger.give(conn, consent("news", confirm=True), actor="web", keyed_hash=KEYED_HASH, compose=compose)
        assert len(SENT) == 3
        assert await conn.fetchval("SELECT count(*) FROM outbox WHERE kind = 'confirmation'") == 3


async def test_a_consent_for_an_erased_address_stores_nothing_in_clear(registry):
    async with registry.acquire() as conn:
        await run(conn, "give news")
        await erase(conn, KEYED_HASH, WHO, "test")
        with pytest.raises(Conflict):
            await ledger.give(conn, consent("news"), actor="web", keyed_hash=KEYED_HASH, compose=compose)
        assert await conn.fetchval("SELECT count(*) FROM consents") == 0
        assert await conn.fetch("SELECT type, detail FROM events WHERE address = $1", WHO) == []
        assert not (await suppression_list.check(conn, [WHO], "news", KEYED_HASH))[0].allowed

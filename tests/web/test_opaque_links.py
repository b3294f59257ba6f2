"""Links name no address: the token carries a recipient id, the scope, the campaign and the day,
signed; the service finds the address. Links made before still work."""

from __future__ import annotations

import base64
from datetime import date, timedelta

from service.domain.tokens import TokenSigner
from service.storage.db import transaction
from service.domain.inbound import inbox
from service.worker import Worker
from tests.test_worker import FAST, drain

ONE_CLICK = {"Content-Type": "application/x-www-form-urlencoded"}


async def link(client, auth, email: str, scope: str = "newsletter", campaign: str | None = None) -> str:
    item = {"email": email, "scope": scope, **({"campaign": campaign} if campaign else {})}
    links = (await (await client.post("/v1/links", json={"recipients": [item]}, headers=auth)).json())["links"]
    return links[0]["url"].split("/u/", 1)[1]


async def test_a_link_is_short_and_names_no_address_in_any_form(client, auth):
    token = await link(client, auth, "jan.peeters@example.be", campaign="2026-12")
    assert len(token) <= 60 and "." not in token
    decoded = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
    assert b"jan" not in decoded.lower() and b"example" not in decoded.lower()


async def test_the_page_shows_the_address_masked_and_one_click_unsubscribes_it(client, auth, pool):
    token = await link(client, auth, "jan.peeters@example.be")
    page = await (await client.get(f"/u/{token}")).text()
    assert "j…@example.be" in page and "jan.peeters" not in page
    response = await client.post(f"/u/{token}", data="List-Unsubscribe=One-Click", headers=ONE_CLICK)
    assert response.status == 200
    row = await pool.fetchrow("SELECT address, scope, source FROM suppressions")
    assert tuple(row) == ("jan.peeters@example.be", "newsletter", "one_click")


async def test_a_link_made_before_opaque_tokens_still_unsubscribes(client, settings, pool):
    old = TokenSigner(settings.secret_keys, timedelta(days=90)).sign("marie@example.be", "events")
    response = await client.post(f"/u/{old}", data="List-Unsubscribe=One-Click", headers=ONE_CLICK)
    assert response.status == 200
    assert tuple(await pool.fetchrow("SELECT address, scope FROM suppressions")) == ("marie@example.be", "events")


async def test_after_erasure_a_link_names_no_one_stores_nothing_and_cannot_resubscribe(client, auth, pool):
    token = await link(client, auth, "jan@example.be")
    assert (await client.post(f"/u/{token}", data="List-Unsubscribe=One-Click", headers=ONE_CLICK)).status == 200
    assert (await client.post("/v1/erasure", json={"email": "jan@example.be"}, headers=auth)).status == 200
    page = await (await client.get(f"/u/{token}")).text()
    assert "j…@example.be" not in page and "jan" not in page
    again = await client.post(f"/u/{token}", data="List-Unsubscribe=One-Click", headers=ONE_CLICK)
    assert again.status == 200 and "jan" not in await again.text()
    assert (await client.post(f"/u/{token}/resubscribe", data={"scope": "newsletter"})).status == 403
    assert await pool.fetchval("SELECT count(*) FROM suppressions") == 0
    assert await pool.fetchval("SELECT count(*) FROM events WHERE address IS NOT NULL") == 0


async def test_a_second_one_click_names_the_address_and_writes_nothing_new(client, auth, pool):
    """The statement that suppresses finds the address the link's recipient id names, also when
    that address was suppressed already: the answer names it (masked), nothing is written twice."""
    token = await link(client, auth, "jan.peeters@example.be", campaign="winter")
    for _ in range(2):
        response = await client.post(f"/u/{token}", data="List-Unsubscribe=One-Click", headers=ONE_CLICK)
        assert response.status == 200 and "j…@example.be" in await response.text()
    assert await pool.fetchval("SELECT count(*) FROM suppressions") == 1
    assert await pool.fetchval("SELECT count(*) FROM events WHERE type = 'suppressed'") == 1
    assert await pool.fetchval("SELECT count(*) FROM campaign_reports WHERE kind = 'unsubscribe'") == 1
    done = await client.post(f"/u/{token}", data={"confirm": "yes", "choice": "all"})
    assert done.status == 200 and "j…@example.be" in await done.text()
    assert set(await pool.fetchval("SELECT array_agg(scope) FROM suppressions")) == {"newsletter", "global"}


async def test_a_click_while_the_address_is_being_erased_writes_nothing(client, auth, pool, settings):
    """An erasure that committed after the link's recipient id was read: the statement matches
    the address's keyed hash, worked out in SQL from the key's pads, against the erasures."""
    from service.domain.suppressions.keyed_hash import KeyedHash

    token = await link(client, auth, "jan@example.be")
    await pool.execute("INSERT INTO erased_addresses (address_hmac, reason) VALUES ($1, 'unsubscribe')",
                       KeyedHash(settings.hash_key).of("jan@example.be"))
    response = await client.post(f"/u/{token}", data="List-Unsubscribe=One-Click", headers=ONE_CLICK)
    assert response.status == 200 and "jan" not in await response.text() and "j…@" not in await response.text()
    assert await pool.fetchval("SELECT count(*) FROM suppressions") == 0
    assert await pool.fetchval("SELECT count(*) FROM events WHERE address IS NOT NULL") == 0


async def test_a_tampered_or_foreign_token_is_a_400(client, auth, settings):
    token = await link(client, auth, "jan@example.be")
    tampered = token[:-2] + ("A" if token[-2] != "A" else "B") + token[-1]
    foreign = TokenSigner(("another-key-" + "x" * 20,), timedelta(days=90)).issue(1, "newsletter")
    for bad in (tampered, foreign, "A" * 40):
        assert (await client.get(f"/u/{bad}")).status == 400


def test_an_opaque_token_verifies_under_a_rotated_key_and_ages_by_its_issue_day(settings):
    signer = TokenSigner(settings.secret_keys[:1], timedelta(days=90))
    token = signer.issue(42, "events", "nov", today=date.today() - timedelta(days=91))
    rotated = TokenSigner(("newest-key-" + "n" * 20, *settings.secret_keys[:1]), timedelta(days=90))
    claim = rotated.verify(token)
    assert (claim.recipient_id, claim.scope, claim.campaign, claim.address) == (42, "events", "nov", None)
    assert claim.expired  # still unsubscribes; no longer resubscribes
    assert not rotated.verify(rotated.issue(42, "events")).expired


async def test_a_reply_with_the_mailto_token_unsubscribes_the_address_it_names(client, auth, pool, settings):
    token = await link(client, auth, "jan@example.be", scope="events")
    raw = (f"From: someone-else@example.net\r\nTo: info@cetit.be\r\nSubject: unsubscribe {token}\r\n"
           f"Message-ID: <mailto-1@example.net>\r\n\r\n\r\n").encode()
    async with transaction(pool) as conn:
        await inbox.store(conn, "smtp", raw, "someone-else@example.net", ["info@cetit.be"])
    worker = Worker(pool, settings, FAST)
    try:
        await drain(worker)
    finally:
        worker.close()
    rows = await pool.fetch("SELECT address, scope, source FROM suppressions ORDER BY address")
    assert [tuple(r) for r in rows] == [("jan@example.be", "events", "reply")]

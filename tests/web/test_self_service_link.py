"""Asking for a link to one's own page: the same answer for every address, a mail only to a known
one that was not erased, the limits per mailbox and per client, and links that do not open."""

from __future__ import annotations

import base64
import io
import email
from email import policy
from datetime import datetime, timedelta, timezone

import pytest

from service.domain.tokens import SelfServiceTokens
from tests.web.self_service_helpers import ERASED, KNOWN, UNKNOWN, ask, link_in, mails, make_known


def visible(html: str) -> str:
    return html.replace("\n", " ")


async def test_get_me_shows_one_form_for_the_address_in_dutch_first(client):
    page = await client.get("/me")
    text = await page.text()
    assert page.status == 200 and 'lang="nl"' in text and 'name="email"' in text and "<script" not in text
    assert "Stuur mij een link" in text


async def test_the_same_page_for_a_known_an_unknown_and_an_erased_address_and_a_mail_only_to_the_known(
        client, auth, pool, settings):
    await make_known(client, auth, KNOWN)
    await make_known(client, auth, ERASED)
    assert (await client.post("/v1/erasure", headers=auth, json={"email": ERASED})).status == 200
    pages = []
    for address in (KNOWN, UNKNOWN, ERASED):
        response = await ask(client, address)
        assert response.status == 200
        pages.append(await response.text())
    assert pages[0] == pages[1] == pages[2]
    assert "If CETIT knows this address, a mail with a link is on its way" in pages[0]
    sent = await mails(pool, settings)
    assert [(row["address"], row["recipient"]) for row in sent] == [(KNOWN, KNOWN)]
    assert link_in(sent[0]["message"]).startswith("/me/")
    assert b"Content-Type: text/plain" in sent[0]["message"]
    assert await pool.fetchval("SELECT count(*) FROM outbox") == 0


async def test_the_mail_speaks_the_language_the_person_used(client, auth, pool, settings):
    await make_known(client, auth)
    await client.post("/me", data={"email": KNOWN, "lang": "fr"})
    parsed = email.message_from_bytes((await mails(pool, settings))[0]["message"], policy=policy.default)
    assert parsed["Subject"].startswith("Votre lien") and parsed["Content-Language"] == "fr"


async def test_at_most_three_links_a_day_per_mailbox_counting_every_form_of_it(client, auth, pool, settings):
    await make_known(client, auth)
    for form in ("jan@example.be", "Jan+a@EXAMPLE.be", "jan+b@example.be"):
        assert (await ask(client, form)).status == 200
    refused = await ask(client, "jan+c@example.be")
    text = await refused.text()
    assert refused.status == 429 and "Try again after" in text and int(refused.headers["Retry-After"]) > 80_000
    assert len(await mails(pool, settings)) == 1  # only the canonical form itself is known
    unknown = [await ask(client, "stranger@example.be") for _ in range(4)]
    assert [r.status for r in unknown] == [200, 200, 200, 429]  # an unknown mailbox is limited the same way


async def test_at_most_thirty_requests_an_hour_per_client(client):
    for n in range(30):
        assert (await ask(client, f"person{n}@example.be")).status == 200
    refused = await ask(client, "one-more@example.be")
    assert refused.status == 429 and "Try again after" in await refused.text()
    assert int(refused.headers["Retry-After"]) <= 3601


async def test_behind_a_trusted_proxy_the_client_is_the_first_untrusted_hop(aiohttp_client, settings, pool):
    from service.app import create_app
    import ipaddress
    app = create_app(settings.with_overrides(trusted_proxies=(ipaddress.ip_network("127.0.0.0/8"),)), pool)
    client = await aiohttp_client(app)
    for n in range(30):
        forwarded = {"X-Forwarded-For": f"203.0.113.9, 127.0.0.5"}
        assert (await ask(client, f"p{n}@example.be", **forwarded)).status == 200
    assert (await ask(client, "x@example.be", **{"X-Forwarded-For": "203.0.113.9"})).status == 429
    assert (await ask(client, "y@example.be", **{"X-Forwarded-For": "203.0.113.9, 198.51.100.7"})).status == 200


async def test_a_forged_forwarded_for_is_not_believed_without_a_trusted_proxy(client):
    for n in range(30):
        assert (await ask(client, f"p{n}@example.be", **{"X-Forwarded-For": f"10.0.0.{n}"})).status == 200
    assert (await ask(client, "x@example.be", **{"X-Forwarded-For": "10.9.9.9"})).status == 429


async def test_an_invalid_address_is_a_page_not_a_failure(client, pool):
    for bad in ("not an address", "", "a@" + "b" * 300 + ".be", "\x00@x.be"):
        response = await client.post("/me", data={"email": bad})
        assert response.status == 400 and response.content_type == "text/html"
    assert (await client.post("/me", data=b"\xff\xfe", headers={"Content-Type": "text/plain"})).status == 400


def _tokens(settings, minutes=60):
    return SelfServiceTokens(settings.secret_keys, timedelta(minutes=minutes))


async def _recipient_id(pool) -> int:
    return await pool.fetchval("SELECT recipient_id FROM known_addresses WHERE address = $1", KNOWN)


async def test_an_expired_a_tampered_and_a_non_canonical_link_answer_400_offering_a_new_one(client, auth, pool,
                                                                                          settings):
    await make_known(client, auth)
    rid = await _recipient_id(pool)
    old = _tokens(settings).issue(rid, datetime.now(timezone.utc) - timedelta(minutes=61))
    good = _tokens(settings).issue(rid)
    raw = base64.urlsafe_b64decode(good + "==")
    tampered = base64.urlsafe_b64encode(raw[:-1] + bytes([raw[-1] ^ 1])).decode().rstrip("=")
    last = good[-1]
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    same_bits = next(c for c in alphabet if c != last and alphabet.index(c) >> 2 == alphabet.index(last) >> 2)
    unknown = _tokens(settings).issue(rid + 1000)
    for token in (old, tampered, good[:-1] + same_bits, good + "=", unknown, "x" * 200, "%00"):
        for path in (f"/me/{token}", f"/me/{token}/export.json"):
            response = await client.get(path)
            text = await response.text()
            assert response.status == 400 and 'action="/me"' in text, (token, path)
        posted = await client.post(f"/me/{token}", data={"action": "unsubscribe", "scope": "global", "csrf": "x"})
        assert posted.status == 400
    assert (await client.get(f"/me/{good}")).status == 200


async def test_a_link_within_its_minutes_opens_and_the_minutes_are_configurable(aiohttp_client, client, auth, pool,
                                                                               settings):
    await make_known(client, auth)
    rid = await _recipient_id(pool)
    issued = _tokens(settings).issue(rid, datetime.now(timezone.utc) - timedelta(minutes=59))
    assert (await client.get(f"/me/{issued}")).status == 200
    from service.app import create_app
    short = await aiohttp_client(create_app(settings.with_overrides(self_service_minutes=5), pool))
    assert (await short.get(f"/me/{issued}")).status == 400


@pytest.mark.parametrize("lang,words", [("nl", "Bekijk of wijzig alles wat CETIT over u bijhoudt"),
                                        ("en", "See or change everything CETIT holds about you"),
                                        ("fr", "Voir ou modifier tout ce que CETIT conserve à votre sujet")])
async def test_the_unsubscribe_page_and_its_answers_offer_the_own_page(client, lang, words):
    from tests.web.test_unsubscribe import token_for
    token = token_for()
    shown = await (await client.get(f"/u/{token}?lang={lang}")).text()
    done = await (await client.post(f"/u/{token}", data={"confirm": "yes", "lang": lang})).text()
    undone = await (await client.post(f"/u/{token}/resubscribe", data={"lang": lang})).text()
    broken = await (await client.get(f"/u/{token[:-3]}?lang={lang}")).text()
    for text in (shown, done, undone, broken):
        assert f'href="/me?lang={lang}"' in text and words in text


@pytest.mark.parametrize("body,content_type", [
    (b"email=" + b"a" * 2_000_000, "application/x-www-form-urlencoded"),
    (b"--x\r\nContent-Disposition: form-data; name=email\r\n\r\njan@example.be", "multipart/form-data; boundary=x"),
    (b"email=%ff%fe&lang=%00", "application/x-www-form-urlencoded"),
    (b"{}", "application/json"),
], ids=["huge", "cut multipart", "bad bytes", "json"])
async def test_bad_bodies_are_pages_never_a_500(client, auth, pool, body, content_type):
    from tests.web.self_service_helpers import open_page
    path, csrf = await open_page(client, auth, pool)
    for target in ("/me", path):
        response = await client.post(target, data=io.BytesIO(body), headers={"Content-Type": content_type})
        assert 400 <= response.status < 500 and response.content_type == "text/html", target
    weird = await client.post(path, data={"csrf": csrf, "action": "subscribe", "scope": "x" * 5000})
    assert weird.status == 400


async def test_sixty_parallel_requests_from_one_client_let_exactly_thirty_through(client):
    import asyncio
    answers = await asyncio.gather(*(ask(client, f"parallel{n}@example.be") for n in range(60)))
    statuses = [r.status for r in answers]
    assert statuses.count(200) == 30 and statuses.count(429) == 30


@pytest.mark.parametrize("table", ["self_service_asks", "self_service_clients"])
async def test_purging_old_counts_reads_an_index_not_the_whole_table(pool, table):
    async with pool.acquire() as conn:
        async with conn.transaction():
            await conn.execute("SET LOCAL enable_seqscan = off")
            plan = "\n".join(r[0] for r in await conn.fetch(
                f"EXPLAIN DELETE FROM {table} WHERE at < now() - interval '2 hours'"))
    assert "Index" in plan and f"{table}_by_time" in plan

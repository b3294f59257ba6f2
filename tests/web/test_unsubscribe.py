"""The recipient's side: the page, the one-click POST, undo; and that nothing else changes anything."""

import time
from datetime import timedelta

import aiohttp
import pytest

from service.app import create_app
from service.domain.tokens import TokenSigner

NEW, OLD = "new-key-" + "n" * 24, "old-key-" + "o" * 24


def token_for(address="jan@example.be", scope="newsletter", keys=(NEW,), campaign=None):
    return TokenSigner(list(keys), timedelta(days=90)).sign(address, scope, campaign)


async def allowed(client, auth, email="jan@example.be", scope="newsletter"):
    response = await client.get("/v1/check", params={"email": email, "scope": scope}, headers=auth)
    return (await response.json())["allowed"]


async def one_click(client, token, multipart=False, **kwargs):
    if multipart:
        with aiohttp.MultipartWriter("form-data") as form:
            part = form.append("One-Click")
            part.set_content_disposition("form-data", name="List-Unsubscribe")
        return await client.post(f"/u/{token}", data=form, allow_redirects=False, **kwargs)
    return await client.post(
        f"/u/{token}", data="List-Unsubscribe=One-Click", allow_redirects=False,
        headers={"Content-Type": "application/x-www-form-urlencoded"}, **kwargs,
    )


@pytest.mark.parametrize("multipart", [False, True], ids=["urlencoded", "multipart"])
async def test_one_click_post_unsubscribes_with_200_and_no_redirect(client, auth, multipart):
    response = await one_click(client, token_for(), multipart=multipart)
    assert response.status == 200 and "Set-Cookie" not in response.headers
    assert not await allowed(client, auth)
    assert await allowed(client, auth, scope="events")
    events = (await (await client.get("/v1/events", params={"email": "jan@example.be"}, headers=auth)).json())["events"]
    assert [(e["type"], e["scope"], e["reason"], e["source"]) for e in events] == [
        ("suppressed", "newsletter", "unsubscribe", "one_click")]


async def test_the_one_click_answer_is_a_short_page_in_the_persons_language_without_undo(client):
    response = await one_click(client, token_for("jan.peeters@example.be"))
    text = await response.text()
    assert response.content_type == "text/html" and response.headers["X-Frame-Options"] == "DENY"
    assert "U bent uitgeschreven" in text and "j…@example.be" in text and "jan.peeters" not in text
    assert "<form" not in text  # no one sees it: nothing to press
    english = await client.post(f"/u/{token_for('an@example.be')}", data="List-Unsubscribe=One-Click", headers={
        "Content-Type": "application/x-www-form-urlencoded", "Accept-Language": "en"})
    assert '<html lang="en">' in await english.text()


async def test_one_click_post_is_idempotent(client, auth):
    token = token_for()
    assert (await one_click(client, token)).status == 200
    assert (await one_click(client, token)).status == 200
    events = (await (await client.get("/v1/events", params={"email": "jan@example.be"}, headers=auth)).json())["events"]
    assert len(events) == 1


async def test_get_and_head_never_unsubscribe(client, auth):
    token = token_for()
    for _ in range(3):
        assert (await client.get(f"/u/{token}")).status == 200
        assert (await client.head(f"/u/{token}")).status == 200
    assert await allowed(client, auth)


async def test_a_post_without_the_one_click_body_or_confirm_field_changes_nothing(client, auth):
    token = token_for()
    for data in ("", "foo=bar", "List-Unsubscribe=Yes-Please"):
        response = await client.post(f"/u/{token}", data=data, headers={"Content-Type": "application/x-www-form-urlencoded"})
        assert response.status == 400
    assert await allowed(client, auth)


@pytest.mark.parametrize("damage", [lambda t: t[:-2], lambda t: t[:15], lambda t: t.replace(".", "!", 1), lambda t: "nonsense"])
async def test_tampered_or_truncated_tokens_give_400_and_change_nothing(client, auth, damage):
    bad = damage(token_for())
    assert (await client.get(f"/u/{bad}")).status == 400
    response = await one_click(client, bad)
    assert response.status == 400 and "CETIT" in await response.text()
    assert await allowed(client, auth)


async def test_a_token_of_a_removed_key_gives_400(client, auth):
    response = await one_click(client, token_for(keys=("removed-key-" + "r" * 20,)))
    assert response.status == 400
    assert await allowed(client, auth)


async def test_a_link_made_with_the_old_key_works_after_rotation(client, auth):
    response = await one_click(client, token_for(keys=(OLD,)))
    assert response.status == 200 and not await allowed(client, auth)


async def test_an_expired_but_valid_token_still_unsubscribes_but_cannot_resubscribe(aiohttp_client, settings, pool, auth):
    client = await aiohttp_client(create_app(settings.with_overrides(link_max_age_days=1), pool))
    import itsdangerous.timed as timed

    original = timed.TimestampSigner.get_timestamp
    timed.TimestampSigner.get_timestamp = lambda self: int(time.time()) - 3 * 86400
    try:
        token = TokenSigner([NEW], timedelta(days=1)).sign("old@example.be", "newsletter")
    finally:
        timed.TimestampSigner.get_timestamp = original
    assert (await one_click(client, token)).status == 200
    assert not await allowed(client, auth, "old@example.be")
    response = await client.post(f"/u/{token}/resubscribe", data={"scope": "newsletter"})
    assert response.status == 403
    assert not await allowed(client, auth, "old@example.be")


async def test_page_button_can_unsubscribe_from_all_marketing(client, auth):
    token = token_for()
    response = await client.post(f"/u/{token}", data={"confirm": "yes", "choice": "all", "lang": "en"})
    assert response.status == 200
    text = await response.text()
    assert "all marketing mail from CETIT" in text and 'lang="en"' in text
    assert not await allowed(client, auth, scope="events")


async def test_resubscribe_undoes_the_unsubscribe_and_is_recorded(client, auth):
    token = token_for()
    await client.post(f"/u/{token}", data={"confirm": "yes", "choice": "scope"})
    assert not await allowed(client, auth)
    response = await client.post(f"/u/{token}/resubscribe", data={"scope": "newsletter"})
    assert response.status == 200
    assert await allowed(client, auth)
    events = (await (await client.get("/v1/events", params={"email": "jan@example.be"}, headers=auth)).json())["events"]
    assert [(e["type"], e["source"]) for e in events] == [("suppressed", "link"), ("resubscribed", "link")]


async def test_resubscribe_never_lifts_a_bounce_or_complaint(client, auth):
    await client.put("/v1/suppressions/jan@example.be", json={"scope": "global", "reason": "complaint", "source": "arf"}, headers=auth)
    response = await client.post(f"/u/{token_for(scope='global')}/resubscribe", data={"scope": "global"})
    assert response.status == 409
    assert not await allowed(client, auth)


@pytest.mark.parametrize("header, query, expected, phrase", [
    (None, None, "nl", "Uitschrijven"),
    ("en-GB,en;q=0.9", None, "en", "Unsubscribe"),
    ("fr-BE, nl;q=0.5", None, "fr", "Se désinscrire"),
    ("de-DE, en;q=0.3, nl;q=0.8", None, "nl", "Uitschrijven"),
    ("nl-BE", "en", "en", "Unsubscribe"),
])
async def test_the_page_speaks_dutch_english_or_french(client, header, query, expected, phrase):
    headers = {"Accept-Language": header} if header else {}
    params = {"lang": query} if query else {}
    response = await client.get(f"/u/{token_for()}", headers=headers, params=params)
    text = await response.text()
    assert f'<html lang="{expected}">' in text and phrase in text
    assert "j…@example.be" in text and "jan@example.be" not in text


async def test_pages_send_security_headers_and_no_inline_script(client):
    response = await client.get(f"/u/{token_for()}")
    csp = response.headers["Content-Security-Policy"]
    assert "script-src" not in csp and "default-src 'none'" in csp and "frame-ancestors 'none'" in csp
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["Referrer-Policy"] == "no-referrer"
    assert response.headers["Cache-Control"] == "no-store"
    assert "<script" not in await response.text()
    css = await client.get("/static/optout.css")
    assert css.status == 200


async def test_the_token_never_appears_in_a_log_line(served, caplog):
    """Served as in production (service.runner), where the access log would print raw paths."""
    base = await served()
    token = token_for()
    caplog.set_level("DEBUG")
    async with aiohttp.ClientSession(base) as session:
        assert (await session.get(f"/u/{token}")).status == 200
        assert (await one_click(session, token)).status == 200
        assert (await session.get(f"/u/{token[:-3]}")).status == 400
    assert "unsubscribed by one_click" in caplog.text
    assert token[:30] not in caplog.text and "jan@example.be" not in caplog.text


async def test_unsubscribe_answers_503_when_the_database_is_down(aiohttp_client, settings):
    import asyncpg

    dead = await asyncpg.create_pool("postgresql://postgres@127.0.0.1:1/none", min_size=0, timeout=2)
    client = await aiohttp_client(create_app(settings, dead))
    response = await one_click(client, token_for())
    assert response.status == 503
    page = await client.post(f"/u/{token_for()}", data={"confirm": "yes", "lang": "en"})
    assert page.status == 503 and "nothing has changed" in await page.text()
    await dead.close()


async def test_a_link_from_the_links_api_unsubscribes_by_one_click_and_by_the_page(client, auth):
    response = await client.post("/v1/links", json={"recipients": [
        {"email": "a@example.be", "scope": "newsletter"}, {"email": "b@example.be", "scope": "events"}]}, headers=auth)
    first, second = (await response.json())["links"]
    path_a = "/u/" + first["url"].rsplit("/u/", 1)[1]
    path_b = "/u/" + second["url"].rsplit("/u/", 1)[1]
    assert (await client.post(path_a, data="List-Unsubscribe=One-Click",
                              headers={"Content-Type": "application/x-www-form-urlencoded"})).status == 200
    assert (await client.get(path_b)).status == 200
    assert (await client.post(path_b, data={"confirm": "yes", "choice": "scope"})).status == 200
    assert not await allowed(client, auth, "a@example.be", "newsletter")
    assert not await allowed(client, auth, "b@example.be", "events")
    assert await allowed(client, auth, "b@example.be", "newsletter")


async def test_resubscribe_never_lifts_a_global_unsubscribe_made_another_way(client, auth):
    await client.put("/v1/suppressions/jan@example.be",
                     json={"scope": "global", "reason": "unsubscribe", "source": "reply"}, headers=auth)
    response = await client.post(f"/u/{token_for()}/resubscribe", data={"scope": "global"})
    assert response.status == 409
    assert not await allowed(client, auth)


async def test_pages_name_the_scope_in_words(client):
    token = token_for()
    done = await (await client.post(f"/u/{token}", data={"confirm": "yes", "choice": "scope"})).text()
    assert "is uitgeschreven voor de nieuwsbrief" in done
    back = await (await client.post(f"/u/{token}/resubscribe", data={"scope": "newsletter", "lang": "en"})).text()
    assert "is subscribed to the newsletter again" in back and "global" not in back


async def events_of(client, auth, email="jan@example.be"):
    response = await client.get("/v1/events", params={"email": email}, headers=auth)
    return [(e["type"], e["scope"], e["source"]) for e in (await response.json())["events"]]


async def test_a_link_cannot_undo_a_global_unsubscribe_made_with_another_link(client, auth):
    newsletter, events = token_for(scope="newsletter"), token_for(scope="events")
    assert (await client.post(f"/u/{newsletter}", data={"confirm": "yes", "choice": "all"})).status == 200
    response = await client.post(f"/u/{events}/resubscribe", data={"scope": "global"})
    assert response.status == 409
    assert not await allowed(client, auth, scope="events") and not await allowed(client, auth)
    assert [e[0] for e in await events_of(client, auth)] == ["suppressed"]


async def test_a_link_of_another_campaign_cannot_undo_an_unsubscribe_in_the_same_scope(client, auth):
    spring, autumn = token_for(campaign="spring"), token_for(campaign="autumn")
    assert (await one_click(client, spring)).status == 200
    assert (await client.post(f"/u/{autumn}/resubscribe", data={"scope": "newsletter"})).status == 409
    assert not await allowed(client, auth)


async def test_a_resubscribe_replayed_after_another_unsubscribe_is_refused(client, auth):
    first, later = token_for(campaign="first"), token_for(campaign="later")
    assert (await one_click(client, first)).status == 200
    assert (await client.post(f"/u/{first}/resubscribe", data={"scope": "newsletter"})).status == 200
    assert await allowed(client, auth)
    assert (await one_click(client, later)).status == 200
    replay = await client.post(f"/u/{first}/resubscribe", data={"scope": "newsletter"})
    assert replay.status == 409
    assert not await allowed(client, auth)
    assert [e[0] for e in await events_of(client, auth)] == ["suppressed", "resubscribed", "suppressed"]


async def test_a_replayed_resubscribe_changes_nothing_and_records_nothing(client, auth):
    token = token_for()
    assert (await one_click(client, token)).status == 200
    for _ in range(3):
        assert (await client.post(f"/u/{token}/resubscribe", data={"scope": "newsletter"})).status == 200
    assert await allowed(client, auth)
    assert await events_of(client, auth) == [
        ("suppressed", "newsletter", "one_click"), ("resubscribed", "newsletter", "link")]


async def test_a_link_undoes_its_own_global_unsubscribe(client, auth):
    token = token_for()
    assert (await client.post(f"/u/{token}", data={"confirm": "yes", "choice": "all"})).status == 200
    assert (await client.post(f"/u/{token}/resubscribe", data={"scope": "global"})).status == 200
    assert await allowed(client, auth, scope="events")


async def test_a_link_signed_at_another_time_is_another_link(client, auth):
    import itsdangerous.timed as timed

    earlier = token_for()
    original = timed.TimestampSigner.get_timestamp
    timed.TimestampSigner.get_timestamp = lambda self: int(time.time()) - 3600
    try:
        later = token_for()
    finally:
        timed.TimestampSigner.get_timestamp = original
    assert earlier != later
    assert (await one_click(client, earlier)).status == 200
    assert (await client.post(f"/u/{later}/resubscribe", data={"scope": "newsletter"})).status == 409
    assert not await allowed(client, auth)


async def test_the_api_document_describes_every_route_of_the_recipients_pages(client):
    """The pages live in a sub-app of their own, which the document's check of the root routes does not see."""
    document = await (await client.get("/openapi.json")).json()
    [pages] = [r.get_info()["app"] for r in client.app.router.resources() if r.get_info().get("prefix") == "/u"]
    described = 0
    for resource in pages.router.resources():
        path = resource.get_info()["formatter"]
        for route in resource:
            if route.method != "HEAD":
                assert route.method.lower() in document["paths"][path], (route.method, path)
                described += 1
    assert described == 3


async def test_a_burst_of_unsubscribes_logs_the_first_ones_and_then_how_many_more(caplog):
    """Thousands of one-clicks a minute: the first of the window one by one, then one line."""
    import asyncio
    import logging

    from service.logs import Burst

    burst = Burst(logging.getLogger("optout.unsubscribe"), "unsubscribed", each=3, window=0.2)
    with caplog.at_level(logging.INFO, logger="optout.unsubscribe"):
        for n in range(10):
            burst.note("unsubscribed by one_click in scope %s", f"s{n}")
        assert [r.getMessage() for r in caplog.records] == [f"unsubscribed by one_click in scope s{n}" for n in range(3)]
        await asyncio.sleep(0.3)  # the window ends with nothing after it: its count is told all the same
        burst.note("unsubscribed by link in scope %s", "late")
    assert [r.getMessage() for r in caplog.records][3:] == [
        "unsubscribed: 7 more in the last 0.2 s, not logged one by one", "unsubscribed by link in scope late"]

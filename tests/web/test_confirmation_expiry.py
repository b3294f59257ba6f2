"""A confirmation link expires after OPTOUT_CONFIRM_MAX_AGE_DAYS: its page says so, in the
reader's language, and confirms nothing. Age is the pending consent's: rows are backdated."""

from __future__ import annotations

import pytest

from service.app import create_app
from service.domain.tokens import ConfirmationTokens
from tests.web.test_consents import CONSENT, WHO, register

EXPIRED = {
    "nl": ("Deze link is verlopen", "Schrijf u opnieuw in waar u zich had ingeschreven"),
    "en": ("This link has expired", "sign up again where you signed up"),
    "fr": ("Ce lien a expiré", "inscrivez-vous à nouveau là où vous vous étiez inscrit"),
}


async def pending_consent(client, auth) -> int:
    await register(client, auth)
    response = await client.post("/v1/consents", headers=auth, json={**CONSENT, "confirm": True})
    assert response.status == 202
    return (await response.json())["id"]


async def backdate(pool, consent_id: int, days: float) -> None:
    await pool.execute("UPDATE consents SET created_at = created_at - make_interval(secs => $2) WHERE id = $1",
                       consent_id, days * 86_400)


async def nothing_given(client, auth, pool) -> bool:
    status = await pool.fetchval("SELECT status FROM consents")
    given_events = await pool.fetchval("SELECT count(*) FROM events WHERE type = 'consent_given'")
    checked = await (await client.get("/v1/check", headers=auth, params={"email": WHO, "scope": "news"})).json()
    return status == "pending" and given_events == 0 and checked["reason"] == "no_consent"


@pytest.mark.parametrize("lang", ["nl", "en", "fr"])
async def test_an_expired_confirmation_link_says_so_and_confirms_nothing(client, auth, pool, settings, lang):
    consent_id = await pending_consent(client, auth)
    token = ConfirmationTokens(settings.secret_keys).issue(consent_id)
    await backdate(pool, consent_id, 7.01)
    title, what_to_do = EXPIRED[lang]
    page = await client.get(f"/c/{token}?lang={lang}")
    text = await page.text()
    assert page.status == 410 and page.content_type == "text/html"
    assert title in text and what_to_do in text and 'name="confirm"' not in text
    for form in ({"confirm": "yes", "lang": lang}, {"lang": lang}):  # the button, and a POST without it
        response = await client.post(f"/c/{token}", data=form)
        text = await response.text()
        assert response.status == 410 and title in text and what_to_do in text and 'name="confirm"' not in text
    assert await nothing_given(client, auth, pool)


async def test_a_confirmation_link_within_its_max_age_still_confirms(client, auth, pool, settings):
    consent_id = await pending_consent(client, auth)
    token = ConfirmationTokens(settings.secret_keys).issue(consent_id)
    await backdate(pool, consent_id, 6.99)
    assert (await client.get(f"/c/{token}")).status == 200
    response = await client.post(f"/c/{token}", data={"confirm": "yes"})
    assert response.status == 200 and "Uw inschrijving is bevestigd" in await response.text()
    assert await pool.fetchval("SELECT status FROM consents") == "given"


async def test_a_link_already_in_a_mailbox_still_verifies_and_is_judged_by_its_age(client, auth, pool, settings):
    """A link signed before (by the key now second in OPTOUT_SECRET_KEYS) is no bad link: a
    fresh one confirms, an old one is expired, not damaged."""
    old_key_only = ConfirmationTokens(settings.secret_keys[1:])
    consent_id = await pending_consent(client, auth)
    token = old_key_only.issue(consent_id)
    await backdate(pool, consent_id, 30)
    page = await client.get(f"/c/{token}")
    assert page.status == 410 and "Deze link is verlopen" in await page.text()
    assert await nothing_given(client, auth, pool)
    await backdate(pool, consent_id, -30)
    response = await client.post(f"/c/{token}", data={"confirm": "yes"})
    assert response.status == 200 and await pool.fetchval("SELECT status FROM consents") == "given"


async def test_a_confirmed_consent_still_reads_as_confirmed_after_its_link_is_old(client, auth, pool, settings):
    consent_id = await pending_consent(client, auth)
    token = ConfirmationTokens(settings.secret_keys).issue(consent_id)
    assert (await client.post(f"/c/{token}", data={"confirm": "yes"})).status == 200
    await backdate(pool, consent_id, 30)
    page = await client.get(f"/c/{token}")
    assert page.status == 200 and "Uw inschrijving is bevestigd" in await page.text()
    assert (await client.post(f"/c/{token}", data={"confirm": "yes"})).status == 200


async def test_the_max_age_is_the_setting(aiohttp_client, settings, pool, auth):
    client = await aiohttp_client(create_app(settings.with_overrides(confirm_max_age_days=1), pool))
    consent_id = await pending_consent(client, auth)
    token = ConfirmationTokens(settings.secret_keys).issue(consent_id)
    await backdate(pool, consent_id, 1.01)
    assert (await client.post(f"/c/{token}", data={"confirm": "yes"})).status == 410
    assert await nothing_given(client, auth, pool)

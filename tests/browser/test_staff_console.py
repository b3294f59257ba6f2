"""The staff console in a real browser (Debian's Chromium), as Flemish staff use it: in Dutch (and
in English, by the browser's language), at phone width and on a desktop. Screenshots of each
step go to tests/artifacts/.
"""

from __future__ import annotations

import json
import uuid
from datetime import datetime, timedelta
from pathlib import Path

import aiohttp
import pytest

from service.web.pages import BRUSSELS
from tests.browser.conftest import ARTIFACTS, PHONE
from tests.conftest import make_key

DESKTOP = {"viewport": {"width": 1280, "height": 900}}
# What the person sees and clicks, in each language of the console.
UI = {
    "nl": {"locale": "nl-BE", "login": "Aanmelden voor medewerkers", "key": "Sleutel (API key met recht write of admin)",
           "log_in": "Aanmelden", "call": "Telefoontje", "newsletter": "Nieuwsbrief (newsletter)",
           "record_optout": "Uitschrijving vastleggen", "recorded": "Vastgelegd.", "by_staff": "door een medewerker",
           "phone": "telefoon", "record_consent": "Toestemming vastleggen", "consent_recorded": "Toestemming vastgelegd.",
           "access": "inzage", "days_left": "5 dagen over", "request": "Privacyverzoek", "json": "Downloaden als JSON",
           "page": "Openen als pagina (afdrukken of bewaren als PDF)", "article": "AVG art. 15", "close": "Afsluiten",
           "closed": "afgesloten.", "held": "wacht op een medewerker", "handled": "Markeren als afgehandeld",
           "was_handled": "Gemarkeerd als afgehandeld.", "log_out": "Afmelden", "other": "EN",
           "other_words": "by staff", "other_log_out": "Log out"},
    "en": {"locale": "en-GB", "login": "Staff login", "key": "API key (scope write or admin)", "log_in": "Log in",
           "call": "Phone call", "newsletter": "Newsletter (newsletter)", "record_optout": "Record the opt-out",
           "recorded": "Recorded.", "by_staff": "by staff", "phone": "phone", "record_consent": "Record the consent",
           "consent_recorded": "Consent recorded.", "access": "access", "days_left": "5 days left",
           "request": "Privacy request", "json": "Download as JSON", "page": "Open as a page (print or save as PDF)",
           "article": "GDPR Art. 15", "close": "Close", "closed": "closed.", "held": "waiting for staff",
           "handled": "Mark as handled", "was_handled": "Marked as handled.", "log_out": "Log out", "other": "NL",
           "other_words": "door een medewerker", "other_log_out": "Afmelden"},
}


@pytest.fixture
async def site(served):
    return await served()


async def api(site: str, auth: dict, method: str, path: str, **kwargs):
    async with aiohttp.ClientSession() as session:
        async with session.request(method, f"{site}{path}", headers=auth, **kwargs) as response:
            return response.status, await response.json()


async def waiting_mail(pool) -> tuple[int, uuid.UUID]:
    """A privacy request and a held question, as the worker leaves them."""
    request_message, held = uuid.uuid4(), uuid.uuid4()
    await pool.execute(
        """INSERT INTO inbound_messages (id, via, raw, size, dedup_key, status, classification, sender, subject)
           VALUES ($1, 'http', $2, 100, $3, 'forwarded', 'privacy_request', 'els@example.be', 'Mijn gegevens'),
                  ($4, 'http', $5, 100, $6, 'held', 'human', 'piet@example.be', 'Vraag over mijn factuur')""",
        request_message, b"From: els@example.be\r\nSubject: Mijn gegevens\r\n\r\nGraag inzage in mijn gegevens.\r\n",
        str(request_message), held, b"From: piet@example.be\r\nSubject: Vraag over mijn factuur\r\n\r\nKlopt dit?\r\n",
        str(held))
    request_id = await pool.fetchval(
        """INSERT INTO privacy_requests (kind, address, message_id, received_at, due)
           VALUES ('access', 'els@example.be', $1, now(), $2) RETURNING id""", request_message,
        datetime.now(BRUSSELS).date() + timedelta(days=5))  # the console counts days in Brussels
    return request_id, held


@pytest.mark.parametrize("lang", ["nl", "en"])
@pytest.mark.parametrize("width", ["phone", "desktop"])
async def test_a_phone_call_a_privacy_request_and_a_held_message(site, browser, auth, pool, width, lang):
    ui = UI[lang]
    shot = f"{width}-{lang}"
    ARTIFACTS.mkdir(exist_ok=True)
    await api(site, auth, "PUT", "/v1/scopes/newsletter", json={
        "labels": {"nl": "Nieuwsbrief", "en": "Newsletter"}, "consent": "required"})
    request_id, held = await waiting_mail(pool)
    for n, source in enumerate(("one_click", "one_click", "link", "reply")):  # something for the chart
        await api(site, auth, "PUT", f"/v1/suppressions/lezer{n}@example.be",
                  json={"scope": "global", "reason": "unsubscribe", "source": source})
    key = await make_key(pool, "write", name="Ann aan de balie")
    context = await browser.new_context(locale=ui["locale"], accept_downloads=True,
                                        extra_http_headers={"Accept-Language": ui["locale"]},
                                        **(PHONE if width == "phone" else DESKTOP))
    page = await context.new_page()

    await page.goto(f"{site}/staff/")
    assert await page.locator("h1").inner_text() == ui["login"]
    assert "oo_" in await page.content()
    await page.screenshot(path=str(ARTIFACTS / f"staff-login-{shot}.png"), full_page=True)
    await page.get_by_label(ui["key"]).fill(key)
    await page.get_by_role("button", name=ui["log_in"]).click()
    await page.wait_for_load_state()
    assert await page.locator("h1").first.inner_text() == ui["call"]
    await page.screenshot(path=str(ARTIFACTS / f"staff-dashboard-{shot}.png"), full_page=True)
    # No sideways scrolling at phone width.
    assert await page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")

    # One form per call: the opt-out, with the scope chosen by its label.
    await page.locator("#optout-email").fill("jan.peeters@example.be")
    await page.locator("#optout-scope").select_option(label=ui["newsletter"])
    await page.locator("#optout-note").fill("belde om 11:11")
    await page.get_by_role("button", name=ui["record_optout"]).click()
    await page.wait_for_load_state()
    assert ui["recorded"] in await page.locator("p.notice").inner_text()
    history = await page.content()
    assert ui["by_staff"] in history and ui["phone"] in history and ("CET" in history or "CEST" in history)
    await page.screenshot(path=str(ARTIFACTS / f"staff-optout-done-{shot}.png"), full_page=True)
    _, checked = await api(site, auth, "GET", "/v1/check", params={"email": "jan.peeters@example.be",
                                                                    "scope": "newsletter"})
    assert checked["reason"] == "manual"

    # A consent given on the phone, from the dashboard too.
    await page.goto(f"{site}/staff/")
    await page.locator("#consent-email").fill("an.claes@example.be")
    await page.locator("#consent-scope").select_option(label=ui["newsletter"])
    await page.locator("#consent-text").fill("Mogen wij u onze nieuwsbrief mailen? Ja.")
    await page.get_by_role("button", name=ui["record_consent"]).click()
    await page.wait_for_load_state()
    assert ui["consent_recorded"] in await page.locator("p.notice").inner_text()
    _, consents = await api(site, auth, "GET", "/v1/consents/an.claes@example.be")
    assert [(c["source"], c["proof"]["actor"]) for c in consents["consents"]] == [("phone", "Ann aan de balie")]

    # The privacy request: days left, its page, the export.
    await page.goto(f"{site}/staff/")
    row = page.locator("li.urgent", has_text=ui["access"])
    assert ui["days_left"] in await row.inner_text()
    await row.get_by_role("link").click()
    await page.wait_for_load_state()
    assert await page.locator("h1").inner_text() == f"{ui['request']} {request_id}"
    await page.screenshot(path=str(ARTIFACTS / f"staff-request-{shot}.png"), full_page=True)
    async with page.expect_download() as downloading:
        await page.get_by_role("link", name=ui["json"]).click()
    downloaded = await (await downloading.value).path()
    assert json.loads(Path(downloaded).read_text(encoding="utf-8"))["email"] == "els@example.be"
    await page.get_by_role("link", name=ui["page"]).click()
    await page.wait_for_load_state()
    assert ui["article"] in await page.content()
    await page.screenshot(path=str(ARTIFACTS / f"staff-export-{shot}.png"), full_page=True)
    await page.go_back()
    await page.locator("#close-note").fill("Overzicht per mail bezorgd op 3/12.")
    await page.get_by_role("button", name=ui["close"]).click()
    await page.wait_for_load_state()
    assert f"{ui['request']} {request_id} {ui['closed']}" in await page.locator("p.notice").inner_text()

    # A held question: read it, mark it handled.
    await page.goto(f"{site}/staff/messages")
    await page.get_by_role("link", name="Vraag over mijn factuur").click()
    await page.wait_for_load_state()
    assert ui["held"] in await page.content()
    await page.screenshot(path=str(ARTIFACTS / f"staff-held-{shot}.png"), full_page=True)
    await page.get_by_role("button", name=ui["handled"]).click()
    await page.wait_for_load_state()
    assert ui["was_handled"] in await page.locator("p.notice").inner_text()
    assert await pool.fetchval("SELECT status FROM inbound_messages WHERE id = $1", held) == "processed"

    # The switch to English keeps the page.
    await page.goto(f"{site}/staff/address?email=jan.peeters@example.be")
    await page.get_by_role("link", name=ui["other"]).click()
    await page.wait_for_load_state()
    assert "jan.peeters@example.be" in await page.locator("h1").inner_text()
    assert ui["other_words"] in await page.content()

    session_cookie = [c for c in await context.cookies() if c["name"] == "optout_staff"]
    await page.get_by_role("button", name=ui["other_log_out"]).click()
    await page.wait_for_load_state()
    assert "/staff/login" in page.url
    # The cookie from before the logout, put back as someone who copied it would: refused.
    await context.add_cookies(session_cookie)
    await page.goto(f"{site}/staff/")
    assert "/staff/login" in page.url
    await context.close()

"""The person's own page in a real browser (Debian's Chromium) at phone width (390 px), in Dutch:
ask for a link, open it from the mail, leave one kind of mail, subscribe to another, download the
export, erase. Screenshots of each step go to tests/artifacts/ (self-service-*.png)."""

from __future__ import annotations

import json
from pathlib import Path

import aiohttp

from tests.browser.conftest import ARTIFACTS, PHONE
from tests.web.self_service_helpers import KNOWN, link_in, mails

SCOPES = {"newsletter": {"nl": "Nieuwsbrief", "en": "Newsletter", "fr": "Lettre d'information"},
          "events": {"nl": "Evenementen", "en": "Events", "fr": "Événements"}}


async def api(site: str, auth: dict, method: str, path: str, **kwargs):
    async with aiohttp.ClientSession() as session:
        async with session.request(method, f"{site}{path}", headers=auth, **kwargs) as response:
            return response.status, await response.json()


async def test_a_person_sees_changes_downloads_and_erases_what_cetit_holds_at_phone_width(
        served, browser, auth, pool, settings):
    site = await served()
    for scope, labels in SCOPES.items():
        await api(site, auth, "PUT", f"/v1/scopes/{scope}", json={"labels": labels, "consent": "none"})
    await api(site, auth, "POST", "/v1/links", json={"recipients": [{"email": KNOWN, "scope": "newsletter"}]})
    context = await browser.new_context(locale="nl-BE", accept_downloads=True,
                                        extra_http_headers={"Accept-Language": "nl-BE"}, **PHONE)
    page = await context.new_page()
    shots: list[Path] = []
    ARTIFACTS.mkdir(exist_ok=True)

    async def shot(name: str) -> None:
        assert await page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1"), name
        shots.append(ARTIFACTS / f"self-service-{name}.png")
        await page.screenshot(path=str(shots[-1]), full_page=True)

    await page.goto(f"{site}/me")
    await shot("ask")
    await page.get_by_label("Uw e-mailadres").fill(KNOWN)
    await page.get_by_role("button", name="Stuur mij een link").click()
    await page.wait_for_load_state()
    assert await page.locator("h1").inner_text() == "Kijk in uw mailbox"
    await shot("sent")

    await page.goto(site + link_in((await mails(pool, settings))[-1]["message"]))
    assert KNOWN in await page.content()
    await shot("page")

    await page.locator("#leave-scope").select_option(label="Nieuwsbrief")
    await page.get_by_role("button", name="Niet meer ontvangen").click()
    await page.wait_for_load_state()
    assert "ontvangt niet langer: Nieuwsbrief" in await page.locator("p[role=status]").inner_text()
    await shot("left-newsletter")
    await page.get_by_role("link", name="Terug naar uw pagina").click()
    await page.wait_for_load_state()

    await page.locator("#join-scope").select_option(label="Evenementen")
    await page.get_by_role("button", name="Ja, ik wil dit ontvangen").click()
    await page.wait_for_load_state()
    assert "ontvangt voortaan: Evenementen" in await page.locator("p[role=status]").inner_text()
    await page.get_by_role("link", name="Terug naar uw pagina").click()
    await page.wait_for_load_state()
    await shot("page-after-changes")

    async with page.expect_download() as downloading:
        await page.get_by_role("link", name="Alles downloaden (JSON)").click()
    exported = json.loads(Path(await (await downloading.value).path()).read_text(encoding="utf-8"))
    assert exported["email"] == KNOWN
    assert {(s["scope"], s["source"]) for s in exported["suppressions"]} == {("newsletter", "self_service")}
    assert [(c["scope"], c["status"]) for c in exported["consents"]] == [("events", "given")]

    await page.get_by_label("Ja, wis alles over dit adres").check()
    await page.get_by_role("button", name="Alles wissen").click()
    await page.wait_for_load_state()
    assert await page.locator("h1").inner_text() == "Alles is gewist"
    assert KNOWN not in await page.content()
    await shot("erased")
    _, checked = await api(site, auth, "GET", "/v1/check", params={"email": KNOWN, "scope": "events"})
    assert checked["allowed"] is False
    await context.close()
    for path in shots:
        print(f"screenshot: {path}")

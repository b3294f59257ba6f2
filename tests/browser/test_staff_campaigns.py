"""The console's Campaigns page in a real browser (Debian's Chromium): the paused campaign on top in
red, and an admin resuming it with a note, as Flemish staff do it on a desktop."""

from __future__ import annotations

import re

from tests.browser.conftest import ARTIFACTS
from tests.conftest import make_key
from tests.web.test_staff_campaigns import ACTIVE, PAUSED, paused_and_active, status_of

DESKTOP = {"viewport": {"width": 1280, "height": 900}}


def reddish(colour: str) -> bool:
    """rgb(200, 30, 30), or a pale tint such as rgb(253, 232, 232): red above both green and blue."""
    red, green, blue = (int(n) for n in re.findall(r"\d+", colour)[:3])
    return red - max(green, blue) >= 15


async def test_an_admin_sees_the_paused_campaign_first_in_red_and_resumes_it(served, browser, pool):
    site = await served()
    ARTIFACTS.mkdir(exist_ok=True)
    await paused_and_active(pool)
    key = await make_key(pool, "admin", name="Bart (beheer)")
    context = await browser.new_context(locale="nl-BE", extra_http_headers={"Accept-Language": "nl-BE"}, **DESKTOP)
    page = await context.new_page()
    await page.goto(f"{site}/staff/")
    await page.get_by_label("Sleutel (API key met recht write of admin)").fill(key)
    await page.get_by_role("button", name="Aanmelden").click()
    await page.wait_for_load_state()
    assert PAUSED in await page.locator("section.campaign-alert").inner_text()

    await page.get_by_role("link", name="Campagnes").click()
    await page.wait_for_load_state()
    assert await page.locator("h1").inner_text() == "Campagnes"
    first = page.locator("li.campaign").first
    assert PAUSED in await first.locator("h2").inner_text()
    assert ACTIVE in await page.locator("li.campaign").nth(1).locator("h2").inner_text()
    assert "3 klachten op 1.000 verzonden" in await first.locator(".reason").inner_text()
    style = await first.evaluate("e => [getComputedStyle(e).borderLeftColor, getComputedStyle(e).backgroundColor]")
    assert all(reddish(colour) for colour in style), style
    active = await page.locator("li.campaign").nth(1).evaluate("e => getComputedStyle(e).borderLeftColor")
    assert not reddish(active), active
    await page.screenshot(path=str(ARTIFACTS / "staff-campaigns-paused.png"), full_page=True)

    note = first.get_by_label("Waarom is het veilig om deze campagne verder te versturen?")
    assert await note.evaluate("e => e.required")
    await first.get_by_role("button", name="Campagne hervatten").click()  # empty: the browser keeps the form
    assert await note.evaluate("e => !e.validity.valid")
    assert (await status_of(pool, PAUSED)).paused

    await note.fill("De klagers staan op de blokkeerlijst; de lijst werd opgekuist.")
    await first.get_by_role("button", name="Campagne hervatten").click()
    await page.wait_for_load_state()
    assert f"Campagne {PAUSED} hervat" in await page.locator("p.notice").inner_text()
    assert await page.locator("li.campaign.paused").count() == 0
    resumed = page.locator("li.campaign", has_text=PAUSED)
    assert "Actief" in await resumed.locator("h2").inner_text()
    assert "hervat door Bart (beheer)" in await resumed.inner_text()
    assert not (await status_of(pool, PAUSED)).paused
    await page.screenshot(path=str(ARTIFACTS / "staff-campaigns-resumed.png"), full_page=True)
    await context.close()

"""A person opens the link in a real browser (Debian's Chromium), unsubscribes, and undoes it.

Screenshots of the page at phone width in Dutch and English go to tests/artifacts/.
"""

import pytest

from tests.browser.conftest import ARTIFACTS, PHONE


@pytest.fixture
async def site(served):
    return await served()


async def link_for(site, auth, email):
    import aiohttp

    async with aiohttp.ClientSession() as session:
        response = await session.post(f"{site}/v1/links", json={"recipients": [{"email": email, "scope": "newsletter"}]},
                                      headers=auth)
        return (await response.json())["links"][0]["url"]


async def is_allowed(site, auth, email):
    import aiohttp

    async with aiohttp.ClientSession() as session:
        response = await session.get(f"{site}/v1/check", params={"email": email, "scope": "newsletter"}, headers=auth)
        return (await response.json())["allowed"]


async def test_a_person_unsubscribes_and_undoes_it_on_a_phone(site, browser, auth):
    ARTIFACTS.mkdir(exist_ok=True)
    url = await link_for(site, auth, "jan.peeters@example.be")
    context = await browser.new_context(locale="nl-BE", **PHONE)
    page = await context.new_page()
    await page.goto(url)
    assert await page.locator("h1").inner_text() == "Uitschrijven"
    assert "j…@example.be" in await page.content()
    await page.screenshot(path=str(ARTIFACTS / "unsubscribe-nl-phone.png"), full_page=True)
    assert await is_allowed(site, auth, "jan.peeters@example.be"), "opening the page must change nothing"

    await page.get_by_role("button", name="Uitschrijven").click()
    await page.wait_for_load_state()
    assert await page.locator("h1").inner_text() == "U bent uitgeschreven"
    await page.screenshot(path=str(ARTIFACTS / "done-nl-phone.png"), full_page=True)
    assert not await is_allowed(site, auth, "jan.peeters@example.be")

    await page.get_by_role("button", name="Toch weer inschrijven").click()
    await page.wait_for_load_state()
    assert await page.locator("h1").inner_text() == "U bent opnieuw ingeschreven"
    assert await is_allowed(site, auth, "jan.peeters@example.be")
    await context.close()


async def test_the_english_page_on_a_phone_offers_all_marketing(site, browser, auth):
    ARTIFACTS.mkdir(exist_ok=True)
    url = await link_for(site, auth, "marie@example.be")
    context = await browser.new_context(locale="en-GB", extra_http_headers={"Accept-Language": "en-GB,en;q=0.9"}, **PHONE)
    page = await context.new_page()
    await page.goto(url)
    assert await page.locator("h1").inner_text() == "Unsubscribe"
    width = await page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, "the page must not scroll sideways on a phone"
    await page.screenshot(path=str(ARTIFACTS / "unsubscribe-en-phone.png"), full_page=True)
    await page.get_by_label("All marketing mail from CETIT").check()
    await page.get_by_role("button", name="Unsubscribe").click()
    await page.wait_for_load_state()
    assert "all marketing mail from CETIT" in await page.locator("[role=status]").inner_text()
    await page.screenshot(path=str(ARTIFACTS / "done-en-phone.png"), full_page=True)
    await context.close()

"""The console's campaigns: the paused ones on top in red with why, in Dutch and English, and
resuming one on an admin's word."""

from __future__ import annotations

import re

from service.domain.campaigns import guard
from service.domain.campaigns.model import CampaignStatus, ReportKind, Thresholds
from service.storage.db import transaction
from tests.conftest import make_key
from tests.web.conftest import csrf_of, login

PAUSED = "nieuwsbrief-2026-12"
ACTIVE = "zomeractie-2026"


async def campaign_with(pool, name: str, sent: int, complaints: int = 0, hard_bounces: int = 0,
                        first_recipient: int = 1) -> None:
    """A campaign with these counts, made as links and reports make it: it pauses itself when a rate
    reaches the default thresholds."""
    recipients = range(first_recipient, first_recipient + sent)
    async with transaction(pool) as conn:
        await guard.count_sent(conn, [(name, r) for r in recipients], Thresholds())
    for kind, count in ((ReportKind.COMPLAINT, complaints), (ReportKind.HARD_BOUNCE, hard_bounces)):
        for recipient in recipients[:count]:
            async with transaction(pool) as conn:
                await guard.count_report(conn, name, recipient, kind, Thresholds())


async def paused_and_active(pool) -> None:
    """One campaign paused by 3 complaints of 1000, then a newer one that is fine."""
    await campaign_with(pool, PAUSED, 1000, complaints=3)
    await campaign_with(pool, ACTIVE, 1200, complaints=1, first_recipient=5000)


async def status_of(pool, name: str):
    async with pool.acquire() as conn:
        return await guard.campaign(conn, name)


async def as_admin(client, pool, name: str = "Bart (beheer)"):
    assert (await login(client, await make_key(pool, "admin", name=name))).status == 303
    return client


async def test_the_page_shows_the_paused_campaign_first_in_red_with_its_reason_in_dutch(staff_nl, pool):
    await paused_and_active(pool)
    page = await (await staff_nl.get("/staff/campaigns")).text()
    assert page.index(PAUSED) < page.index(ACTIVE)  # though the active one is newer
    first = re.search(r'<li class="campaign paused">(.*?)</li>', page, re.S).group(1)
    assert PAUSED in first
    assert re.search(r"Gepauzeerd op \d{1,2} [a-z]+ \d{4} om \d\d:\d\d: klachtenpercentage 0,30% "
                     r"\(3 klachten op 1\.000 verzonden\) bereikte de grens van 0,30%", first)
    assert "1.000" in first and "0,30%" in first and "Geteld sinds" in first
    assert "Gmail en Yahoo: onder 0,1% blijven, 0,3% nooit bereiken." in page
    assert "optout pauzeert een campagne bij 5,00%." in page
    active = page[page.index(ACTIVE):]
    assert "1.200" in active and "0,08%" in active and "Actief" in active
    assert '<li class="campaign">' in page and page.count('class="campaign paused"') == 1


async def test_a_write_key_sees_the_resume_form_disabled(staff_nl, pool):
    await paused_and_active(pool)
    page = await (await staff_nl.get("/staff/campaigns")).text()
    assert "Waarom is het veilig om deze campagne verder te versturen?" in page
    assert re.search(r"<textarea [^>]*required disabled>", page)
    assert "Alleen een sleutel met recht admin kan een campagne hervatten" in page


async def test_an_admin_resumes_a_paused_campaign_with_a_note(client, pool):
    await paused_and_active(pool)
    await as_admin(client, pool)
    page = await (await client.get("/staff/campaigns")).text()
    assert re.search(r"<textarea [^>]*required>", page) and "recht admin" not in page
    note = "De lijst werd opgekuist: de klagers staan op de blokkeerlijst."
    response = await client.post("/staff/campaigns/resume", data={"csrf": csrf_of(page), "campaign": PAUSED,
                                                                  "note": note}, allow_redirects=False)
    assert response.status == 303 and response.headers["Location"].startswith("/staff/campaigns?notice=")
    resumed = await status_of(pool, PAUSED)
    assert resumed.status is CampaignStatus.ACTIVE and resumed.sent == 0
    assert resumed.resumed_by == "Bart (beheer)" and resumed.resume_note == note
    recorded = await pool.fetchrow("SELECT actor, source, detail FROM events WHERE type = 'campaign_resumed'")
    assert (recorded["actor"], recorded["source"], recorded["detail"]["note"]) == ("Bart (beheer)", "staff", note)
    after = await (await client.get(response.headers["Location"])).text()
    assert f"Campagne {PAUSED} hervat" in after and 'class="campaign paused"' not in after
    assert "hervat door Bart (beheer)" in after and "De lijst werd opgekuist" in after


async def test_a_write_key_cannot_resume(staff_nl, pool):
    await paused_and_active(pool)
    page = await (await staff_nl.get("/staff/campaigns")).text()
    response = await staff_nl.post("/staff/campaigns/resume", data={"csrf": csrf_of(page), "campaign": PAUSED,
                                                                    "note": "Het is veilig."})
    assert response.status == 403
    assert "Alleen een sleutel met recht admin kan een campagne hervatten." in await response.text()
    assert (await status_of(pool, PAUSED)).paused


async def test_resuming_needs_a_note(client, pool):
    await paused_and_active(pool)
    await as_admin(client, pool)
    csrf = csrf_of(await (await client.get("/staff/campaigns")).text())
    for note in ({}, {"note": ""}, {"note": "   "}):
        response = await client.post("/staff/campaigns/resume", data={"csrf": csrf, "campaign": PAUSED, **note})
        assert response.status == 400
        assert "Zeg waarom het veilig is om deze campagne verder te versturen." in await response.text()
    assert (await status_of(pool, PAUSED)).paused


async def test_resuming_needs_the_session_s_csrf_token(client, pool):
    await paused_and_active(pool)
    await as_admin(client, pool)
    response = await client.post("/staff/campaigns/resume", data={"csrf": "forged", "campaign": PAUSED,
                                                                  "note": "Het is veilig."})
    assert response.status == 403
    assert (await status_of(pool, PAUSED)).paused


async def test_resuming_an_active_or_unknown_campaign_is_refused(client, pool):
    await paused_and_active(pool)
    await as_admin(client, pool)
    csrf = csrf_of(await (await client.get("/staff/campaigns")).text())
    active = await client.post("/staff/campaigns/resume", data={"csrf": csrf, "campaign": ACTIVE, "note": "Ja."})
    assert active.status == 409 and "Deze campagne is niet gepauzeerd." in await active.text()
    unknown = await client.post("/staff/campaigns/resume", data={"csrf": csrf, "campaign": "geen", "note": "Ja."})
    assert unknown.status == 404


async def test_the_reason_keeps_the_counts_of_the_pause_while_the_campaign_counts_on(staff_nl, pool):
    await campaign_with(pool, PAUSED, 1000, complaints=4)  # the fourth arrives after the pause
    page = await (await staff_nl.get("/staff/campaigns")).text()
    assert "(3 klachten op 1.000 verzonden)" in page
    assert re.search(r"<dt>Klachten</dt><dd>4</dd>", page)


async def test_a_campaign_paused_for_hard_bounces_says_so(staff_nl, pool):
    await campaign_with(pool, PAUSED, 1000, hard_bounces=50)
    page = await (await staff_nl.get("/staff/campaigns")).text()
    assert ("percentage onbestelbaar 5,00% (50 onbestelbare adressen op 1.000 verzonden) "
            "bereikte de grens van 5,00%") in page


async def test_the_dashboard_names_each_paused_campaign_and_links_to_the_page(staff_nl, pool):
    dashboard = await (await staff_nl.get("/staff/")).text()
    assert 'href="/staff/campaigns"' in dashboard and "campaign-alert" not in dashboard
    await paused_and_active(pool)
    dashboard = await (await staff_nl.get("/staff/")).text()
    alert = re.search(r'<section class="campaign-alert".*?</section>', dashboard, re.S).group(0)
    assert PAUSED in alert and ACTIVE not in alert and 'href="/staff/campaigns"' in alert
    assert "klachtenpercentage 0,30% (3 klachten op 1.000 verzonden)" in alert
    assert dashboard.index("campaign-alert") < dashboard.index("Telefoontje")


async def test_the_page_in_english(staff, pool):
    await paused_and_active(pool)
    page = await (await staff.get("/staff/campaigns")).text()
    assert 'lang="en"' in page and "<h1>Campaigns</h1>" in page
    assert re.search(r"Paused on \d{1,2} [A-Z][a-z]+ \d{4} at \d\d:\d\d: complaint rate 0.30% "
                     r"\(3 complaints of 1,000 sent\) reached the limit of 0.30%", page)
    assert "Gmail and Yahoo: keep under 0.1%, never reach 0.3%." in page
    assert "Why is it safe to send this campaign again?" in page and "Counted since" in page
    assert "1,200" in page and "Gepauzeerd" not in page

"""Double opt-in end to end: a consent asked by the API, the confirmation mail through a real relay
(an aiosmtpd sink), its link opened in a real browser (Debian's Chromium), the button clicked, and
the proof in the subject access. Screenshots at phone width go to tests/artifacts/.
"""

from __future__ import annotations

import re
from email import message_from_bytes, policy

import aiohttp

from service.domain.outbox import OutboxKind
from service.mail.outbox import Drainer
from service.services import Services
from tests.browser.conftest import ARTIFACTS, PHONE
from tests.smtp.conftest import Sink, start_sink

WHO = "an.devos@example.be"


async def api(session: aiohttp.ClientSession, method: str, url: str, auth: dict, **kwargs) -> tuple[int, dict]:
    async with session.request(method, url, headers=auth, **kwargs) as response:
        return response.status, await response.json()


async def test_a_person_confirms_by_the_link_in_the_mail_and_only_then_may_be_mailed(
        served, browser, auth, settings, pool, unused_tcp_port_factory):
    sink = Sink()
    controller = start_sink(sink, unused_tcp_port_factory())
    try:
        relay = f"smtp://127.0.0.1:{sink.port}"
        site = await served(relay_url=relay)
        async with aiohttp.ClientSession() as session:
            status, _ = await api(session, "PUT", f"{site}/v1/scopes/news", auth, json={
                "labels": {"nl": "Nieuwsbrief", "en": "Newsletter", "fr": "Lettre d'information"},
                "consent": "required"})
            assert status == 201
            status, body = await api(session, "POST", f"{site}/v1/consents", auth, json={
                "email": WHO, "scope": "news", "source": "web_form", "language": "nl", "confirm": True,
                "text": "Ja, ik ontvang graag de nieuwsbrief van CETIT.", "text_version": "2026-12-01",
                "ip": "198.51.100.23", "user_agent": "Mozilla/5.0 (form)"})
            assert (status, body["status"]) == (202, "pending")
            status, checked = await api(session, "GET", f"{site}/v1/check", auth,
                                        params={"email": WHO, "scope": "news"})
            assert checked == {"email": WHO, "allowed": False, "reason": "no_consent", "scope": "news"}

            drainer = Drainer(pool, Services.build(settings.with_overrides(relay_url=relay, public_url=site)),
                              kinds=(OutboxKind.CONFIRMATION,))
            try:
                assert await drainer.drain_once() == 1
            finally:
                await drainer.close()
            [(recipients, raw)] = sink.messages
            assert recipients == [WHO] and sink.envelope_senders[WHO] == settings.bounce_address
            mail = message_from_bytes(raw, policy=policy.default)
            assert mail["Subject"] == "Bevestig uw inschrijving bij CETIT" and mail["Auto-Submitted"] == "auto-generated"
            text = mail.get_body(("plain",)).get_content()
            html = mail.get_body(("html",)).get_content()
            assert "U hebt gevraagd om mails van CETIT te ontvangen: Nieuwsbrief." in text
            [link] = re.findall(r"https?://\S+/c/[A-Za-z0-9_-]+", text)
            assert link in html and WHO not in link

            context = await browser.new_context(locale="nl-BE", **PHONE)
            page = await context.new_page()
            await page.goto(link)
            assert await page.locator("h1").inner_text() == "Bevestig uw inschrijving"
            assert "a…@example.be" in await page.content() and "Nieuwsbrief" in await page.content()
            ARTIFACTS.mkdir(exist_ok=True)
            await page.screenshot(path=str(ARTIFACTS / "confirm-nl-phone.png"), full_page=True)
            _, checked = await api(session, "GET", f"{site}/v1/check", auth, params={"email": WHO, "scope": "news"})
            assert checked["allowed"] is False, "opening the page must change nothing"

            await page.get_by_role("button", name="Ja, ik schrijf mij in").click()
            await page.wait_for_load_state()
            assert await page.locator("h1").inner_text() == "Uw inschrijving is bevestigd"
            await context.close()

            _, checked = await api(session, "GET", f"{site}/v1/check", auth, params={"email": WHO, "scope": "news"})
            assert checked == {"email": WHO, "allowed": True}
            _, record = await api(session, "GET", f"{site}/v1/subjects/{WHO}", auth)
            [given] = record["consents"]
            assert (given["status"], given["source"], given["text_version"]) == ("given", "web_form", "2026-12-01")
            assert given["confirmed_at"] and given["proof"]["ip"] == "198.51.100.23"
            assert given["proof"]["confirmed_ip"] == "127.0.0.1"
            assert "Chrome" in given["proof"]["confirmed_user_agent"]
            assert [e["type"] for e in record["events"]] == ["consent_requested", "consent_given"]

            # The same link again: nothing changes, the page says it is done.
            async with session.post(link, data={"confirm": "yes"}) as response:
                assert response.status == 200 and "bevestigd" in await response.text()
    finally:
        controller.stop()

"""Campaign guardrails end to end, over real sockets, against `optout run` as it is deployed: links
issued over HTTP, reports received over SMTP, the gateway relaying through a real SMTP relay.

A campaign of 1,000 recipients is paused by three complaints that carry its links; the gateway
then defers that campaign with 451 4.7.1 while it relays another one; a resume over HTTP lets it
through again. The same with 50 hard bounces at return paths. Reports that name no campaign
pause nothing."""

from __future__ import annotations

import email
from email import policy
from urllib.parse import quote

import aiohttp
import aiosmtplib
import pytest
from aiosmtpd.controller import Controller

from service.domain.apikeys import create_key
from tests.faults.conftest import wait
from tests.test_campaign_guardrails import arf, dsn
from tests.test_worker import Sink, free_port

SIZE = 1000


def newsletter(campaign: str | None, number: int) -> bytes:
    named = f"X-Optout-Campaign: {campaign}\r\n" if campaign else ""
    return (f"From: CETIT <nieuws@cetit.be>\r\nTo: lezer@example.be\r\nSubject: Nieuwsbrief {number}\r\n"
            f"Message-ID: <campaign-{number}@cetit.be>\r\n{named}\r\nHallo\r\n").encode()


async def through_gateway(port: int, campaign: str | None, number: int, recipient: str):
    """Give the gateway one message; its reply, or the SMTP error it was refused with."""
    try:
        _errors, reply = await aiosmtplib.send(newsletter(campaign, number), sender="nieuws@cetit.be",
                                               recipients=[recipient], hostname="127.0.0.1", port=port, timeout=20)
        return reply
    except aiosmtplib.SMTPResponseException as exc:
        return exc


async def report(port: int, raw: bytes, recipient: str) -> None:
    """SMTP with the null sender, as reports come."""
    async with aiosmtplib.SMTP(hostname="127.0.0.1", port=port, timeout=20) as smtp:
        await smtp.sendmail("", [recipient], raw)


@pytest.fixture
async def relay():
    sink = Sink()
    controller = Controller(sink, hostname="127.0.0.1", port=free_port())
    controller.start()
    yield controller, sink
    controller.stop()


async def test_reports_pause_a_campaign_the_gateway_defers_it_and_a_resume_lets_it_go(db, services, relay):
    controller, sink = relay
    _id, key = await create_key(db, "campagnes", ["admin"])
    service = services("run", OPTOUT_RELAY_URL=f"smtp://127.0.0.1:{controller.port}")
    await service.logged("gateway listening")
    await service.logged("inbound mail (LMTP and SMTP) listening")
    base, ports = f"http://127.0.0.1:{services.ports['PORT']}", services.ports
    smtp_port, gateway_port = ports["OPTOUT_SMTP_PORT"], ports["OPTOUT_GATEWAY_PORT"]
    auth = {"Authorization": f"Bearer {key}"}

    async with aiohttp.ClientSession() as http:
        async def links(campaign: str | None, prefix: str, count: int = SIZE) -> list[dict]:
            recipients = [{"email": f"{prefix}{n}@example.be", "scope": "newsletter",
                           **({"campaign": campaign} if campaign else {})} for n in range(count)]
            async with http.post(f"{base}/v1/links", headers=auth, json={"recipients": recipients}) as answer:
                assert answer.status == 200, await answer.text()
                return (await answer.json())["links"]

        async def campaign(name: str) -> dict:
            async with http.get(f"{base}/v1/campaigns/{quote(name, safe='')}", headers=auth) as answer:
                assert answer.status == 200, await answer.text()
                return await answer.json()

        async def paused(name: str) -> bool:
            return (await campaign(name))["status"] == "paused"

        async def resume(name: str, note: str) -> dict:
            async with http.post(f"{base}/v1/campaigns/{quote(name, safe='')}/resume", headers=auth,
                                 json={"note": note}) as answer:
                assert answer.status == 200, await answer.text()
                return await answer.json()

        async def relayed(count: int) -> bool:
            return len(sink.messages) >= count

        # Complaints: three ARF reports carrying the winter campaign's links pause it (0.3% of 1,000).
        winter = await links("winter-2026", "winter")
        for n in range(3):
            await report(smtp_port, arf(winter[n], n), "info@cetit.be")
        await wait(lambda: paused("winter-2026"), 60, "three complaints to pause the campaign")
        found = await campaign("winter-2026")
        assert (found["sent"], found["complaints"], found["complaint_rate"]) == (SIZE, 3, 0.003)

        refused = await through_gateway(gateway_port, "winter-2026", 1, "lezer@example.be")
        assert isinstance(refused, aiosmtplib.SMTPResponseException) and refused.code == 451
        assert refused.message.startswith("4.7.1 Campaign paused")
        reply = await through_gateway(gateway_port, "lente-2027", 2, "lezer@example.be")  # another campaign goes on
        assert reply.startswith("2.0.0 Queued")
        await wait(lambda: relayed(1), 60, "the other campaign's copy to reach the relay")
        copy = email.message_from_bytes(sink.messages[0][2], policy=policy.default)
        assert copy["X-Optout-Campaign"] is None and copy["List-Unsubscribe"]  # removed; its own link added
        assert (await campaign("lente-2027"))["sent"] == 1

        resumed = await resume("winter-2026", "De klachten kwamen van een gekochte lijst; die is verwijderd.")
        assert (resumed["status"], resumed["sent"], resumed["resumed_by"]) == ("active", 0, "campagnes")
        reply = await through_gateway(gateway_port, "winter-2026", 3, "lezer@example.be")
        assert reply.startswith("2.0.0 Queued")
        await wait(lambda: relayed(2), 60, "the resumed campaign's copy to reach the relay")
        assert (await campaign("winter-2026"))["sent"] == 1  # counted afresh from the resume

        # Hard bounces: 50 DSNs at the return paths, returning the copies' headers (5% of 1,000).
        bought = await links("gekochte-lijst", "koop")
        for n in range(50):
            await report(smtp_port, dsn(f"koop{n}@example.be", n, bought[n]), bought[n]["return_path"])
        await wait(lambda: paused("gekochte-lijst"), 90, "50 hard bounces to pause the campaign")
        found = await campaign("gekochte-lijst")
        assert (found["hard_bounces"], found["hard_bounce_rate"]) == (50, 0.05)
        refused = await through_gateway(gateway_port, "gekochte-lijst", 4, "lezer@example.be")
        assert isinstance(refused, aiosmtplib.SMTPResponseException) and refused.code == 451

        # Reports that name no campaign count for none: a campaign beside them stays active.
        calm = await links("rustig", "rustig")
        plain = await links(None, "los", 5)
        for n in range(5):
            await report(smtp_port, arf(plain[n], 100 + n), "info@cetit.be")

        async def plain_reports_done() -> bool:
            return await db.fetchval("SELECT count(*) FROM suppressions WHERE address LIKE 'los%'") == 5

        await wait(plain_reports_done, 60, "the reports without a campaign to be acted on")
        found = await campaign("rustig")
        assert (found["complaints"], found["status"], len(calm)) == (0, "active", SIZE)

        async with http.get(f"{base}/metrics") as answer:
            assert "optout_campaigns_paused 1.0" in await answer.text()  # gekochte-lijst

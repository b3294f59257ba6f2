"""The own page's mails leave through the outbox and the relay: the link to the person, in their
language with a plain-text part, and a correction they asked for to the staff mailbox."""

from __future__ import annotations

import email
from email import policy

from service.app import create_app
from tests.smtp.conftest import Sink, start_sink
from tests.test_privacy_request_flow import workers  # noqa: F401 (fixture)
from tests.test_worker import drain
from tests.web.self_service_helpers import KNOWN, csrf_of, link_in, make_known


async def test_the_link_and_a_correction_leave_through_the_relay(pool, settings, workers, aiohttp_client, auth,
                                                                  unused_tcp_port_factory):
    sink = Sink()
    controller = start_sink(sink, unused_tcp_port_factory())
    config = settings.with_overrides(relay_url=f"smtp://127.0.0.1:{sink.port}", forward_to="privacy@cetit.be")
    client = await aiohttp_client(create_app(config, pool))
    try:
        await make_known(client, auth)
        assert (await client.post("/me", data={"email": KNOWN, "lang": "nl"})).status == 200
        await drain(workers(config))
        [(to, raw)] = sink.messages
        mail = email.message_from_bytes(raw, policy=policy.default)
        assert to == [KNOWN] and mail["Content-Language"] == "nl" and mail["Auto-Submitted"] == "auto-generated"
        assert "60 minuten geldig" in mail.get_body(("plain",)).get_content()
        page = await client.get(link_in(raw))
        answer = await client.post(link_in(raw), data={"csrf": csrf_of(await page.text()), "action": "correct",
                                                       "text": "Mijn naam is Jan, niet Jean."})
        assert answer.status == 200
        await drain(workers(config))
    finally:
        controller.stop()
    [_, (to, raw)] = sink.messages
    forwarded = email.message_from_bytes(raw, policy=policy.default)
    assert to == ["privacy@cetit.be"] and forwarded["Reply-To"] == KNOWN
    assert "Mijn naam is Jan, niet Jean." in forwarded.get_body(("plain",)).get_content()
    assert await pool.fetchval("SELECT count(*) FROM outbox") == 0

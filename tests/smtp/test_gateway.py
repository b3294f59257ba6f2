"""The sending gateway: a sender speaks SMTP to it, a real aiosmtpd sink stands in for the relay."""

import asyncio
import smtplib
from email import message_from_bytes, policy

import aiohttp
import pytest
from aiosmtpd.controller import Controller

from service.smtp.gateway import Gateway
from tests.conftest import make_key

CAMPAIGN = b"""From: CETIT <nieuws@cetit.be>
To: undisclosed-recipients:;
Subject: Nieuws van CETIT
X-Optout-Scope: newsletter
List-Unsubscribe: <https://old.example/should-be-replaced>
Content-Type: text/plain; charset=utf-8

Hallo!
"""


class Sink:
    def __init__(self):
        self.messages: list[tuple[list[str], bytes]] = []

    async def handle_DATA(self, server, session, envelope):
        self.messages.append((list(envelope.rcpt_tos), envelope.original_content))
        return "250 2.0.0 OK"


@pytest.fixture
def sink(unused_tcp_port_factory):
    handler = Sink()
    port = unused_tcp_port_factory()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    handler.port = port
    yield handler
    controller.stop()


@pytest.fixture
async def web_base(served):
    return await served()


async def start_gateway(pool, settings, **overrides):
    gateway = Gateway(pool, settings.with_overrides(gateway_port=0, **overrides))
    await gateway.start()
    return gateway


def send(port, recipients, message=CAMPAIGN, login=None):
    """A sender through smtplib (in a thread: the gateway runs on this test's loop)."""
    with smtplib.SMTP("127.0.0.1", port, timeout=10) as client:
        if login:
            client.login("campaign-tool", login)
        return client.sendmail("nieuws@cetit.be", recipients, message)


async def test_suppressed_recipients_get_550_and_the_others_their_own_working_link(pool, settings, sink, web_base, auth):
    await pool.execute("INSERT INTO suppressions (address, scope, reason, source) VALUES "
                       "('gone@example.be', 'global', 'unsubscribe', 'link'), ('news-only@example.be', 'newsletter', 'unsubscribe', 'link')")
    gateway = await start_gateway(pool, settings, relay_url=f"smtp://127.0.0.1:{sink.port}", public_url=web_base)
    try:
        refused = await asyncio.to_thread(
            send, gateway.port, ["jan@example.be", "gone@example.be", "marie@example.be", "news-only@example.be"])
    finally:
        await gateway.stop()
    assert refused == {"gone@example.be": (550, b"5.7.1 Recipient has opted out of this mail")}
    assert sorted(r for rcpts, _ in sink.messages for r in rcpts) == ["jan@example.be", "marie@example.be"]
    for rcpts, raw in sink.messages:
        message = message_from_bytes(raw, policy=policy.default)
        assert "X-Optout-Scope" not in message and len(message.get_all("List-Unsubscribe")) == 1
        assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        url = message["List-Unsubscribe"].split(">")[0].lstrip("<")
        assert url.startswith(web_base + "/u/") and "=?" not in raw.decode()
        assert message.get_content().strip() == "Hallo!"
    jan_raw = next(raw for rcpts, raw in sink.messages if rcpts == ["jan@example.be"])
    jan_url = message_from_bytes(jan_raw, policy=policy.default)["List-Unsubscribe"].split(">")[0].lstrip("<")
    async with aiohttp.ClientSession() as session:
        response = await session.post(jan_url, data="List-Unsubscribe=One-Click",
                                      headers={"Content-Type": "application/x-www-form-urlencoded"})
        assert response.status == 200
        check = await session.get(f"{web_base}/v1/check", params={"email": "jan@example.be", "scope": "newsletter"}, headers=auth)
        assert (await check.json())["allowed"] is False
        other = await session.get(f"{web_base}/v1/check", params={"email": "marie@example.be", "scope": "newsletter"}, headers=auth)
        assert (await other.json())["allowed"] is True


async def test_relay_down_gives_451_and_nothing_is_sent(pool, settings, unused_tcp_port):
    gateway = await start_gateway(pool, settings, relay_url=f"smtp://127.0.0.1:{unused_tcp_port}")
    try:
        with pytest.raises(smtplib.SMTPDataError) as error:
            await asyncio.to_thread(send, gateway.port, ["jan@example.be"])
        assert error.value.smtp_code == 451
    finally:
        await gateway.stop()


async def test_copies_the_relay_did_not_take_are_queued_and_sent_later(pool, settings, sink, monkeypatch):
    from service.mail.relay import RelayError, RelaySession

    real_send = RelaySession.send
    calls = 0

    async def flaky(self, message, sender, recipients):
        nonlocal calls
        calls += 1
        if calls == 2:
            raise RelayError("relay answered 421", True)
        return await real_send(self, message, sender, recipients)

    monkeypatch.setattr(RelaySession, "send", flaky)
    gateway = await start_gateway(pool, settings, relay_url=f"smtp://127.0.0.1:{sink.port}")
    try:
        await asyncio.to_thread(send, gateway.port, ["a@example.be", "b@example.be", "c@example.be"])
        assert len(sink.messages) == 2
        assert await pool.fetchval("SELECT count(*) FROM gateway_outbox") == 1
        await pool.execute("UPDATE gateway_outbox SET next_attempt_at = now()")
        assert await gateway.retry_due() == 1
    finally:
        await gateway.stop()
    assert sorted(r for rcpts, _ in sink.messages for r in rcpts) == ["a@example.be", "b@example.be", "c@example.be"]
    assert await pool.fetchval("SELECT count(*) FROM gateway_outbox") == 0


async def test_with_auth_always_no_auth_gives_530_and_a_wrong_key_535(pool, settings, sink):
    gateway = await start_gateway(pool, settings, relay_url=f"smtp://127.0.0.1:{sink.port}", gateway_auth="always")
    links_key = await make_key(pool, "links")
    check_key = await make_key(pool, "check")
    try:
        with pytest.raises(smtplib.SMTPSenderRefused) as error:
            await asyncio.to_thread(send, gateway.port, ["jan@example.be"])
        assert error.value.smtp_code == 530
        for wrong in ("wrong-key", check_key):
            with pytest.raises(smtplib.SMTPAuthenticationError) as error:
                await asyncio.to_thread(send, gateway.port, ["jan@example.be"], CAMPAIGN, wrong)
            assert error.value.smtp_code == 535
        await asyncio.to_thread(send, gateway.port, ["jan@example.be"], CAMPAIGN, links_key)
    finally:
        await gateway.stop()
    assert [rcpts for rcpts, _ in sink.messages] == [["jan@example.be"]]


async def test_loopback_mode_asks_other_hosts_to_authenticate(pool, settings):
    from types import SimpleNamespace

    from service.smtp.gateway import AUTH_NEEDED, GatewayHandler

    gateway = await start_gateway(pool, settings)
    await gateway.stop()
    handler: GatewayHandler = gateway.handler
    remote = SimpleNamespace(authenticated=False, peer=("192.0.2.10", 40000))
    local = SimpleNamespace(authenticated=False, peer=("127.0.0.1", 40000))
    envelope = SimpleNamespace(mail_from=None, mail_options=[])
    assert await handler.handle_MAIL(None, remote, envelope, "a@cetit.be", []) == AUTH_NEEDED
    assert (await handler.handle_MAIL(None, local, envelope, "a@cetit.be", [])).startswith("250")


async def test_a_bad_scope_header_is_refused(pool, settings, sink):
    gateway = await start_gateway(pool, settings, relay_url=f"smtp://127.0.0.1:{sink.port}")
    try:
        with pytest.raises(smtplib.SMTPDataError) as error:
            await asyncio.to_thread(send, gateway.port, ["jan@example.be"], CAMPAIGN.replace(b"newsletter", b"Not Valid"))
        assert error.value.smtp_code == 550
    finally:
        await gateway.stop()
    assert sink.messages == []

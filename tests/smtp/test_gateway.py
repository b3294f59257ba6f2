"""The sending gateway: a sender speaks SMTP to it, a real aiosmtpd sink stands in for the relay."""

import asyncio
import logging
import smtplib
from pathlib import Path
from email import message_from_bytes, policy

import aiohttp
import pytest

from service.domain.campaigns import guard
from service.domain.outbox import OutboxKind
from service.mail.outbox import Drainer
from service.services import Services
from service.smtp.gateway import Gateway
from service.storage import outbox_queries
from service.storage.db import transaction
from service.storage.known_queries import recipient_ids
from tests.clock import ManualClock
from tests.conftest import make_key
from tests.smtp.conftest import Sink, start_sink

CAMPAIGN = b"""From: CETIT <nieuws@cetit.be>
To: undisclosed-recipients:;
Subject: Nieuws van CETIT
X-Optout-Scope: newsletter
List-Unsubscribe: <https://old.example/should-be-replaced>
Content-Type: text/plain; charset=utf-8

Hallo!
"""


@pytest.fixture
async def web_base(served):
    return await served()


async def start_gateway(pool, settings, **overrides):
    settings = settings.with_overrides(gateway_port=0, **overrides)
    gateway = Gateway(pool, settings, services=Services.build(settings, clock=ManualClock()))
    await gateway.start()
    return gateway


async def settled(pool, gateway, rounds: int = 400) -> None:
    """Until the outbox holds no copy that is due: the gateway's own drainer sends them as
    they come; this drains beside it (SKIP LOCKED keeps the two apart)."""
    for _ in range(rounds):
        await gateway.drainer.drain_once()
        due = await pool.fetchval("SELECT count(*) FROM outbox WHERE status = 'pending' AND next_attempt_at <= $1",
                                  gateway.services.clock.now())
        if not due:
            return
        await asyncio.sleep(0.05)
    raise AssertionError("the outbox did not settle")


def send(port, recipients, message=CAMPAIGN, login=None, timeout=10):
    """A sender through smtplib (in a thread: the gateway runs on this test's loop)."""
    with smtplib.SMTP("127.0.0.1", port, timeout=timeout) as client:
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
        await settled(pool, gateway)
    finally:
        await gateway.stop()
    # news-only@ left the newsletter: refused at RCPT too, in the session's scope (newsletter).
    assert refused == {"gone@example.be": (550, b"5.7.1 Recipient has opted out of this mail"),
                       "news-only@example.be": (550, b"5.7.1 Recipient has opted out of this mail")}
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


async def test_with_the_relay_down_the_message_is_kept_and_sent_when_it_is_back_except_to_who_left_meanwhile(
        pool, settings, unused_tcp_port, auth, client):
    gateway = await start_gateway(pool, settings, relay_url=f"smtp://127.0.0.1:{unused_tcp_port}")
    try:
        assert await asyncio.to_thread(send, gateway.port, ["jan@example.be", "marie@example.be"]) == {}
        await settled(pool, gateway)  # tried once: the relay is down
        rows = await pool.fetch("SELECT recipient, attempts, last_error FROM outbox ORDER BY recipient")
        assert [(r["recipient"], r["attempts"]) for r in rows] == [("jan@example.be", 1), ("marie@example.be", 1)]
        assert "unreachable" in rows[0]["last_error"]
        response = await client.put("/v1/suppressions/marie@example.be", headers=auth,
                                    json={"scope": "global", "reason": "manual", "source": "phone"})
        assert response.status == 201
        sink = Sink()
        controller = start_sink(sink, unused_tcp_port)
        try:
            gateway.services.clock.advance(minutes=10)
            await settled(pool, gateway)
        finally:
            controller.stop()
    finally:
        await gateway.stop()
    assert [rcpts for rcpts, _ in sink.messages] == [["jan@example.be"]]
    assert await pool.fetchval("SELECT count(*) FROM outbox") == 0
    assert await pool.fetchval("SELECT count(*) FROM outbox_bodies") == 0


async def test_copies_the_relay_defers_are_sent_later_and_the_others_once(pool, settings, sink, monkeypatch):
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
        await settled(pool, gateway)
        assert len(sink.messages) == 2
        assert await pool.fetchval("SELECT count(*) FROM outbox WHERE status = 'pending'") == 1
        gateway.services.clock.advance(minutes=5)
        await settled(pool, gateway)
    finally:
        await gateway.stop()
    assert sorted(r for rcpts, _ in sink.messages for r in rcpts) == ["a@example.be", "b@example.be", "c@example.be"]
    assert await pool.fetchval("SELECT count(*) FROM outbox") == 0


async def test_a_copy_the_relay_refuses_for_good_dies_and_is_counted_in_metrics(pool, settings, unused_tcp_port,
                                                                                 client):
    class Refusing(Sink):
        async def handle_RCPT(self, server, session, envelope, address, options):
            if address == "nobody@example.be":
                return "550 5.1.1 No such user"
            envelope.rcpt_tos.append(address)
            return "250 OK"

    sink = Refusing()
    controller = start_sink(sink, unused_tcp_port)
    gateway = await start_gateway(pool, settings, relay_url=f"smtp://127.0.0.1:{unused_tcp_port}")
    try:
        await asyncio.to_thread(send, gateway.port, ["nobody@example.be", "jan@example.be"])
        await settled(pool, gateway)
    finally:
        await gateway.stop()
        controller.stop()
    assert [rcpts for rcpts, _ in sink.messages] == [["jan@example.be"]]
    dead = await pool.fetchrow("SELECT recipient, status, last_error FROM outbox")
    assert (dead["recipient"], dead["status"]) == ("nobody@example.be", "dead") and "550" in dead["last_error"]
    metrics = await (await client.get("/metrics")).text()
    assert 'optout_outbox_rows{kind="gateway",status="dead"} 1.0' in metrics


async def test_a_copy_deferred_by_the_relay_is_checked_again_before_its_next_try(pool, settings, unused_tcp_port,
                                                                                  client, auth):
    """A real relay greylists jan (450 at RCPT); jan unsubscribes meanwhile: the next try does
    not send to jan, while marie, deferred alike and still allowed, gets her copy."""
    class Greylisting(Sink):
        def __init__(self):
            super().__init__()
            self.tried: set[str] = set()

        async def handle_RCPT(self, server, session, envelope, address, options):
            if address not in self.tried:
                self.tried.add(address)
                return "450 4.2.0 Greylisted, try again later"
            envelope.rcpt_tos.append(address)
            return "250 OK"

    sink = Greylisting()
    controller = start_sink(sink, unused_tcp_port)
    gateway = await start_gateway(pool, settings, relay_url=f"smtp://127.0.0.1:{unused_tcp_port}")
    try:
        await asyncio.to_thread(send, gateway.port, ["jan@example.be", "marie@example.be"])
        await settled(pool, gateway)
        assert sink.messages == [] and await pool.fetchval("SELECT count(*) FROM outbox WHERE attempts = 1") == 2
        response = await client.put("/v1/suppressions/jan@example.be", headers=auth,
                                    json={"scope": "newsletter", "reason": "unsubscribe", "source": "api"})
        assert response.status == 201
        gateway.services.clock.advance(minutes=10)
        await settled(pool, gateway)
    finally:
        await gateway.stop()
        controller.stop()
    assert [rcpts for rcpts, _ in sink.messages] == [["marie@example.be"]]
    assert await pool.fetchval("SELECT count(*) FROM outbox") == 0


async def test_a_copy_refused_for_good_after_its_data_is_not_tried_again(pool, settings, unused_tcp_port, client):
    class RejectingContent(Sink):
        async def handle_DATA(self, server, session, envelope):
            self.messages.append((list(envelope.rcpt_tos), b""))
            return "554 5.7.1 Message rejected as spam"

    sink = RejectingContent()
    controller = start_sink(sink, unused_tcp_port)
    gateway = await start_gateway(pool, settings, relay_url=f"smtp://127.0.0.1:{unused_tcp_port}")
    try:
        await asyncio.to_thread(send, gateway.port, ["jan@example.be"])
        await settled(pool, gateway)
        gateway.services.clock.advance(days=1)
        await settled(pool, gateway)
    finally:
        await gateway.stop()
        controller.stop()
    assert len(sink.messages) == 1  # one try: a 5xx is final
    dead = await pool.fetchrow("SELECT status, attempts, last_error FROM outbox")
    assert dead["status"] == "dead" and "554" in dead["last_error"]


async def test_a_relay_that_refuses_the_session_costs_a_try_never_a_copy(pool, settings, unused_tcp_port):
    """A 554 greeting (a relay in maintenance, a login refused after a password change) says
    nothing about the copies: they wait for the next try, none is given up."""
    async def refuse(reader, writer):
        writer.write(b"554 5.3.2 Not accepting mail right now\r\n")
        await writer.drain()
        writer.close()

    refusing = await asyncio.start_server(refuse, "127.0.0.1", unused_tcp_port)
    gateway = await start_gateway(pool, settings, relay_url=f"smtp://127.0.0.1:{unused_tcp_port}")
    try:
        await asyncio.to_thread(send, gateway.port, ["jan@example.be", "marie@example.be", "els@example.be"])
        await settled(pool, gateway)
    finally:
        await gateway.stop()
        refusing.close()
        await refusing.wait_closed()
    rows = await pool.fetch("SELECT status, attempts, last_error FROM outbox")
    assert [(r["status"], r["attempts"]) for r in rows] == [("pending", 1)] * 3
    assert all("cannot open a session" in r["last_error"] for r in rows)


async def test_the_message_goes_when_its_only_copy_is_withheld_at_send_time(pool, settings, unused_tcp_port, client,
                                                                            auth):
    gateway = await start_gateway(pool, settings, relay_url=f"smtp://127.0.0.1:{unused_tcp_port}")
    try:
        await asyncio.to_thread(send, gateway.port, ["jan@example.be"])
        await settled(pool, gateway)  # the relay is down: tried once
        response = await client.put("/v1/suppressions/jan@example.be", headers=auth,
                                    json={"scope": "newsletter", "reason": "unsubscribe", "source": "api"})
        assert response.status == 201
        gateway.services.clock.advance(minutes=10)
        await settled(pool, gateway)
    finally:
        await gateway.stop()
    assert await pool.fetchval("SELECT count(*) FROM outbox") == 0
    assert await pool.fetchval("SELECT count(*) FROM outbox_bodies") == 0


async def test_a_message_over_the_size_limit_is_refused_and_nothing_is_queued(pool, settings, sink):
    gateway = await start_gateway(pool, settings, relay_url=f"smtp://127.0.0.1:{sink.port}", max_message_bytes=50_000)
    try:
        with pytest.raises(smtplib.SMTPResponseException) as error:  # at MAIL (SIZE=), or after DATA
            await asyncio.to_thread(send, gateway.port, ["jan@example.be"], CAMPAIGN + b"x" * 60_000 + b"\n")
    finally:
        await gateway.stop()
    assert error.value.smtp_code == 552
    assert await pool.fetchval("SELECT count(*) FROM outbox_bodies") == 0


async def test_each_copy_leaves_with_its_recipient_s_return_path_as_mail_from(pool, settings, sink, client, auth):
    gateway = await start_gateway(pool, settings, relay_url=f"smtp://127.0.0.1:{sink.port}")
    try:
        await asyncio.to_thread(send, gateway.port, ["Jan@Example.be", "marie@example.be"])
        await settled(pool, gateway)
    finally:
        await gateway.stop()
    links = (await (await client.post("/v1/links", json={"recipients": [
        {"email": "jan@example.be"}, {"email": "marie@example.be"}]}, headers=auth)).json())["links"]
    assert sink.envelope_senders == {"Jan@Example.be": links[0]["return_path"],
                                     "marie@example.be": links[1]["return_path"]}
    assert links[0]["return_path"] != links[1]["return_path"]


async def test_a_recipient_blocked_only_in_the_header_s_scope_is_withheld_and_named_in_the_reply(pool, settings,
                                                                                                sink, caplog):
    """The sender is told the address in full; the log, read by more people, names it masked."""
    await pool.execute("INSERT INTO suppressions (address, scope, reason, source) VALUES "
                       "('events-only@example.be', 'events', 'unsubscribe', 'link')")
    gateway = await start_gateway(pool, settings, relay_url=f"smtp://127.0.0.1:{sink.port}")
    def exchange(port: int) -> tuple[list[int], int, bytes]:
        with smtplib.SMTP("127.0.0.1", port, timeout=10) as client:
            client.ehlo()
            client.mail("nieuws@cetit.be")
            rcpt = [client.rcpt(r)[0] for r in ("jan@example.be", "events-only@example.be")]
            return rcpt, *client.data(CAMPAIGN.replace(b"newsletter", b"events"))

    try:
        with caplog.at_level(logging.INFO, logger="optout.gateway"):
            rcpt, code, reply = await asyncio.to_thread(exchange, gateway.port)
        await settled(pool, gateway)
    finally:
        await gateway.stop()
    [queued] = [r.getMessage() for r in caplog.records if "copies queued" in r.getMessage()]
    assert queued.endswith("withheld, blocked in that scope: 1 (e…@example.be)") and "events-only@" not in caplog.text
    assert rcpt == [250, 250]  # both may get the newsletter, the session's scope
    assert code == 250 and reply.startswith(b"2.0.0 Queued: one copy for each of 1 recipient(s)")
    assert reply.endswith(b"; withheld, opted out of events: events-only@example.be")
    assert [rcpts for rcpts, _ in sink.messages] == [["jan@example.be"]]


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
        await settled(pool, gateway)
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


async def test_bcc_and_resent_bcc_are_stripped_from_every_copy(pool, settings, sink):
    with_bcc = CAMPAIGN.replace(b"Subject:", b"Bcc: hidden@example.be,\n  also-hidden@example.be\n"
                                             b"Resent-Bcc: resent-hidden@example.be\nSubject:")
    gateway = await start_gateway(pool, settings, relay_url=f"smtp://127.0.0.1:{sink.port}")
    try:
        await asyncio.to_thread(send, gateway.port, ["jan@example.be", "marie@example.be"], with_bcc)
        await settled(pool, gateway)
    finally:
        await gateway.stop()
    assert len(sink.messages) == 2
    for _rcpts, raw in sink.messages:
        message = message_from_bytes(raw, policy=policy.default)
        assert "Bcc" not in message and "Resent-Bcc" not in message
        assert b"hidden@example.be" not in raw
        assert message["Subject"] == "Nieuws van CETIT" and message.get_content().strip() == "Hallo!"


async def test_the_recipients_it_relays_to_are_recorded_as_known(pool, settings, sink):
    await pool.execute("INSERT INTO suppressions (address, scope, reason, source) VALUES "
                       "('gone@example.be', 'global', 'unsubscribe', 'link'), "
                       "('news-only@example.be', 'newsletter', 'unsubscribe', 'link')")
    gateway = await start_gateway(pool, settings, relay_url=f"smtp://127.0.0.1:{sink.port}")
    try:
        await asyncio.to_thread(send, gateway.port, ["Jan@Example.BE", "gone@example.be", "news-only@example.be",
                                                     "marie@example.be"])
        await settled(pool, gateway)
    finally:
        await gateway.stop()
    assert sorted(r for rcpts, _ in sink.messages for r in rcpts) == ["Jan@Example.BE", "marie@example.be"]
    rows = await pool.fetch("SELECT address, source FROM known_addresses ORDER BY address")
    assert [(r["address"], r["source"]) for r in rows] == [("jan@example.be", "gateway"),
                                                          ("marie@example.be", "gateway")]


async def test_recipients_are_recorded_as_known_before_relaying(pool, settings, unused_tcp_port):
    gateway = await start_gateway(pool, settings, relay_url=f"smtp://127.0.0.1:{unused_tcp_port}")
    try:  # the relay is down: the copy waits in the outbox, its recipient known already
        assert await asyncio.to_thread(send, gateway.port, ["jan@example.be"]) == {}
    finally:
        await gateway.stop()
    assert await pool.fetchval("SELECT array_agg(address) FROM known_addresses") == ["jan@example.be"]


def recipient_codes(port: int, count: int) -> tuple[list[int], bytes]:
    """RCPT `count` recipients in one transaction and reset it; the reply code of each RCPT, and
    the text of the last."""
    with smtplib.SMTP("127.0.0.1", port, timeout=30) as client:
        client.ehlo("sender.example.be")
        assert client.mail("nieuws@cetit.be")[0] == 250
        codes = []
        for n in range(count):
            code, text = client.rcpt(f"reader.{n}@example.be")
            codes.append(code)
        client.rset()
        return codes, text


async def test_the_1001st_recipient_of_a_message_gets_452(pool, settings, sink):
    gateway = await start_gateway(pool, settings, relay_url=f"smtp://127.0.0.1:{sink.port}")
    try:
        codes, last = await asyncio.to_thread(recipient_codes, gateway.port, 1001)
    finally:
        await gateway.stop()
    assert settings.gateway_max_recipients == 1000
    assert codes[:1000] == [250] * 1000 and codes[1000] == 452
    assert last == b"4.5.3 Too many recipients"


async def test_a_message_over_the_recipient_bound_goes_to_the_recipients_accepted(pool, settings, sink):
    gateway = await start_gateway(pool, settings, relay_url=f"smtp://127.0.0.1:{sink.port}", gateway_max_recipients=2)
    try:
        refused = await asyncio.to_thread(send, gateway.port, ["a@example.be", "b@example.be", "c@example.be"])
        await settled(pool, gateway)
    finally:
        await gateway.stop()
    assert refused == {"c@example.be": (452, b"4.5.3 Too many recipients")}
    assert sorted(r for rcpts, _ in sink.messages for r in rcpts) == ["a@example.be", "b@example.be"]


def peak_memory(pid: int) -> tuple[int, int]:
    """The resident and the peak resident memory of a process, in bytes (Linux /proc)."""
    with open(f"/proc/{pid}/status") as status:
        fields = dict(line.split(":", 1) for line in status.read().splitlines() if ":" in line)
    return tuple(int(fields[name].split()[0]) * 1024 for name in ("VmRSS", "VmHWM"))


async def test_a_5_mb_mail_to_100_recipients_holds_one_copy_at_a_time(dsn, pool, lean_sink, tmp_path):
    """`optout gateway` in a process of its own: its peak memory while it takes a 5 MB mail to 100
    recipients and its outbox drainer relays the 100 copies stays within a small multiple of the
    message, not 100 copies of it."""
    import os
    import signal
    import socket
    import subprocess
    import sys

    from tests.conftest import ROOT

    if not os.path.exists("/proc/self/status"):
        pytest.skip("measures memory through /proc")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {**os.environ, "DATABASE_URL": dsn, "OPTOUT_VAR_DIR": str(tmp_path), "OPTOUT_SECRET_KEYS": "k" * 32,
           "OPTOUT_HASH_KEY": "h" * 32, "OPTOUT_GATEWAY_PORT": str(port),
           "OPTOUT_RELAY_URL": f"smtp://127.0.0.1:{lean_sink.port}"}
    recipients = [f"reader.{n}@example.be" for n in range(100)]
    big = CAMPAIGN.replace(b"\n", b"\r\n") + (b"x" * 998 + b"\r\n") * (5 * 1024 * 1024 // 1000)
    with open(tmp_path / "gateway.log", "w") as log:
        process = subprocess.Popen([sys.executable, "-m", "service", "gateway"], cwd=ROOT, env=env,
                                   stdout=subprocess.DEVNULL, stderr=log)
    try:
        for _ in range(600):
            try:  # the first, small message warms the process up (imports, pool, caches)
                await asyncio.to_thread(send, port, recipients)
                break
            except OSError:
                assert process.poll() is None, (tmp_path / "gateway.log").read_text()
                await asyncio.sleep(0.1)
        with open(f"/proc/{process.pid}/clear_refs", "w") as clear:
            clear.write("5")  # the peak restarts from the current resident size
        before, _ = peak_memory(process.pid)
        assert await asyncio.to_thread(send, port, recipients, big, None, 300) == {}
        for _ in range(3000):  # answered once stored: the copies leave through the outbox
            if len(lean_sink.sizes) >= 200:
                break
            assert process.poll() is None, (tmp_path / "gateway.log").read_text()
            await asyncio.sleep(0.1)
        _, peak = peak_memory(process.pid)
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)
    assert len(lean_sink.sizes) == 200 and min(lean_sink.sizes[100:]) > len(big)  # every copy whole
    grown = peak - before
    print(f"gateway memory: {before / 2**20:.0f} MiB before, peak {peak / 2**20:.0f} MiB "
          f"(+{grown / 2**20:.0f} MiB) for {len(big) / 2**20:.0f} MiB to 100 recipients")
    assert grown < 8 * len(big), f"the gateway grew by {grown / 2**20:.0f} MiB"


async def test_with_a_dkim_key_each_copy_is_signed_over_its_own_list_unsubscribe_headers(pool, settings, sink):
    import dkim

    here = Path(__file__).parent
    public = (here / "dkim-test-key.pub").read_text().strip()
    gateway = await start_gateway(pool, settings, relay_url=f"smtp://127.0.0.1:{sink.port}",
                                  dkim_key=(here / "dkim-test-key.pem").read_bytes(), dkim_selector="optout",
                                  dkim_domain="cetit.be")
    try:
        await asyncio.to_thread(send, gateway.port, ["jan@example.be", "marie@example.be"])
        await settled(pool, gateway)
    finally:
        await gateway.stop()

    def txt(name, timeout=5):
        assert name == b"optout._domainkey.cetit.be."
        return f"v=DKIM1; k=rsa; p={public}".encode()

    assert len(sink.messages) == 2
    for _rcpts, raw in sink.messages:
        assert raw.startswith(b"DKIM-Signature:")
        signed = message_from_bytes(raw, policy=policy.default)["DKIM-Signature"]
        assert "list-unsubscribe:list-unsubscribe-post" in signed.replace(" ", "").lower()
        assert dkim.verify(raw, dnsfunc=txt)
        assert not dkim.verify(raw.replace(b"/u/", b"/x/", 1), dnsfunc=txt)  # another link breaks it


def rcpt_answers(port, user, key, recipients):
    """The gateway's answer to each RCPT of a session that logged in as `user` with `key`."""
    with smtplib.SMTP("127.0.0.1", port, timeout=10) as client:
        client.login(user, key)
        client.mail("nieuws@cetit.be")
        return [client.rcpt(r)[0] for r in recipients]


async def test_the_auth_user_names_the_session_scope_when_registered_and_rcpt_checks_consent_there(
        pool, settings, sink, client, auth):
    from service.domain.consent import ledger
    from service.domain.consent.ledger import ConsentInput
    from service.domain.suppressions.keyed_hash import KeyedHash

    key = await make_key(pool, "links", name="campaign-tool")
    async with pool.acquire() as conn:
        await ledger.register_scope(conn, "events", {"nl": "Evenementen"}, "required")
        await ledger.give(conn, ConsentInput.read({
            "email": "agreed@example.be", "scope": "events", "source": "event", "language": "nl",
            "text": "Ja, nodig mij uit."}), actor="test", keyed_hash=KeyedHash(settings.hash_key))
    gateway = await start_gateway(pool, settings, relay_url=f"smtp://127.0.0.1:{sink.port}")
    try:
        people = ["agreed@example.be", "never.asked@example.be"]
        # Logged in as the registered scope: RCPT is checked there, and consent is required.
        assert await asyncio.to_thread(rcpt_answers, gateway.port, "events", key, people) == [250, 550]
        # Any other user name: RCPT is checked in newsletter, which needs no consent.
        assert await asyncio.to_thread(rcpt_answers, gateway.port, "campaign-tool", key, people) == [250, 250]
        assert await asyncio.to_thread(rcpt_answers, gateway.port, "EVENTS", key, people) == [250, 550]
    finally:
        await gateway.stop()


def with_campaign(name: bytes) -> bytes:
    return CAMPAIGN.replace(b"X-Optout-Scope: newsletter\n", b"X-Optout-Scope: newsletter\nX-Optout-Campaign: " + name + b"\n")


async def pause(pool, name: str) -> None:
    await pool.execute("INSERT INTO campaigns (name, status, paused_at, paused_by, paused_rate, paused_reason) "
                       "VALUES ($1, 'paused', now(), 'complaint_rate', 0.004, 'test')", name)


async def test_each_copy_s_link_carries_the_campaign_and_the_header_is_removed(pool, settings, sink, web_base, auth):
    gateway = await start_gateway(pool, settings, relay_url=f"smtp://127.0.0.1:{sink.port}")
    try:
        await asyncio.to_thread(send, gateway.port, ["jan@example.be", "marie@example.be"],
                                with_campaign("kerst-2026 é".encode()))
        await settled(pool, gateway)
    finally:
        await gateway.stop()
    assert len(sink.messages) == 2
    assert all(b"X-Optout-Campaign" not in raw and b"x-optout-campaign" not in raw.lower() for _r, raw in sink.messages)
    row = await pool.fetchrow("SELECT sent, status FROM campaigns WHERE name = 'kerst-2026 é'")
    assert (row["sent"], row["status"]) == (2, "active")
    # The copy's one-click link counts for the campaign: its token carries it.
    url = message_from_bytes(sink.messages[0][1], policy=policy.default)["List-Unsubscribe"].split("<", 1)[1]
    async with aiohttp.ClientSession() as http:
        path = url.split(">", 1)[0].split("/u/", 1)[1]
        async with http.post(f"{web_base}/u/{path}", data={"List-Unsubscribe": "One-Click"}) as answer:
            assert answer.status == 200
    async with pool.acquire() as conn:
        assert (await guard.campaign(conn, "kerst-2026 é")).unsubscribes == 1


@pytest.mark.parametrize("name", [b"x" * 101, b"tab\there", b"\xff\xfe", b"bad\x7fname"])
async def test_a_bad_campaign_header_is_refused(pool, settings, sink, name):
    gateway = await start_gateway(pool, settings, relay_url=f"smtp://127.0.0.1:{sink.port}")
    try:
        with pytest.raises(smtplib.SMTPDataError) as error:
            await asyncio.to_thread(send, gateway.port, ["jan@example.be"], with_campaign(name))
        assert error.value.smtp_code == 550 and b"X-Optout-Campaign" in error.value.smtp_error
    finally:
        await gateway.stop()
    assert sink.messages == [] and await pool.fetchval("SELECT count(*) FROM outbox") == 0


async def test_a_paused_campaign_is_deferred_with_451_and_another_goes_on(pool, settings, sink):
    await pause(pool, "winter")
    gateway = await start_gateway(pool, settings, relay_url=f"smtp://127.0.0.1:{sink.port}")
    try:
        with pytest.raises(smtplib.SMTPDataError) as error:
            await asyncio.to_thread(send, gateway.port, ["jan@example.be"], with_campaign(b"winter"))
        assert error.value.smtp_code == 451 and error.value.smtp_error.startswith(b"4.7.1 ")
        await asyncio.to_thread(send, gateway.port, ["jan@example.be"], with_campaign(b"lente"))
        await settled(pool, gateway)
    finally:
        await gateway.stop()
    assert [rcpts for rcpts, _raw in sink.messages] == [["jan@example.be"]]


async def test_copies_queued_before_a_pause_wait_without_spending_tries_and_go_after_the_resume(pool, settings, sink):
    settings = settings.with_overrides(relay_url=f"smtp://127.0.0.1:{sink.port}")
    services = Services.build(settings, clock=ManualClock())
    drainer = Drainer(pool, services, kinds=(OutboxKind.GATEWAY,))
    async with transaction(pool) as conn:
        await recipient_ids(conn, ["r0@example.be", "r1@example.be", "r2@example.be"], "gateway", services.keyed_hash.pads)
        for n, campaign in enumerate(("winter", "winter", "lente")):
            await outbox_queries.queue_gateway_message(
                conn, CAMPAIGN, [(f"r{n}@example.be", f"r{n}@example.be", "bounces@cetit.be")], "newsletter", campaign)
    await pause(pool, "winter")
    await drainer.drain_once()
    assert [rcpts for rcpts, _raw in sink.messages] == [["r2@example.be"]]  # the other campaign went
    rows = await pool.fetch("SELECT attempts, status, next_attempt_at > now() AS later FROM outbox ORDER BY id")
    assert [tuple(r) for r in rows] == [(0, "pending", True)] * 2
    async with transaction(pool) as conn:
        await guard.resume(conn, "winter", "De lijst is nagekeken.", "admin")
    services.clock.advance(minutes=2)
    await drainer.drain_once()
    assert sorted(rcpts[0] for rcpts, _raw in sink.messages) == ["r0@example.be", "r1@example.be", "r2@example.be"]
    assert await pool.fetchval("SELECT sent FROM campaigns WHERE name = 'winter'") == 2  # counted after the resume


async def test_a_copy_whose_campaign_stays_paused_for_days_is_given_up(pool, settings, sink):
    settings = settings.with_overrides(relay_url=f"smtp://127.0.0.1:{sink.port}")
    services = Services.build(settings, clock=ManualClock())
    drainer = Drainer(pool, services, kinds=(OutboxKind.GATEWAY,))
    async with transaction(pool) as conn:
        await outbox_queries.queue_gateway_message(
            conn, CAMPAIGN, [("r@example.be", "r@example.be", "bounces@cetit.be")], "newsletter", "winter")
    await pause(pool, "winter")
    services.clock.advance(days=4)
    await drainer.drain_once()
    row = await pool.fetchrow("SELECT status, last_error FROM outbox")
    assert row["status"] == "dead" and "paused for more than 3 days" in row["last_error"]
    assert sink.messages == []

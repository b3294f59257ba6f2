"""STARTTLS on the receiver and the gateway, and how the gateway guards AUTH."""

from __future__ import annotations

import asyncio
import base64
import smtplib
import ssl
import time
from types import SimpleNamespace

import aiosmtplib

from service.services import Services
from service.smtp.gateway import Gateway, auth_allowed
from service.smtp.receiver import Receiver
from service.smtp.tls import starttls_context
from tests.clock import ManualClock
from tests.conftest import make_key
from tests.smtp.test_gateway import settled

CAMPAIGN = b"From: CETIT <nieuws@cetit.be>\r\nSubject: Nieuws\r\nX-Optout-Scope: newsletter\r\n\r\nHallo!\r\n"
INBOUND = b"From: jan@example.be\r\nTo: info@cetit.be\r\nSubject: hoi\r\nMessage-ID: <tls-1@example.be>\r\n\r\nhoi\r\n"


def trusting_nothing() -> ssl.SSLContext:
    """A client context for a self-signed test certificate: encrypted, not verified."""
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


async def start_gateway(pool, settings, **overrides) -> Gateway:
    settings = settings.with_overrides(gateway_port=0, **overrides)
    gateway = Gateway(pool, settings, services=Services.build(settings, clock=ManualClock()))
    await gateway.start()
    return gateway


def plain_auth(key: str) -> str:
    return "PLAIN " + base64.b64encode(b"\0campaign-tool\0" + key.encode()).decode()


async def test_the_receiver_offers_starttls_and_stores_what_comes_over_it(pool, settings, certificate):
    cert, key = certificate
    context = starttls_context(settings.with_overrides(tls_cert=cert, tls_key=key))
    receiver = Receiver(pool, "127.0.0.1", 0, max_bytes=100_000, tls_context=context)
    await receiver.start()
    try:
        client = aiosmtplib.SMTP(hostname="127.0.0.1", port=receiver.port, start_tls=False, tls_context=trusting_nothing())
        await client.connect()
        await client.ehlo()
        assert client.supports_extension("starttls")
        await client.starttls()
        assert client.get_transport_info("sslcontext") is not None
        await client.ehlo()
        assert not client.supports_extension("auth")  # inbound mail is taken from anyone
        errors, reply = await client.sendmail("mta@example.be", ["info@cetit.be"], INBOUND)
        await client.quit()
    finally:
        await receiver.stop(grace=2)
    assert errors == {} and reply.startswith("2.0.0 Message stored")
    assert await pool.fetchval("SELECT count(*) FROM inbound_messages") == 1


async def test_without_a_certificate_nothing_offers_starttls(pool, settings):
    assert starttls_context(settings) is None
    gateway = await start_gateway(pool, settings)
    try:
        client = aiosmtplib.SMTP(hostname="127.0.0.1", port=gateway.port, start_tls=False)
        await client.connect()
        await client.ehlo()
        assert not client.supports_extension("starttls") and client.supports_extension("auth")
        await client.quit()
    finally:
        await gateway.stop()


def stranger_session(address: str, port: int, links_key: str) -> dict:
    """From a non-loopback address: what EHLO offers and AUTH answers before TLS, then after it."""
    seen = {}
    with smtplib.SMTP(address, port, timeout=10) as client:
        client.ehlo("sender.example.be")
        seen["offered"] = (client.has_extn("starttls"), client.has_extn("auth"))
        seen["auth_before_tls"] = client.docmd("AUTH", plain_auth(links_key))
        client.starttls(context=trusting_nothing())
        client.ehlo("sender.example.be")
        seen["auth_after_tls"] = client.has_extn("auth")
        client.login("campaign-tool", links_key)
        seen["refused"] = client.sendmail("nieuws@cetit.be", ["jan@example.be"], CAMPAIGN)
    return seen


async def test_a_stranger_authenticates_only_after_starttls(pool, settings, sink, certificate, stranger_address):
    address = stranger_address
    cert, key = certificate
    links_key = await make_key(pool, "links")
    gateway = await start_gateway(pool, settings, host=address, tls_cert=cert, tls_key=key,
                                  relay_url=f"smtp://127.0.0.1:{sink.port}")
    try:
        seen = await asyncio.to_thread(stranger_session, address, gateway.port, links_key)
        await settled(pool, gateway)
    finally:
        await gateway.stop()
    assert seen["offered"] == (True, False)
    assert seen["auth_before_tls"] == (530, b"5.7.0 Must issue a STARTTLS command first")
    assert seen["auth_after_tls"] and seen["refused"] == {}
    assert [rcpts for rcpts, _ in sink.messages] == [["jan@example.be"]]


async def test_without_a_certificate_a_stranger_cannot_authenticate(pool, settings, stranger_address):
    address = stranger_address
    links_key = await make_key(pool, "links")
    gateway = await start_gateway(pool, settings, host=address)

    def try_auth():
        with smtplib.SMTP(address, gateway.port, timeout=10) as client:
            client.ehlo("sender.example.be")
            return client.has_extn("auth"), client.docmd("AUTH", plain_auth(links_key))

    try:
        offered, answer = await asyncio.to_thread(try_auth)
    finally:
        await gateway.stop()
    assert not offered and answer[0] == 530


def test_auth_is_allowed_over_tls_or_from_loopback():
    assert auth_allowed(SimpleNamespace(peer=("127.0.0.1", 4000), ssl=None))
    assert auth_allowed(SimpleNamespace(peer=("::1", 4000, 0, 0), ssl=None))
    assert not auth_allowed(SimpleNamespace(peer=("192.0.2.10", 4000), ssl=None))
    assert auth_allowed(SimpleNamespace(peer=("192.0.2.10", 4000), ssl={"cipher": "TLS_AES_256_GCM_SHA384"}))
    assert not auth_allowed(SimpleNamespace(peer=None, ssl=None))


def failing_auths(port: int, attempts: int) -> tuple[list[tuple[int, bytes]], bool, float]:
    """AUTH with a wrong key `attempts` times on one connection; the answers, whether the server
    closed the connection, and how long it took."""
    started = time.monotonic()
    answers = []
    with smtplib.SMTP("127.0.0.1", port, timeout=20) as client:
        client.ehlo("sender.example.be")
        for n in range(attempts):
            answers.append(client.docmd("AUTH", plain_auth(f"wrong-key-{n}")))
        try:
            client.noop()
            closed = False
        except smtplib.SMTPServerDisconnected:
            closed = True
    return answers, closed, time.monotonic() - started


async def test_the_fourth_failed_auth_closes_the_connection_and_each_failure_waits(pool, settings):
    gateway = await start_gateway(pool, settings, gateway_auth="always")
    gateway.handler.failure_delay = 0.3
    try:
        answers, closed, seconds = await asyncio.to_thread(failing_auths, gateway.port, 4)
    finally:
        await gateway.stop()
    assert [code for code, _ in answers] == [535, 535, 535, 421]
    assert answers[3][1].startswith(b"4.7.0 ")
    assert closed and seconds >= 3 * 0.3


async def test_a_good_key_after_two_failures_still_authenticates(pool, settings, sink):
    links_key = await make_key(pool, "links")
    gateway = await start_gateway(pool, settings, gateway_auth="always", relay_url=f"smtp://127.0.0.1:{sink.port}")
    gateway.handler.failure_delay = 0.05

    def two_wrong_then_right():
        with smtplib.SMTP("127.0.0.1", gateway.port, timeout=10) as client:
            client.ehlo("sender.example.be")
            codes = [client.docmd("AUTH", plain_auth(k))[0] for k in ("wrong-1", "wrong-2", links_key)]
            return codes, client.sendmail("nieuws@cetit.be", ["jan@example.be"], CAMPAIGN)

    try:
        codes, refused = await asyncio.to_thread(two_wrong_then_right)
    finally:
        await gateway.stop()
    assert codes == [535, 535, 235] and refused == {}


async def test_a_failed_tls_handshake_closes_that_connection_and_the_next_client_is_served(pool, settings,
                                                                                            certificate):
    cert, key = certificate
    context = starttls_context(settings.with_overrides(tls_cert=cert, tls_key=key))
    receiver = Receiver(pool, "127.0.0.1", 0, max_bytes=100_000, tls_context=context)
    await receiver.start()
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", receiver.port)
        await reader.readline()
        writer.write(b"EHLO client.example.be\r\n")
        while (await reader.readline())[3:4] == b"-":
            pass
        writer.write(b"STARTTLS\r\n")
        assert (await reader.readline()).startswith(b"220 ")
        writer.write(b"EHLO this is not a TLS record\r\n" * 4)
        left = await asyncio.wait_for(reader.read(), 10)  # the connection is closed
        assert not left.startswith((b"2", b"4", b"5"))  # with no reply in clear (a TLS alert at most)
        writer.close()
        errors, _reply = await aiosmtplib.send(INBOUND, sender="mta@example.be", recipients=["info@cetit.be"],
                                               hostname="127.0.0.1", port=receiver.port, start_tls=False)
    finally:
        await receiver.stop(grace=2)
    assert errors == {}
    assert await pool.fetchval("SELECT count(*) FROM inbound_messages") == 1


def second_starttls(port: int) -> tuple[int, bytes]:
    with smtplib.SMTP("127.0.0.1", port, timeout=10) as client:
        client.starttls(context=trusting_nothing())
        client.ehlo("sender.example.be")
        return client.docmd("STARTTLS")


async def test_starttls_inside_tls_is_refused(pool, settings, certificate):
    cert, key = certificate
    gateway = await start_gateway(pool, settings, tls_cert=cert, tls_key=key)
    try:
        answer = await asyncio.to_thread(second_starttls, gateway.port)
    finally:
        await gateway.stop()
    assert answer == (503, b"5.5.1 TLS is already active")


async def test_an_aborted_auth_gets_one_answer_and_counts_as_a_failure(pool, settings):
    gateway = await start_gateway(pool, settings, gateway_auth="always")
    gateway.handler.failure_delay = 0.01

    def abort_auth_login() -> list[tuple[int, bytes]]:
        with smtplib.SMTP("127.0.0.1", gateway.port, timeout=10) as client:
            client.ehlo("sender.example.be")
            answers = []
            for _ in range(3):
                assert client.docmd("AUTH", "LOGIN")[0] == 334
                answers.append(client.docmd("*"))
            answers.append(client.docmd("NOOP"))
            answers.append(client.docmd("AUTH", plain_auth("wrong")))
            return answers

    try:
        answers = await asyncio.to_thread(abort_auth_login)
    finally:
        await gateway.stop()
    assert [code for code, _ in answers] == [501, 501, 501, 250, 421]

"""What a stranger can make the receiver and the gateway hold: lines, connections."""

from __future__ import annotations

import asyncio
import select
import socket
import threading
import tracemalloc

import aiosmtplib
import pytest

from service.smtp.gateway import Gateway
from service.smtp.guarded import MAX_PER_PEER
from service.smtp.receiver import Receiver

MESSAGE = (b"From: jan@example.be\r\nTo: info@cetit.be\r\nSubject: hallo\r\n"
           b"Message-ID: <limits-test-%d@example.be>\r\n\r\nhallo\r\n")
CHUNK = b"x" * (1024 * 1024)


@pytest.fixture
async def receiver(pool):
    server = Receiver(pool, "127.0.0.1", 0, max_bytes=26214400)  # the default limit: 25 MiB
    await server.start()
    yield server
    await server.stop(grace=2)


def endless_line(port: int, before: bytes, megabytes: int, outcome: dict) -> None:
    """Send `before`, then up to `megabytes` MiB without a line end; note the reply and whether it closed."""
    with socket.create_connection(("127.0.0.1", port), timeout=20) as client:
        reader = client.makefile("rb")
        reader.readline()  # the greeting
        for command in before.splitlines(keepends=True):
            client.sendall(command)
            while reader.readline()[3:4] == b"-":
                pass
        try:
            for _ in range(megabytes):
                if select.select([client], [], [], 0)[0]:  # answered already: stop sending
                    break
                client.sendall(CHUNK)
            outcome["reply"] = reader.readline().strip()
            outcome["closed"] = reader.read() == b""
        except (BrokenPipeError, ConnectionResetError):
            outcome.setdefault("reply", b"")
            outcome["closed"] = True


async def ten_endless_lines(port: int, before: bytes) -> tuple[list[dict], int]:
    """Ten connections at once, each sending 20 MiB without CRLF; their outcomes and the peak of
    memory allocated meanwhile in this process (where the listener runs)."""
    outcomes = [{} for _ in range(10)]
    threads = [threading.Thread(target=endless_line, args=(port, before, 20, o)) for o in outcomes]
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        for thread in threads:
            thread.start()
        while any(thread.is_alive() for thread in threads):
            await asyncio.sleep(0.05)
        _current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return outcomes, peak


async def test_a_20_mb_command_line_without_crlf_is_refused_at_once_in_little_memory(receiver, pool):
    outcomes, peak = await ten_endless_lines(receiver.port, b"EHLO client.example.be\r\n")
    print(f"receiver: peak {peak / 2**20:.1f} MiB allocated for 10 connections sending 20 MiB without CRLF")
    for outcome in outcomes:
        assert outcome["reply"] == b"500 5.5.2 Line too long" and outcome["closed"]
    assert peak < 10 * 2 * 1024 * 1024  # far below 20 MiB a connection
    await aiosmtplib.send(MESSAGE % 1, sender="mta@example.be", recipients=["info@cetit.be"],
                          hostname="127.0.0.1", port=receiver.port)  # and the next client is served
    assert await pool.fetchval("SELECT count(*) FROM inbound_messages") == 1


async def test_a_20_mb_line_in_data_is_refused_in_little_memory_and_nothing_stored(receiver, pool):
    outcome: dict = {}
    before = b"EHLO client.example.be\r\nMAIL FROM:<mta@example.be>\r\nRCPT TO:<info@cetit.be>\r\nDATA\r\n"

    def long_line_in_data() -> None:
        with socket.create_connection(("127.0.0.1", receiver.port), timeout=30) as client:
            reader = client.makefile("rb")
            reader.readline()
            for command in before.splitlines(keepends=True):
                client.sendall(command)
                while reader.readline()[3:4] == b"-":
                    pass
            client.sendall(b"Subject: long\r\n\r\n")
            for _ in range(20):
                client.sendall(CHUNK)
            client.sendall(b"\r\n.\r\n")
            outcome["reply"] = reader.readline().strip()
            client.sendall(b"NOOP\r\n")
            outcome["after"] = reader.readline().strip()

    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        thread = threading.Thread(target=long_line_in_data)
        thread.start()
        while thread.is_alive():
            await asyncio.sleep(0.05)
        _current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert outcome == {"reply": b"500 5.5.2 Line too long", "after": b"250 OK"}
    assert peak < 4 * 1024 * 1024
    assert await pool.fetchval("SELECT count(*) FROM inbound_messages") == 0


async def test_a_command_line_over_512_octets_is_refused(receiver):
    reader, writer = await asyncio.open_connection("127.0.0.1", receiver.port)
    await reader.readline()
    writer.write(b"NOOP " + b"x" * 600 + b"\r\nNOOP\r\n")
    assert (await reader.readline()).strip() == b"500 5.5.2 Line too long"
    assert (await reader.readline()).strip() == b"250 OK"
    writer.close()


async def test_a_data_line_longer_than_64_kib_gets_500_and_the_connection_goes_on(receiver, pool):
    body = MESSAGE % 2 + b"<p>" + b"y" * (70 * 1024) + b"</p>\r\n"
    client = aiosmtplib.SMTP(hostname="127.0.0.1", port=receiver.port)
    await client.connect()
    with pytest.raises(aiosmtplib.SMTPDataError) as refused:
        await client.sendmail("mta@example.be", ["info@cetit.be"], body)
    assert (refused.value.code, refused.value.message) == (500, "5.5.2 Line too long")
    await client.sendmail("mta@example.be", ["info@cetit.be"], MESSAGE % 3)
    await client.quit()
    assert await pool.fetchval("SELECT count(*) FROM inbound_messages") == 1


async def connections_until_refused(port: int, count: int):
    """Open `count` connections that read their greeting; then one more: its first line."""
    held = []
    try:
        for _ in range(count):
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            assert (await reader.readline()).startswith(b"220 ")
            held.append(writer)
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        refused = (await reader.readline()).strip()
        closed = await reader.read() == b""
        writer.close()
        held.pop().close()  # one leaves: the next one is served
        await asyncio.sleep(0.1)
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        served = (await reader.readline()).startswith(b"220 ")
        writer.close()
        return refused, closed, served
    finally:
        for writer in held:
            writer.close()


async def test_the_101st_connection_to_the_receiver_gets_421(receiver):
    refused, closed, served = await connections_until_refused(receiver.port, 100)
    assert (refused, closed, served) == (b"421 4.7.0 Too many connections, try again later", True, True)


async def test_the_101st_connection_to_the_gateway_gets_421(pool, settings):
    gateway = Gateway(pool, settings.with_overrides(gateway_port=0))
    await gateway.start()
    try:
        refused, closed, served = await connections_until_refused(gateway.port, 100)
    finally:
        await gateway.stop()
    assert (refused, closed, served) == (b"421 4.7.0 Too many connections, try again later", True, True)


async def test_repeated_ehlo_does_not_lengthen_the_command_line_limit(receiver):
    reader, writer = await asyncio.open_connection("127.0.0.1", receiver.port)
    await reader.readline()
    for _ in range(50):
        writer.write(b"EHLO client.example.be\r\n")
        while (await reader.readline())[3:4] == b"-":
            pass
    writer.write(b"MAIL FROM:<" + b"a" * 600 + b"@example.be>\r\n")
    assert (await reader.readline()).strip() == b"500 5.5.2 Line too long"
    writer.close()


async def test_the_gateway_hangs_up_on_an_endless_command_line(pool, settings):
    gateway = Gateway(pool, settings.with_overrides(gateway_port=0))
    await gateway.start()
    outcome: dict = {}
    try:
        thread = threading.Thread(target=endless_line, args=(gateway.port, b"EHLO client.example.be\r\n", 20, outcome))
        thread.start()
        while thread.is_alive():
            await asyncio.sleep(0.05)
    finally:
        await gateway.stop()
    assert outcome["reply"] == b"500 5.5.2 Line too long" and outcome["closed"]


def outside_address() -> str | None:
    """An address of this machine that is not loopback, for a peer that is not the local MTA."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("192.0.2.1", 9))  # no packet is sent: this only picks the route
        except OSError:
            return None
        address = probe.getsockname()[0]
    return None if address.startswith("127.") else address


async def test_one_outside_peer_cannot_take_every_connection(pool):
    address = outside_address()
    if address is None:
        pytest.skip("this machine has no address but loopback")
    server = Receiver(pool, "0.0.0.0", 0, max_bytes=1_000_000)
    await server.start()
    held = []
    try:
        for _ in range(MAX_PER_PEER):
            reader, writer = await asyncio.open_connection(address, server.port)
            assert (await reader.readline()).startswith(b"220 ")
            held.append(writer)
        reader, writer = await asyncio.open_connection(address, server.port)
        assert (await reader.readline()).strip() == b"421 4.7.0 Too many connections, try again later"
        writer.close()
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)  # the local MTA still is
        assert (await reader.readline()).startswith(b"220 ")
        writer.close()
    finally:
        for writer in held:
            writer.close()
        await server.stop(grace=1)


async def test_a_message_of_millions_of_empty_lines_is_held_in_about_its_own_size(receiver, pool):
    """Each line kept as an object of its own cost ~40 bytes per 2-byte line (1.7 GB for 25 MB)."""
    body = b"\r\n" * (512 * 1024)  # 1 MiB, half a million lines
    before = b"EHLO client.example.be\r\nMAIL FROM:<mta@example.be>\r\nRCPT TO:<info@cetit.be>\r\nDATA\r\n"
    outcome: dict = {}

    def send() -> None:
        with socket.create_connection(("127.0.0.1", receiver.port), timeout=60) as client:
            reader = client.makefile("rb")
            reader.readline()
            for command in before.splitlines(keepends=True):
                client.sendall(command)
                while reader.readline()[3:4] == b"-":
                    pass
            client.sendall(b"Subject: empty lines\r\nMessage-ID: <empty-lines@example.be>\r\n\r\n" + body + b".\r\n")
            outcome["reply"] = reader.readline().strip()

    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        thread = threading.Thread(target=send)
        thread.start()
        while thread.is_alive():
            await asyncio.sleep(0.05)
        _current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert outcome["reply"].startswith(b"250 ")
    assert await pool.fetchval("SELECT length(raw) FROM inbound_messages") > len(body)
    assert peak < 8 * len(body), f"{peak / 2**20:.0f} MiB held for a {len(body) / 2**20:.0f} MiB message"

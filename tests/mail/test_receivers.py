"""At delivery a receiver's name is resolved, every address checked, and the connection goes
only to an address that was checked: never to a link-local, unspecified or multicast one, to a
private one only when that is switched on. Names here are mapped by a test resolver, so that
nothing is looked up outside and nothing but loopback addresses is ever connected to (on Linux,
0.0.0.0 reaches this machine: it stands in for a forbidden address that a connection would reach)."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from datetime import datetime, timezone

import pytest
from aiohttp import web
from aiohttp.abc import AbstractResolver

from service.domain.events.webhooks import new_secret
from service.mail.outbox import Drainer
from service.mail.receivers import ReceiverClient, RefusedAddress
from service.mail.webhooks import deliver
from service.services import Services
from tests.clock import ManualClock

PAYLOAD = {"id": "evt_3", "type": "suppression.created", "at": "2026-01-05T10:00:00+00:00",
           "data": {"email": "jan@example.be", "scope": "global", "actor": "crm"}}


class MappedResolver(AbstractResolver):
    """Answers from a table, one answer after another for a name given several (the last one
    repeats), and never asks a DNS server."""

    def __init__(self, answers: dict[str, list[list[str]]]):
        self.answers = answers
        self.asked: list[str] = []

    async def resolve(self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET):
        self.asked.append(host)
        if host not in self.answers:
            raise socket.gaierror(socket.EAI_NONAME, "not in the test's table")
        turns = self.answers[host]
        addresses = turns[min(self.asked.count(host), len(turns)) - 1]
        return [{"hostname": host, "host": a, "port": port, "proto": 0, "flags": socket.AI_NUMERICHOST,
                 "family": socket.AF_INET6 if ":" in a else socket.AF_INET} for a in addresses]

    async def close(self) -> None:
        pass


@contextlib.asynccontextmanager
async def trap(host: str = "127.0.0.1", port: int = 0):
    """A listener that only counts the connections it gets; yields (port, connections)."""
    connections: list[tuple] = []

    async def take(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        connections.append(writer.get_extra_info("peername"))
        writer.close()

    server = await asyncio.start_server(take, host, port)
    try:
        yield server.sockets[0].getsockname()[1], connections
    finally:
        server.close()
        await server.wait_closed()


@contextlib.asynccontextmanager
async def receiver_on(host: str, port: int):
    """A webhook receiver answering 204 on host:port; yields what it got."""
    got: list[bytes] = []

    async def hook(request: web.Request) -> web.Response:
        got.append(await request.read())
        return web.Response(status=204)

    app = web.Application()
    app.router.add_post("/hook", hook)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, host, port).start()
    try:
        yield got
    finally:
        await runner.cleanup()


async def send(client: ReceiverClient, url: str):
    return await deliver(client, url, new_secret(), PAYLOAD, datetime.now(timezone.utc), timeout=5)


@pytest.mark.parametrize("answer, says", [(["169.254.169.254"], "link-local"), (["::ffff:169.254.169.254"], "link-local"),
                                          (["fe80::1"], "link-local"), (["0.0.0.0"], "unspecified"),
                                          (["224.0.0.251"], "multicast"), (["10.1.2.3"], "private"),
                                          (["169.254.169.254", "fd00::1"], "link-local")])
async def test_a_name_that_resolves_only_to_refused_addresses_is_not_resolved_for_a_connection(answer, says):
    resolver = ReceiverClient(resolver=MappedResolver({"hooks.example.test": [answer]})).resolver()
    with pytest.raises(RefusedAddress) as refused:
        await resolver.resolve("hooks.example.test", 443)
    assert says in str(refused.value) and "hooks.example.test" in str(refused.value)
    assert answer[0] not in str(refused.value)  # what an inside name points at is not read back


async def test_a_private_address_is_resolved_for_a_connection_only_when_switched_on():
    table = {"crm.internal.test": [["10.1.2.3", "fd00::7"]]}
    with pytest.raises(RefusedAddress):
        await ReceiverClient(resolver=MappedResolver(table)).resolver().resolve("crm.internal.test", 443)
    allowed = await ReceiverClient(allow_private=True, resolver=MappedResolver(table)).resolver().resolve(
        "crm.internal.test", 443)
    assert [r["host"] for r in allowed] == ["10.1.2.3", "fd00::7"]


async def test_a_name_resolving_to_a_forbidden_address_is_a_failed_delivery_that_connects_nowhere():
    async with trap() as (port, connections):
        client = ReceiverClient(resolver=MappedResolver({"hooks.example.test": [["0.0.0.0"]]}))
        try:
            result = await send(client, f"https://hooks.example.test:{port}/hook")
        finally:
            await client.close()
    assert not result.delivered and connections == []
    assert result.error == ("refused: hooks.example.test resolves to no address that may receive webhooks "
                            "(unspecified)")


async def test_only_the_checked_addresses_of_a_name_are_connected_to():
    async with trap("127.0.0.1") as (port, connections), receiver_on("127.0.0.2", port) as got:
        client = ReceiverClient(resolver=MappedResolver({"localhost": [["0.0.0.0", "127.0.0.2"]]}))
        try:
            result = await send(client, f"http://localhost:{port}/hook")
        finally:
            await client.close()
    assert result.delivered and len(got) == 1 and connections == []


async def test_a_name_pointed_elsewhere_after_its_check_is_not_followed(caplog):
    """DNS rebinding: the name's first answer passes; a second lookup would say 0.0.0.0. The
    connection goes to the address that was checked, never to a second lookup's."""
    async with trap("127.0.0.1") as (port, connections), receiver_on("127.0.0.2", port) as got:
        resolver = MappedResolver({"localhost": [["127.0.0.2"], ["0.0.0.0"]]})
        client = ReceiverClient(resolver=resolver)
        try:
            first = await send(client, f"http://localhost:{port}/hook")
        finally:
            await client.close()
    assert first.delivered and len(got) == 1 and connections == []


async def test_a_subscription_to_a_forbidden_ip_literal_made_before_the_rules_is_refused_at_delivery(
        client, auth, pool, settings):
    async with trap() as (port, connections):
        await pool.execute("INSERT INTO webhooks (url, events, secret, created_by) VALUES ($1, $2, $3, 'old')",
                           f"https://0.0.0.0:{port}/hook", ["suppression.created"], new_secret())
        response = await client.put("/v1/suppressions/jan@example.be", headers=auth,
                                    json={"scope": "global", "reason": "manual", "source": "phone"})
        assert response.status == 201
        drainer = Drainer(pool, Services.build(settings, clock=ManualClock()))
        try:
            assert await drainer.drain_once() == 1
        finally:
            await drainer.close()
    row = await pool.fetchrow("SELECT status, attempts, last_error FROM outbox")
    assert connections == [] and (row["status"], row["attempts"]) == ("pending", 1)  # retried like any failure
    assert row["last_error"].startswith("refused: ") and "unspecified" in row["last_error"]

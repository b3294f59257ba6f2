"""Fault tests run the service as it runs in production, in processes of its own
(`python -m service run|inbound|worker`), against a PostgreSQL server they start, stop and
start again themselves (tests/pgcluster.py), and kill those processes with SIGKILL."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import AsyncIterator

import aiosmtplib
import asyncpg
import pytest

from service.domain.inbound import inbox
from service.storage.db import migrate_dsn
from tests.conftest import ROOT, TABLES
from tests.pgcluster import Cluster, owned_folder, wait_until

SECRET_KEY = "fault-test-secret-" + "k" * 16
HASH_KEY = "fault-test-hash-" + "h" * 16


@pytest.fixture(scope="session")
async def cluster(unused_tcp_port_factory):
    """One migrated PostgreSQL server for the fault tests; a test that stops it starts it again."""
    server = Cluster(owned_folder("optout-faults-"), unused_tcp_port_factory()).init_primary().start()
    try:
        await migrate_dsn(server.dsn)
        yield server
    finally:
        server.remove()


@pytest.fixture
async def db(cluster):
    """A connection to the server, its tables emptied for this test."""
    conn = await asyncpg.connect(cluster.dsn, timeout=10)
    await conn.execute("TRUNCATE " + ", ".join(TABLES) + " RESTART IDENTITY")
    yield conn
    conn.terminate()  # it may have lost its server in the test


class Service:
    """`python -m service COMMAND` in a process of its own, its log in a file."""

    def __init__(self, command: str, env: dict[str, str], log: Path):
        self.command, self.log_path = command, log
        self._log = log.open("wb")
        self.process = subprocess.Popen([sys.executable, "-m", "service", command], cwd=ROOT, env=env,
                                        stdin=subprocess.DEVNULL, stdout=self._log, stderr=subprocess.STDOUT)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    async def logged(self, text: str, seconds: float = 60) -> None:
        async def found():
            if self.process.poll() is not None:
                raise AssertionError(f"`{self.command}` exited with {self.process.returncode}:\n{self.log()}")
            return text in self.log()
        await wait_until(found, seconds, what=f"`{self.command}` to log {text!r}")

    def kill(self) -> None:
        """kill -9: nothing is finished, nothing is released."""
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(10)

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
        self._log.close()
        return self.process.returncode


@pytest.fixture
def services(cluster, tmp_path, unused_tcp_port_factory):
    """Start parts of the service on free ports: `start(command, **environment)`; each is
    stopped at the end of the test, and its log printed (shown when the test fails)."""
    started: list[Service] = []
    ports = {"PORT": unused_tcp_port_factory(), "OPTOUT_SMTP_PORT": unused_tcp_port_factory(),
             "OPTOUT_GATEWAY_PORT": unused_tcp_port_factory()}
    base = {**os.environ, "DATABASE_URL": cluster.dsn, "OPTOUT_SECRET_KEYS": SECRET_KEY, "OPTOUT_HASH_KEY": HASH_KEY,
            "OPTOUT_VAR_DIR": str(tmp_path / "var"), "OPTOUT_HOST": "127.0.0.1",
            **{name: str(port) for name, port in ports.items()}}
    for name in ("OPTOUT_RELAY_URL", "OPTOUT_FORWARD_TO", "DATABASE_READ_URL", "OPTOUT_LOG_FORMAT"):
        base.pop(name, None)

    def start(command: str, **environment: str) -> Service:
        log = tmp_path / f"{command}-{len(started)}.log"
        started.append(Service(command, {**base, **environment}, log))
        return started[-1]

    start.ports = ports
    yield start
    for service in started:
        service.stop()
        print(f"--- log of `{service.command}` ({service.log_path.name}) ---\n{service.log()[-6000:]}")


async def store(db: asyncpg.Connection, raw: bytes, mail_from: str | None = None) -> str:
    """Keep a message as the receiver or POST /v1/inbound would."""
    async with db.transaction():
        return str((await inbox.store(db, "http", raw, mail_from, ["info@cetit.be"])).id)


def question(sender: str, number: int = 0) -> bytes:
    """A person's question: staff must read it, so it is forwarded."""
    return (f"From: {sender}\r\nTo: info@cetit.be\r\nSubject: Vraag over de opleiding {number}\r\n"
            f"Message-ID: <question-{number}@example.be>\r\n\r\n"
            f"Kunnen jullie mij bellen over de opleiding in Gent?\r\n").encode()


def unsubscribe_request(sender: str) -> bytes:
    """A person asking to be unsubscribed in their own words: processed, the sender suppressed."""
    return (f"From: {sender}\r\nTo: info@cetit.be\r\nSubject: Re: CETIT nieuwsbrief\r\n"
            f"Message-ID: <{sender.replace('@', '.')}@example.be>\r\n\r\nuitschrijven aub\r\n").encode()


async def send_mail(port: int, raw: bytes, sender: str) -> None:
    """SMTP to the receiver; raises when the message is not answered 250."""
    await aiosmtplib.send(raw, sender=sender, recipients=["info@cetit.be"], hostname="127.0.0.1", port=port,
                          timeout=20)


async def wait(predicate, seconds: float, what: str):
    return await wait_until(predicate, seconds, every=0.2, what=what)


@contextlib.asynccontextmanager
async def silent_relay() -> AsyncIterator[int]:
    """A relay that takes the connection and never says a word; yields its port."""
    held: list[asyncio.StreamWriter] = []

    async def hold(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        held.append(writer)
        await reader.read()

    server = await asyncio.start_server(hold, "127.0.0.1", 0)
    try:
        yield server.sockets[0].getsockname()[1]
    finally:
        for writer in held:
            writer.close()
        server.close()
        await server.wait_closed()

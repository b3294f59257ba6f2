"""The two servers of same_job, each a process of its own: the service as deployed (`optout
run`) and bench/minimal.py; and what the load process runs against them."""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import AsyncIterator

import aiohttp

from . import check_bulk, import_1m
from .production import HASH_KEY
from .scaling import SECRET_KEY, Server, answering, free_port, optout_command, stop_process

INBOUND_SENDERS = 8
INBOUND_TIMEOUT = 300.0
LINKS_PER_CALL = 1_000
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def tree_cpu_seconds(root: int) -> float:
    """CPU seconds of `root` and its descendants, live ones and the ended ones they waited for."""
    stats: dict[int, tuple[int, float]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:  # it ended meanwhile
            continue
        stats[int(entry.name)] = (int(fields[1]), sum(int(f) for f in fields[11:15]) / CLOCK_TICKS)
    children: dict[int, list[int]] = {}
    for pid, (parent, _) in stats.items():
        children.setdefault(parent, []).append(pid)
    total, todo = 0.0, [root]
    while todo:
        pid = todo.pop()
        total += stats.get(pid, (0, 0.0))[1]
        todo += children.get(pid, [])
    return total


@dataclass
class Started:
    server: Server
    log_path: Path

    @property
    def url(self) -> str:
        return self.server.url

    def cpu_seconds(self) -> float:
        """User and system CPU seconds so far of the server process and every process under it
        (the service's classifying processes, more web processes), those that ended included."""
        return tree_cpu_seconds(self.server.pids[0])

    def memory(self) -> dict[str, int]:
        """VmRSS and VmHWM (peak) of the process, in bytes."""
        status = Path(f"/proc/{self.server.pids[0]}/status").read_text()
        return {line.split(":")[0]: int(line.split()[1]) * 1024 for line in status.splitlines()
                if line.startswith(("VmRSS", "VmHWM"))}


@contextlib.asynccontextmanager
async def process(command: list[str], env: dict[str, str], name: str, folder: Path, port: int,
                  ready_path: str) -> AsyncIterator[Started]:
    log_path = folder / f"{name}-{port}.log"
    with log_path.open("wb") as log_file:
        started = subprocess.Popen(command, env=env, cwd=folder, stdout=log_file, stderr=subprocess.STDOUT,
                                   start_new_session=True)
    try:
        url = f"http://127.0.0.1:{port}"
        await answering(f"{url}{ready_path}", started.poll, log_path)
        yield Started(Server(url, [started.pid]), log_path)
    finally:
        await asyncio.to_thread(stop_process, started)


def clean_environment() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith(("OPTOUT_", "DATABASE_", "WEB_"))}


@contextlib.asynccontextmanager
async def optout_run(dsn: str, folder: Path, web_concurrency: int = 1) -> AsyncIterator[Started]:
    """`optout run` as deployed: every part in one process, each on a free port (and
    `web_concurrency` - 1 more web processes on the same port)."""
    port = free_port()
    env = clean_environment()
    env.update(DATABASE_URL=dsn, PORT=str(port), WEB_CONCURRENCY=str(web_concurrency), OPTOUT_SMTP_PORT=str(free_port()),
               OPTOUT_GATEWAY_PORT=str(free_port()), OPTOUT_SECRET_KEYS=SECRET_KEY,
               OPTOUT_HASH_KEY=HASH_KEY.decode(), OPTOUT_VAR_DIR=str(folder / "var"),
               OPTOUT_PUBLIC_URL="https://optout.cetit.be")
    async with process([*optout_command()[:-1], "run"], env, "optout-run", folder, port, "/readyz") as started:
        yield started


@contextlib.asynccontextmanager
async def minimal_app(dsn: str, folder: Path) -> AsyncIterator[Started]:
    port = free_port()
    env = {**clean_environment(), "DATABASE_URL": dsn}
    command = [sys.executable, "-m", "bench.minimal", "--port", str(port)]
    repository = Path(__file__).resolve().parents[1]
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(repository), env.get("PYTHONPATH")]))
    async with process(command, env, "minimal", folder, port, "/v1/check?email=ready%40example.be") as started:
        yield started


def log_warnings(started: Started) -> tuple[Counter, list[str]]:
    """The service's log lines counted by level and logger, and its warnings, errors and tracebacks."""
    lines = started.log_path.read_text(errors="replace").splitlines()
    loggers = Counter(" ".join(line.split(" ", 4)[2:4]).rstrip(":") for line in lines)
    return loggers, [line for line in lines
                     if any(word in line for word in (" WARNING ", " ERROR ", " CRITICAL ", "Traceback"))]


# --- the load, in the load process ---------------------------------------------------------------

def upload(url: str, headers: dict, path: Path, rows: int, erased: int) -> float:
    async def timed() -> float:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=None)) as session:
            started = time.perf_counter()
            await import_1m.import_over_http(session, url, headers, path, rows, erased)
            return time.perf_counter() - started
    return asyncio.run(timed())


def post_until_processed(url: str, headers: dict, messages: list[bytes], pending: str) -> dict:
    """POST every message from INBOUND_SENDERS clients, then poll `pending` until none is queued."""
    return asyncio.run(_post_until_processed(url, headers, messages, pending))


async def _post_until_processed(url: str, headers: dict, messages: list[bytes], pending: str) -> dict:
    statuses: dict[int, int] = {}
    posting = {**headers, "Content-Type": "message/rfc822"}

    async def sender(session: aiohttp.ClientSession, offset: int) -> None:
        for raw in messages[offset::INBOUND_SENDERS]:
            async with session.post(f"{url}/v1/inbound", data=raw, headers=posting) as response:
                await response.read()
                statuses[response.status] = statuses.get(response.status, 0) + 1

    async with aiohttp.ClientSession() as session:
        started = time.perf_counter()
        await asyncio.gather(*(sender(session, n) for n in range(INBOUND_SENDERS)))
        posted = time.perf_counter() - started
        while time.perf_counter() - started < INBOUND_TIMEOUT:
            async with session.get(f"{url}{pending}", headers=headers) as response:
                answer = await response.json()
            if not answer.get("messages", answer.get("pending")):
                break
            await asyncio.sleep(0.05)
        else:
            statuses[-1] = 1  # timed out
        return {"seconds": time.perf_counter() - started, "posted": posted, "statuses": statuses}


def bulk_checks(url: str, headers: dict, emails: list[str], scope: str, warmup: int, repeat: int) -> list[float]:
    async def runs() -> list[float]:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=None)) as session:
            times = [(await check_bulk.check_over_http(session, url, headers, emails, scope))["total"]
                     for _ in range(warmup + repeat)]
        return times[warmup:]
    return asyncio.run(runs())




async def links(url: str, headers: dict, addresses: list[str], scope: str, campaign: str) -> list[str]:
    """The tokens of the service's links for `addresses`, LINKS_PER_CALL a call, as a campaign tool gets them."""
    tokens = []
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=None)) as session:
        for start in range(0, len(addresses), LINKS_PER_CALL):
            recipients = [{"email": a, "scope": scope, "campaign": campaign}
                          for a in addresses[start:start + LINKS_PER_CALL]]
            async with session.post(f"{url}/v1/links", json={"recipients": recipients}, headers=headers) as answer:
                answer.raise_for_status()
                tokens += [link["url"].rsplit("/", 1)[1] for link in (await answer.json())["links"]]
    return tokens

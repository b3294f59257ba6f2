"""Starting and stopping the long-running parts: database, web app (one or several processes).

A SIGTERM stops taking new work, lets what is in flight finish, and exits 0.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import multiprocessing
import os
import signal
from typing import AsyncIterator, Callable

import asyncpg
from aiohttp import web

from .app import create_app
from .logs import configure_logging
from .services import Services
from .settings import Settings
from .storage.db import create_pool, migrate_dsn, start_embedded

log = logging.getLogger("optout")

SHUTDOWN_GRACE = 20.0
ORPHAN_CHECK_SECONDS = 1.0  # how often a web process started by another looks for its parent

# A part is an async context manager that runs while the process runs; the parts of one
# process share its pool and its Services.
Part = Callable[[Settings, asyncpg.Pool, Services], contextlib.AbstractAsyncContextManager]


def database_ready(settings: Settings, attempts: int = 30, create_embedded: bool = False) -> Settings:
    """Start the embedded PostgreSQL when DATABASE_URL is unset, then apply pending migrations.

    Long-running parts wait up to `attempts` seconds for a database that is still starting;
    one-shot commands pass a small number and fail fast. Only `run`, `serve` and `migrate`
    create the embedded database; every other command joins an existing one or fails.
    """
    if settings.database_url is None:
        _server, uri = start_embedded(settings.var_dir, create=create_embedded)
        settings = settings.with_overrides(database_url=uri)
    applied = asyncio.run(migrate_dsn(settings.database_url, attempts))
    if applied:
        log.info("database migrated: %s", ", ".join(applied))
    return settings


def app_runner(app: web.Application) -> web.AppRunner:
    """aiohttp's access log would print raw paths, tokens included: requests are logged by route instead."""
    return web.AppRunner(app, access_log=None, shutdown_timeout=SHUTDOWN_GRACE)


@contextlib.asynccontextmanager
async def web_part(settings: Settings, pool: asyncpg.Pool, services: Services) -> AsyncIterator[None]:
    runner = app_runner(create_app(settings, pool, services))
    await runner.setup()
    site = web.TCPSite(runner, settings.host, settings.port, reuse_port=True, backlog=1024)
    await site.start()
    log.info("web listening on http://%s:%d (public URL %s)", settings.host, settings.port, settings.public_url)
    try:
        yield
    finally:
        log.info("web stopping: finishing requests in flight")
        await runner.cleanup()


@contextlib.asynccontextmanager
async def inbound_part(settings: Settings, pool: asyncpg.Pool, services: Services) -> AsyncIterator[None]:
    """The LMTP/SMTP receiver on OPTOUT_SMTP_PORT (STARTTLS with OPTOUT_TLS_CERT and
    OPTOUT_TLS_KEY); at stop, messages being received are finished."""
    from .smtp.receiver import Receiver
    from .smtp.tls import starttls_context

    tls = starttls_context(settings)
    receiver = Receiver(pool, settings.host, settings.smtp_port, settings.max_message_bytes, tls_context=tls,
                        stored=services.inbound)
    await receiver.start()
    log.info("inbound mail (LMTP and SMTP) listening on %s:%d, STARTTLS %s", settings.host, receiver.port,
             "offered" if tls else "not offered (no OPTOUT_TLS_CERT)")
    try:
        yield
    finally:
        log.info("inbound stopping: finishing messages in flight")
        await receiver.stop(SHUTDOWN_GRACE)


@contextlib.asynccontextmanager
async def worker_part(settings: Settings, pool: asyncpg.Pool, services: Services) -> AsyncIterator[None]:
    """The inbound queue worker and the outbox drainer; at stop, the batches in hand are finished first."""
    from .worker import run_worker

    stop = asyncio.Event()
    task = asyncio.create_task(run_worker(pool, settings, stop, services=services))
    try:
        yield
    finally:
        log.info("worker stopping: finishing the batch in hand")
        stop.set()
        try:
            await asyncio.wait_for(task, SHUTDOWN_GRACE)
        except asyncio.TimeoutError:
            log.warning("worker did not finish within %.0f s; its leases will expire", SHUTDOWN_GRACE)


@contextlib.asynccontextmanager
async def gateway_part(settings: Settings, pool: asyncpg.Pool, services: Services) -> AsyncIterator[None]:
    """The sending gateway on OPTOUT_GATEWAY_PORT; at stop, messages in flight are finished."""
    from .smtp.gateway import Gateway

    gateway = Gateway(pool, settings, services=services)
    await gateway.start()
    try:
        yield
    finally:
        log.info("gateway stopping")
        await gateway.stop()


async def run_parts(settings: Settings, parts: list[Part], pool_size: int = 10, parent: int | None = None) -> None:
    """Run the parts until SIGTERM or SIGINT, then stop them in reverse order. A process started
    by another (`parent`) also stops when that one is gone: killed with SIGKILL, it could not
    pass on its SIGTERM, and the port would stay served by no one's process."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    if parent is not None:
        watching = asyncio.create_task(_stop_without(parent, stop))
    pool = await create_pool(settings.database_url, min_size=1, max_size=pool_size)
    services = Services.build(settings)
    try:
        async with contextlib.AsyncExitStack() as stack:
            for part in parts:
                await stack.enter_async_context(part(settings, pool, services))
            await stop.wait()
            log.info("stop signal received")
    finally:
        if parent is not None:
            watching.cancel()
        await pool.close()
    log.info("stopped")


async def _stop_without(parent: int, stop: asyncio.Event) -> None:
    """Set `stop` once this process's parent is no longer `parent` (it died; this one was
    handed to init or a subreaper)."""
    while not stop.is_set():
        if os.getppid() != parent:
            log.warning("its parent process is gone (%d): stopping", parent)
            stop.set()
            return
        await asyncio.sleep(ORPHAN_CHECK_SECONDS)


def _web_process(settings: Settings, parent: int) -> None:
    configure_logging(settings.log_format)
    asyncio.run(run_parts(settings, [web_part], parent=parent))


def serve(settings: Settings) -> int:
    """`optout serve`: WEB_CONCURRENCY processes sharing the port through SO_REUSEPORT."""
    settings = database_ready(settings, create_embedded=True)
    if settings.web_concurrency == 1:
        asyncio.run(run_parts(settings, [web_part]))
        return 0
    context = multiprocessing.get_context("spawn")
    children = [
        context.Process(target=_web_process, args=(settings, os.getpid()), name=f"web-{i}")
        for i in range(settings.web_concurrency)
    ]
    for child in children:
        child.start()
    stopping = False

    def forward(signum, _frame):
        nonlocal stopping
        stopping = True
        for child in children:
            if child.is_alive():
                child.terminate()

    signal.signal(signal.SIGTERM, forward)
    signal.signal(signal.SIGINT, forward)
    for child in children:
        child.join()
    failed = [c.name for c in children if c.exitcode not in (0, -signal.SIGTERM)]
    if failed and not stopping:
        log.error("web processes exited with errors: %s", ", ".join(failed))
        return 1
    return 0


def run(settings: Settings, parts: list[Part], create_embedded: bool = False) -> int:
    """`optout run` and the single-part commands: every given part in one process. With the web
    app among them and WEB_CONCURRENCY above 1, as many more processes serve the web app
    alone on the same port (SO_REUSEPORT): on a machine with several cores, the web's
    requests use them; the receiver, the worker and the gateway stay in the first process."""
    settings = database_ready(settings, create_embedded=create_embedded)
    more = settings.web_concurrency - 1 if web_part in parts else 0
    context = multiprocessing.get_context("spawn")
    helpers = [context.Process(target=_web_process, args=(settings, os.getpid()), name=f"web-{i + 2}")
               for i in range(more)]
    for helper in helpers:
        helper.start()
    if helpers:
        log.info("%d more web process(es) share port %d", len(helpers), settings.port)
    try:
        asyncio.run(run_parts(settings, parts))
    finally:
        for helper in helpers:  # they finish their requests in flight, as this process did
            if helper.is_alive():
                helper.terminate()
        for helper in helpers:
            helper.join(SHUTDOWN_GRACE + 5)
            if helper.is_alive():
                log.warning("web process %s did not stop within %.0f s; killed", helper.name, SHUTDOWN_GRACE)
                helper.kill()
    return 0


def all_parts() -> list[Part]:
    """What `optout run` starts: every part that exists."""
    return [web_part, inbound_part, worker_part, gateway_part]

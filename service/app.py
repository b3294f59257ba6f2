"""The application factory: wires settings, the database pool, middlewares and routes."""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import AsyncIterator

import aiohttp_jinja2
import asyncpg
import jinja2
from aiohttp import web

from .domain.apikeys import ApiKeys
from .services import Services
from .settings import Settings
from .storage.db import create_pool
from .storage.standby import Reads
from .web.keys import (API_KEYS, DB, INBOUND_LOGGED, METRICS, READS, SERVICES, SETTINGS, SIGNER,
                       UNSUBSCRIBES_LOGGED)
from .web.metrics import Metrics
from .web.middlewares import auth_middleware, errors_middleware, observe_middleware
from .web.pages import belgian_date, brussels_time
from .web.payload import MAX_JSON_BODY
from .web import inbound, unsubscribe
from .web.routes import setup_routes


# Package data (the top-level templates/ folder installed as service.templates). A regular
# package installed as files: its folder is a real path, as aiohttp's static route needs.
TEMPLATES = Path(str(resources.files("service.templates")))


def create_app(settings: Settings, pool: asyncpg.Pool | None = None, services: Services | None = None) -> web.Application:
    """Build the web app. Given a pool (tests, `optout run`), use it; else open one from settings.
    The Services come from the runner, which builds them once per process (a test may let
    the app build its own)."""
    app = web.Application(
        middlewares=[observe_middleware, errors_middleware, auth_middleware],
        client_max_size=MAX_JSON_BODY,
    )
    app[SETTINGS] = settings
    app[METRICS] = Metrics()
    services = services or Services.build(settings)
    app[SERVICES] = services
    app[SIGNER] = services.signer
    app[UNSUBSCRIBES_LOGGED] = unsubscribe.unsubscribes_logged()
    app[INBOUND_LOGGED] = inbound.stored_logged()

    async def database(app: web.Application) -> AsyncIterator[None]:
        own = pool is None
        app[DB] = await create_pool(settings.database_url, min_size=1) if own else pool
        app[API_KEYS] = ApiKeys(app[DB])
        app[READS] = Reads(app[DB], settings.database_read_url, settings.read_max_lag_ms,
                           served=app[METRICS].reads, lag_gauge=app[METRICS].standby_lag)
        await app[READS].start()
        yield
        await app[READS].close()
        if own:
            await app[DB].close()

    app.cleanup_ctx.append(database)
    env = aiohttp_jinja2.setup(app, loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=True)
    env.filters["brussels"] = brussels_time
    env.filters["day"] = belgian_date
    setup_routes(app)
    app.router.add_static("/static/", TEMPLATES / "static", append_version=False)
    return app

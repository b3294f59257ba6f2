"""POST /v1/links: the unsubscribe URL and RFC 8058 headers of each recipient."""

from __future__ import annotations

from aiohttp import web

from ..domain.suppressions.links import issue_links
from ..storage.db import transaction
from . import views
from .auth import requires
from .keys import DB, SERVICES, SETTINGS, SIGNER
from .payload import json_object


@requires("links")
async def create_links(request: web.Request) -> web.Response:
    body = await json_object(request)
    settings, services = request.app[SETTINGS], request.app[SERVICES]
    async with transaction(request.app[DB]) as conn:
        links = await issue_links(conn, request.app[SIGNER], settings.public_url, settings.mailto,
                                  body.get("recipients"), services.keyed_hash, services.return_paths, services.guard)
    return web.json_response({"links": [views.link(made) for made in links]})

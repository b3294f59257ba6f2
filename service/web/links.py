"""POST /v1/links: the unsubscribe URL and RFC 8058 headers of each recipient."""

from __future__ import annotations

from aiohttp import web

from ..domain.unsubscribe import links_for
from .auth import requires
from .keys import SETTINGS, SIGNER
from .payload import json_object


@requires("links")
async def create_links(request: web.Request) -> web.Response:
    body = await json_object(request)
    settings = request.app[SETTINGS]
    links = links_for(request.app[SIGNER], settings.public_url, settings.mailto, body.get("recipients"))
    return web.json_response({"links": links})

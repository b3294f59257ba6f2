"""GDPR: access to everything held about an address, and its erasure."""

from __future__ import annotations

import logging

from aiohttp import web

from ..domain import erasure
from ..storage.db import transaction
from .auth import requires
from .keys import DB, KEY_NAME, SETTINGS
from .payload import json_object, text_field

log = logging.getLogger("optout.gdpr")


@requires("admin")
async def access(request: web.Request) -> web.Response:
    async with request.app[DB].acquire() as conn:
        body = await erasure.subject_access(conn, request.app[SETTINGS].hash_key, request.match_info["email"])
    return web.json_response(body)


@requires("admin")
async def erase(request: web.Request) -> web.Response:
    body = await json_object(request)
    email = text_field(body, "email", required=True)
    async with transaction(request.app[DB]) as conn:
        result = await erasure.erase(conn, request.app[SETTINGS].hash_key, email, request[KEY_NAME])
    log.info("address erased by %s (%d suppressions, %d events removed)", request[KEY_NAME],
             result["removed"]["suppressions"], result["removed"]["events"])
    return web.json_response(result)

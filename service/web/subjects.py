"""GDPR: access to everything held about an address, and its erasure."""

from __future__ import annotations

import logging

from aiohttp import web

from ..domain.inbound import mentions
from ..domain.suppressions import erasure
from ..storage.db import transaction
from . import views
from .auth import requires
from .keys import DB, KEY_NAME, SERVICES
from .payload import json_object, text_field

log = logging.getLogger("optout.gdpr")


@requires("admin")
async def access(request: web.Request) -> web.Response:
    async with request.app[DB].acquire() as conn:
        record = await erasure.subject_access(conn, request.app[SERVICES].keyed_hash, request.match_info["email"])
    return web.json_response(views.subject_record(record))


@requires("admin")
async def erase(request: web.Request) -> web.Response:
    body = await json_object(request)
    email = text_field(body, "email", required=True)
    keyed_hash = request.app[SERVICES].keyed_hash
    async with request.app[DB].acquire() as conn:  # outside the transaction: each batch commits
        await mentions.index_messages(conn, keyed_hash)
    async with transaction(request.app[DB]) as conn:
        removed = await erasure.erase(conn, keyed_hash, email, request[KEY_NAME])
    log.info("address erased by %s (%d suppressions, %d events, %d messages, %d queued copies removed)",
             request[KEY_NAME], removed.suppressions, removed.events, removed.messages, removed.outgoing)
    return web.json_response(views.erasure(removed))

"""POST /v1/inbound (a raw message, stored like one received by SMTP) and GET /v1/inbound/{id}."""

from __future__ import annotations

import logging

from aiohttp import web

from ..domain.errors import InvalidInput
from ..logs import Burst
from ..domain.inbound import inbox
from . import views
from .auth import requires
from .payload import int_query, time_query
from .keys import DB, INBOUND_LOGGED, KEY_NAME, SERVICES, SETTINGS

log = logging.getLogger("optout.inbound")


def stored_logged() -> Burst:
    """Mail fetched from a mailbox is posted by the hundred: each message's reading is logged by
    the worker; the log tells the first stored of each minute one by one, then how many more."""
    return Burst(log, "inbound stored from http")

MESSAGE_TYPES = ("message/rfc822", "application/octet-stream", "text/plain")


async def _read_limited(request: web.Request, limit: int) -> bytes:
    """The body, streamed, refusing it as soon as it passes the size limit."""
    chunks, size = [], 0
    async for chunk in request.content.iter_chunked(1 << 16):
        size += len(chunk)
        if size > limit:
            raise inbox.MessageTooLarge(f"The message is larger than OPTOUT_MAX_MESSAGE_BYTES ({limit} bytes).")
        chunks.append(chunk)
    return b"".join(chunks)


@requires("inbound")
async def post_message(request: web.Request) -> web.Response:
    if request.content_type not in MESSAGE_TYPES:
        raise web.HTTPUnsupportedMediaType(text="Send the raw message as Content-Type: message/rfc822.")
    raw = await _read_limited(request, request.app[SETTINGS].max_message_bytes)
    if not raw.strip():
        raise InvalidInput("The body must be a raw RFC 5322 message; it is empty.")
    async with request.app[DB].acquire() as conn:  # one statement, committed when it returns
        stored = await inbox.store(conn, "http", raw)
    if stored.duplicate:
        log.info("inbound %s: duplicate posted by %s", stored.id, request[KEY_NAME])
        return web.json_response({"id": str(stored.id), "duplicate": True}, status=200)
    request.app[SERVICES].inbound.wake()
    request.app[INBOUND_LOGGED].note("inbound %s: stored from http (%d bytes) by %s", stored.id, len(raw),
                                     request[KEY_NAME])
    return web.json_response({"id": str(stored.id), "status": "queued"}, status=202)


@requires("inbound")
async def list_messages(request: web.Request) -> web.Response:
    """Stored messages, newest first: ?status=&since=&cursor=&limit= (so that automation and staff
    can follow what they handed over)."""
    limit = int_query(request, "limit", 100, 1, 1000)
    status, since = request.query.get("status") or None, time_query(request, "since")
    cursor = request.query.get("cursor") or None
    async with request.config_dict[DB].acquire() as conn:
        page = await inbox.listing(conn, cursor, status, since, limit)
    return web.json_response(views.message_page(page))


@requires("inbound")
async def show_message(request: web.Request) -> web.Response:
    message_id = inbox.parse_id(request.match_info["id"])
    async with request.app[DB].acquire() as conn:
        message = await inbox.describe(conn, message_id)
    return web.json_response(views.inbound_message(message))

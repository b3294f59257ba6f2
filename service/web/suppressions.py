"""The suppression list over HTTP: one address, the paged list, and its history."""

from __future__ import annotations

from aiohttp import web

from ..domain import cursors
from ..domain.errors import InvalidInput
from ..domain.suppressions import suppression_list
from ..domain.suppressions.rules import is_unicode_text, valid_scope
from ..storage.db import transaction
from . import views
from .auth import requires
from .keys import DB, KEY_NAME, METRICS, READS, SERVICES
from .payload import in_utc, int_query, json_object, text_field, time_query


@requires("check")
async def show(request: web.Request) -> web.Response:
    email, keyed_hash = request.match_info["email"], request.app[SERVICES].keyed_hash
    found = await request.app[READS].read(lambda conn: suppression_list.suppressions_of(conn, email, keyed_hash))
    return web.json_response(views.address_suppressions(found))


@requires("write")
async def put(request: web.Request) -> web.Response:
    body = await json_object(request)
    scope = text_field(body, "scope", "global")
    reason = text_field(body, "reason", "manual")
    source = text_field(body, "source", "api")
    note = text_field(body, "note")
    async with transaction(request.app[DB]) as conn:
        created, item = await suppression_list.suppress(
            conn, request.match_info["email"], scope, reason, source, note,
            detail={"by": request[KEY_NAME]}, keyed_hash=request.app[SERVICES].keyed_hash, actor=request[KEY_NAME],
        )
    if created:
        request.app[METRICS].suppressions.labels(reason, source).inc()
    return web.json_response(
        {"email": request.match_info["email"].strip(), "created": created, **views.suppression(item)},
        status=201 if created else 200,
    )


@requires("write")
async def delete(request: web.Request) -> web.Response:
    scope = request.query.get("scope")
    if scope is None:
        raise InvalidInput("Say which suppression to lift with ?scope=...", field="scope")
    body = await json_object(request)
    evidence = text_field(body, "evidence", required=True)
    force = body.get("force", False)
    if not isinstance(force, bool):
        raise InvalidInput("'force' must be true or false.", field="force")
    async with transaction(request.app[DB]) as conn:
        result = await suppression_list.lift(
            conn, request.match_info["email"], valid_scope(scope), evidence, force, request[KEY_NAME],
            keyed_hash=request.app[SERVICES].keyed_hash,
        )
    return web.json_response(views.lifted(result))


@requires("check")
async def listing(request: web.Request) -> web.Response:
    limit = int_query(request, "limit", 100, 1, 1000)
    cursor, since = listing_cursor(request), time_query(request, "since")
    reason, scope = request.query.get("reason") or None, request.query.get("scope") or None
    page = await request.app[READS].read(
        lambda conn: suppression_list.page(conn, cursor, limit, reason, scope, since)
    )
    return web.json_response(views.suppression_page(page))


def listing_cursor(request: web.Request) -> str | None:
    """The cursor as given, once it is known to decode to what a page of the list can start after:
    a time with its offset that exists in UTC, and text PostgreSQL can compare (no NUL, no lone surrogate)."""
    cursor = request.query.get("cursor") or None
    if cursor is None:
        return None
    not_ours = InvalidInput("The cursor is not one this service gave out.", field="cursor")
    if not cursor.isascii():
        raise not_ours
    try:
        at, address, scope = cursors.decode_list_cursor(cursor)
    except RecursionError:  # JSON arrays nested a thousand deep
        raise not_ours from None
    if at.tzinfo is None or not all("\x00" not in text and is_unicode_text(text) for text in (address, scope)):
        raise not_ours
    try:
        in_utc(at, "cursor")
    except InvalidInput:
        raise not_ours from None
    return cursor


@requires("check")
async def events(request: web.Request) -> web.Response:
    email = request.query.get("email")
    if not email:
        raise InvalidInput("Give the address as ?email=...", field="email")
    found = await request.app[READS].read(lambda conn: suppression_list.history(conn, email))
    return web.json_response({"events": views.history(found)["events"]})

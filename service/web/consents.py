"""Scopes with names, the consent ledger and the privacy requests over HTTP (CONTRACT: Consent)."""

from __future__ import annotations

import functools

from aiohttp import web

from ..domain.consent import ledger
from ..domain.consent.ledger import ConsentInput
from ..domain.tokens import ConfirmationTokens
from ..domain.errors import InvalidInput
from ..mail import confirmation
from ..storage.db import transaction
from . import views
from .auth import requires
from .keys import DB, KEY_NAME, READS, SERVICES, SETTINGS
from .payload import int_query, json_object

MAX_REQUESTS_PAGE = 1000


def confirmation_tokens(app) -> ConfirmationTokens:
    services = app[SERVICES]
    return services.confirmations or ConfirmationTokens(app[SETTINGS].secret_keys)


# Scopes.

@requires("check")
async def list_scopes(request: web.Request) -> web.Response:
    found = await request.app[READS].read(ledger.scopes)
    return web.json_response({"scopes": [views.scope_entry(s) for s in found]})


@requires("admin")
async def put_scope(request: web.Request) -> web.Response:
    body = await json_object(request)
    async with transaction(request.app[DB]) as conn:
        item, created = await ledger.register_scope(
            conn, request.match_info["scope"], body.get("labels"), body.get("consent", "none"))
    return web.json_response(views.scope_entry(item), status=201 if created else 200)


# Consents.

@requires("write")
async def give(request: web.Request) -> web.Response:
    body = await json_object(request)
    given = ConsentInput.read(body)
    compose = functools.partial(confirmation.compose, request.app[SETTINGS], confirmation_tokens(request.app))
    async with transaction(request.app[DB]) as conn:
        item = await ledger.give(conn, given, actor=request[KEY_NAME], keyed_hash=request.app[SERVICES].keyed_hash,
                                 compose=compose)
    if item.status == "pending":
        request.app[SERVICES].outbox.wake()
        return web.json_response({"status": "pending", "id": item.id, "email": item.address, "scope": item.scope},
                                 status=202)
    return web.json_response({"status": "given", "id": item.id, "email": item.address, "scope": item.scope},
                             status=201)


@requires("write")
async def show(request: web.Request) -> web.Response:
    email = request.match_info["email"]
    found = await request.app[READS].read(lambda conn: ledger.consents_of(conn, email))
    address = found[0].address if found else email.strip()
    return web.json_response(views.consents(address, found))


# Privacy requests.

@requires("write")
async def list_requests(request: web.Request) -> web.Response:
    status = request.query.get("status") or None
    after = int_query(request, "cursor", 0, 0, 2**62)
    limit = int_query(request, "limit", 100, 1, MAX_REQUESTS_PAGE)
    found = await request.app[READS].read(lambda conn: ledger.requests(conn, status, after, limit))
    next_cursor = str(found[-1].id) if len(found) == limit else None
    return web.json_response({"requests": [views.privacy_request(r) for r in found], "next_cursor": next_cursor})


@requires("write")
async def close_request(request: web.Request) -> web.Response:
    try:
        request_id = int(request.match_info["id"])
    except ValueError:
        raise InvalidInput("A request id is a whole number.", field="id") from None
    if not 0 < request_id < 2**62:
        raise InvalidInput("A request id is a positive whole number.", field="id")
    body = await json_object(request)
    async with transaction(request.app[DB]) as conn:
        item = await ledger.close_request(conn, request_id, body.get("note"), request[KEY_NAME])
    return web.json_response(views.privacy_request(item))

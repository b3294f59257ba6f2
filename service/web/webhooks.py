"""Webhook subscriptions over HTTP: POST, GET and DELETE /v1/webhooks (admin keys only)."""

from __future__ import annotations

from aiohttp import web

from ..domain.events import webhooks
from .auth import requires
from .keys import DB, KEY_NAME, SETTINGS
from .payload import json_object


def _as_json(subscription: webhooks.Subscription) -> dict:
    return {"id": str(subscription.id), "url": subscription.url, "events": [str(t) for t in subscription.events],
            "created_at": subscription.created_at.isoformat(), "created_by": subscription.created_by}


@requires("admin")
async def create(request: web.Request) -> web.Response:
    """The secret is in this answer only: the receiver keeps it to verify every delivery."""
    body = await json_object(request)
    allow_private = request.config_dict[SETTINGS].webhook_allow_private
    async with request.app[DB].acquire() as conn:
        made = await webhooks.subscribe(conn, body.get("url"), body.get("events"), request[KEY_NAME], allow_private)
    subscription = made.subscription
    return web.json_response({"id": str(subscription.id), "secret": made.secret, "url": subscription.url,
                              "events": [str(t) for t in subscription.events]}, status=201)


@requires("admin")
async def listing(request: web.Request) -> web.Response:
    async with request.app[DB].acquire() as conn:
        found = await webhooks.subscriptions(conn)
    return web.json_response({"webhooks": [_as_json(s) for s in found]})


@requires("admin")
async def delete(request: web.Request) -> web.Response:
    async with request.app[DB].acquire() as conn:
        removed = await webhooks.remove(conn, request.match_info["id"])
    return web.json_response({"id": str(removed), "deleted": True})

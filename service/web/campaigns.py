"""Campaign guardrails over HTTP: GET /v1/campaigns, GET /v1/campaigns/{campaign} (check keys) and
POST /v1/campaigns/{campaign}/resume (admin keys)."""

from __future__ import annotations

from aiohttp import web

from ..domain.campaigns import guard
from ..domain.campaigns.model import Campaign, valid_campaign
from ..storage.db import transaction
from .auth import requires
from .keys import DB, KEY_NAME, READS
from .payload import int_query, json_object


def campaign_json(campaign: Campaign) -> dict:
    """Rates are fractions of `sent` (0.003 is 0.3%), counted since the campaign began or was resumed."""
    return {
        "campaign": campaign.name, "sent": campaign.sent, "hard_bounces": campaign.hard_bounces,
        "soft_bounces": campaign.soft_bounces, "complaints": campaign.complaints,
        "unsubscribes": campaign.unsubscribes, "complaint_rate": campaign.complaint_rate,
        "hard_bounce_rate": campaign.hard_bounce_rate, "status": str(campaign.status),
        "paused_at": campaign.paused_at.isoformat() if campaign.paused_at else None,
        "paused_reason": campaign.paused_reason,
        "created_at": campaign.created_at.isoformat(), "counted_since": campaign.counted_since.isoformat(),
        "resumed_at": campaign.resumed_at.isoformat() if campaign.resumed_at else None,
        "resumed_by": campaign.resumed_by, "resume_note": campaign.resume_note,
    }


def _name(request: web.Request) -> str:
    return valid_campaign(request.match_info["campaign"]) or ""


@requires("check")
async def listing(request: web.Request) -> web.Response:
    limit = int_query(request, "limit", 100, 1, guard.MAX_LISTED)
    status = request.query.get("status") or None
    found = await request.app[READS].read(lambda conn: guard.campaigns(conn, limit, status))
    return web.json_response({"campaigns": [campaign_json(c) for c in found]})


@requires("check")
async def show(request: web.Request) -> web.Response:
    name = _name(request)
    async with request.app[DB].acquire() as conn:  # the primary: a pause is seen at once
        found = await guard.campaign(conn, name)
    return web.json_response(campaign_json(found))


@requires("admin")
async def resume(request: web.Request) -> web.Response:
    name = _name(request)
    body = await json_object(request)
    async with transaction(request.app[DB]) as conn:
        resumed = await guard.resume(conn, name, body.get("note"), request[KEY_NAME])
    return web.json_response(campaign_json(resumed))

"""The console's campaigns: each one's counts and rates beside the providers' limits, the paused
ones on top with why, and resuming one on an admin's word (CONTRACT: Campaign guardrails)."""

from __future__ import annotations

import logging
from urllib.parse import urlencode

from aiohttp import web

from ...domain.campaigns import guard
from ...domain.errors import Forbidden
from ...storage.db import transaction
from ..keys import DB, SERVICES
from .campaign_view import campaign_view, limits_view
from .console import staff_page, staff_render, translator

log = logging.getLogger("optout.staff")

LIST_LIMIT = 200


@staff_page
async def campaigns(request: web.Request, session, form) -> web.Response:
    async with request.config_dict[DB].acquire() as conn:  # the primary: a pause is seen at once
        paused = await guard.paused_campaigns(conn, LIST_LIMIT)
        active = await guard.campaigns(conn, LIST_LIMIT - len(paused), "active") if len(paused) < LIST_LIMIT else []
    t, thresholds = translator(request), request.config_dict[SERVICES].guard
    return staff_render(request, "staff/campaigns.html", {
        "title": "Campaigns", "session": session, "may_resume": session.may("admin"),
        "campaigns": [campaign_view(c, thresholds, t) for c in paused + active],
        "limits": limits_view(thresholds, t), "cut_off": len(paused) + len(active) >= LIST_LIMIT,
        "shown": LIST_LIMIT, "notice": request.query.get("notice"),
    })


@staff_page
async def resume(request: web.Request, session, form) -> web.StreamResponse:
    """Only an admin key may send a paused campaign again, as POST /v1/campaigns/{campaign}/resume asks."""
    if not session.may("admin"):
        raise Forbidden("Only an admin key may resume a campaign.")
    name = form.get("campaign", "")
    async with transaction(request.config_dict[DB]) as conn:
        resumed = await guard.resume(conn, name, form.get("note"), session.name, source="staff")
    log.info("campaign %r resumed from the console by %s", resumed.name, session.name)
    notice = translator(request)("Campaign {name} resumed: its rates count again from now.", name=resumed.name)
    raise web.HTTPSeeOther("/staff/campaigns?" + urlencode({"notice": notice}))

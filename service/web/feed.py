"""GET /v1/events/feed: every published event in commit order, page by page, for pollers.
Read from the primary: the feed must wait for transactions still running there."""

from __future__ import annotations

from aiohttp import web

from ..domain.events import feed
from .auth import requires
from .keys import DB
from .payload import int_query


@requires("check")
async def events(request: web.Request) -> web.Response:
    limit = int_query(request, "limit", feed.DEFAULT_LIMIT, 1, feed.MAX_LIMIT)
    after = request.query.get("after") or None
    async with request.app[DB].acquire() as conn:
        page = await feed.page(conn, after, limit)
    return web.json_response({"events": [event.as_published() for event in page.events], "next": page.next})

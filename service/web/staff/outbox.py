"""The staff console's view of what could not be sent: dead outbox rows (a gateway copy the
relay refused or could not take for days, a webhook delivery that failed for days), to send
once more or to discard."""

from __future__ import annotations

import logging

from aiohttp import web

from ...domain.addresses import masked_address
from ...domain.errors import Conflict, NotFound
from ...domain import outbox
from ..keys import DB, SERVICES
from .console import staff_page, staff_render

log = logging.getLogger("optout.staff")

LIST_LIMIT = 200


def _row_id(request: web.Request) -> int:
    try:
        row_id = int(request.match_info["id"])
    except ValueError:
        raise NotFound("There is no such row.") from None
    if not 0 < row_id < 2 ** 63:  # a bigint
        raise NotFound("There is no such row.")
    return row_id


def _target(row) -> str:
    """Whom the row was for: a webhook's URL, or the recipient, partly masked."""
    if row["webhook_url"]:
        return row["webhook_url"]
    address = row["recipient"] or row["address"]
    return masked_address(address) if address else "(erased)"


@staff_page
async def dead(request: web.Request, session, form) -> web.Response:
    async with request.config_dict[DB].acquire() as conn:
        rows = await outbox.dead_rows(conn, LIST_LIMIT)
    items = [{"id": r["id"], "kind": r["kind"], "to": _target(r), "tries": r["attempts"],
              "created_at": r["created_at"], "dead_at": r["dead_at"], "error": r["last_error"] or ""}
             for r in rows]
    return staff_render(request, "staff/outbox.html", {
        "title": "Not sent", "session": session, "rows": items, "notice": request.query.get("notice"),
    })


@staff_page
async def retry(request: web.Request, session, form) -> web.StreamResponse:
    row_id = _row_id(request)
    services = request.config_dict[SERVICES]
    async with request.config_dict[DB].acquire() as conn:
        again = await outbox.send_again(conn, row_id, services.clock.now())
    if not again:
        raise Conflict("This row is no longer there, or cannot be sent again.")
    services.outbox.wake()
    log.info("outbox %d: sent again by %s", row_id, session.name)
    raise web.HTTPSeeOther("/staff/outbox?notice=Queued+to+be+sent+again.")


@staff_page
async def discard(request: web.Request, session, form) -> web.StreamResponse:
    row_id = _row_id(request)
    async with request.config_dict[DB].acquire() as conn:
        gone = await outbox.discard(conn, row_id)
    if not gone:
        raise Conflict("This row is no longer there.")
    log.info("outbox %d: discarded by %s", row_id, session.name)
    raise web.HTTPSeeOther("/staff/outbox?notice=Discarded.")

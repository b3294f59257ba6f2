"""The staff console's held messages: list, read (as text, never as HTML), release.

A message whose raw bytes retention has deleted is shown by what was kept of it."""

from __future__ import annotations

import logging
import uuid

from aiohttp import web

from ...domain.errors import Conflict, NotFound
from ...domain.inbound import for_staff, mime
from ...domain.inbound.policy import Forwarding
from ..keys import DB, SERVICES, SETTINGS
from .console import staff_page, staff_render

log = logging.getLogger("optout.staff")

LIST_LIMIT = 200


def _message_id(request: web.Request) -> uuid.UUID:
    try:
        return uuid.UUID(request.match_info["id"])
    except ValueError:
        raise NotFound("There is no such message.") from None


@staff_page
async def held(request: web.Request, session, form) -> web.Response:
    async with request.config_dict[DB].acquire() as conn:
        rows = await for_staff.held_messages(conn, LIST_LIMIT)
    return staff_render(request, "staff/messages.html", {
        "title": "Messages for staff", "session": session, "messages": rows, "mailto": request.config_dict[SETTINGS].mailto,
        "notice": request.query.get("notice"),
    })


@staff_page
async def read(request: web.Request, session, form) -> web.Response:
    message_id = _message_id(request)
    async with request.config_dict[DB].acquire() as conn:
        row, raw = await for_staff.record_and_raw(conn, message_id)
    if row is None:
        raise NotFound("There is no such message.")
    if raw is None:
        return _without_raw(request, session, row)
    try:
        parsed = mime.parse(raw)
        text = mime.body_text(parsed)
        headers = {name: mime.header(parsed, name) for name in ("From", "To", "Date", "Subject")}
    except mime.UnreadableMessage as exc:
        text, headers = f"(The message cannot be shown: {exc.message})", {}
    forwarding = _forwarding(request)
    return staff_render(request, "staff/held_message.html", {
        "title": headers.get("Subject") or "(no subject)", "session": session, "id": row["id"],
        "subject": headers.get("Subject"), "sender": headers.get("From"), "to": headers.get("To", ""),
        "date": headers.get("Date", ""), "received_at": row["received_at"],
        "status": row["status"], "classification": row["classification"], "error": row["error"], "text": text,
        "can_forward": forwarding.possible, "forward_to": forwarding.forward_to,
    })


def _forwarding(request: web.Request) -> Forwarding:
    """Where a released message would go: the worker's rule (inbound.policy)."""
    services = request.config_dict[SERVICES]
    return Forwarding(services.relay is not None, request.config_dict[SETTINGS].forward_to)


def _action_line(action: dict) -> str:
    details = [action[k] for k in ("scope", "reason", "note") if action.get(k)]
    line = f"{action.get('type', 'action')}: {action.get('email') or action.get('to') or action.get('value') or ''}"
    return line.rstrip(": ") + (f" ({', '.join(map(str, details))})" if details else "")


def _without_raw(request: web.Request, session, row) -> web.Response:
    """The record of a message whose raw bytes retention deleted: what was decided, and when."""
    deleted_at = row["raw_deleted_at"]
    return staff_render(request, "staff/purged_message.html", {
        "title": "Message", "session": session, "id": row["id"], "sender": row["sender"],
        "received_at": row["received_at"], "processed_at": row["processed_at"],
        "deleted_at": deleted_at.isoformat()[:10] if deleted_at else None,
        "retention_days": request.config_dict[SETTINGS].retention_days, "status": row["status"],
        "classification": row["classification"], "kind": row["kind"], "addresses": list(row["addresses"]),
        "actions": [_action_line(a) for a in row["actions"] if isinstance(a, dict)],
    })


@staff_page
async def release(request: web.Request, session, form) -> web.StreamResponse:
    message_id = _message_id(request)
    forward = form.get("forward") == "yes" and _forwarding(request).possible
    async with request.config_dict[DB].acquire() as conn:
        async with conn.transaction():
            released = await for_staff.release(conn, message_id, forward, session.name)
    if released and forward:
        request.config_dict[SERVICES].outbox.wake()
    if not released:
        raise Conflict("This message is no longer held.")
    log.info("held message %s released by %s%s", message_id, session.name, " for forwarding" if forward else "")
    raise web.HTTPSeeOther("/staff/messages?notice=" + ("Queued for forwarding." if forward else "Marked as handled."))

"""The console's lists: upload a CSV or NDJSON file of suppressions (streamed, one transaction, a
result page), and download the whole list."""

from __future__ import annotations

import logging

from aiohttp import web

from ...domain.errors import Forbidden, InvalidInput
from ...domain.suppressions import transfer
from ...storage.db import transaction
from ..keys import DB, SERVICES
from ..transfer import stream_export
from . import sessions
from .console import SESSION, staff_page, staff_render

log = logging.getLogger("optout.staff")

SHOWN_INVALID = 100


@staff_page
async def lists(request: web.Request, session, form) -> web.Response:
    return staff_render(request, "staff/lists.html", {"title": "Lists", "session": session})


def _format_of(filename: str) -> str:
    return "ndjson" if filename.lower().endswith((".ndjson", ".jsonl", ".json")) else "csv"


async def upload(request: web.Request) -> web.StreamResponse:
    """The form's CSRF field first, then the file, read a chunk at a time into the import."""
    session = await sessions.current(request)
    if session is None:
        raise web.HTTPSeeOther("/staff/login")
    request[SESSION] = session
    try:
        reader = await request.multipart()
        token = await reader.next()
        if token is None or token.name != "csrf" or not sessions.csrf_matches(session, await token.text()):
            raise Forbidden("The form expired: reload the page and try again.")
        part = await reader.next()
    except (ValueError, AssertionError, KeyError):
        raise InvalidInput("The form cannot be read: choose a file and send it again.") from None
    if part is None or part.name != "file" or not part.filename:
        raise InvalidInput("Choose a file to import.")
    fmt = _format_of(part.filename)
    async with transaction(request.config_dict[DB]) as conn:
        async with transfer.Importer(conn, fmt, request.config_dict[SERVICES].keyed_hash, actor=session.name) as importer:
            while chunk := await part.read_chunk(1 << 16):
                await importer.feed(chunk)
            summary = await importer.finish()
    log.info("import from the console by %s: %d imported, %d already, %d invalid", session.name,
             summary.imported, summary.already, summary.invalid_count)
    return staff_render(request, "staff/imported.html", {
        "title": "Import", "session": session, "filename": part.filename, "summary": summary,
        "invalid": summary.invalid[:SHOWN_INVALID], "nothing": summary.imported == 0 and summary.already == 0,
    })


@staff_page
async def download(request: web.Request, session, form) -> web.StreamResponse:
    return await stream_export(request, request.match_info["format"], "cetit-uitschrijvingen")

"""Streamed export (GET /v1/suppressions.csv|.ndjson) and import (POST /v1/suppressions/import)."""

from __future__ import annotations

import logging

from aiohttp import web

from ..domain.suppressions import transfer
from ..storage.db import transaction
from .auth import requires
from .keys import DB, KEY_NAME, SERVICES

log = logging.getLogger("optout.transfer")

CONTENT_TYPES = {"csv": "text/csv; charset=utf-8", "ndjson": "application/x-ndjson"}
EXPORT_BATCH = 2000


@requires("check")
async def export(request: web.Request) -> web.StreamResponse:
    return await stream_export(request, request.match_info["format"])


async def stream_export(request: web.Request, fmt: str, filename: str = "suppressions") -> web.StreamResponse:
    """The whole list as a download, streamed from one consistent read (the API and the console)."""
    response = web.StreamResponse(
        headers={
            "Content-Type": CONTENT_TYPES[fmt],
            "Content-Disposition": f'attachment; filename="{filename}.{fmt}"',
        }
    )
    async with transaction(request.config_dict[DB]) as conn:
        batch = []
        rows = transfer.export_rows(conn)
        first = await anext(rows, None)  # fail with 503 before any byte is sent
        await response.prepare(request)
        if fmt == "csv":
            await response.write(transfer.csv_header().encode())
        if first is not None:
            batch.append(first)
        async for row in rows:
            batch.append(row)
            if len(batch) >= EXPORT_BATCH:
                await response.write(transfer.format_rows(batch, fmt).encode())
                batch = []
        if batch:
            await response.write(transfer.format_rows(batch, fmt).encode())
    await response.write_eof()
    return response


def import_format(request: web.Request) -> str:
    kind = request.content_type
    if kind in ("application/x-ndjson", "application/ndjson", "application/jsonl", "application/json"):
        return "ndjson"
    if kind in ("text/csv", "text/plain", "application/octet-stream", "application/csv"):
        return "csv"
    fmt = request.query.get("format", "")
    if fmt in transfer.FORMATS:
        return fmt
    raise web.HTTPUnsupportedMediaType(
        text="Send the file as text/csv or application/x-ndjson (or add ?format=csv|ndjson)."
    )


@requires("write")
async def import_list(request: web.Request) -> web.Response:
    fmt = import_format(request)
    async with transaction(request.app[DB]) as conn:
        async with transfer.Importer(conn, fmt, request.app[SERVICES].keyed_hash, actor=request[KEY_NAME]) as importer:
            body = request.content
            compressed = getattr(body, "total_compressed_bytes", None) is not None  # an empty body has none
            async for chunk in body.iter_chunked(1 << 16):
                await importer.feed(chunk, body.total_raw_bytes if compressed else None)
            summary = await importer.finish()
    log.info(
        "import by %s: %d imported, %d already, %d invalid",
        request[KEY_NAME], summary.imported, summary.already, summary.invalid_count,
    )
    return web.json_response(summary.as_dict())

"""Liveness, readiness and metrics."""

from __future__ import annotations

import asyncio

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from ..domain import outbox
from ..domain.campaigns import guard
from ..domain.inbound import for_staff
from ..storage.db import UNAVAILABLE, ping
from .keys import DB, METRICS, SERVICES


async def healthz(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


async def readyz(request: web.Request) -> web.Response:
    try:
        async with asyncio.timeout(3):
            async with request.app[DB].acquire() as conn:
                await ping(conn)
    except UNAVAILABLE:
        return web.json_response(
            {"status": "unavailable", "database": "unreachable"}, status=503
        )
    return web.json_response({"status": "ready", "database": "ok"})


async def metrics(request: web.Request) -> web.Response:
    """The process's counters, and what waits as the database holds it now: the outbox's rows,
    inbound messages queued, held and failed, open privacy requests, paused campaigns and the
    worst recent complaint rate (left as they were when the
    database does not answer within a second: a scrape never fails on it)."""
    try:
        async with asyncio.timeout(1):
            async with request.app[DB].acquire() as conn:
                rows = await outbox.counts(conn)
                waiting = await for_staff.waiting(conn)
                paused, worst = await guard.figures(conn, request.app[SERVICES].guard)
        request.app[METRICS].set_outbox(rows)
        request.app[METRICS].set_waiting(waiting)
        request.app[METRICS].campaigns_paused.set(paused)
        request.app[METRICS].worst_complaint_rate.set(worst)
    except (TimeoutError, *UNAVAILABLE):
        pass
    body = generate_latest(request.app[METRICS].registry)
    response = web.Response(body=body)
    response.headers["Content-Type"] = CONTENT_TYPE_LATEST
    return response

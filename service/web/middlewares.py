"""Middlewares: errors to JSON, API key checks, metrics and one log line per request."""

from __future__ import annotations

import logging
import time

from aiohttp import web

from ..domain import errors
from ..storage.db import UNAVAILABLE
from .auth import authorize
from .payload import MAX_JSON_BODY
from .keys import API_KEYS, KEY_NAME, METRICS

log = logging.getLogger("optout.web")

STATUS = {
    errors.InvalidAddress: 400,
    errors.InvalidScope: 400,
    errors.TooMany: 413,
    errors.InvalidInput: 400,
    errors.BadToken: 400,
    errors.Unauthorized: 401,
    errors.Forbidden: 403,
    errors.NotFound: 404,
    errors.Conflict: 409,
    errors.Unavailable: 503,
}


def error_response(status: int, code: str, message: str, **extra) -> web.Response:
    body = {"error": {"code": code, "message": message, **extra}}
    response = web.json_response(body, status=status)
    if status == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="optout"'
    return response


def _status_of(exc: errors.DomainError) -> int:
    for cls in type(exc).__mro__:
        if cls in STATUS:
            return STATUS[cls]
    return 400


@web.middleware
async def errors_middleware(request: web.Request, handler) -> web.StreamResponse:
    """Every failure of an API route becomes {"error": {...}}; bad input is never a 5xx."""
    try:
        return await handler(request)
    except errors.DomainError as exc:
        return error_response(_status_of(exc), exc.code, exc.message, **exc.detail)
    except web.HTTPRequestEntityTooLarge:
        return error_response(
            413, "body_too_large",
            f"The request body is larger than {MAX_JSON_BODY} bytes; split it into smaller requests.",
        )
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        return error_response(exc.status, exc.reason.lower().replace(" ", "_"), exc.text or exc.reason)
    except web.RequestPayloadError:
        return error_response(
            400, "body_unreadable",
            "The request body cannot be read: its Content-Encoding does not match it, or it was cut off.",
        )
    except UNAVAILABLE as exc:
        log.warning("database unavailable for %s: %s", _route_name(request), exc.__class__.__name__)
        return error_response(503, "unavailable", "The database cannot be reached; try again shortly.")
    except Exception:
        log.exception("unexpected error in %s %s", request.method, _route_name(request))
        return error_response(500, "internal", "Something went wrong on our side; it has been logged.")


@web.middleware
async def auth_middleware(request: web.Request, handler) -> web.StreamResponse:
    scope = getattr(handler, "required_scope", None)
    if scope is not None:
        request[KEY_NAME] = await authorize(request, request.app[API_KEYS], scope)
    return await handler(request)


@web.middleware
async def observe_middleware(request: web.Request, handler) -> web.StreamResponse:
    """Metrics and a log line per request, named by route pattern so no token is ever logged."""
    started = time.perf_counter()
    status = 500
    try:
        response = await handler(request)
        status = response.status
        return response
    except web.HTTPException as exc:
        status = exc.status
        raise
    finally:
        elapsed = time.perf_counter() - started
        route = _route_name(request)
        metrics = request.app[METRICS]
        metrics.requests.labels(route, request.method, str(status)).inc()
        metrics.latency.labels(route, request.method).observe(elapsed)
        if status >= 500:
            log.error("%s %s -> %d in %.1f ms", request.method, route, status, elapsed * 1000)
        elif log.isEnabledFor(logging.DEBUG) or status >= 400:
            log.info("%s %s -> %d in %.1f ms", request.method, route, status, elapsed * 1000)


def _route_name(request: web.Request) -> str:
    info = request.match_info
    route = getattr(info, "route", None)
    resource = getattr(route, "resource", None)
    return resource.canonical if resource is not None else "unmatched"

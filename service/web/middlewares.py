"""Middlewares: failures answered through the one table (as JSON here, as pages in the /u and
/staff sub-apps), API key checks, metrics and one log line per request."""

from __future__ import annotations

import logging
import time
from typing import Callable

from aiohttp import web

from ..answers import Answer, answer_for, answer_for_status
from ..domain import errors
from ..storage.db import UNAVAILABLE
from .auth import authorize
from .keys import API_KEYS, KEY_NAME, METRICS
from .payload import MAX_JSON_BODY

log = logging.getLogger("optout.web")

# Renders the answer to a failure; given the error too, for what only it can say.
RenderFailure = Callable[[web.Request, Answer, BaseException], web.StreamResponse]


def answering(render: RenderFailure):
    """A middleware that answers every failure of a handler, looked up in the one table and
    rendered by `render`: bad input is never a 5xx, and a fault of ours is logged once."""

    @web.middleware
    async def middleware(request: web.Request, handler) -> web.StreamResponse:
        try:
            return await handler(request)
        except errors.DomainError as exc:
            return render(request, answer_for(exc), exc)
        except web.HTTPException as exc:
            if exc.status < 400:
                raise
            return render(request, answer_for_status(exc.status), exc)
        except web.RequestPayloadError as exc:
            return render(request, answer_for_status(400), exc)
        except UNAVAILABLE as exc:
            log.warning("database unavailable for %s: %s", _route_name(request), exc.__class__.__name__)
            return render(request, answer_for(exc), exc)
        except Exception as exc:
            log.exception("unexpected error in %s %s", request.method, _route_name(request))
            return render(request, answer_for(exc), exc)

    return middleware


def error_response(status: int, code: str, message: str, **extra) -> web.Response:
    body = {"error": {"code": code, "message": message, **extra}}
    response = web.json_response(body, status=status)
    if status == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="optout"'
    return response


def json_error(request: web.Request, answer: Answer, error: BaseException) -> web.Response:
    """{"error": {"code", "message", ...}}; what went wrong in HTTP itself is named by aiohttp's reason."""
    if isinstance(error, web.HTTPRequestEntityTooLarge):
        return error_response(
            413, "body_too_large",
            f"The request body is larger than {MAX_JSON_BODY} bytes; split it into smaller requests.",
        )
    if isinstance(error, web.HTTPException):
        return error_response(error.status, error.reason.lower().replace(" ", "_"), error.text or error.reason)
    if isinstance(error, web.RequestPayloadError):
        return error_response(
            400, "body_unreadable",
            "The request body cannot be read: its Content-Encoding does not match it, or it was cut off.",
        )
    detail = error.detail if isinstance(error, errors.DomainError) else {}
    response = error_response(answer.status, answer.code, answer.message, **detail)
    if "retry_after" in detail:
        response.headers["Retry-After"] = str(detail["retry_after"])
    return response


errors_middleware = answering(json_error)


@web.middleware
async def auth_middleware(request: web.Request, handler) -> web.StreamResponse:
    scope = getattr(handler, "required_scope", None)
    if scope is not None:
        request[KEY_NAME] = await authorize(request, request.config_dict[API_KEYS], scope)
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
        metrics = request.config_dict[METRICS]
        metrics.requests.labels(route, request.method, str(status)).inc()
        metrics.latency.labels(route, request.method).observe(elapsed)
        if status >= 500:
            log.error("%s %s -> %d in %.1f ms", request.method, route, status, elapsed * 1000)
        elif log.isEnabledFor(logging.DEBUG) or status >= 400:
            log.info("%s %s -> %d in %.1f ms", request.method, route, status, elapsed * 1000)


def _route_name(request: web.Request) -> str:
    """The route's pattern, with the sub-app's prefix (/u/{token}), never the path itself."""
    info = request.match_info
    route = getattr(info, "route", None)
    resource = getattr(route, "resource", None)
    return resource.canonical if resource is not None else "unmatched"

"""Reading request input: JSON bodies and query parameters, with errors that say what to fix."""

from __future__ import annotations

import orjson
from datetime import datetime

from aiohttp import web

from ..domain.errors import InvalidInput
from ..domain.suppression import valid_text

MAX_JSON_BODY = 16 * 1024 * 1024  # 100,000 addresses with room to spare


async def json_object(request: web.Request) -> dict:
    """The body as a JSON object, or InvalidInput naming what is wrong with it."""
    raw = await request.read()
    if not raw:
        raise InvalidInput("The request needs a JSON body.")
    try:
        body = orjson.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise InvalidInput("The body is not UTF-8 JSON.") from None
    except ValueError as exc:
        raise InvalidInput(f"The body is not valid JSON: {exc}.") from None
    if not isinstance(body, dict):
        raise InvalidInput("The body must be a JSON object.")
    return body


def text_field(body: dict, name: str, default: str | None = None, required: bool = False) -> str | None:
    value = body.get(name, default)
    if value is None:
        if required:
            raise InvalidInput(f"'{name}' is required.", field=name)
        return None
    if not isinstance(value, str):
        raise InvalidInput(f"'{name}' must be a string.", field=name)
    return valid_text(value, name)


def int_query(request: web.Request, name: str, default: int, low: int, high: int) -> int:
    raw = request.query.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise InvalidInput(f"'{name}' must be a whole number, got {raw!r}.", field=name) from None
    if not low <= value <= high:
        raise InvalidInput(f"'{name}' must be between {low} and {high}.", field=name)
    return value


def time_query(request: web.Request, name: str) -> datetime | None:
    raw = request.query.get(name)
    if not raw:
        return None
    try:
        value = datetime.fromisoformat(raw.replace(" ", "+"))
    except ValueError:
        raise InvalidInput(f"'{name}' must be an ISO-8601 time, got {raw!r}.", field=name) from None
    if value.tzinfo is None:
        raise InvalidInput(f"'{name}' needs a time zone, like 2026-01-31T00:00:00+00:00.", field=name)
    return value

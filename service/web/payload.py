"""Reading request input: JSON bodies and query parameters, with errors that say what to fix."""

from __future__ import annotations

from datetime import datetime, timezone

import orjson
from aiohttp import web
from multidict import MultiDictProxy

from ..domain.errors import InvalidInput
from ..domain.suppressions.rules import valid_text

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
    return in_utc(value, name)


def in_utc(value: datetime, name: str) -> datetime:
    """The time in UTC; at the calendar's edges (year 1 ahead of UTC, 9999 behind it) there is none."""
    try:
        return value.astimezone(timezone.utc)
    except (OverflowError, ValueError):
        raise InvalidInput(f"'{name}' is outside the years 1 to 9999 once taken to UTC.", field=name) from None


async def form_fields(request: web.Request) -> dict[str, str]:
    """The text fields of a urlencoded or multipart form; files and unreadable forms are refused.

    aiohttp raises ValueError for a part without a name, LookupError for an unknown charset,
    AssertionError for a broken boundary and RequestPayloadError for a body that is not the
    compression it claims: all of them are the sender's mistake.
    """
    try:
        posted: MultiDictProxy = await request.post()
    except (ValueError, LookupError, AssertionError, web.RequestPayloadError):
        raise InvalidInput("The form cannot be read: send it urlencoded, or multipart with named fields.") from None
    fields: dict[str, str] = {}
    for name, value in posted.items():
        if isinstance(value, str):
            fields.setdefault(name, value)  # the first of a repeated field, as dict(form) gives
    return fields

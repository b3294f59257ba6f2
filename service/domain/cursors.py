"""Cursors: where the next page of the event feed, the suppression list or the inbound listing
starts, as opaque URL-safe base64; a cursor decodes only when it is exactly one this service gave out."""

from __future__ import annotations

import json
import re
import uuid
from datetime import datetime, timezone
from typing import Callable, TypeVar

from .errors import InvalidInput
from .tokens import urlsafe_b64_bytes, urlsafe_b64_text

Position = TypeVar("Position", bound=tuple)

_NOT_OURS = "The cursor is not one this service gave out."


def _decoded(cursor: str, max_length: int, parse: Callable[[bytes], Position],
             encode: Callable[..., str], refused: InvalidInput) -> Position:
    """What `parse` reads from the cursor's bytes, when the cursor is ASCII, at most `max_length`
    characters, and `encode` of what was read gives the cursor back exactly; else `refused`.
    Only that last check makes a cursor one the service gave out: many texts decode to the same
    position (other spellings of a time or a number), and each would be a page boundary of its own."""
    if not isinstance(cursor, str) or not cursor.isascii() or len(cursor) > max_length:
        raise refused
    try:
        position = parse(urlsafe_b64_bytes(cursor))
        same = encode(*position) == cursor
    except (ValueError, TypeError, OverflowError, RecursionError):  # RecursionError: JSON nested deep
        raise refused from None
    if not same:
        raise refused
    return position


# --- The event feed: `tx:id` of the last event read (the writing transaction, the event id) ---

_FEED_POSITION = re.compile(r"(0|[1-9][0-9]{0,19}):(0|[1-9][0-9]{0,18})")
_MAX_TX = 2**64 - 1
_MAX_EVENT_ID = 2**63 - 1
_FEED_MAX_LENGTH = 64


def encode_feed_cursor(tx: int, event_id: int) -> str:
    return urlsafe_b64_text(f"{tx}:{event_id}".encode())


def feed_cursor_before(tx: int, event_id: int) -> str:
    """The cursor whose next page starts with this event (of transaction `tx`)."""
    return encode_feed_cursor(tx, event_id - 1)


def decode_feed_cursor(cursor: str) -> tuple[int, int]:
    """The position of a cursor this service gave out; anything else is refused."""
    refused = InvalidInput("The cursor is not one this service gave out; start without 'after'.", field="after")
    return _decoded(cursor, _FEED_MAX_LENGTH, _feed_position, encode_feed_cursor, refused)


def _feed_position(raw: bytes) -> tuple[int, int]:
    match = _FEED_POSITION.fullmatch(raw.decode("ascii"))
    if match is None:
        raise ValueError("not a feed position")
    tx, event_id = int(match[1]), int(match[2])
    if tx > _MAX_TX or event_id > _MAX_EVENT_ID:
        raise ValueError("out of range")
    return tx, event_id


# --- The suppression list: JSON [created_at, address, scope] of the last row of a page ---------
# An address is at most 254 characters, but JSON writes a character outside ASCII as up to
# twelve (a surrogate pair): the bound leaves room for that and still refuses what no page made.

_LIST_MAX_LENGTH = 8192


def encode_list_cursor(created_at: datetime, address: str, scope: str) -> str:
    return urlsafe_b64_text(json.dumps([created_at.isoformat(), address, scope]).encode())


def decode_list_cursor(cursor: str) -> tuple[datetime, str, str]:
    return _decoded(cursor, _LIST_MAX_LENGTH, _list_position, encode_list_cursor,
                    InvalidInput(_NOT_OURS, field="cursor"))


def _list_position(raw: bytes) -> tuple[datetime, str, str]:
    at, address, scope = json.loads(raw)
    return datetime.fromisoformat(at), str(address), str(scope)


# --- The inbound listing: `received_at|id` of the last message of a page (newest first) -------

_INBOUND_MAX_LENGTH = 256


def encode_inbound_cursor(at: datetime, message_id: uuid.UUID) -> str:
    return urlsafe_b64_text(f"{at.isoformat()}|{message_id}".encode())


def decode_inbound_cursor(cursor: str) -> tuple[datetime, uuid.UUID]:
    """The time (in UTC) and id of the message a page ended with."""
    refused = InvalidInput(_NOT_OURS, field="cursor")
    when, message_id = _decoded(cursor, _INBOUND_MAX_LENGTH, _inbound_position, encode_inbound_cursor, refused)
    try:
        return when.astimezone(timezone.utc), message_id
    except OverflowError:  # a time at an edge of the calendar whose UTC falls outside it
        raise refused from None


def _inbound_position(raw: bytes) -> tuple[datetime, uuid.UUID]:
    at, _, message_id = raw.decode("ascii").partition("|")
    when = datetime.fromisoformat(at)
    if when.tzinfo is None:
        raise ValueError("a time without its offset")
    return when, uuid.UUID(message_id)

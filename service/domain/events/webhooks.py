"""Webhook subscriptions: which URL hears of which events, and how each delivery is signed.
Signatures follow Standard Webhooks (standardwebhooks.com), so its libraries can verify them."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Sequence
from urllib.parse import urlsplit

from ...storage import webhook_queries
from ..errors import InvalidInput, NotFound
from .model import EventType
from .receivers import host_refusal, is_loopback

if TYPE_CHECKING:
    import asyncpg

SECRET_PREFIX = "whsec_"
SECRET_BYTES = 24
MAX_URL_LENGTH = 2048


@dataclass(frozen=True)
class Subscription:
    id: uuid.UUID
    url: str
    events: tuple[EventType, ...]
    created_at: datetime
    created_by: str


@dataclass(frozen=True)
class NewSubscription:
    """A subscription as it was just made: the only time its secret is shown."""

    subscription: Subscription
    secret: str


def new_secret() -> str:
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode("ascii")


def sign(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    """The `webhook-signature` header of one delivery (Standard Webhooks, version v1)."""
    key = base64.b64decode(secret.removeprefix(SECRET_PREFIX))
    signed = f"{msg_id}.{timestamp}.".encode() + body
    return "v1," + base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode("ascii")


def valid_url(url: object, allow_private: bool = False) -> str:
    """An https URL, or http to this machine only (a sidecar, a test): deliveries carry the
    addresses of people, which must not cross a network in clear. Its host is a DNS name or
    an IP address in its usual form, of a range that may receive webhooks (see receivers)."""
    if not isinstance(url, str) or not url:
        raise InvalidInput("'url' must be the https:// URL that receives the deliveries.", field="url")
    if len(url) > MAX_URL_LENGTH:
        raise InvalidInput(f"'url' is longer than {MAX_URL_LENGTH} characters.", field="url")
    if not url.isascii() or not url.isprintable() or " " in url or "\\" in url:
        raise InvalidInput("'url' must be printable ASCII without spaces or backslashes (a domain name in its "
                           "xn-- form).", field="url")
    if not url.startswith(("https://", "http://")):
        raise InvalidInput("'url' must start with https:// (or http:// for this machine itself).", field="url")
    try:
        parts = urlsplit(url)
        parts.port
    except ValueError:  # a broken [IPv6] host, a port that is not a number
        raise InvalidInput("'url' is not a URL: look at its host and port.", field="url") from None
    if not parts.hostname:
        raise InvalidInput("'url' names no host.", field="url")
    if parts.username is not None or parts.password is not None:
        raise InvalidInput("Put no user name or password in 'url': every delivery is signed instead.", field="url")
    if parts.fragment:
        raise InvalidInput("'url' must not have a #fragment: it is never sent.", field="url")
    refused = host_refusal(parts.hostname, allow_private)
    if refused is not None:
        raise InvalidInput(refused, field="url")
    if parts.scheme == "http" and not is_loopback(parts.hostname):
        raise InvalidInput("An http:// URL must be on this machine (127.0.0.1, ::1, localhost); "
                           "use https:// for any other host.", field="url")
    return url


def valid_events(events: object) -> tuple[EventType, ...]:
    """The event types, each once, in the order given; at least one."""
    known = ", ".join(t.value for t in EventType)
    if not isinstance(events, list) or not events:
        raise InvalidInput(f"'events' must be a non-empty list of event types: {known}.", field="events")
    chosen: dict[EventType, None] = {}
    for name in events:
        if not isinstance(name, str) or name not in EventType._value2member_map_:
            shown = name if isinstance(name, str) else repr(name)
            raise InvalidInput(f"Unknown event type {shown[:100]!r}; known: {known}.", field="events")
        chosen[EventType(name)] = None
    return tuple(chosen)


def subscription_id(text: str) -> uuid.UUID:
    """A subscription's id as given in a path or on the command line; what is not one names none."""
    try:
        return uuid.UUID(text)
    except ValueError:
        raise NotFound("No webhook with this id; see GET /v1/webhooks.") from None


async def subscribe(conn: asyncpg.Connection, url: object, events: object, created_by: str,
                    allow_private: bool = False) -> NewSubscription:
    url, types = valid_url(url, allow_private), valid_events(events)
    secret = new_secret()
    row = await webhook_queries.insert_webhook(conn, url, [str(t) for t in types], secret, created_by)
    return NewSubscription(_subscription(row), secret)


async def subscriptions(conn: asyncpg.Connection) -> list[Subscription]:
    return [_subscription(row) for row in await webhook_queries.list_webhooks(conn)]


async def remove(conn: asyncpg.Connection, text_id: str) -> uuid.UUID:
    """Delete a subscription; its deliveries not yet made go with it."""
    found = subscription_id(text_id)
    if not await webhook_queries.delete_webhook(conn, found):
        raise NotFound("No webhook with this id; see GET /v1/webhooks.")
    return found


def _subscription(row) -> Subscription:
    return Subscription(id=row["id"], url=row["url"], events=_known(row["events"]),
                        created_at=row["created_at"], created_by=row["created_by"])


def _known(names: Sequence[str]) -> tuple[EventType, ...]:
    return tuple(EventType(n) for n in names if n in EventType._value2member_map_)

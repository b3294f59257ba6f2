"""Self-service tokens (/me/{token}): a recipient id, the minute the link was issued, and a MAC.

The token names no address (a scanner's log learns nothing): a key tag, the recipient id of
known_addresses (8 bytes), the issuing minute (4 bytes) and a MAC of 96 bits, in URL-safe base64
without padding (34 characters), in that one spelling only (token_text). The link lives for
OPTOUT_SELF_SERVICE_MINUTES: with no row behind it, its age travels inside it. An erasure deletes
the recipient id, so an old link then names no one. The page's CSRF field is a MAC of the token.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import datetime, timedelta, timezone

from ..errors import BadToken, Expired
from ..token_text import urlsafe_b64_bytes

_CONTEXT = b"optout.self-service.v1"
_CSRF_CONTEXT = b"optout.self-service.csrf.v1"
_ID_BYTES, _MINUTE_BYTES, _MAC_BYTES = 8, 4, 12
_LENGTH = 1 + _ID_BYTES + _MINUTE_BYTES + _MAC_BYTES
_DAMAGED = "This link is not valid: it is damaged or was not made by CETIT."


def _minute(now: datetime) -> int:
    return int(now.timestamp()) // 60


class SelfServiceTokens:
    def __init__(self, secret_keys: tuple[str, ...] | list[str], max_age: timedelta):
        if not secret_keys:
            raise ValueError("at least one signing key is needed")
        self.max_age = max_age
        self._keys = []
        for secret in secret_keys:
            key = hmac.digest(secret.encode(), _CONTEXT, "sha256")
            self._keys.append((hashlib.sha256(b"tag" + key).digest()[0], key))
        self._csrf_key = hmac.digest(secret_keys[0].encode(), _CSRF_CONTEXT, "sha256")

    def issue(self, recipient_id: int, now: datetime | None = None) -> str:
        tag, key = self._keys[0]
        minute = _minute(now or datetime.now(timezone.utc))
        body = bytes([tag]) + recipient_id.to_bytes(_ID_BYTES, "big") + minute.to_bytes(_MINUTE_BYTES, "big")
        return base64.urlsafe_b64encode(body + hmac.digest(key, body, "sha256")[:_MAC_BYTES]).decode().rstrip("=")

    def verify(self, token: object, now: datetime | None = None) -> int:
        """The recipient id the token names; BadToken when damaged or not CETIT's, Expired when older
        than max_age (or issued in the future)."""
        if not isinstance(token, str) or len(token) > 64:
            raise BadToken(_DAMAGED)
        try:
            raw = urlsafe_b64_bytes(token)
        except ValueError:
            raise BadToken(_DAMAGED) from None
        if len(raw) != _LENGTH:
            raise BadToken(_DAMAGED)
        body, mac = raw[:-_MAC_BYTES], raw[-_MAC_BYTES:]
        if not any(tag == body[0] and hmac.compare_digest(hmac.digest(key, body, "sha256")[:_MAC_BYTES], mac)
                   for tag, key in self._keys):
            raise BadToken(_DAMAGED)
        issued = int.from_bytes(body[1 + _ID_BYTES:], "big")
        age = _minute(now or datetime.now(timezone.utc)) - issued
        if age < -1 or age * 60 > self.max_age.total_seconds():  # a minute ahead: another host's clock
            raise Expired("This link has expired: ask for a new one.")
        return int.from_bytes(body[1:1 + _ID_BYTES], "big")

    def csrf(self, token: str) -> str:
        """The CSRF field of the page this token opens: only a reader of the page knows it."""
        return base64.urlsafe_b64encode(hmac.digest(self._csrf_key, token.encode(), "sha256")[:18]).decode()

    def csrf_matches(self, token: str, sent: object) -> bool:
        return isinstance(sent, str) and hmac.compare_digest(self.csrf(token), sent)

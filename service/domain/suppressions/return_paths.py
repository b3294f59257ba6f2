"""Return paths (VERP): `bounces+TOKEN@cetit.be`, the envelope sender of one recipient's copy.

A bounce comes back to the envelope sender, so the token says exactly whose copy failed,
whatever the bounce says or quotes. TOKEN is lower-case base32 (mail systems may change
the case) of 16 bytes: one byte naming the key, five bytes of recipient id (the address's
number among the addresses CETIT knows, which erasure deletes), and a MAC of 80 bits over
both. It is the same for the same address while the key is the same, it names no address,
and no one without the service's keys can make one. It has one form (case aside): a token
whose last character carries other unused bits does not verify. Keys rotate as OPTOUT_SECRET_KEYS do:
the newest signs, every one verifies.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import dataclass

from ..addresses import canonical_or_none
from ..tokens import base32_bytes

TOKEN_LENGTH = 26  # base32 of 16 bytes, without padding
_ID_BYTES = 5
_MAC_BYTES = 10  # 80 bits
_CONTEXT = b"optout.return-path.v1"
ERASED_ID = 0  # what a return path of an erased address names: no one


@dataclass(frozen=True)
class _Key:
    tag: int
    secret: bytes


class ReturnPaths:
    def __init__(self, secret_keys: tuple[str, ...], bounce_address: str):
        if not secret_keys:
            raise ValueError("at least one secret key is needed")
        self.keys = tuple(_derive(k) for k in secret_keys)
        local, _, self.domain = _domain_as_sent(bounce_address).rpartition("@")
        self.prefix = local.lower() + "+"

    def token(self, recipient_id: int) -> str:
        key = self.keys[0]
        body = bytes([key.tag]) + recipient_id.to_bytes(_ID_BYTES, "big")
        mac = hmac.digest(key.secret, body, "sha256")[:_MAC_BYTES]
        return base64.b32encode(body + mac).decode("ascii").rstrip("=").lower()

    def address(self, recipient_id: int) -> str:
        """The return path: the bounce address's local part, `+`, the token."""
        return f"{self.prefix}{self.token(recipient_id)}@{self.domain}"

    def recipient_of(self, token: str) -> int | None:
        """The recipient id the token names, if one of the keys made it; None otherwise."""
        if len(token) != TOKEN_LENGTH or not token.isascii() or not token.isalnum():
            return None
        try:
            raw = base32_bytes(token)  # the last character's two unused bits are part of its one form
        except ValueError:
            return None
        body, mac = raw[:1 + _ID_BYTES], raw[1 + _ID_BYTES:]
        for key in self.keys:
            if key.tag == body[0] and hmac.compare_digest(hmac.digest(key.secret, body, "sha256")[:_MAC_BYTES], mac):
                return int.from_bytes(body[1:], "big")
        return None

    def token_in(self, recipients: tuple[str, ...] | list[str]) -> str | None:
        """The token of the first envelope recipient that is a `+` form of the bounce address."""
        for recipient in recipients:
            local, _, domain = _domain_as_sent(recipient.strip().strip("<>")).rpartition("@")
            if domain == self.domain and local.lower().startswith(self.prefix):
                return local[len(self.prefix):].lower()
        return None


def _domain_as_sent(address: str) -> str:
    """The address with its domain in the ASCII form (IDNA) and lower case that MTAs write in an
    envelope, whichever form it was written in; as it is when it is no address."""
    local, _, domain = address.rpartition("@")
    canonical = canonical_or_none("postmaster@" + domain) if domain else None
    return f"{local}@{canonical.rpartition('@')[2] if canonical else domain.lower()}"


def _derive(secret_key: str) -> _Key:
    secret = hmac.digest(secret_key.encode(), _CONTEXT, "sha256")
    return _Key(hashlib.sha256(b"tag" + secret).digest()[0], secret)

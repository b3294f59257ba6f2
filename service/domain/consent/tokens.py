"""Confirmation tokens for double opt-in (/c/{token}): a consent id and its MAC, nothing else.

The token names no address (a scanner's log learns nothing) and cannot be made for another
consent without the service's keys: a key tag, the consent id (8 bytes) and a MAC of 96 bits,
in URL-safe base64 without padding (28 characters). Every key of OPTOUT_SECRET_KEYS verifies;
the first signs. A token verifies only in that one spelling: base64 decoders also take the `+/`
letters, padding, stray characters and set unused bits, and each such spelling would be a second
link to the same consent that no comparison of links as text would recognise.
Whether the consent may still be confirmed, and until when, is the ledger's to say.
"""

from __future__ import annotations

import base64
import hashlib
import hmac

from ..errors import BadToken
from ..token_text import urlsafe_b64_bytes

_CONTEXT = b"optout.consent-confirmation.v1"
_ID_BYTES, _MAC_BYTES = 8, 12
_LENGTH = 1 + _ID_BYTES + _MAC_BYTES


class ConfirmationTokens:
    def __init__(self, secret_keys: tuple[str, ...] | list[str]):
        if not secret_keys:
            raise ValueError("at least one signing key is needed")
        self._keys = []
        for secret in secret_keys:
            key = hmac.digest(secret.encode(), _CONTEXT, "sha256")
            self._keys.append((hashlib.sha256(b"tag" + key).digest()[0], key))

    def issue(self, consent_id: int) -> str:
        tag, key = self._keys[0]
        body = bytes([tag]) + consent_id.to_bytes(_ID_BYTES, "big")
        return base64.urlsafe_b64encode(body + hmac.digest(key, body, "sha256")[:_MAC_BYTES]).decode().rstrip("=")

    def verify(self, token: object) -> int:
        """The consent id the token names; BadToken when it is damaged or not CETIT's."""
        if not isinstance(token, str) or len(token) > 64:
            raise BadToken("This confirmation link is not valid.")
        try:
            raw = urlsafe_b64_bytes(token)
        except ValueError:
            raise BadToken("This confirmation link is not valid: it is damaged or was not made by CETIT.") from None
        if len(raw) != _LENGTH:
            raise BadToken("This confirmation link is not valid: it is damaged or was not made by CETIT.")
        body, mac = raw[:-_MAC_BYTES], raw[-_MAC_BYTES:]
        if not any(tag == body[0] and hmac.compare_digest(hmac.digest(key, body, "sha256")[:_MAC_BYTES], mac)
                   for tag, key in self._keys):
            raise BadToken("This confirmation link is not valid: it is damaged or was not made by CETIT.")
        return int.from_bytes(body[1:], "big")

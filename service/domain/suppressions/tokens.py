"""Unsubscribe tokens: opaque, short, signed; key rotation; old links keep working.

A link issued now names no address: its token packs a recipient id (the address's number
among the addresses CETIT knows, which erasure deletes), the scope, the campaign and the day
it was issued, with a MAC of 80 bits, in URL-safe base64 (about 40 characters). The service
finds the address by the id; a link whose id names no one any more resolves to the erased
state. Links issued before carry itsdangerous's signed JSON with the address in it: they are
still verified as they were, so that no link in a mailbox stops working.

Every token has one canonical form: one that differs from it in any character (the unused
bits of its last character included) does not verify.

OPTOUT_SECRET_KEYS lists keys newest first: the first signs, all verify. An expired token is
still a valid token: the link keeps unsubscribing forever, and only resubscribing is limited
by age (a max age of zero: links never resubscribe).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone

from itsdangerous import BadData, SignatureExpired, URLSafeTimedSerializer

from ..addresses import canonical_address
from ..errors import BadToken, InvalidAddress
from ..token_text import urlsafe_b64_bytes
from .rules import GLOBAL, valid_scope

UNSUBSCRIBE_SALT = "optout.unsubscribe.v1"
MAX_TOKEN_LENGTH = 1024
_LINK_CONTEXT = b"optout.link.v2"
_EPOCH = date(2020, 1, 1)  # issue days count from here (two bytes: until 2199)
_ID_BYTES, _MAC_BYTES = 5, 10


@dataclass(frozen=True, slots=True)
class LinkClaim:
    """What a valid token says: who, which kind of mail, which campaign, signed when."""

    address: str | None  # None: an opaque token, until resolved by its recipient id (None again: erased)
    scope: str
    campaign: str | None
    issued_at: datetime
    expired: bool  # older than the link max age: still unsubscribes, no longer resubscribes
    recipient_id: int | None = None  # what an opaque token names

    @property
    def link_id(self) -> str:
        """Names this one link (who, which mail, which campaign, signed when), so that what it did
        can be told apart from what another link of the same address did. Derived from the signed
        content, not the token's text, and it reveals nothing the token does not."""
        if self.recipient_id is not None:
            who, issued = f"#{self.recipient_id}", self.issued_at.date().isoformat()
        else:
            who, issued = self.address, int(self.issued_at.timestamp())
        material = json.dumps([who, self.scope, self.campaign, issued], ensure_ascii=True)
        return hashlib.sha256(material.encode("ascii")).hexdigest()[:32]


class TokenSigner:
    def __init__(
        self, secret_keys: tuple[str, ...] | list[str], max_age: timedelta, salt: str = UNSUBSCRIBE_SALT
    ):
        if not secret_keys:
            raise ValueError("at least one signing key is needed")
        self.max_age = max_age
        self._serializer = URLSafeTimedSerializer(
            list(reversed(secret_keys)), salt=salt, signer_kwargs={"digest_method": hashlib.sha256}
        )
        self._keys = tuple(_link_key(k) for k in secret_keys)

    def issue(self, recipient_id: int, scope: str = GLOBAL, campaign: str | None = None,
              today: date | None = None) -> str:
        """An opaque token: recipient id, scope (valid), campaign and today, with their MAC."""
        day = ((today or datetime.now(timezone.utc).date()) - _EPOCH).days
        scope_bytes, campaign_bytes = scope.encode("ascii"), (campaign or "").encode("utf-8")[:255]
        tag, key = self._keys[0]
        body = (bytes([tag]) + recipient_id.to_bytes(_ID_BYTES, "big") + day.to_bytes(2, "big")
                + bytes([len(scope_bytes)]) + scope_bytes + bytes([len(campaign_bytes)]) + campaign_bytes)
        mac = hmac.digest(key, body, "sha256")[:_MAC_BYTES]
        return base64.urlsafe_b64encode(body + mac).decode("ascii").rstrip("=")

    def sign(self, address: str, scope: str = GLOBAL, campaign: str | None = None) -> str:
        """A token in the format of links issued before opaque tokens (the address inside, signed):
        what older mail carries, kept for the tests of those links."""
        payload = [address, scope] if campaign is None else [address, scope, campaign]
        return self._serializer.dumps(payload)

    def verify(self, token: str) -> LinkClaim:
        """The claim of a token signed by any current key, however old; else BadToken."""
        if not isinstance(token, str) or not token or len(token) > MAX_TOKEN_LENGTH:
            raise BadToken("This link is not valid.")
        if "." not in token:
            return self._verify_opaque(token)
        if not _canonical_dotted(token):
            raise BadToken("This link is not valid: it is damaged or was not made by CETIT.")
        expired = self.max_age <= timedelta(0)  # OPTOUT_LINK_MAX_AGE_DAYS=0: never resubscribes
        try:
            payload, signed_at = self._serializer.loads(
                token, max_age=self.max_age.total_seconds(), return_timestamp=True
            )
        except SignatureExpired as exc:
            # The signature was checked before the age: the payload is authentic, only old.
            expired = True
            try:
                payload = self._serializer.load_payload(exc.payload)
            except BadData:
                raise BadToken("This link is not valid.") from None
            signed_at = exc.date_signed
        except (BadData, UnicodeError, ValueError, TypeError):
            raise BadToken("This link is not valid: it is damaged or was not made by CETIT.") from None
        return self._claim(payload, signed_at, expired)

    def _verify_opaque(self, token: str) -> LinkClaim:
        try:
            raw = urlsafe_b64_bytes(token)
        except ValueError:
            raise BadToken("This link is not valid: it is damaged or was not made by CETIT.") from None
        body, mac = raw[:-_MAC_BYTES], raw[-_MAC_BYTES:]
        if len(body) < 1 + _ID_BYTES + 2 + 2 or not any(
                tag == body[0] and hmac.compare_digest(hmac.digest(key, body, "sha256")[:_MAC_BYTES], mac)
                for tag, key in self._keys):
            raise BadToken("This link is not valid: it is damaged or was not made by CETIT.")
        recipient_id = int.from_bytes(body[1:1 + _ID_BYTES], "big")
        at = 1 + _ID_BYTES
        issued = _EPOCH + timedelta(days=int.from_bytes(body[at:at + 2], "big"))
        try:
            scope_length = body[at + 2]
            scope = valid_scope(body[at + 3:at + 3 + scope_length].decode("ascii"))
            rest = body[at + 3 + scope_length:]
            campaign = rest[1:1 + rest[0]].decode("utf-8") or None
        except (IndexError, UnicodeDecodeError, ValueError):
            raise BadToken("This link is not valid.") from None
        issued_at = datetime(issued.year, issued.month, issued.day, tzinfo=timezone.utc)
        expired = self.max_age <= timedelta(0) or datetime.now(timezone.utc) - issued_at > self.max_age
        return LinkClaim(None, scope, campaign, issued_at, expired, recipient_id)

    @staticmethod
    def _claim(payload: object, signed_at: datetime, expired: bool) -> LinkClaim:
        if not isinstance(payload, list) or len(payload) not in (2, 3):
            raise BadToken("This link is not valid.")
        try:
            address = canonical_address(payload[0])
            scope = valid_scope(payload[1])
        except (InvalidAddress, ValueError):
            raise BadToken("This link is not valid.") from None
        campaign = payload[2] if len(payload) == 3 else None
        if campaign is not None and not isinstance(campaign, str):
            raise BadToken("This link is not valid.")
        return LinkClaim(address, scope, campaign, signed_at or datetime.now(timezone.utc), expired)


def _canonical_dotted(token: str) -> bool:
    """Whether each part of an itsdangerous token (payload, timestamp, signature; a compressed
    payload starts with ".") is the one encoding of what it decodes to: its signature is checked
    on the decoded bytes, so a last character with other unused bits would verify too."""
    parts = token.split(".")
    if parts[0] == "":  # compressed
        parts = parts[1:]
    if len(parts) != 3:
        return False
    try:
        return all(part and urlsafe_b64_bytes(part) is not None for part in parts)
    except ValueError:
        return False


def _link_key(secret_key: str) -> tuple[int, bytes]:
    """A key of its own for opaque link tokens, and the one byte that says which it is."""
    key = hmac.digest(secret_key.encode(), _LINK_CONTEXT, "sha256")
    return hashlib.sha256(b"tag" + key).digest()[0], key

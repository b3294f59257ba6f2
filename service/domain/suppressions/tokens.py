"""Signed unsubscribe tokens: itsdangerous, one salt per purpose, key rotation.

The payload is short (canonical address, scope, optional campaign; itsdangerous adds
the issue time). OPTOUT_SECRET_KEYS lists keys newest first: the first signs, all
verify (itsdangerous wants them oldest first, so the list is reversed). An expired
signature is still a valid signature: the link keeps unsubscribing forever, and only
resubscribing is limited by age (a max age of zero: links never resubscribe).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from itsdangerous import BadData, SignatureExpired, URLSafeTimedSerializer

from ..addresses import canonical_address
from ..errors import BadToken, InvalidAddress
from .rules import GLOBAL, valid_scope

UNSUBSCRIBE_SALT = "optout.unsubscribe.v1"
MAX_TOKEN_LENGTH = 1024


@dataclass(frozen=True, slots=True)
class LinkClaim:
    """What a valid token says: who, which kind of mail, which campaign, signed when."""

    address: str
    scope: str
    campaign: str | None
    issued_at: datetime
    expired: bool  # older than the link max age: still unsubscribes, no longer resubscribes

    @property
    def link_id(self) -> str:
        """Names this one link (who, which mail, which campaign, signed when), so that what it did
        can be told apart from what another link of the same address did. Derived from the signed
        content, not the token's text, and it reveals nothing the token does not."""
        issued = int(self.issued_at.timestamp())
        material = json.dumps([self.address, self.scope, self.campaign, issued], ensure_ascii=True)
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

    def sign(self, address: str, scope: str = GLOBAL, campaign: str | None = None) -> str:
        """Token for an address that is already canonical and a valid scope."""
        payload = [address, scope] if campaign is None else [address, scope, campaign]
        return self._serializer.dumps(payload)

    def verify(self, token: str) -> LinkClaim:
        """The claim of a token signed by any current key, however old; else BadToken."""
        if not isinstance(token, str) or not token or len(token) > MAX_TOKEN_LENGTH:
            raise BadToken("This link is not valid.")
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

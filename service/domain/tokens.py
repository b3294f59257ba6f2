"""Signed tokens: unsubscribe links (TokenSigner), double opt-in confirmations and self-service
links, each signed by the first key of OPTOUT_SECRET_KEYS and verified by any of them, and each
taken in one spelling only (urlsafe_b64_bytes, base32_bytes)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
from typing import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone

from itsdangerous import BadData, SignatureExpired, URLSafeTimedSerializer

from .addresses import canonical_address
from .errors import BadToken, Expired, InvalidAddress
from .suppressions.rules import GLOBAL, valid_scope

# --- The one spelling of a token's bytes ---------------------------------------------------
# Decoders are lenient: base64 takes the `+/` letters, padding and characters outside its
# alphabet, and base32 and base64 both ignore the unused bits of a last character, so one token
# would have many spellings that all verify, each a second link that no comparison of links as
# text would recognise. Every token kind (links, return paths, confirmations, self-service links)
# decodes through here and takes only the exact encoding.

_URL_SAFE = re.compile(r"[A-Za-z0-9_-]*")
_BASE32 = re.compile(r"[A-Za-z2-7]*")


def urlsafe_b64_text(raw: bytes) -> str:
    """Bytes as unpadded URL-safe base64: the one spelling urlsafe_b64_bytes takes back."""
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def urlsafe_b64_bytes(text: str) -> bytes:
    """The bytes of unpadded URL-safe base64 text; ValueError unless the text is exactly their encoding."""
    if _URL_SAFE.fullmatch(text) is None:
        raise ValueError("not unpadded URL-safe base64")
    raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    if base64.urlsafe_b64encode(raw).rstrip(b"=") != text.encode("ascii"):
        raise ValueError("not the canonical encoding of its bytes")
    return raw


def base32_bytes(text: str) -> bytes:
    """The bytes of unpadded base32 text in either case (mail systems may change the case of an
    address); ValueError unless the text is, case aside, exactly their encoding."""
    if _BASE32.fullmatch(text) is None:
        raise ValueError("not unpadded base32")
    upper = text.upper()
    raw = base64.b32decode(upper + "=" * (-len(upper) % 8))
    if base64.b32encode(raw).rstrip(b"=") != upper.encode("ascii"):
        raise ValueError("not the canonical encoding of its bytes")
    return raw


def base32_lower_text(raw: bytes) -> str:
    """Bytes as unpadded lower-case base32: the one spelling base32_bytes takes back (case aside)."""
    return base64.b32encode(raw).decode("ascii").rstrip("=").lower()


# --- The key ring ---------------------------------------------------------------------------
# OPTOUT_SECRET_KEYS lists keys newest first: the first signs, all verify, so that a key can be
# rotated without breaking the links already sent. Each token kind derives a key of its own from
# every secret (HMAC of its context), and one byte of that key's hash as its tag: a token starts
# with the tag of the key that signed it, and ends with a MAC over everything before it, cut to
# the length its kind chose.


_DAMAGED = "This link is not valid: it is damaged or was not made by CETIT."


class _KeyRing:
    """The keys of one token kind, derived from OPTOUT_SECRET_KEYS: the first signs, every one verifies."""

    def __init__(self, secret_keys: tuple[str, ...] | list[str], context: bytes, mac_bytes: int,
                 spelling: tuple[Callable[[bytes], str], Callable[[str], bytes]] = (urlsafe_b64_text, urlsafe_b64_bytes)):
        if not secret_keys:
            raise ValueError("at least one signing key is needed")
        self._keys = tuple(_derived_key(secret, context) for secret in secret_keys)
        self._mac_bytes = mac_bytes
        self._spell, self._read = spelling

    def sign(self, fields: bytes) -> str:
        """The token of these fields: the signing key's tag, the fields and their MAC, in the one spelling."""
        tag, key = self._keys[0]
        body = bytes([tag]) + fields
        return self._spell(body + self._mac(key, body))

    def verified(self, token: str, min_body: int, max_body: int | None = None) -> bytes | None:
        """The signed body of the token (the tag, then the fields) when it is spelt in the one way, its
        body is min_body bytes long or more (max_body at most) and one of the keys made it; else None."""
        try:
            raw = self._read(token)
        except ValueError:
            return None
        body, mac = raw[:-self._mac_bytes], raw[-self._mac_bytes:]
        if len(body) < min_body or (max_body is not None and len(body) > max_body) or not any(
                tag == body[0] and hmac.compare_digest(self._mac(key, body), mac) for tag, key in self._keys):
            return None
        return body

    def _mac(self, key: bytes, body: bytes) -> bytes:
        return hmac.digest(key, body, "sha256")[:self._mac_bytes]


def _derived_key(secret: str, context: bytes) -> tuple[int, bytes]:
    """The key of one token kind made from a secret, and the one byte that says which it is."""
    key = hmac.digest(secret.encode(), context, "sha256")
    return hashlib.sha256(b"tag" + key).digest()[0], key


# --- Unsubscribe links ----------------------------------------------------------------------
# A link issued now names no address: its token packs a recipient id (the address's number
# among the addresses CETIT knows, which erasure deletes), the scope, the campaign and the day
# it was issued, with a MAC of 80 bits, in URL-safe base64 (about 40 characters). The service
# finds the address by the id; a link whose id names no one any more resolves to the erased
# state. Links issued before carry itsdangerous's signed JSON with the address in it: they are
# still verified as they were, so that no link in a mailbox stops working.
#
# An expired token is still a valid token: the link keeps unsubscribing forever, and only
# resubscribing is limited by age (a max age of zero: links never resubscribe).

UNSUBSCRIBE_SALT = "optout.unsubscribe.v1"
MAX_TOKEN_LENGTH = 1024
_LINK_CONTEXT = b"optout.link.v2"
_EPOCH = date(2020, 1, 1)  # issue days count from here (two bytes: until 2199)
_LINK_ID_BYTES, _LINK_MAC_BYTES = 5, 10
_LINK_MIN_BODY = 1 + _LINK_ID_BYTES + 2 + 2  # tag, id, day, and the lengths of scope and campaign


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
        self._ring = _KeyRing(secret_keys, _LINK_CONTEXT, _LINK_MAC_BYTES)
        self.max_age = max_age
        self._serializer = URLSafeTimedSerializer(
            list(reversed(secret_keys)), salt=salt, signer_kwargs={"digest_method": hashlib.sha256}
        )

    def issue(self, recipient_id: int, scope: str = GLOBAL, campaign: str | None = None,
              today: date | None = None) -> str:
        """An opaque token: recipient id, scope (valid), campaign and today, with their MAC."""
        day = ((today or datetime.now(timezone.utc).date()) - _EPOCH).days
        scope_bytes, campaign_bytes = scope.encode("ascii"), (campaign or "").encode("utf-8")[:255]
        return self._ring.sign(recipient_id.to_bytes(_LINK_ID_BYTES, "big") + day.to_bytes(2, "big")
                               + bytes([len(scope_bytes)]) + scope_bytes + bytes([len(campaign_bytes)]) + campaign_bytes)

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
            raise BadToken(_DAMAGED)
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
            raise BadToken(_DAMAGED) from None
        return self._claim(payload, signed_at, expired)

    def _verify_opaque(self, token: str) -> LinkClaim:
        body = self._ring.verified(token, _LINK_MIN_BODY)
        if body is None:
            raise BadToken(_DAMAGED)
        recipient_id = int.from_bytes(body[1:1 + _LINK_ID_BYTES], "big")
        at = 1 + _LINK_ID_BYTES
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


# --- Confirmation tokens for double opt-in (/c/{token}) ------------------------------------
# A consent id and its MAC, nothing else: the token names no address (a scanner's log learns
# nothing) and cannot be made for another consent without the service's keys. A key tag, the
# consent id (8 bytes) and a MAC of 96 bits: 28 characters. Whether the consent may still be
# confirmed, and until when, is the ledger's to say.

_CONFIRMATION_CONTEXT = b"optout.consent-confirmation.v1"
_CONSENT_ID_BYTES, _CONFIRMATION_MAC_BYTES = 8, 12


class ConfirmationTokens:
    def __init__(self, secret_keys: tuple[str, ...] | list[str]):
        self._ring = _KeyRing(secret_keys, _CONFIRMATION_CONTEXT, _CONFIRMATION_MAC_BYTES)

    def issue(self, consent_id: int) -> str:
        return self._ring.sign(consent_id.to_bytes(_CONSENT_ID_BYTES, "big"))

    def verify(self, token: object) -> int:
        """The consent id the token names; BadToken when it is damaged or not CETIT's."""
        if not isinstance(token, str) or len(token) > 64:
            raise BadToken("This confirmation link is not valid.")
        body = self._ring.verified(token, 1 + _CONSENT_ID_BYTES, 1 + _CONSENT_ID_BYTES)
        if body is None:
            raise BadToken("This confirmation link is not valid: it is damaged or was not made by CETIT.")
        return int.from_bytes(body[1:], "big")


# --- Self-service tokens (/me/{token}) -------------------------------------------------------
# A recipient id, the minute the link was issued, and a MAC: the token names no address. A key
# tag, the recipient id of known_addresses (8 bytes), the issuing minute (4 bytes) and a MAC of
# 96 bits: 34 characters. The link lives for OPTOUT_SELF_SERVICE_MINUTES: with no row behind it,
# its age travels inside it. An erasure deletes the recipient id, so an old link then names no
# one. The page's CSRF field is a MAC of the token.

_SELF_SERVICE_CONTEXT = b"optout.self-service.v1"
_CSRF_CONTEXT = b"optout.self-service.csrf.v1"
_RECIPIENT_ID_BYTES, _MINUTE_BYTES, _SELF_SERVICE_MAC_BYTES = 8, 4, 12
_SELF_SERVICE_BODY = 1 + _RECIPIENT_ID_BYTES + _MINUTE_BYTES


def _minute(now: datetime) -> int:
    return int(now.timestamp()) // 60


class SelfServiceTokens:
    def __init__(self, secret_keys: tuple[str, ...] | list[str], max_age: timedelta):
        self._ring = _KeyRing(secret_keys, _SELF_SERVICE_CONTEXT, _SELF_SERVICE_MAC_BYTES)
        self.max_age = max_age
        self._csrf_key = hmac.digest(secret_keys[0].encode(), _CSRF_CONTEXT, "sha256")

    def issue(self, recipient_id: int, now: datetime | None = None) -> str:
        minute = _minute(now or datetime.now(timezone.utc))
        return self._ring.sign(recipient_id.to_bytes(_RECIPIENT_ID_BYTES, "big") + minute.to_bytes(_MINUTE_BYTES, "big"))

    def verify(self, token: object, now: datetime | None = None) -> int:
        """The recipient id the token names; BadToken when damaged or not CETIT's, Expired when older
        than max_age (or issued in the future)."""
        if not isinstance(token, str) or len(token) > 64:
            raise BadToken(_DAMAGED)
        body = self._ring.verified(token, _SELF_SERVICE_BODY, _SELF_SERVICE_BODY)
        if body is None:
            raise BadToken(_DAMAGED)
        issued = int.from_bytes(body[1 + _RECIPIENT_ID_BYTES:], "big")
        age = _minute(now or datetime.now(timezone.utc)) - issued
        if age < -1 or age * 60 > self.max_age.total_seconds():  # a minute ahead: another host's clock
            raise Expired("This link has expired: ask for a new one.")
        return int.from_bytes(body[1:1 + _RECIPIENT_ID_BYTES], "big")

    def csrf(self, token: str) -> str:
        """The CSRF field of the page this token opens: only a reader of the page knows it."""
        return base64.urlsafe_b64encode(hmac.digest(self._csrf_key, token.encode(), "sha256")[:18]).decode()

    def csrf_matches(self, token: str, sent: object) -> bool:
        return isinstance(sent, str) and hmac.compare_digest(self.csrf(token), sent)


# --- Return paths (VERP: bounces+TOKEN@cetit.be) --------------------------------------------
# A bounce comes back to the envelope sender, so the token says exactly whose copy failed,
# whatever the bounce says or quotes. It is lower-case base32 (mail systems may change the case
# of an address) of 16 bytes: the key's tag, five bytes of recipient id and a MAC of 80 bits. It
# is the same for the same address while the key is the same, and names no address.

RETURN_PATH_TOKEN_LENGTH = 26  # base32 of 16 bytes, without padding
_RETURN_PATH_CONTEXT = b"optout.return-path.v1"
_RETURN_PATH_ID_BYTES, _RETURN_PATH_MAC_BYTES = 5, 10


class ReturnPathTokens:
    def __init__(self, secret_keys: tuple[str, ...] | list[str]):
        self._ring = _KeyRing(secret_keys, _RETURN_PATH_CONTEXT, _RETURN_PATH_MAC_BYTES,
                              spelling=(base32_lower_text, base32_bytes))

    def token(self, recipient_id: int) -> str:
        return self._ring.sign(recipient_id.to_bytes(_RETURN_PATH_ID_BYTES, "big"))

    def recipient_of(self, token: str) -> int | None:
        """The recipient id the token names, if one of the keys made it; None otherwise."""
        if len(token) != RETURN_PATH_TOKEN_LENGTH or not token.isascii() or not token.isalnum():
            return None
        size = 1 + _RETURN_PATH_ID_BYTES
        body = self._ring.verified(token, size, size)
        return None if body is None else int.from_bytes(body[1:], "big")

"""The one spelling of a token's bytes. Decoders are lenient: base64 takes the `+/` letters,
padding and characters outside its alphabet, and base32 and base64 both ignore the unused bits
of a last character, so one token would have many spellings that all verify. Every token kind
(links, return paths, confirmations) decodes through here and takes only the exact encoding."""

from __future__ import annotations

import base64
import re

_URL_SAFE = re.compile(r"[A-Za-z0-9_-]*")
_BASE32 = re.compile(r"[A-Za-z2-7]*")


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

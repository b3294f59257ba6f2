"""DKIM signatures on the gateway's copies (OPTOUT_DKIM_KEY, _SELECTOR, _DOMAIN).
Each copy is signed after its List-Unsubscribe headers are added (RFC 8058); else the relay signs."""

from __future__ import annotations

import base64
import hashlib
import re
import time

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed

# What a copy's signature covers: the headers a recipient reads, and the two RFC 8058 needs.
SIGNED_HEADERS = (b"From", b"To", b"Cc", b"Reply-To", b"Subject", b"Date", b"Message-ID", b"MIME-Version",
                  b"Content-Type", b"Content-Transfer-Encoding", b"List-Unsubscribe", b"List-Unsubscribe-Post")
# Signed once more than they occur, so that no one on the way can add another (RFC 6376 §8.15):
# a second From or a second unsubscribe target would no longer verify.
OVERSIGNED = frozenset({b"from", b"subject", b"list-unsubscribe", b"list-unsubscribe-post"})
_WSP_RUN = re.compile(rb"[ \t]+")
_LINE_END = re.compile(rb"\r?\n")
_B64_CHUNK = 72


class DkimKeyError(ValueError):
    """OPTOUT_DKIM_KEY does not hold an RSA private key this signer can use."""


def _relaxed_header(name: bytes, value: bytes) -> bytes:
    """RFC 6376 §3.4.2: the name lower-cased, the value unfolded, runs of space made one, trimmed."""
    value = _WSP_RUN.sub(b" ", value.replace(b"\r\n", b"").replace(b"\n", b"")).strip(b" ")
    return name.strip().lower() + b":" + value + b"\r\n"


def _relaxed_body(body: bytes) -> bytes:
    """RFC 6376 §3.4.4: spaces at line ends removed, runs of space made one, empty lines at the end dropped."""
    lines = [_WSP_RUN.sub(b" ", line).rstrip(b" ") for line in _LINE_END.split(body)]
    while lines and not lines[-1]:
        lines.pop()
    return b"".join(line + b"\r\n" for line in lines)


def _split(message: bytes) -> tuple[list[tuple[bytes, bytes]], bytes]:
    """The header fields as (name, raw value with its folding) and the body."""
    match = re.search(rb"\r?\n\r?\n", message)
    head, body = (message[: match.start()], message[match.end():]) if match else (message, b"")
    fields: list[tuple[bytes, bytes]] = []
    for line in _LINE_END.split(head):
        if line[:1] in (b" ", b"\t") and fields:
            name, value = fields[-1]
            fields[-1] = (name, value + b"\r\n" + line)
        elif b":" in line:
            name, _, value = line.partition(b":")
            fields.append((name, value))
    return fields, body


class DkimSigner:
    def __init__(self, key_pem: bytes, selector: str, domain: str):
        try:
            key = serialization.load_pem_private_key(key_pem, password=None)
        except (ValueError, TypeError) as exc:
            raise DkimKeyError(f"OPTOUT_DKIM_KEY could not be read as an unencrypted PEM private key: {exc}") from None
        if not isinstance(key, rsa.RSAPrivateKey) or key.key_size < 1024:
            raise DkimKeyError("OPTOUT_DKIM_KEY must be an RSA private key of at least 1024 bits (2048 advised)")
        self._key = key
        self.selector = selector.encode("ascii")
        self.domain = domain.encode("ascii")

    def sign(self, message: bytes, now: float | None = None) -> bytes:
        """The message with its DKIM-Signature header first (relaxed/relaxed, rsa-sha256)."""
        fields, body = _split(message)
        body_hash = base64.b64encode(hashlib.sha256(_relaxed_body(body)).digest())
        # Each signed header is taken from the bottom up (RFC 6376 §5.4.2), once per occurrence.
        remaining: dict[bytes, list[bytes]] = {}
        for name, value in fields:
            remaining.setdefault(name.strip().lower(), []).append(value)
        names: list[bytes] = []
        hashed = hashlib.sha256()
        for wanted in SIGNED_HEADERS:
            key = wanted.lower()
            values = remaining.get(key, [])
            for value in reversed(values):
                names.append(wanted)
                hashed.update(_relaxed_header(key, value))
            if key in OVERSIGNED:
                names.append(wanted)  # names a header that is not there: it adds nothing to the hash
        tags = [
            b"v=1", b"a=rsa-sha256", b"c=relaxed/relaxed", b"d=" + self.domain, b"s=" + self.selector,
            b"t=%d" % int(time.time() if now is None else now),
            b"h=" + b":".join(names), b"bh=" + body_hash, b"b=",
        ]
        unsigned = b";\r\n\t".join(tags)
        hashed.update(_relaxed_header(b"dkim-signature", unsigned)[:-2])  # without its CRLF (§3.7)
        signature = self._key.sign(hashed.digest(), padding.PKCS1v15(), Prehashed(hashes.SHA256()))
        b64 = base64.b64encode(signature)
        folded = b"\r\n\t ".join(b64[i:i + _B64_CHUNK] for i in range(0, len(b64), _B64_CHUNK))
        line_end = b"\r\n" if b"\r\n" in message[:1000] or b"\n" not in message[:1000] else b"\n"
        header = b"DKIM-Signature: " + unsigned + folded
        return header.replace(b"\r\n", line_end) + line_end + message

    def __repr__(self) -> str:  # never show the key
        return f"DkimSigner(d={self.domain.decode()}, s={self.selector.decode()})"


"""DKIM signatures on the gateway's copies (OPTOUT_DKIM_KEY, _SELECTOR, _DOMAIN).

RFC 8058 asks for a DKIM signature that covers both List-Unsubscribe headers, which the
gateway adds to each copy after the sender signed it: so the gateway signs each copy itself
(with dkimpy), after adding them. Without a key the relay must sign.
"""

from __future__ import annotations

import dkim

# What a copy's signature covers: the headers a recipient reads, and the two RFC 8058 needs.
SIGNED_HEADERS = (b"From", b"To", b"Cc", b"Reply-To", b"Subject", b"Date", b"Message-ID", b"MIME-Version",
                  b"Content-Type", b"Content-Transfer-Encoding", b"List-Unsubscribe", b"List-Unsubscribe-Post")


class DkimSigner:
    def __init__(self, key_pem: bytes, selector: str, domain: str):
        self.key = key_pem
        self.selector = selector.encode("ascii")
        self.domain = domain.encode("ascii")

    def sign(self, message: bytes) -> bytes:
        """The message with its DKIM-Signature header first (relaxed/relaxed, rsa-sha256)."""
        signature = dkim.sign(message, self.selector, self.domain, self.key, include_headers=list(SIGNED_HEADERS),
                              canonicalize=(b"relaxed", b"relaxed"), linesep=b"\r\n")
        return signature + message

    def __repr__(self) -> str:  # never show the key
        return f"DkimSigner(d={self.domain.decode()}, s={self.selector.decode()})"

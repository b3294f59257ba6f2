"""Return paths (VERP): `bounces+TOKEN@cetit.be`, the envelope sender of one recipient's copy, so
that a bounce says whose copy failed. The token is signed in domain/tokens.py."""

from __future__ import annotations

from ..addresses import canonical_or_none
from ..tokens import ReturnPathTokens

ERASED_ID = 0  # what a return path of an erased address names: no one


class ReturnPaths:
    def __init__(self, secret_keys: tuple[str, ...], bounce_address: str):
        self.tokens = ReturnPathTokens(secret_keys)
        local, _, self.domain = _domain_as_sent(bounce_address).rpartition("@")
        self.prefix = local.lower() + "+"

    def token(self, recipient_id: int) -> str:
        return self.tokens.token(recipient_id)

    def address(self, recipient_id: int) -> str:
        """The return path: the bounce address's local part, `+`, the token."""
        return f"{self.prefix}{self.token(recipient_id)}@{self.domain}"

    def recipient_of(self, token: str) -> int | None:
        """The recipient id the token names, if one of the keys made it; None otherwise."""
        return self.tokens.recipient_of(token)

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

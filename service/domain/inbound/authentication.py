"""Whether the trusted MX says DMARC failed for a sender (RFC 8601, RFC 7489).
Only Authentication-Results stamped by OPTOUT_TRUSTED_AUTHSERV_ID count, read to a bounded length."""

from __future__ import annotations

from email.message import Message
from typing import Iterable

import authres

from ..addresses import canonical_or_none

MAX_AUTH_RESULTS = 20  # Authentication-Results headers read, each up to MAX_AUTH_RESULT_CHARS
MAX_AUTH_RESULT_CHARS = 2048


def _domain_of(address: str) -> str:
    domain = address.rpartition("@")[2].strip().rstrip(".").lower()
    canonical = canonical_or_none("postmaster@" + domain)
    return canonical.rpartition("@")[2] if canonical else domain


def _auth_results(msg: Message) -> Iterable:
    values = [v for n, v in msg.raw_items() if n.lower() == "authentication-results"][:MAX_AUTH_RESULTS]
    for value in values:
        try:
            yield authres.AuthenticationResultsHeader.parse_value(" ".join(str(value)[:MAX_AUTH_RESULT_CHARS].split()))
        except Exception:  # authres raises its own errors, and RecursionError on nested comments
            continue


def dmarc_failure(msg: Message, sender: str | None, trusted_authserv_id: str | None) -> str:
    """Why the sender's words must not be acted on, or "" (RFC 8601, RFC 7489).

    Only results stamped by the trusted authserv-id count (anyone can write the header);
    a dmarc=fail for the sender's domain, or one that names no domain, is a failure.
    """
    if not trusted_authserv_id or not sender or "@" not in sender:
        return ""
    trusted, domain = trusted_authserv_id.lower(), _domain_of(sender)
    for results in _auth_results(msg):
        if (results.authserv_id or "").lower() != trusted:
            continue
        for result in results.results:
            if (result.method or "").lower() != "dmarc" or (result.result or "").lower() != "fail":
                continue
            header_from = next((p.value or "" for p in result.properties
                                if (p.type or "").lower() == "header" and (p.name or "").lower() == "from"), "")
            if not header_from or _domain_of(header_from) == domain:
                return (f"Authentication-Results from {trusted} says DMARC failed for {domain}: "
                        "the sender may be forged, so their words are not acted on; staff decide")
    return ""

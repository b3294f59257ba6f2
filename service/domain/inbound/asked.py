"""The step for a person who asks in their own words to be unsubscribed, and what such a request
suppresses: the sender when it is for them, and the known addresses it names."""

from __future__ import annotations

from dataclasses import replace

from ..suppressions.rules import GLOBAL
from .authentication import dmarc_failure
from .model import Basis, Classification, Suppress, Verdict
from .reading import Reading
from .replies import Request


def asked_for(sender: str, request: Request | None, self_too: bool = False) -> tuple[Suppress, ...]:
    """What a person's request asks to stop: the sender when it is for them (a request about an
    old address only is not), and every address it names, which counts only when known."""
    named = request.named if request is not None else ()
    mine = self_too or (request is not None and request.for_sender)
    return (*((Suppress(sender, GLOBAL, "unsubscribe", "reply", Basis.SELF),) if mine else ()),
            *(Suppress(a, GLOBAL, "unsubscribe", "reply", Basis.NAMED) for a in named))


def unless_dmarc_failed(verdict: Verdict, failure: str) -> Verdict:
    """The sender's words stand only when DMARC did not fail; otherwise staff decide."""
    if not failure:
        return verdict
    return replace(verdict, evidence=f"{verdict.evidence};dmarc=fail", suppress=(), withheld=verdict.suppress,
                   withheld_reason=failure, forward=True)


def request_verdict(reading: Reading) -> Verdict | None:
    """A person asking in their own words to be unsubscribed; staff read it too when it says more
    or names other addresses."""
    request = reading.request
    if request is None:
        return None
    asked = reading.verdict(Classification.UNSUBSCRIBE, f"request:{request.language}", (reading.sender, *request.named),
                            suppress=asked_for(reading.sender, request),
                            forward=request.says_more or bool(request.named))
    return unless_dmarc_failed(asked, dmarc_failure(reading.msg, reading.sender, reading.trusted_authserv_id))

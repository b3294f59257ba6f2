"""Suppression rules: scopes, reasons, sources, what a check answers and who may lift what."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from ..errors import InvalidInput, InvalidScope

from .model import CheckResult, Reason, Source

GLOBAL = "global"
NO_CONSENT = "no_consent"  # the check's own reason: a scope that requires consent, and none is given
REASONS = (Reason.UNSUBSCRIBE, Reason.COMPLAINT, Reason.BOUNCE, Reason.MANUAL)  # what a suppression may hold
SOURCES = tuple(Source)
PERMANENT_REASONS = frozenset({Reason.BOUNCE, Reason.COMPLAINT})
MAX_CHECK = 100_000
_SCOPE = re.compile(r"[a-z0-9_-]{1,64}", re.ASCII)


def valid_text(value: object, field: str, limit: int = 10_000) -> str | None:
    """Free text (a note, evidence, a campaign) that PostgreSQL can keep: no NUL character, and
    no lone surrogate (JSON's "\\ud800" decodes to one; it has no UTF-8 form)."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise InvalidInput(f"'{field}' must be text.", field=field)
    if len(value) > limit:
        raise InvalidInput(f"'{field}' is longer than {limit} characters.", field=field)
    if "\x00" in value:
        raise InvalidInput(f"'{field}' contains a NUL character.", field=field)
    if not is_unicode_text(value):
        raise InvalidInput(f"'{field}' contains a lone surrogate, which is not a character.", field=field)
    return value


def is_unicode_text(value: str) -> bool:
    """Whether the string has a UTF-8 form (no lone surrogate in it)."""
    if value.isascii():
        return True
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def valid_scope(scope: object) -> str:
    if not isinstance(scope, str) or not _SCOPE.fullmatch(scope):
        raise InvalidScope(
            f"Scope {scope!r} is not valid: use lower-case letters, digits, '-' and '_' (at most 64)."
        )
    return scope


def valid_reason(reason: object) -> str:
    if reason not in REASONS:
        raise InvalidInput(f"Reason {reason!r} is not one of {', '.join(REASONS)}.", field="reason")
    return reason  # type: ignore[return-value]


def valid_source(source: object) -> str:
    if source not in SOURCES:
        raise InvalidInput(f"Source {source!r} is not one of {', '.join(SOURCES)}.", field="source")
    return source  # type: ignore[return-value]


@dataclass(frozen=True, slots=True)
class Block:
    """The suppression that stops a send: reported as reason, scope and since."""

    reason: str
    scope: str
    since: datetime | None  # None for `no_consent`: nothing happened, something is missing


def stronger(current: Block | None, candidate: Block) -> Block:
    """Of what blocks one check, report a suppression before `no_consent`, the global one, then the oldest."""
    if current is None:
        return candidate
    if current.reason == NO_CONSENT or candidate.reason == NO_CONSENT:
        return current if candidate.reason == NO_CONSENT else candidate
    key_current = (current.scope != GLOBAL, current.since)
    key_candidate = (candidate.scope != GLOBAL, candidate.since)
    return candidate if key_candidate < key_current else current


def check_result(email: object, block: Block | None, invalid: bool = False) -> CheckResult:
    """One result of the check."""
    if invalid:
        return CheckResult(email, False, Reason.INVALID_ADDRESS)
    if block is None:
        return CheckResult(email, True)
    return CheckResult(email, False, block.reason, block.scope, block.since)


def may_lift(reason: str, force: bool) -> bool:
    """A bounce or complaint is lifted only with force: the address failed or its owner complained."""
    return force or reason not in PERMANENT_REASONS

"""Hard or soft: does this failure say the address itself cannot receive mail?
Hard only when the address is gone; full, delayed or refused for policy is soft."""

from __future__ import annotations

import functools
import re

from .mime import addresses_in

MAILBOX_FULL = re.compile(
    r"mailbox (?:is )?full|mailbox full|over ?quota|quota exceeded|exceeded (?:the )?(?:storage|quota)|"
    r"insufficient (?:storage|space)|not enough (?:disk )?space|disk space|boîte (?:aux lettres )?pleine|"
    r"mailbox exceeded|messages in (?:the )?recipient.s mailbox",
    re.I,
)
ABOUT_SENDER = re.compile(
    r"sender address|sender rejected|domain of sender|mail from|sender domain|from address|"
    r"not allowed to send|spf|dkim|dmarc|smtp server of your isp|send mail as|reverse dns|ptr record|"
    r"invalid ip|authentication checks|purported responsible address|after mail from|in reply to mail from|"
    r">>> mail from",
    re.I,
)
HARD = re.compile(
    r"user unknown|unknown user|unknown or illegal user|illegal user|no such (?:user|mailbox|recipient|address|account|domain)|"
    r"(?:mailbox|address|account|recipient|user|domain) (?:does not|doesn.t|did not|may not) exist|does not exist|"
    r"mailbox unavailable|mailbox not found|recipient not found|recipnotfound|address not found|"
    r"(?:recipient|user|address|account)(?: name)? (?:is )?not (?:recognized|found|listed|known)|not listed in|"
    r"invalid (?:recipient|address|mailbox|user)|destinataire invalide|address rejected|"
    r"account (?:has been |is )?(?:disabled|suspended|closed|deleted|inactive)|is disabled|mailbox (?:is )?disabled|"
    r"disabled (?:recipient|address|account|mailbox|user)|(?:account|mailbox) is blocked|compte du destinataire est bloqu|"
    r"does(?:n.t| not) (?:accept|receive) (?:e-?)?mail|null mx|"
    r"no longer on server|has moved|not our user|unrouteable|host unknown|unknown host|"
    r"host or domain name not found|domain not found|no such domain|domain is not reachable|"
    r"(?:wasn.t|was not|couldn.t be|could not be) found|no valid recipients|recipient name is not recognized|"
    r"ディレクトリ|見つかりません",
    re.I,
)
SOFT = re.compile(
    r"spam|blocked|block ?list|black ?list|spamhaus|cbl\.|dnsbl|\brbl\b|reputation|polic|content|"
    r"not allowed|not permitted|size|too large|too big|rate limit|limit exceeded|frequency|too many|throttl|"
    r"try again|temporar|time ?out|timed out|expired|not responding|not delivered within|retry|deferred|relay|header error|\bube\b|"
    r"improper sequence|syntax|service unavailable|resources|ldap|google groups|groups\.google|"
    r"rejected by|(?:message|mail) rejected|refused|access denied|loop|hop count|retries|attempts|aborted after|requests to connect|"
    r"not implemented|transaction failed|protocol|currently unavailable|at a rate|preferences|^\W*(?:5\d\d\W+)?rejected\W*$|"
    r"name service error|name server|not authori[sz]ed|permission to send|authentication required",
    re.I,
)
OPENING = 2000  # characters of a report's explanation read for a full mailbox it opens with
# Words that say the refusal will not last ("temporarily locked, try again later").
TEMPORARY = re.compile(r"\btemporar(?:y|ily)\b|try again later", re.I)
_ENHANCED_STATUS = re.compile(r"(?<![\d.])([245])\.(\d{1,3})\.(\d{1,3})(?!\d)")
_HARD_STATUS = ("5.1.0", "5.1.1", "5.1.2", "5.1.3", "5.1.6", "5.1.10", "5.2.1", "5.4.1", "5.4.4")


def enhanced_status(text: str) -> str:
    """The first enhanced status code (RFC 3463) written in `text`, as "5.1.1", or ""."""
    found = _ENHANCED_STATUS.search(text)
    return ".".join(found.groups()) if found else ""


@functools.lru_cache(maxsize=8)
def _reading(words: str) -> tuple[bool, bool, bool, bool]:
    """Whether a text says: the mailbox is full, it is about the sender, hard, soft.

    Each recipient of a report without a diagnostic of its own is judged on the report's
    whole explanation: the same text, searched once rather than once per recipient.
    """
    return (MAILBOX_FULL.search(words) is not None, ABOUT_SENDER.search(words) is not None,
            HARD.search(words) is not None, SOFT.search(words) is not None)


@functools.lru_cache(maxsize=8)
def _opens_with_full_mailbox(explanation: str) -> bool:
    return MAILBOX_FULL.search(explanation[:OPENING]) is not None


@functools.lru_cache(maxsize=8)
def _opening(explanation: str) -> str:
    return explanation[:OPENING].lower()


def _names_in_opening(explanation: str, address: str) -> bool:
    """Whether the report's opening names this recipient, and so says which of them is full."""
    return address.lower() in _opening(explanation)


def _names_someone_else(text: str, known: set[str]) -> bool:
    """The rejection quotes an address that is not the recipient: it is about the sender."""
    return any(a not in known for a in addresses_in(text))


def is_hard(
    address: str,
    status: str,
    action: str,
    diagnostic: str,
    diagnostic_type: str,
    explanation: str,
    *,
    local_program: bool = False,
    known: set[str] | None = None,
) -> bool:
    """Whether one failed recipient is a hard bounce (see the module docstring)."""
    if action == "delayed" or status.startswith("4"):
        return False
    precise = _ENHANCED_STATUS.search(diagnostic[:1000]) if status.endswith(".0.0") else None
    status = ".".join(precise.groups()) if precise else status
    full, about_sender, hard, soft = _reading(diagnostic or explanation)
    if full or (_opens_with_full_mailbox(explanation) and not (hard and diagnostic and _names_in_opening(explanation, address))):
        return False
    if about_sender or status in ("5.1.7", "5.1.8"):
        return False
    if _names_someone_else(diagnostic, known or {address}):
        return False
    if diagnostic_type == "x-unix" or local_program:
        return False  # a local delivery program failed: a mailer error, not the address
    if status == "5.2.0":
        return False  # "other or undefined mailbox status": the mailbox exists
    if TEMPORARY.search(diagnostic[:1000]):
        return False  # the refusal says it will pass: the address can receive
    if hard:
        return True
    if soft:
        return False
    return not status or status == "5.0.0" or status in _HARD_STATUS or (
        status.startswith("5.1.") and status not in ("5.1.7", "5.1.8"))

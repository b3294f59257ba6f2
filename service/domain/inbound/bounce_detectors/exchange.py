"""Old Exchange (5.5 to 2003) and X.400 non-delivery reports, which carry no DSN fields.
Each recipient is judged on its own lines; an X.400 name counts only through its dda:SMTP= address."""

from __future__ import annotations

from email.message import Message

from ..bounce_wording import enhanced_status, is_hard
from ..mime import addresses_in, first_address
from .values import Detector, Failure, Report

# Where the list of failed recipients starts: the rest of that line introduces it.
_LIST_STARTS = ("recipient(s) could not be reached", "recipients could not be reached",
                "did not reach the following recipient")
MAX_HEAD = 8000  # characters searched for the list's introduction
MAX_LINES = 2000  # lines of the list read
MAX_LINE = 1000  # characters of one line read
MAX_ENTRY_LINES = 12  # lines under a recipient read as its reason
MAX_RECIPIENTS = 1000
MAX_NAME_WORDS = 8  # words of a recipient's name before " on DATE"
MAX_DATE = 48
MAX_DIAGNOSTIC = 600
DDA_SMTP = "dda:smtp="
MAX_ADDRESS = 320
_WEEKDAYS = frozenset({"mon,", "tue,", "wed,", "thu,", "fri,", "sat,", "sun,"})


def dda_smtp(text: str) -> str | None:
    """The SMTP address an X.400 name gives in its `dda:SMTP=` attribute, if it gives one."""
    at = text.lower().find(DDA_SMTP)
    if at < 0:
        return None
    value = text[at + len(DDA_SMTP):at + len(DDA_SMTP) + MAX_ADDRESS].split(";", 1)[0].strip().strip("<>'\"")
    found = first_address(value)
    return found if found is not None and found == value.lower() else None


def _is_mailable(address: str) -> bool:
    """Not a piece of an X.400 or X.500 name that happens to hold an @ (`smtp=x@y`, `IMCEAEX-...`)."""
    local = address.split("@", 1)[0]
    return "=" not in local and "/" not in local and not local.startswith("imcea")


def _recipient_line(line: str) -> str | None:
    """The recipient's name when `line` is `NAME on DATE`, as Exchange starts each entry."""
    name, on, when = line.rpartition(" on ")
    name, when = name.strip(), when.strip()
    if not on or not name or len(name.split()) > MAX_NAME_WORDS or len(when) > MAX_DATE:
        return None
    return name if when[:1].isdigit() or when[:4].lower() in _WEEKDAYS else None


def _list_lines(text: str) -> list[str]:
    """The lines after the list's introduction, each cut to MAX_LINE characters."""
    head = text[:MAX_HEAD].lower()
    starts = [found for found in (head.find(start) for start in _LIST_STARTS) if found >= 0]
    if not starts:
        return []
    begin = text.find("\n", min(starts))
    if begin < 0:
        return []
    return [line[:MAX_LINE].strip() for line in text[begin + 1:].split("\n", MAX_LINES)[:MAX_LINES]]


def _entries(text: str) -> list[tuple[str, list[str]]]:
    """Each listed recipient's name and the lines under it; the list ends at words after a blank line."""
    entries: list[tuple[str, list[str]]] = []
    after_blank = False
    for line in _list_lines(text):
        if not line:
            after_blank = True
            continue
        name = _recipient_line(line)
        if name is not None:
            if len(entries) >= MAX_RECIPIENTS:
                break
            entries.append((name, []))
        elif not entries or after_blank:
            break
        elif len(entries[-1][1]) < MAX_ENTRY_LINES:
            entries[-1][1].append(line)
        after_blank = False
    return entries


def _address(name: str, lines: list[str]) -> str | None:
    for text in (name, *lines):
        found = dda_smtp(text)
        if found is not None:
            return found
    written = first_address(name.strip("'\"<> "))
    return written if written is not None and _is_mailable(written) else None


def recognises(_msg: Message, text: str) -> bool:
    return bool(_entries(text))


def failures(report: Report) -> list[Failure]:
    found = []
    for name, lines in _entries(report.explanation):
        address = _address(name, lines)
        if address is None:
            continue
        diagnostic = " ".join(lines)[:MAX_DIAGNOSTIC]
        status = enhanced_status(diagnostic)
        action = "delayed" if status.startswith("4") else "failed"
        # The entry's own X.400 and X.500 names are the recipient too, not someone else it quotes.
        own_names = {a for a in addresses_in(" ".join((name, *lines))) if not _is_mailable(a)}
        hard = is_hard(address, status, action, diagnostic, "", report.explanation, known={address} | own_names)
        found.append(Failure(address, status, action, diagnostic[:500], hard))
    return found


DETECTOR = Detector("exchange", recognises, failures)

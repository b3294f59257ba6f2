"""flufl.bounce's detectors, the last resort for a report nothing else could read.
Their patterns backtrack, so they run only on a message whose lines are short and few."""

from __future__ import annotations

from email.message import Message

from .mime import MAX_PARTS, first_address

FLUFL_MAX_TEXT = 16_384
FLUFL_MAX_LINE = 200


def _small_for_flufl(msg: Message) -> bool:
    """Whether the lines flufl.bounce reads (every part's payload, as written and decoded,
    split at newlines) are short, and all of them together few."""
    size = 0
    try:
        for count, part in enumerate(msg.walk()):
            if count >= MAX_PARTS:
                return False
            if part.is_multipart():
                continue
            written, decoded = part.get_payload(), part.get_payload(decode=True) or b""
            if not isinstance(written, str) or not isinstance(decoded, bytes):
                return False
            size += len(written) + len(decoded)
            if size > FLUFL_MAX_TEXT:
                return False
            if any(len(line) > FLUFL_MAX_LINE for line in written.split("\n")) or any(
                    len(line) > FLUFL_MAX_LINE for line in decoded.split(b"\n")):
                return False
    except Exception:  # RecursionError on a deep tree; a payload that cannot be read
        return False
    return True


def flufl_failures(msg: Message, exclude: set[str]) -> list[str]:
    """The recipients flufl.bounce finds, written as plain addresses, that are not in `exclude`."""
    if not _small_for_flufl(msg):
        return []
    try:
        from flufl.bounce import all_failures

        temporary, permanent = all_failures(msg)
    except Exception:  # the detectors are heuristics over hostile input
        return []
    found = []
    for raw in list(permanent) + list(temporary):
        text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)
        address = first_address(text)
        if address and address == text.strip().strip("<>").lower() and address not in exclude:
            found.append(address)
    return found

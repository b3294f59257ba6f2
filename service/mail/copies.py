"""A gateway copy: the sender's message for one recipient, with that recipient's own headers.
The message stays byte for byte; only whole header fields are dropped or added."""

from __future__ import annotations

import re

SCOPE_HEADER = b"x-optout-scope"
CAMPAIGN_HEADER = b"x-optout-campaign"
# Replaced (the scope and campaign headers, each recipient's own unsubscribe headers), or never
# to be seen by a recipient (RFC 5322 3.6.3: Bcc names the blind copies).
DROPPED_HEADERS = (SCOPE_HEADER, CAMPAIGN_HEADER, b"list-unsubscribe", b"list-unsubscribe-post", b"bcc",
                   b"resent-bcc")


def split_message(raw: bytes) -> tuple[list[bytes], memoryview]:
    """Header lines (each with its continuation lines) and the rest, bytes kept as they are; the
    rest is a view into `raw`, not a copy (a message may be large)."""
    end = re.search(rb"\r?\n\r?\n", raw)
    view = memoryview(raw)
    head, body = (raw[: end.start()], view[end.start():]) if end else (raw, memoryview(b"\r\n"))
    fields: list[bytes] = []
    for line in re.split(rb"\r?\n", head):
        if line[:1] in (b" ", b"\t") and fields:
            fields[-1] += b"\r\n" + line
        elif line:
            fields.append(line)
    return fields, body


def header_name(field: bytes) -> bytes:
    return field.split(b":", 1)[0].strip().lower()


def copy_for(fields: list[bytes], body: bytes | memoryview, headers: dict[str, str]) -> bytes:
    """The message with this recipient's unsubscribe headers first, without X-Optout-Scope,
    X-Optout-Campaign, Bcc and Resent-Bcc.

    Added as raw lines: a header longer than 78 characters must not become an encoded word.
    """
    added = [f"{name}: {value}".encode("ascii") for name, value in headers.items()]
    kept = [f for f in fields if header_name(f) not in DROPPED_HEADERS]
    return b"".join((b"\r\n".join(added + kept), body))

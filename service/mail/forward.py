"""Forwarding an inbound message to staff, with the original attached byte for byte.
Only to OPTOUT_FORWARD_TO, marked so it is never forwarded again; Reply-To is the original sender."""

from __future__ import annotations

import re
import secrets
import uuid
from email.headerregistry import Address
from email.utils import format_datetime, make_msgid
from datetime import datetime, timezone

_SAFE = re.compile(r"[\x00-\x1f\x7f]")


def _header_text(value: str, limit: int = 200) -> str:
    from email.header import Header

    clean = _SAFE.sub(" ", value or "")[:limit]
    return Header(clean, "utf-8").encode() if not clean.isascii() else clean


def _is_plain_rfc822(raw: bytes) -> bool:
    """Whether the original can travel as a 7-bit message/rfc822 part without re-encoding."""
    return raw.isascii() and all(len(line) <= 998 for line in raw.splitlines())


def forward_message(
    raw: bytes, message_id: uuid.UUID, sender: str | None, subject: str, classification: str,
    summary: list[str], mailto: str, forward_to: str, marker_header: str,
) -> bytes:
    """The forward as bytes: a short note for staff and the original message attached."""
    boundary = "=_optout_" + secrets.token_hex(12)
    domain = mailto.rsplit("@", 1)[-1]
    note = [
        f"A message to {mailto} that a person should read (classified as {classification}).",
        f"From: {sender or 'unknown sender'}",
        f"Inbound id: {message_id}",
        "",
        *summary,
        "",
        "The original message is attached unchanged. Replying to this mail answers the sender.",
    ]
    headers = [
        f"From: {Address('CETIT optout', addr_spec=mailto)}",
        f"To: {forward_to}",
        f"Subject: {_header_text('[' + mailto + '] ' + (subject or '(no subject)'))}",
        f"Date: {format_datetime(datetime.now(timezone.utc))}",
        f"Message-ID: {make_msgid('optout', domain=domain)}",
        "Auto-Submitted: auto-forwarded",
        f"{marker_header}: {message_id}",
        "MIME-Version: 1.0",
        f'Content-Type: multipart/mixed; boundary="{boundary}"',
    ]
    if sender and sender != forward_to:
        headers.insert(2, f"Reply-To: {sender}")
    if _is_plain_rfc822(raw):
        attachment = [
            "Content-Type: message/rfc822",
            'Content-Disposition: attachment; filename="original.eml"',
            "",
        ]
        body = raw.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
    else:
        import base64

        attachment = [
            'Content-Type: application/octet-stream; name="original.eml"',
            "Content-Transfer-Encoding: base64",
            'Content-Disposition: attachment; filename="original.eml"',
            "",
        ]
        body = base64.encodebytes(raw).replace(b"\n", b"\r\n")
    text = "\r\n".join(note).encode("utf-8")
    parts = [
        "\r\n".join(headers).encode(), b"\r\n\r\n",
        f"--{boundary}\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n".encode(),
        text, b"\r\n",
        f"--{boundary}\r\n".encode(), "\r\n".join(attachment).encode(), b"\r\n",
        body, b"" if body.endswith(b"\r\n") else b"\r\n",
        f"--{boundary}--\r\n".encode(),
    ]
    return b"".join(parts)

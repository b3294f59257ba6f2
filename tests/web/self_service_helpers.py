"""Helpers of the self-service tests: a known address, asking for a link, reading it from the outbox."""

from __future__ import annotations

import email
import re
from email import policy

KNOWN, UNKNOWN, ERASED = "jan@example.be", "nobody@example.be", "gone@example.be"


async def make_known(client, auth, address: str = KNOWN) -> None:
    """CETIT knows an address once a link was issued for it."""
    response = await client.post("/v1/links", headers=auth, json={"recipients": [{"email": address,
                                                                                   "scope": "newsletter"}]})
    assert response.status == 200


async def ask(client, address: str, **headers):
    return await client.post("/me", data={"email": address, "lang": "en"}, headers=headers)


async def mails(pool) -> list:
    return await pool.fetch("SELECT kind, address, recipient, message FROM outbox WHERE kind = 'self_service' "
                            "ORDER BY id")


def link_in(message: bytes) -> str:
    """The /me/{token} path of a mail's plain-text part (as a person would open it)."""
    parsed = email.message_from_bytes(message, policy=policy.default)
    text = parsed.get_body(("plain",)).get_content()
    return re.search(r"https?://[^/\s]+(/me/[A-Za-z0-9_-]+)", text).group(1)


def csrf_of(html: str) -> str:
    return re.search(r'name="csrf" value="([^"]+)"', html).group(1)


async def open_page(client, auth, pool, address: str = KNOWN) -> tuple[str, str]:
    """Ask for a link to a known address and open it: (its path, the page's CSRF field)."""
    await make_known(client, auth, address)
    assert (await ask(client, address)).status == 200
    path = link_in((await mails(pool))[-1]["message"])
    page = await client.get(path)
    assert page.status == 200
    return path, csrf_of(await page.text())

"""Helpers of the self-service tests: a known address, asking for a link, sending the outbox's
self-service rows through a relay that keeps what it is given, and reading the link from a mail."""

from __future__ import annotations

import contextlib
import dataclasses
import email
import re
from email import policy

from service.domain.outbox import OutboxKind
from service.mail.outbox import Drainer
from service.services import Services
from service.web.keys import SETTINGS

KNOWN, UNKNOWN, ERASED = "jan@example.be", "nobody@example.be", "gone@example.be"


async def make_known(client, auth, address: str = KNOWN) -> None:
    """CETIT knows an address once a link was issued for it."""
    response = await client.post("/v1/links", headers=auth, json={"recipients": [{"email": address,
                                                                                   "scope": "newsletter"}]})
    assert response.status == 200


async def ask(client, address: str, **headers):
    return await client.post("/me", data={"email": address, "lang": "en"}, headers=headers)


class KeptMail:
    """A relay that keeps each mail it is given."""

    def __init__(self):
        self.sent: list[dict] = []

    @contextlib.asynccontextmanager
    async def session(self):
        yield self

    async def send(self, message: bytes, sender: str, recipients: list[str]) -> None:
        for recipient in recipients:
            self.sent.append({"address": recipient, "recipient": recipient, "sender": sender, "message": message})


async def queued(pool) -> list:
    return await pool.fetch("SELECT * FROM outbox WHERE kind = 'self_service' ORDER BY id")


async def mails(pool, settings) -> list[dict]:
    """Send the self-service rows queued so far, as the outbox does; the mails that left, in order."""
    relay = KeptMail()
    drainer = Drainer(pool, dataclasses.replace(Services.build(settings), relay=relay),
                      kinds=[OutboxKind.SELF_SERVICE])
    try:
        while await drainer.drain_once():
            pass
    finally:
        await drainer.close()
    return relay.sent


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
    path = link_in((await mails(pool, client.app[SETTINGS]))[-1]["message"])
    page = await client.get(path)
    assert page.status == 200
    return path, csrf_of(await page.text())

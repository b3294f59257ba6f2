"""The sending gateway (OPTOUT_GATEWAY_PORT): an SMTP relay that enforces the suppression list.

At RCPT a recipient blocked in every scope (a global suppression, a bounce, a complaint,
an erasure, an invalid address) is refused with 550 5.7.1. At DATA the scope is read from
the X-Optout-Scope header (default newsletter), the remaining recipients are checked in
that scope in one lookup, and each allowed recipient gets its own copy with its own
List-Unsubscribe and List-Unsubscribe-Post headers, relayed through OPTOUT_RELAY_URL.
The message is answered 250 only when the relay took every copy, or the copies it did not
take are queued in PostgreSQL and retried; when nothing could be relayed or queued, 451.

DKIM: the gateway adds headers, so it does not sign; the relay must sign what it sends
(RFC 8058 wants the signature to cover both List-Unsubscribe headers).
"""

from __future__ import annotations

import asyncio
import binascii
import ipaddress
import logging
import re
import socket
from base64 import b64decode
from dataclasses import dataclass

import asyncpg
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, Session

from ..domain import suppression_list
from ..domain.apikeys import has_scope, key_digest
from ..domain.erasure import hmac_pads
from ..domain.suppression import EVERY_SCOPE, valid_scope
from ..domain.errors import InvalidScope
from ..domain.tokens import TokenSigner
from ..domain.unsubscribe import link_for
from ..mail.relay import Relay, RelayError
from ..settings import Settings
from ..storage import queries

log = logging.getLogger("optout.gateway")

RELAYED = "250 2.0.0 Relayed"
QUEUED = "250 2.0.0 Accepted; some copies are queued for the relay"
SUPPRESSED = "550 5.7.1 Recipient has opted out of this mail"
ALL_SUPPRESSED = "550 5.7.1 Every recipient has opted out of this kind of mail"
AUTH_NEEDED = "530 5.7.0 Authentication required"
AUTH_OK = "235 2.7.0 Authentication successful"
AUTH_BAD = "535 5.7.8 Authentication credentials invalid"
TRY_LATER = "451 4.3.0 Cannot relay right now, try again later"
NO_RELAY = "451 4.3.5 No relay is configured (OPTOUT_RELAY_URL)"
BAD_SCOPE = "550 5.6.0 X-Optout-Scope is not a valid scope"
DEFAULT_SCOPE = "newsletter"
SCOPE_HEADER = b"x-optout-scope"
REPLACED_HEADERS = (SCOPE_HEADER, b"list-unsubscribe", b"list-unsubscribe-post")
RETRY_EVERY = 30.0


def is_loopback(peer) -> bool:
    try:
        return ipaddress.ip_address(peer[0]).is_loopback
    except (TypeError, ValueError, IndexError):
        return False


def split_message(raw: bytes) -> tuple[list[bytes], bytes]:
    """Header lines (each with its continuation lines) and the rest, bytes kept as they are."""
    end = re.search(rb"\r?\n\r?\n", raw)
    head, body = (raw[: end.start()], raw[end.start():]) if end else (raw, b"\r\n")
    fields: list[bytes] = []
    for line in re.split(rb"\r?\n", head):
        if line[:1] in (b" ", b"\t") and fields:
            fields[-1] += b"\r\n" + line
        elif line:
            fields.append(line)
    return fields, body


def header_name(field: bytes) -> bytes:
    return field.split(b":", 1)[0].strip().lower()


def scope_of(fields: list[bytes]) -> str:
    for field in fields:
        if header_name(field) == SCOPE_HEADER:
            return valid_scope(field.split(b":", 1)[1].strip().decode("ascii", "replace"))
    return DEFAULT_SCOPE


def copy_for(fields: list[bytes], body: bytes, headers: dict[str, str]) -> bytes:
    """The message with this recipient's unsubscribe headers first, and without X-Optout-Scope.

    Added as raw lines: a header longer than 78 characters must not become an encoded word.
    """
    added = [f"{name}: {value}".encode("ascii") for name, value in headers.items()]
    kept = [f for f in fields if header_name(f) not in REPLACED_HEADERS]
    return b"\r\n".join(added + kept) + body


@dataclass
class GatewayConfig:
    signer: TokenSigner
    public_url: str
    mailto: str
    pads: tuple[bytes, bytes]
    relay: Relay | None
    auth: str


class GatewayHandler:
    def __init__(self, pool: asyncpg.Pool, config: GatewayConfig):
        self.pool = pool
        self.config = config

    async def handle_AUTH(self, server, session: Session, envelope: Envelope, args: list[str]) -> str:
        """AUTH PLAIN or LOGIN with an API key of scope `links` as the password."""
        password = await _password(server, args)
        if password is None:
            return AUTH_BAD
        async with self.pool.acquire() as conn:
            row = await queries.api_key_by_hash(conn, key_digest(password))
        if row is None or not has_scope(row["scopes"], "links"):
            log.info("gateway AUTH refused from %s", session.peer[0] if session.peer else "?")
            return AUTH_BAD
        session.authenticated = True
        session.auth_data = row["name"]
        return AUTH_OK

    async def handle_MAIL(self, server, session: Session, envelope: Envelope, address: str, options) -> str:
        if not session.authenticated and (self.config.auth == "always" or not is_loopback(session.peer)):
            return AUTH_NEEDED
        envelope.mail_from = address
        envelope.mail_options.extend(options)
        return "250 OK"

    async def handle_RCPT(self, server, session: Session, envelope: Envelope, address: str, options) -> str:
        async with self.pool.acquire() as conn:
            [result] = await suppression_list.check(conn, [address], EVERY_SCOPE, self.config.pads)
        if not result["allowed"]:
            log.info("gateway refused a recipient at RCPT (%s)", result["reason"])
            return SUPPRESSED
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(options)
        return "250 OK"

    async def handle_DATA(self, server, session: Session, envelope: Envelope) -> str:
        if self.config.relay is None:
            return NO_RELAY
        fields, body = split_message(envelope.original_content or b"")
        try:
            scope = scope_of(fields)
        except InvalidScope:
            return BAD_SCOPE
        async with self.pool.acquire() as conn:
            results = await suppression_list.check(conn, envelope.rcpt_tos, scope, self.config.pads)
        allowed = [r["email"] for r in results if r["allowed"]]
        withheld = len(results) - len(allowed)
        if not allowed:
            return ALL_SUPPRESSED
        copies = []
        for recipient in allowed:
            link = link_for(self.config.signer, self.config.public_url, self.config.mailto, recipient, scope, None)
            copies.append((recipient, copy_for(fields, body, link["headers"])))
        status = await self._relay(envelope.mail_from, copies)
        log.info("gateway: %d copies in scope %s, %d withheld as suppressed in that scope: %s",
                 len(copies), scope, withheld, status[:3])
        return status

    async def _relay(self, sender: str, copies: list[tuple[str, bytes]]) -> str:
        """Relay every copy; queue durably what the relay did not take; 451 if nothing went out."""
        failed: list[tuple[str, bytes, RelayError]] = []
        sent = 0
        try:
            async with self.config.relay.session() as relay:  # one connection for every copy
                for recipient, message in copies:
                    try:
                        await relay.send(message, sender, [recipient])
                    except RelayError as exc:
                        failed.append((recipient, message, exc))
                    sent += 1
        except RelayError as exc:  # no connection at all: every copy not tried is retried
            failed += [(recipient, message, exc) for recipient, message in copies[sent:]]
        if not failed:
            return RELAYED
        if len(failed) == len(copies):
            return TRY_LATER if any(e.temporary for _r, _m, e in failed) else f"554 5.0.0 Relay refused: {failed[0][2]}"
        refused = [r for r, _m, e in failed if not e.temporary]
        try:
            async with self.pool.acquire() as conn:
                async with conn.transaction():
                    for recipient, message, exc in failed:
                        if exc.temporary:
                            await queries.queue_outgoing(conn, sender, recipient, message, str(exc))
        except Exception as exc:  # cannot queue: some copies went out, the rest would be lost
            log.error("gateway could not queue %d copies (%s)", len(failed), exc.__class__.__name__)
            return TRY_LATER
        if refused:  # SMTP has one answer per message after DATA: say it in the text, and log it
            log.warning("gateway: the relay refused %d copies for good", len(refused))
            return f"250 2.0.0 Accepted; the relay refused {len(refused)} of {len(copies)} copies"
        return QUEUED

    async def handle_exception(self, error: Exception) -> str:
        log.error("gateway error (%s): answered 451", error.__class__.__name__)
        return TRY_LATER


async def _password(server: SMTP, args: list[str]) -> str | None:
    """The password of AUTH PLAIN (RFC 4616) or AUTH LOGIN, asked for when not given inline."""
    mechanism = args[0].upper()
    try:
        if mechanism == "PLAIN":
            blob = b64decode(args[1], validate=True) if len(args) > 1 else await server.challenge_auth("")
            if not isinstance(blob, bytes):
                return None
            return blob.split(b"\0")[2].decode()
        if mechanism == "LOGIN":
            if len(args) == 1:
                await server.challenge_auth("Username:")
            password = await server.challenge_auth("Password:")
            return password.decode() if isinstance(password, bytes) else None
    except (binascii.Error, IndexError, UnicodeDecodeError, ValueError):
        return None
    return None


class Gateway:
    """The listening socket, and the retry loop for copies the relay did not take."""

    def __init__(self, pool: asyncpg.Pool, settings: Settings):
        from datetime import timedelta

        self.pool = pool
        self.host, self.port = settings.host, settings.gateway_port
        self.config = GatewayConfig(
            signer=TokenSigner(settings.secret_keys, timedelta(days=settings.link_max_age_days)),
            public_url=settings.public_url, mailto=settings.mailto, pads=hmac_pads(settings.hash_key),
            relay=Relay.from_url(settings.relay_url) if settings.relay_url else None, auth=settings.gateway_auth,
        )
        self.handler = GatewayHandler(pool, self.config)
        self.server: asyncio.base_events.Server | None = None
        self._retrying: asyncio.Task | None = None

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        hostname = socket.gethostname()
        self.server = await loop.create_server(
            lambda: SMTP(self.handler, hostname=hostname, ident="optout gateway", decode_data=False,
                         # AUTH is enforced in handle_MAIL (per client in loopback mode); no TLS
                         # certificate is configured, so AUTH is offered on the plain connection.
                         auth_require_tls=False, authenticator=lambda *args: AuthResult(success=False),
                         loop=loop),
            self.host, self.port, reuse_port=True,
        )
        self.port = self.server.sockets[0].getsockname()[1]
        self._retrying = asyncio.create_task(self._retry_forever())
        log.info("gateway listening on %s:%d (auth %s, relay %r)", self.host, self.port, self.config.auth,
                 self.config.relay)

    async def stop(self) -> None:
        if self._retrying is not None:
            self._retrying.cancel()
        if self.server is not None:
            self.server.close()
            await self.server.wait_closed()

    async def retry_due(self, limit: int = 100) -> int:
        """Send queued copies that are due; return how many the relay took."""
        if self.config.relay is None:
            return 0
        sent = 0
        async with self.pool.acquire() as conn:
            async with conn.transaction():
                for row in await queries.claim_due_outgoing(conn, limit):
                    try:
                        await self.config.relay.send(row["message"], row["sender"], [row["recipient"]])
                    except RelayError as exc:
                        await queries.retry_outgoing_later(conn, row["id"], row["attempts"] + 1, str(exc))
                        continue
                    await queries.delete_outgoing(conn, row["id"])
                    sent += 1
        return sent

    async def _retry_forever(self) -> None:
        while True:
            await asyncio.sleep(RETRY_EVERY)
            try:
                await self.retry_due()
            except Exception as exc:
                log.warning("gateway retry failed (%s); will try again", exc.__class__.__name__)

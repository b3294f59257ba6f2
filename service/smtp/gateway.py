"""The sending gateway (OPTOUT_GATEWAY_PORT): an SMTP relay that enforces the suppression list.

At RCPT a recipient blocked in every scope (a global suppression, a bounce, a complaint,
an erasure, an invalid address) is refused with 550 5.7.1, and one beyond
OPTOUT_GATEWAY_MAX_RECIPIENTS with 452 4.5.3. At DATA the scope is read from the
X-Optout-Scope header (default newsletter), the remaining recipients are checked in that
scope in one lookup and recorded as addresses CETIT knows, and each allowed recipient gets
its own copy, made when it is sent, with its own List-Unsubscribe and List-Unsubscribe-Post
headers and without Bcc or Resent-Bcc, relayed through OPTOUT_RELAY_URL. The message is
answered 250 only when the relay took every copy, or the copies it did not take are queued
in PostgreSQL and retried; when nothing could be relayed or queued, 451.

AUTH (an API key of scope `links`) is offered and taken only over TLS (STARTTLS with
OPTOUT_TLS_CERT and OPTOUT_TLS_KEY) or on loopback; three failures close the connection.

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
from datetime import timedelta
from typing import Callable, Sequence

import asyncpg
from aiosmtpd.smtp import MISSING, SMTP, AuthResult, Envelope, Session, TLSSetupException

from ..domain.suppressions import operations as suppression_list
from ..domain.addresses import canonical_batch
from ..domain.apikeys import has_scope, key_digest
from ..domain.suppressions.keyed_hash import hmac_pads
from ..domain.suppressions.rules import EVERY_SCOPE, valid_scope
from ..domain.errors import InvalidScope
from ..domain.suppressions.tokens import TokenSigner
from ..domain.suppressions.links import link_for
from ..mail.relay import Relay, RelayError
from ..settings import Settings
from ..storage import queries
from ..storage.known_queries import remember_addresses
from .receiver import MAX_CONNECTIONS, GuardedSMTP
from .tls import starttls_context

log = logging.getLogger("optout.gateway")

RELAYED = "250 2.0.0 Relayed"
QUEUED = "250 2.0.0 Accepted; some copies are queued for the relay"
SUPPRESSED = "550 5.7.1 Recipient has opted out of this mail"
ALL_SUPPRESSED = "550 5.7.1 Every recipient has opted out of this kind of mail"
TOO_MANY_RECIPIENTS = "452 4.5.3 Too many recipients"
AUTH_NEEDED = "530 5.7.0 Authentication required"
AUTH_NEEDS_TLS = "530 5.7.0 Must issue a STARTTLS command first"
AUTH_LOOPBACK_ONLY = "530 5.7.0 Authentication is taken only over TLS, and TLS is not offered here"
AUTH_OK = "235 2.7.0 Authentication successful"
AUTH_BAD = "535 5.7.8 Authentication credentials invalid"
AUTH_FAILED_TOO_OFTEN = "421 4.7.0 Too many failed authentication attempts, closing the connection"
TRY_LATER = "451 4.3.0 Cannot relay right now, try again later"
NO_RELAY = "451 4.3.5 No relay is configured (OPTOUT_RELAY_URL)"
BAD_SCOPE = "550 5.6.0 X-Optout-Scope is not a valid scope"
DEFAULT_SCOPE = "newsletter"
SCOPE_HEADER = b"x-optout-scope"
# Replaced by the gateway (the scope header, each recipient's own unsubscribe headers), or never
# to be seen by a recipient (RFC 5322 3.6.3: Bcc names the blind copies).
DROPPED_HEADERS = (SCOPE_HEADER, b"list-unsubscribe", b"list-unsubscribe-post", b"bcc", b"resent-bcc")
RETRY_EVERY = 30.0
MAX_AUTH_FAILURES = 3
AUTH_FAILURE_DELAY = 1.0
STOP_GRACE = 10.0


def is_loopback(peer) -> bool:
    try:
        address = ipaddress.ip_address(peer[0])
    except (TypeError, ValueError, IndexError):
        return False
    mapped = getattr(address, "ipv4_mapped", None)  # ::ffff:127.0.0.1 on a dual-stack socket
    return address.is_loopback or (mapped is not None and mapped.is_loopback)


def auth_allowed(session) -> bool:
    """AUTH carries an API key: only over TLS, or on a loopback connection that never leaves the host."""
    return session.ssl is not None or is_loopback(session.peer)


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


def scope_of(fields: list[bytes]) -> str:
    for field in fields:
        if header_name(field) == SCOPE_HEADER:
            return valid_scope(field.split(b":", 1)[1].strip().decode("ascii", "replace"))
    return DEFAULT_SCOPE


def copy_for(fields: list[bytes], body: bytes | memoryview, headers: dict[str, str]) -> bytes:
    """The message with this recipient's unsubscribe headers first, without X-Optout-Scope, Bcc
    and Resent-Bcc.

    Added as raw lines: a header longer than 78 characters must not become an encoded word.
    """
    added = [f"{name}: {value}".encode("ascii") for name, value in headers.items()]
    kept = [f for f in fields if header_name(f) not in DROPPED_HEADERS]
    return b"".join((b"\r\n".join(added + kept), body))


@dataclass
class GatewayConfig:
    signer: TokenSigner
    public_url: str
    mailto: str
    pads: tuple[bytes, bytes]
    relay: Relay | None
    auth: str
    max_recipients: int = 1000


class GatewayProtocol(GuardedSMTP):
    """GuardedSMTP that counts the failed AUTH attempts of its connection."""

    def __init__(self, handler: "GatewayHandler", **options):
        super().__init__(handler, **options)
        self.auth_failures = 0


class GatewayHandler:
    def __init__(self, pool: asyncpg.Pool, config: GatewayConfig):
        self.pool = pool
        self.config = config
        self.failure_delay = AUTH_FAILURE_DELAY

    async def handle_EHLO(self, server: GatewayProtocol, session: Session, envelope: Envelope,
                          hostname: str, responses: list[str]) -> list[str]:
        """AUTH is offered where it is taken: over TLS, or on loopback."""
        session.host_name = hostname
        if auth_allowed(session):
            return responses
        return [r for r in responses if not r.startswith("250-AUTH")]

    async def handle_AUTH(self, server: GatewayProtocol, session: Session, envelope: Envelope,
                          args: list[str]) -> str | None:
        """AUTH PLAIN or LOGIN with an API key of scope `links` as the password. A failure is
        answered after a delay, and after MAX_AUTH_FAILURES the connection is closed: keys are
        not to be guessed at line speed."""
        if server.auth_failures >= MAX_AUTH_FAILURES:
            log.warning("gateway closed a connection from %s after %d failed AUTH attempts",
                        session.peer[0] if session.peer else "?", server.auth_failures)
            server.hang_up(AUTH_FAILED_TOO_OFTEN)
            return None
        if not auth_allowed(session):
            return AUTH_NEEDS_TLS if server.tls_context is not None else AUTH_LOOPBACK_ONLY
        password = await _password(server, args)
        row = None
        if isinstance(password, str):
            async with self.pool.acquire() as conn:
                row = await queries.api_key_by_hash(conn, key_digest(password))
        if row is None or not has_scope(row["scopes"], "links"):
            server.auth_failures += 1
            log.info("gateway AUTH refused from %s", session.peer[0] if session.peer else "?")
            await asyncio.sleep(self.failure_delay)
            return None if password is MISSING else AUTH_BAD  # MISSING: aiosmtpd has answered already
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
        if len(envelope.rcpt_tos) >= self.config.max_recipients:
            return TOO_MANY_RECIPIENTS
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
            # Known before the first copy leaves: a bounce or a reply to it may come back at once.
            await remember_addresses(conn, canonical_batch(allowed), "gateway", self.config.pads)
        withheld = len(results) - len(allowed)
        if not allowed:
            return ALL_SUPPRESSED

        def copy(recipient: str) -> bytes:
            link = link_for(self.config.signer, self.config.public_url, self.config.mailto, recipient, scope, None)
            return copy_for(fields, body, link["headers"])

        status = await self._relay(envelope.mail_from, allowed, copy)
        log.info("gateway: %d copies in scope %s, %d withheld as suppressed in that scope: %s",
                 len(allowed), scope, withheld, status[:3])
        return status

    async def _relay(self, sender: str, recipients: Sequence[str], copy: Callable[[str], bytes]) -> str:
        """Relay one copy per recipient, each made just before it is sent, so that one copy at a
        time is in memory; queue durably what the relay did not take; 451 if nothing went out."""
        failed: list[tuple[str, RelayError]] = []
        tried = 0
        try:
            async with self.config.relay.session() as relay:  # one connection for every copy
                for recipient in recipients:
                    try:
                        await relay.send(copy(recipient), sender, [recipient])
                    except RelayError as exc:
                        failed.append((recipient, exc))
                    tried += 1
        except RelayError as exc:  # no connection at all: every copy not tried is retried
            failed += [(recipient, exc) for recipient in recipients[tried:]]
        if not failed:
            return RELAYED
        if len(failed) == len(recipients):
            return TRY_LATER if any(e.temporary for _r, e in failed) else f"554 5.0.0 Relay refused: {failed[0][1]}"
        refused = [r for r, e in failed if not e.temporary]
        try:
            async with self.pool.acquire() as conn:
                async with conn.transaction():
                    for recipient, exc in failed:
                        if exc.temporary:
                            await queries.queue_outgoing(conn, sender, recipient, copy(recipient), str(exc))
        except Exception as exc:  # cannot queue: some copies went out, the rest would be lost
            log.error("gateway could not queue %d copies (%s)", len(failed), exc.__class__.__name__)
            return TRY_LATER
        if refused:  # SMTP has one answer per message after DATA: say it in the text, and log it
            log.warning("gateway: the relay refused %d copies for good", len(refused))
            return f"250 2.0.0 Accepted; the relay refused {len(refused)} of {len(recipients)} copies"
        return QUEUED

    async def handle_exception(self, error: Exception) -> str:
        if isinstance(error, TLSSetupException):  # aiosmtpd closes the connection, with no reply
            log.info("gateway: a TLS handshake failed (%s)", error.__cause__.__class__.__name__)
        else:
            log.error("gateway error (%s): answered 451", error.__class__.__name__)
        return TRY_LATER


async def _password(server: SMTP, args: list[str]):
    """The password of AUTH PLAIN (RFC 4616) or AUTH LOGIN, asked for when not given inline; None
    when it cannot be read, MISSING when the client gave up and aiosmtpd has answered it."""
    mechanism = args[0].upper()
    try:
        if mechanism == "PLAIN":
            blob = b64decode(args[1], validate=True) if len(args) > 1 else await server.challenge_auth("")
            if blob is MISSING:
                return MISSING
            return blob.split(b"\0")[2].decode()
        if mechanism == "LOGIN":
            if len(args) == 1 and await server.challenge_auth("Username:") is MISSING:
                return MISSING
            password = await server.challenge_auth("Password:")
            return MISSING if password is MISSING else password.decode()
    except (binascii.Error, IndexError, UnicodeDecodeError, ValueError):
        return None
    return None


class Gateway:
    """The listening socket, the connections on it, and the retry loop for copies the relay did not take."""

    def __init__(self, pool: asyncpg.Pool, settings: Settings, max_connections: int = MAX_CONNECTIONS):
        self.pool = pool
        self.host, self.port = settings.host, settings.gateway_port
        self.config = GatewayConfig(
            signer=TokenSigner(settings.secret_keys, timedelta(days=settings.link_max_age_days)),
            public_url=settings.public_url, mailto=settings.mailto, pads=hmac_pads(settings.hash_key),
            relay=Relay.from_url(settings.relay_url) if settings.relay_url else None, auth=settings.gateway_auth,
            max_recipients=settings.gateway_max_recipients,
        )
        self.tls_context = starttls_context(settings)
        self.max_connections = max_connections
        self.handler = GatewayHandler(pool, self.config)
        self.connections: set[GatewayProtocol] = set()
        self.server: asyncio.base_events.Server | None = None
        self._retrying: asyncio.Task | None = None

    def _protocol(self) -> GatewayProtocol:
        # AUTH is offered and taken where auth_allowed says (handle_EHLO, handle_AUTH), and
        # required in handle_MAIL (per client in loopback mode); the key is checked in handle_AUTH.
        return GatewayProtocol(self.handler, connections=self.connections, max_connections=self.max_connections,
                               hostname=self.hostname, ident="optout gateway", decode_data=False,
                               tls_context=self.tls_context, auth_require_tls=False,
                               authenticator=lambda *args: AuthResult(success=False))

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        self.hostname = socket.gethostname()
        self.server = await loop.create_server(self._protocol, self.host, self.port, reuse_port=True)
        self.port = self.server.sockets[0].getsockname()[1]
        self._retrying = asyncio.create_task(self._retry_forever())
        log.info("gateway listening on %s:%d (auth %s, STARTTLS %s, relay %r)", self.host, self.port,
                 self.config.auth, "offered" if self.tls_context else "not offered", self.config.relay)

    async def stop(self, grace: float = STOP_GRACE) -> None:
        """Stop accepting, let messages being sent or relayed finish, then close the rest."""
        if self._retrying is not None:
            self._retrying.cancel()
        if self.server is None:
            return
        self.server.close()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + grace
        while any(c.in_data for c in self.connections) and loop.time() < deadline:
            await asyncio.sleep(0.05)
        for connection in list(self.connections):
            if connection.transport is not None:
                connection.transport.close()
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

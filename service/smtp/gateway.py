"""The sending gateway (OPTOUT_GATEWAY_PORT): an SMTP relay that enforces the suppression list.
Blocked recipients are refused; a message is answered 250 only once its outbox rows are committed."""

from __future__ import annotations

import asyncio
import binascii
import contextlib
import ipaddress
import logging
import socket
from base64 import b64decode
from dataclasses import dataclass

import asyncpg
from aiosmtpd.smtp import MISSING, SMTP, AuthResult, Envelope, Session

from ..answers import answer_for
from ..domain.addresses import canonical_batch, masked_address
from ..domain.apikeys import ApiKeys
from ..domain.campaigns import guard
from ..domain.campaigns.model import valid_campaign
from ..domain.consent import ledger
from ..domain.errors import InvalidCampaign, InvalidScope
from ..domain import outbox
from ..domain.outbox import OutboxKind
from ..domain.suppressions import suppression_list
from ..domain.suppressions.rules import valid_scope
from ..mail.copies import CAMPAIGN_HEADER, SCOPE_HEADER, header_name, split_message
from ..mail.outbox import Drainer
from ..services import Services
from ..settings import Settings
from .guarded import AnsweringHandler, MAX_CONNECTIONS, GuardedSMTP
from .tls import starttls_context

log = logging.getLogger("optout.gateway")

QUEUED = "250 2.0.0 Queued: one copy for each of {copies} recipient(s), each sent through the relay"
SUPPRESSED = "550 5.7.1 Recipient has opted out of this mail"
ALL_SUPPRESSED = "550 5.7.1 Every recipient has opted out of this kind of mail"
TOO_MANY_RECIPIENTS = "452 4.5.3 Too many recipients"
AUTH_NEEDED = "530 5.7.0 Authentication required"
AUTH_NEEDS_TLS = "530 5.7.0 Must issue a STARTTLS command first"
AUTH_LOOPBACK_ONLY = "530 5.7.0 Authentication is taken only over TLS, and TLS is not offered here"
AUTH_OK = "235 2.7.0 Authentication successful"
AUTH_BAD = "535 5.7.8 Authentication credentials invalid"
AUTH_FAILED_TOO_OFTEN = "421 4.7.0 Too many failed authentication attempts, closing the connection"
NO_RELAY = "451 4.3.5 No relay is configured (OPTOUT_RELAY_URL)"
CAMPAIGN_PAUSED = ("451 4.7.1 Campaign paused by its guardrail (complaints or bounces); "
                   "try again after it is resumed")
DEFAULT_SCOPE = "newsletter"
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


def session_scope(session: Session) -> str:
    """The scope RCPT is checked in, before the message's X-Optout-Scope can be read: the AUTH
    user name when it names a registered scope (a consent-required one refuses recipients
    without consent), else `newsletter`."""
    return getattr(session, "optout_scope", None) or DEFAULT_SCOPE


def withheld_note(withheld: list[str], scope: str, shown: int = 5) -> str:
    """SMTP has one answer per message after DATA: the recipients held back at DATA are named in
    its text (a few, so that the reply line stays short)."""
    if not withheld:
        return ""
    names = ", ".join(str(w)[:80] for w in withheld[:shown])
    more = f" and {len(withheld) - shown} more" if len(withheld) > shown else ""
    return f"; withheld, opted out of {scope}: {names}{more}"


def _withheld_in_log(withheld: list[str], shown: int = 5) -> str:
    """The withheld recipients as the log names them: how many, and the first few masked (the
    log is read by more people than the sender, who is told them in full)."""
    if not withheld:
        return ""
    named = ", ".join(masked_address(a) for a in withheld[:shown])
    return f"; withheld, blocked in that scope: {len(withheld)} ({named}{', …' if len(withheld) > shown else ''})"


def _header_fields(raw: bytes) -> list[bytes]:
    return split_message(raw)[0]


def scope_of(fields: list[bytes]) -> str:
    for field in fields:
        if header_name(field) == SCOPE_HEADER:
            return valid_scope(field.split(b":", 1)[1].strip().decode("ascii", "replace"))
    return DEFAULT_SCOPE


def campaign_of(fields: list[bytes]) -> str | None:
    """The X-Optout-Campaign header's campaign (its first occurrence), or None. The name is UTF-8
    (RFC 6532), written whole: an encoded word is taken as it is written."""
    for field in fields:
        if header_name(field) == CAMPAIGN_HEADER:
            value = field.split(b":", 1)[1].replace(b"\r\n", b"").strip()
            try:
                text = value.decode("utf-8")
            except UnicodeDecodeError:
                raise InvalidCampaign("X-Optout-Campaign is not UTF-8.", field="X-Optout-Campaign") from None
            return valid_campaign(text, "X-Optout-Campaign")
    return None


@dataclass
class GatewayConfig:
    services: Services
    auth: str
    max_recipients: int = 1000


class GatewayProtocol(GuardedSMTP):
    """GuardedSMTP that counts the failed AUTH attempts of its connection."""

    def __init__(self, handler: "GatewayHandler", **options):
        super().__init__(handler, **options)
        self.auth_failures = 0


class GatewayHandler(AnsweringHandler):
    """Checks each recipient as it is given and queues a copy for each allowed one (aiosmtpd handler hooks)."""

    name = "gateway"
    log = log

    def __init__(self, pool: asyncpg.Pool, config: GatewayConfig):
        self.pool = pool
        self.config = config
        self.keys = ApiKeys(pool)
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
        credentials = await _credentials(server, args)
        user, password = credentials if isinstance(credentials, tuple) else ("", None)
        key = await self.keys.lookup(password) if isinstance(password, str) else None
        if key is None or not key.allows("links"):
            server.auth_failures += 1
            log.info("gateway AUTH refused from %s", session.peer[0] if session.peer else "?")
            await asyncio.sleep(self.failure_delay)
            return None if credentials is MISSING else AUTH_BAD  # MISSING: aiosmtpd has answered already
        session.authenticated = True
        session.auth_data = key.name
        # The user name names the session's scope when it is a registered one (RCPT is checked there).
        if user and user.isascii() and len(user) <= 64:
            async with self.pool.acquire() as conn:
                registered = await ledger.registered_scope(conn, user.strip().lower())
            if registered is not None:
                session.optout_scope = registered.scope
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
            services = self.config.services
            [result] = await suppression_list.check(conn, [address], session_scope(session), services.keyed_hash,
                                                    services.erased)
        if not result.allowed:
            log.info("gateway refused a recipient at RCPT in scope %s (%s)", session_scope(session), result.reason)
            return SUPPRESSED
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(options)
        return "250 OK"

    async def handle_DATA(self, server, session: Session, envelope: Envelope) -> str:
        if self.config.services.relay is None:
            return NO_RELAY
        raw = envelope.original_content or b""
        try:
            fields = _header_fields(raw)
            scope, campaign = scope_of(fields), campaign_of(fields)
        except (InvalidScope, InvalidCampaign) as exc:
            return answer_for(exc).smtp_reply
        async with self.pool.acquire() as conn:
            async with conn.transaction():
                if await guard.is_paused(conn, campaign):
                    log.info("gateway: a message of paused campaign %r deferred (451)", campaign)
                    return CAMPAIGN_PAUSED
                results = await suppression_list.check(conn, envelope.rcpt_tos, scope, self.config.services.keyed_hash,
                                                 self.config.services.erased)
                allowed = [r.email for r in results if r.allowed]
                if not allowed:
                    return ALL_SUPPRESSED
                copies = await outbox.queue_gateway_copies(conn, raw, canonical_batch(allowed), allowed, scope,
                                                           campaign, self.config.services.keyed_hash,
                                                           self.config.services.return_paths)
        self.config.services.outbox.wake()
        withheld = [r.email for r in results if not r.allowed]
        log.info("gateway: %d copies queued in scope %s%s%s", copies, scope,
                 f", campaign {campaign!r}" if campaign else "", _withheld_in_log(withheld))
        return QUEUED.format(copies=copies) + withheld_note(withheld, scope)



async def _credentials(server: SMTP, args: list[str]):
    """(user name, password) of AUTH PLAIN (RFC 4616) or AUTH LOGIN, asked for when not given
    inline; None when they cannot be read, MISSING when the client gave up and aiosmtpd has
    answered it."""
    mechanism = args[0].upper()
    try:
        if mechanism == "PLAIN":
            blob = b64decode(args[1], validate=True) if len(args) > 1 else await server.challenge_auth("")
            if blob is MISSING:
                return MISSING
            _authzid, user, password = blob.split(b"\0")[:3]
            return user.decode(), password.decode()
        if mechanism == "LOGIN":
            user = await server.challenge_auth("Username:") if len(args) == 1 else b64decode(args[1], validate=True)
            if user is MISSING:
                return MISSING
            password = await server.challenge_auth("Password:")
            return MISSING if password is MISSING else (user.decode(), password.decode())
    except (binascii.Error, IndexError, UnicodeDecodeError, ValueError):
        return None
    return None


class Gateway:
    """The listening socket, the connections on it, and an outbox drainer for the gateway's
    copies, so that they leave at once (the worker's drainer sends them too, if this one is
    not running)."""

    def __init__(self, pool: asyncpg.Pool, settings: Settings, max_connections: int = MAX_CONNECTIONS,
                 services: Services | None = None):
        self.pool = pool
        self.host, self.port = settings.host, settings.gateway_port
        self.services = services or Services.build(settings)
        self.config = GatewayConfig(services=self.services, auth=settings.gateway_auth,
                                    max_recipients=settings.gateway_max_recipients)
        self.tls_context = starttls_context(settings)
        self.max_connections = max_connections
        self.max_message_bytes = settings.max_message_bytes  # what is queued is bounded as what is received
        self.handler = GatewayHandler(pool, self.config)
        self.connections: set[GatewayProtocol] = set()
        self.server: asyncio.base_events.Server | None = None
        self.drainer = Drainer(pool, self.services, kinds=(OutboxKind.GATEWAY,))
        self._stop_draining = asyncio.Event()
        self._draining: asyncio.Task | None = None

    def _protocol(self) -> GatewayProtocol:
        # AUTH is offered and taken where auth_allowed says (handle_EHLO, handle_AUTH), and
        # required in handle_MAIL (per client in loopback mode); the key is checked in handle_AUTH.
        return GatewayProtocol(self.handler, connections=self.connections, max_connections=self.max_connections,
                               hostname=self.hostname, ident="optout gateway", decode_data=False,
                               data_size_limit=self.max_message_bytes,
                               tls_context=self.tls_context, auth_require_tls=False,
                               authenticator=lambda *args: AuthResult(success=False))

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        self.hostname = socket.gethostname()
        self.server = await loop.create_server(self._protocol, self.host, self.port, reuse_port=True)
        self.port = self.server.sockets[0].getsockname()[1]
        self._draining = asyncio.create_task(self.drainer.run(self._stop_draining))
        relay = self.services.relay
        log.info("gateway listening on %s:%d (auth %s, STARTTLS %s, %s)", self.host, self.port,
                 self.config.auth, "offered" if self.tls_context else "not offered",
                 f"relaying through {relay.host}:{relay.port}" if relay else
                 "no OPTOUT_RELAY_URL: messages are refused with 451 until one is set")

    async def stop(self, grace: float = STOP_GRACE) -> None:
        """Stop accepting, let messages being received finish, then close the rest; the
        drainer finishes the copies in hand (the rest stay queued)."""
        if self.server is not None:
            self.server.close()
            loop = asyncio.get_running_loop()
            deadline = loop.time() + grace
            while any(c.in_data for c in self.connections) and loop.time() < deadline:
                await asyncio.sleep(0.05)
            for connection in list(self.connections):
                if connection.transport is not None:
                    connection.transport.close()
            await self.server.wait_closed()
        if self._draining is not None:
            self._stop_draining.set()
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(asyncio.shield(self._draining), grace)

"""The inbound receiver: LMTP and SMTP on one port (OPTOUT_SMTP_PORT), over aiosmtpd.
A message is answered 250 only once its bytes are committed; otherwise 451, never a 5xx."""

from __future__ import annotations

import asyncio
import logging
import socket
import ssl

import asyncpg
from aiosmtpd.smtp import Envelope, Session, syntax

from ..answers import answer_for
from ..domain.errors import DomainError
from ..domain.inbound import inbox
from ..logs import Burst
from ..services import WakeUp
from ..storage.db import UNAVAILABLE
from .guarded import AnsweringHandler, MAX_CONNECTIONS, SHUTTING_DOWN, GuardedSMTP

log = logging.getLogger("optout.smtp")

# The reply names the stored message, so that the mailbox automation can follow it
# (GET /v1/inbound/{id}); the text before "as" stays as it was.
ACCEPTED = "250 2.0.0 Message stored as {id}"
ALREADY_STORED = "250 2.0.0 Message already stored as {id}"
STORE_TIMEOUT = 15.0


class InboundHandler(AnsweringHandler):
    """Stores each message once for all its recipients (aiosmtpd handler hooks)."""

    name = "receiver"

    def __init__(self, pool: asyncpg.Pool, store_timeout: float = STORE_TIMEOUT, stored: WakeUp | None = None):
        self.pool = pool
        self.store_timeout = store_timeout
        self.stored = stored  # the worker in this process, woken by each new message
        # A mailing's bounces arrive by the hundred: each message's reading is logged by the
        # worker; the log tells the first stored of each minute one by one, then how many more.
        self.logged = Burst(log, "inbound stored from smtp/lmtp")
        self.in_flight = 0

    async def handle_EHLO(self, server: "ReceiverProtocol", session: Session, envelope: Envelope,
                          hostname: str, responses: list[str]) -> list[str]:
        """The receiver takes mail from anyone and offers no AUTH, with or without TLS."""
        session.host_name = hostname
        return [r for r in responses if not r.startswith("250-AUTH")]

    async def handle_AUTH(self, server: "ReceiverProtocol", session: Session, envelope: Envelope, args) -> str:
        return "502 5.5.1 AUTH is not offered here"

    async def handle_DATA(self, server: "ReceiverProtocol", session: Session, envelope: Envelope) -> str:
        via = "lmtp" if server.speaks_lmtp else "smtp"
        raw = envelope.original_content or b""
        self.in_flight += 1
        try:
            async with asyncio.timeout(self.store_timeout):
                async with self.pool.acquire() as conn:  # one statement, committed when it returns
                    stored = await inbox.store(conn, via, raw, envelope.mail_from, envelope.rcpt_tos)
        except DomainError as exc:  # an empty message is refused; another domain error is answered 451
            log.info("%s message refused: %s", via, exc.message)
            return answer_for(exc).smtp_reply
        except UNAVAILABLE as exc:  # the database is down, slow or refusing: 451, the sender retries
            log.warning("%s message not stored (%s): answered 451", via, exc.__class__.__name__)
            return answer_for(exc).smtp_reply
        except Exception as exc:  # a fault of ours: still 451, so the sender keeps the message
            log.exception("%s message not stored because of an unexpected error: answered 451", via)
            return answer_for(exc).smtp_reply
        finally:
            self.in_flight -= 1
        if self.stored is not None and not stored.duplicate:
            self.stored.wake()
        self.logged.note("inbound %s: %s from %s (%d bytes, %d recipient(s))%s", stored.id, via,
                         "smtp client" if not session.peer else session.peer[0], len(raw), len(envelope.rcpt_tos),
                         " duplicate" if stored.duplicate else "")
        return (ALREADY_STORED if stored.duplicate else ACCEPTED).format(id=stored.id)



class ReceiverProtocol(GuardedSMTP):
    """GuardedSMTP with LHLO added and per-recipient LMTP replies."""

    def __init__(self, handler: InboundHandler, *, max_bytes: int, hostname: str, sessions: set,
                 tls_context: ssl.SSLContext | None = None, max_connections: int = MAX_CONNECTIONS):
        super().__init__(handler, connections=sessions, max_connections=max_connections,
                         data_size_limit=max_bytes, enable_SMTPUTF8=True, decode_data=False,
                         hostname=hostname, ident="optout", timeout=300, tls_context=tls_context)
        self.speaks_lmtp = False

    @syntax("LHLO hostname")
    async def smtp_LHLO(self, arg: str) -> None:
        """RFC 2033: the LMTP greeting; from here on DATA answers once per recipient."""
        self.speaks_lmtp = True
        await self.smtp_EHLO(arg)

    async def answer_message(self, status: str, recipients: list[str]) -> None:
        if not self.speaks_lmtp:
            await self.push(status)
            return
        for recipient in recipients:
            await self.push(f"{status} for <{inbox.envelope_text(recipient)}>")

    async def close_idle(self) -> None:
        """At shutdown: tell a client that is not sending a message to come back later."""
        if not self.in_data and self.transport is not None and not self.transport.is_closing():
            try:
                await self.push(SHUTTING_DOWN)
            except Exception:
                pass
            self.transport.close()


class Receiver:
    """The listening socket, the sessions on it, and a graceful stop."""

    def __init__(self, pool: asyncpg.Pool, host: str, port: int, max_bytes: int,
                 tls_context: ssl.SSLContext | None = None, max_connections: int = MAX_CONNECTIONS,
                 stored: WakeUp | None = None):
        self.handler = InboundHandler(pool, stored=stored)
        self.host, self.port, self.max_bytes = host, port, max_bytes
        self.tls_context = tls_context
        self.max_connections = max_connections
        self.sessions: set[ReceiverProtocol] = set()
        self.server: asyncio.base_events.Server | None = None
        self.hostname = socket.gethostname()

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        self.server = await loop.create_server(
            lambda: ReceiverProtocol(self.handler, max_bytes=self.max_bytes, hostname=self.hostname,
                                     sessions=self.sessions, tls_context=self.tls_context,
                                     max_connections=self.max_connections),
            self.host, self.port, reuse_port=True, backlog=256,
        )
        self.port = self.server.sockets[0].getsockname()[1]

    async def stop(self, grace: float) -> None:
        """Stop accepting, let messages being sent or stored finish, then close the rest."""
        if self.server is None:
            return
        self.server.close()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + grace
        while (self.handler.in_flight or any(s.in_data for s in self.sessions)) and loop.time() < deadline:
            await asyncio.sleep(0.05)
        for session in list(self.sessions):
            await session.close_idle()
        await asyncio.sleep(0)
        for session in list(self.sessions):
            if session.transport is not None:
                session.transport.close()
        await self.server.wait_closed()

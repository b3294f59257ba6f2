"""The inbound receiver: LMTP and SMTP on one port (OPTOUT_SMTP_PORT), over aiosmtpd.

A client that greets with LHLO speaks LMTP and gets one reply per recipient after DATA;
EHLO or HELO is SMTP. A message is answered 250 only once its bytes are committed to
PostgreSQL; when they cannot be, 451 (the sending MTA keeps the message and tries again),
never a 5xx that would make it give up, and never aiosmtpd's own "500 Error" on an
exception. Above OPTOUT_MAX_MESSAGE_BYTES the answer is 552, and the excess is discarded
as it arrives rather than held in memory.
"""

from __future__ import annotations

import asyncio
import logging
import socket

import asyncpg
from aiosmtpd.smtp import SMTP, Envelope, Session, syntax

from ..domain import inbound
from ..domain.errors import DomainError
from ..storage.db import UNAVAILABLE

log = logging.getLogger("optout.smtp")

ACCEPTED = "250 2.0.0 Message stored"
ALREADY_STORED = "250 2.0.0 Message already stored"
TRY_LATER = "451 4.3.0 Cannot store the message right now, try again later"
TOO_BIG = "552 5.3.4 Message exceeds the size limit"
EMPTY = "554 5.6.0 Empty message"
SHUTTING_DOWN = "421 4.3.2 Service shutting down, try again later"
STORE_TIMEOUT = 15.0
_AIOSMTPD_TOO_MUCH = "552 Error: Too much mail data"


class InboundHandler:
    """Stores each message once for all its recipients (aiosmtpd handler hooks)."""

    def __init__(self, pool: asyncpg.Pool, store_timeout: float = STORE_TIMEOUT):
        self.pool = pool
        self.store_timeout = store_timeout
        self.in_flight = 0

    async def handle_DATA(self, server: "ReceiverProtocol", session: Session, envelope: Envelope) -> str:
        via = "lmtp" if server.speaks_lmtp else "smtp"
        raw = envelope.original_content or b""
        self.in_flight += 1
        try:
            async with asyncio.timeout(self.store_timeout):
                async with self.pool.acquire() as conn:
                    async with conn.transaction():
                        stored = await inbound.store(conn, via, raw, envelope.mail_from, envelope.rcpt_tos)
        except DomainError as exc:
            log.info("%s message refused: %s", via, exc.message)
            return EMPTY if not raw.strip() else TRY_LATER
        except UNAVAILABLE as exc:  # the database is down, slow or refusing: the sender retries
            log.warning("%s message not stored (%s): answered 451", via, exc.__class__.__name__)
            return TRY_LATER
        except Exception:  # a fault of ours: still 451, so the sender keeps the message
            log.exception("%s message not stored because of an unexpected error: answered 451", via)
            return TRY_LATER
        finally:
            self.in_flight -= 1
        log.info("inbound %s: %s from %s (%d bytes, %d recipient(s))%s", stored.id, via,
                 "smtp client" if not session.peer else session.peer[0], len(raw), len(envelope.rcpt_tos),
                 " duplicate" if stored.duplicate else "")
        return ALREADY_STORED if stored.duplicate else ACCEPTED

    async def handle_exception(self, error: Exception) -> str:
        log.error("receiver error (%s): answered 451", error.__class__.__name__)
        return TRY_LATER


class ReceiverProtocol(SMTP):
    """aiosmtpd's SMTP with LHLO added, per-recipient LMTP replies, and named replies."""

    def __init__(self, handler: InboundHandler, *, max_bytes: int, hostname: str, sessions: set):
        # Lines longer than RFC 5321 allows are real (unwrapped HTML): accept them up to the
        # size limit instead of refusing the message with a 500.
        self.line_length_limit = max_bytes + 2
        super().__init__(handler, data_size_limit=max_bytes, enable_SMTPUTF8=True, decode_data=False,
                         hostname=hostname, ident="optout", timeout=300, loop=asyncio.get_running_loop())
        self.speaks_lmtp = False
        self.in_data = False
        self._data_recipients: list[str] = []
        self._sessions = sessions

    def connection_made(self, transport) -> None:
        self._sessions.add(self)
        super().connection_made(transport)

    def connection_lost(self, error) -> None:
        self._sessions.discard(self)
        super().connection_lost(error)

    @syntax("LHLO hostname")
    async def smtp_LHLO(self, arg: str) -> None:
        """RFC 2033: the LMTP greeting; from here on DATA answers once per recipient."""
        self.speaks_lmtp = True
        await super().smtp_EHLO(arg)

    async def push(self, status: str) -> None:
        if status.startswith("354"):
            self.in_data = True
            self._data_recipients = list(self.envelope.rcpt_tos) if self.envelope is not None else []
            await super().push(status)
            return
        if not self.in_data:
            await super().push(status)
            return
        self.in_data = False
        if status.startswith(_AIOSMTPD_TOO_MUCH):
            status = TOO_BIG
        if self.speaks_lmtp and self._data_recipients:
            for recipient in self._data_recipients:
                await super().push(f"{status} for <{inbound.envelope_text(recipient)}>")
        else:
            await super().push(status)

    async def close_idle(self) -> None:
        """At shutdown: tell a client that is not sending a message to come back later."""
        if not self.in_data and self.transport is not None and not self.transport.is_closing():
            try:
                await super().push(SHUTTING_DOWN)
            except Exception:
                pass
            self.transport.close()


class Receiver:
    """The listening socket, the sessions on it, and a graceful stop."""

    def __init__(self, pool: asyncpg.Pool, host: str, port: int, max_bytes: int):
        self.handler = InboundHandler(pool)
        self.host, self.port, self.max_bytes = host, port, max_bytes
        self.sessions: set[ReceiverProtocol] = set()
        self.server: asyncio.base_events.Server | None = None
        self.hostname = socket.gethostname()

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        self.server = await loop.create_server(
            lambda: ReceiverProtocol(self.handler, max_bytes=self.max_bytes, hostname=self.hostname,
                                     sessions=self.sessions),
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

"""GuardedSMTP: the aiosmtpd server that the receiver and the gateway both run on. It bounds
what a stranger can make either hold (command lines, lines of a message, connections, one
peer's share of them) and refuses a message past the size limit as it arrives."""

from __future__ import annotations

import asyncio
import collections
import ipaddress
import logging

from aiosmtpd.smtp import MISSING, SMTP, TLSSetupException, syntax

from ..answers import answer_for, answer_for_class
from ..domain.inbound.inbox import MessageTooLarge

log = logging.getLogger("optout.smtp")

TOO_BIG = answer_for_class(MessageTooLarge).smtp_reply  # refused as it arrives, past the limit
SHUTTING_DOWN = "421 4.3.2 Service shutting down, try again later"
LINE_TOO_LONG = "500 5.5.2 Line too long"
TOO_MANY_CONNECTIONS = "421 4.7.0 Too many connections, try again later"
TLS_ALREADY = "503 5.5.1 TLS is already active"
_AIOSMTPD_LINE_TOO_LONG = "500 Command line too long"

# RFC 5321 4.5.3.1.4: 512 octets for a command line (aiosmtpd allows MAIL a little more for
# the SIZE and SMTPUTF8 parameters it offers). Longer is answered 500 and the session goes on;
# a line this long or longer is no command at all: it is answered and the connection closed
# at once, without reading the rest.
COMMAND_LINE_LIMIT = 512
HANG_UP_LINE = 2048
# RFC 5321 4.5.3.1.6 allows 1000 octets for a line of a message, but real mail has longer ones
# (unwrapped HTML): up to this many are taken; a longer one is answered 500 after the final dot.
DATA_LINE_LIMIT = 64 * 1024
# The stream reader's buffer: a longer line of a message is read in pieces of about this size.
READ_LIMIT = 16 * 1024
# A message of short lines is read line by line from the buffer without waiting: the web app
# and the other sessions in this process get their turn every this many lines.
YIELD_EVERY = 256
MAX_CONNECTIONS = 100
# One outside peer may hold this many of them, so that it cannot take every slot (and keep
# them with a byte every few minutes) while others wait. Loopback is the local MTA handing
# over everyone's mail, and is bounded by MAX_CONNECTIONS alone.
MAX_PER_PEER = 20
LINGER = 5.0


def _host_of(peer) -> str | None:
    """The peer's IP address, or None for loopback (or a peer without an address)."""
    try:
        address = ipaddress.ip_address(peer[0])
    except (TypeError, ValueError, IndexError):
        return None
    mapped = getattr(address, "ipv4_mapped", None)  # ::ffff:127.0.0.1 on a dual-stack socket
    if address.is_loopback or (mapped is not None and mapped.is_loopback):
        return None
    return str(mapped or address)


class AnsweringHandler:
    """What both servers' handlers share: an error is answered from the one error table and logged
    under the server's name, never as a traceback to the client."""

    name = "smtp"
    log = log

    async def handle_exception(self, error: Exception) -> str:
        reply = answer_for(error).smtp_reply
        if isinstance(error, TLSSetupException):  # aiosmtpd closes the connection, with no reply
            self.log.info("%s: a TLS handshake failed (%s)", self.name, error.__cause__.__class__.__name__)
        else:
            self.log.error("%s error (%s): answered %s", self.name, error.__class__.__name__, reply[:3])
        return reply


class GuardedSMTP(SMTP):
    """aiosmtpd's SMTP with bounded command lines, bounded lines of a message (aiosmtpd keeps an
    over-long one whole until it ends), at most `max_connections` connections, and a last reply
    that reaches the client before the connection closes."""

    line_length_limit = READ_LIMIT  # aiosmtpd's name for the reader's limit

    def __init__(self, handler, *, connections: set, max_connections: int = MAX_CONNECTIONS, **options):
        super().__init__(handler, loop=asyncio.get_running_loop(), **options)
        self.command_size_limits = collections.defaultdict(lambda: COMMAND_LINE_LIMIT)  # aiosmtpd's is shared
        self.in_data = False  # from 354 to the reply after the message
        self._reading_data = False  # from 354 to the final dot
        self._connections = connections
        self._max_connections = max_connections
        self._accepted = False
        self._peer_host: str | None = None  # counted against MAX_PER_PEER; None on loopback
        self._unended = 0  # length of the command line received so far without its end
        self._hung_up = False
        self._linger: asyncio.TimerHandle | None = None

    def connection_made(self, transport) -> None:
        if not self._accepted:  # a new connection, not the same one after STARTTLS
            host = _host_of(transport.get_extra_info("peername"))
            same_peer = 0 if host is None else sum(1 for c in self._connections if c._peer_host == host)
            if len(self._connections) >= self._max_connections or same_peer >= MAX_PER_PEER:
                log.warning("refused a connection: %d open already, %d of them from this peer",
                            len(self._connections), same_peer)
                transport.write(TOO_MANY_CONNECTIONS.encode() + b"\r\n")
                transport.close()
                return
            self._peer_host = host
            self._accepted = True
            self._connections.add(self)
        self._unended = 0
        super().connection_made(transport)

    def connection_lost(self, error) -> None:
        if not self._accepted:
            return
        self._connections.discard(self)
        if self._linger is not None:
            self._linger.cancel()
        super().connection_lost(error)

    def data_received(self, data: bytes) -> None:
        if self._hung_up:
            return
        if not self._reading_data:
            lines = data.split(b"\n")
            first = self._unended + len(lines[0])
            if first >= HANG_UP_LINE or any(len(line) >= HANG_UP_LINE for line in lines[1:]):
                log.info("hung up on a command line of %d octets or more", HANG_UP_LINE)
                self.hang_up(LINE_TOO_LONG)
                return
            self._unended = first if len(lines) == 1 else len(lines[-1])
        super().data_received(data)

    def hang_up(self, reply: str) -> None:
        """Send a last reply and close. Until the client closes too (at most LINGER seconds) what
        it still sends is read and dropped: a close with unread input resets the connection,
        which can destroy the reply before the client has read it."""
        transport = self.transport
        if self._hung_up or transport is None or transport.is_closing():
            return
        self._hung_up = True
        transport.write(reply.encode() + b"\r\n")
        if transport.can_write_eof():
            transport.write_eof()
            self._linger = self.loop.call_later(LINGER, transport.close)
        else:
            transport.close()

    async def push(self, status) -> None:
        if self._hung_up:
            return
        await super().push(LINE_TOO_LONG if status == _AIOSMTPD_LINE_TOO_LONG else status)

    @syntax("EHLO hostname")
    async def smtp_EHLO(self, hostname: str) -> None:
        self.command_size_limits = collections.defaultdict(lambda: COMMAND_LINE_LIMIT)  # aiosmtpd adds to it
        await super().smtp_EHLO(hostname)

    @syntax("STARTTLS", when="tls_context")
    async def smtp_STARTTLS(self, arg: str) -> None:
        if self.session is not None and self.session.ssl is not None:
            await self.push(TLS_ALREADY)
            return
        await super().smtp_STARTTLS(arg)

    @syntax("DATA")
    async def smtp_DATA(self, arg: str) -> None:
        if await self.check_helo_needed() or await self.check_auth_needed("DATA"):
            return
        if not self.envelope.rcpt_tos:
            await self.push("503 Error: need RCPT command")
            return
        if arg:
            await self.push("501 Syntax: DATA")
            return
        recipients = list(self.envelope.rcpt_tos)
        self.in_data = self._reading_data = True
        try:
            await self.push("354 End data with <CR><LF>.<CR><LF>")
            content, status = await self._read_message()
            self._reading_data = False
            if status is None:
                self.envelope.content = self.envelope.original_content = content
                status = await self._call_handler_hook("DATA")
                status = "250 OK" if status is MISSING else status
            self._set_post_data_state()
            await self.answer_message(status, recipients)
        finally:
            self.in_data = self._reading_data = False

    async def _read_message(self) -> tuple[bytes, str | None]:
        """The message up to the final dot, dot-unstuffed (RFC 5321 4.5.2), or a refusal: past the
        size or line limit the rest is read and dropped, and answered after the dot (4.2.5)."""
        content = bytearray()  # one buffer: a list of lines would cost ~40 bytes more per line
        pieces: list[bytes] = []  # of a line longer than the reader's buffer
        size = line_size = 0
        refusal = None
        count = 0
        while True:
            count += 1
            if count % YIELD_EVERY == 0:  # lines in the buffer are read without a pause otherwise
                await asyncio.sleep(0)
            try:
                piece = await self._reader.readuntil(b"\r\n")
            except asyncio.LimitOverrunError as overrun:
                piece = await self._reader.read(overrun.consumed)
            if line_size == 0 and piece == b".\r\n":
                break
            size += len(piece)
            line_size += len(piece)
            if refusal is None and self.data_size_limit and size > self.data_size_limit:
                refusal = TOO_BIG
            elif refusal is None and line_size > DATA_LINE_LIMIT:
                refusal = LINE_TOO_LONG
            if refusal is not None:
                content.clear()
                pieces.clear()
            else:
                pieces.append(piece)
            if piece.endswith(b"\r\n"):
                if refusal is None:
                    line = pieces[0] if len(pieces) == 1 else b"".join(pieces)
                    content += memoryview(line)[1:] if line.startswith(b".") else line
                pieces.clear()
                line_size = 0
        if refusal is not None:
            return b"", refusal
        return bytes(content), None

    async def answer_message(self, status: str, recipients: list[str]) -> None:
        """The reply after the final dot: one for the message in SMTP."""
        await self.push(status)

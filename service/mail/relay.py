"""Sending through the outgoing relay named by OPTOUT_RELAY_URL (`smtp://` or `smtps://`).
A failure is temporary (down, or 4xx) or permanent (5xx for this message)."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import socket
import ssl
from dataclasses import dataclass
from typing import AsyncIterator, Iterator, Sequence
from urllib.parse import unquote, urlsplit

import aiosmtplib

DEFAULT_PORTS = {"smtp": 25, "smtps": 465}


class RelayError(Exception):
    """The relay did not take the message; `temporary` says whether a retry may succeed."""

    def __init__(self, message: str, temporary: bool):
        super().__init__(message)
        self.temporary = temporary


@dataclass(frozen=True)
class Relay:
    host: str
    port: int
    username: str | None = None
    password: str | None = None
    implicit_tls: bool = False
    timeout: float = 30.0

    @classmethod
    def from_url(cls, url: str, timeout: float = 30.0) -> "Relay":
        parts = urlsplit(url)
        if parts.scheme not in DEFAULT_PORTS or not parts.hostname:
            raise ValueError("a relay URL looks like smtp://user:pass@host:port or smtps://...")
        return cls(
            host=parts.hostname,
            port=parts.port or DEFAULT_PORTS[parts.scheme],
            username=unquote(parts.username) if parts.username else None,
            password=unquote(parts.password) if parts.password else None,
            implicit_tls=parts.scheme == "smtps",
            timeout=timeout,
        )

    def __repr__(self) -> str:  # never show the password
        return f"Relay({self.host}:{self.port}, tls={'implicit' if self.implicit_tls else 'starttls-if-offered'})"

    @contextlib.asynccontextmanager
    async def session(self) -> AsyncIterator["RelaySession"]:
        """One connection for several messages (the gateway's copies of one mail)."""
        client = aiosmtplib.SMTP(
            hostname=self.host, port=self.port, username=self.username, password=self.password,
            use_tls=self.implicit_tls, start_tls=None if not self.implicit_tls else False,
            timeout=self.timeout, local_hostname=_local_hostname(),
        )
        with _relay_errors():
            await client.connect()
        try:
            yield RelaySession(client)
        finally:
            try:
                await client.quit()
            except (aiosmtplib.SMTPException, OSError, asyncio.TimeoutError, ssl.SSLError):
                client.close()

    async def send(self, message: bytes, sender: str, recipients: Sequence[str]) -> str:
        """Hand one message to the relay; return its reply, or raise RelayError."""
        async with self.session() as session:
            return await session.send(message, sender, recipients)


@dataclass(frozen=True)
class RelaySession:
    client: aiosmtplib.SMTP

    async def send(self, message: bytes, sender: str, recipients: Sequence[str]) -> str:
        with _relay_errors():
            _refused, reply = await self.client.sendmail(sender, list(recipients), message)
        return reply


@contextlib.contextmanager
def _relay_errors() -> Iterator[None]:
    """aiosmtplib's exceptions as RelayError, temporary (retry) or permanent (5xx)."""
    try:
        yield
    except aiosmtplib.SMTPRecipientsRefused as exc:
        codes = [r.code for r in exc.recipients]
        raise RelayError(f"relay refused the recipients ({codes})", all(c < 500 for c in codes)) from None
    except aiosmtplib.SMTPResponseException as exc:
        raise RelayError(f"relay answered {exc.code}", exc.code < 500) from None
    except (aiosmtplib.SMTPException, OSError, asyncio.TimeoutError, ssl.SSLError) as exc:
        raise RelayError(f"relay unreachable ({exc.__class__.__name__})", True) from None


@functools.cache
def _local_hostname() -> str:
    """The name given in EHLO, looked up once (aiosmtplib would resolve it on every connection)."""
    return socket.getfqdn()


class LazySession:
    """One relay connection for a run of sends, opened at the first send and opened again
    after a failure that may have broken it.

    A failure while opening it (no connection, a 4xx or 5xx greeting, EHLO, STARTTLS or a
    refused login) says nothing about the messages: it is temporary for every one of them,
    and the rest of the run is not tried (each try could wait for the relay's whole timeout).
    """

    def __init__(self, relay: Relay):
        self.relay = relay
        self._stack: contextlib.AsyncExitStack | None = None
        self._session: RelaySession | None = None
        self._unreachable: RelayError | None = None

    async def get(self) -> RelaySession:
        if self._unreachable is not None:
            raise self._unreachable
        if self._session is None:
            stack = contextlib.AsyncExitStack()
            try:
                self._session = await stack.enter_async_context(self.relay.session())
            except RelayError as exc:
                self._unreachable = RelayError(f"cannot open a session with the relay: {exc}", temporary=True)
                raise self._unreachable from None
            self._stack = stack
        return self._session

    def broken(self, error: RelayError) -> None:
        """After a temporary failure the connection may be gone: the next send opens a new one."""
        if error.temporary and self._stack is not None:
            stack, self._stack, self._session = self._stack, None, None
            asyncio.ensure_future(_close_quietly(stack))

    async def close(self) -> None:
        if self._stack is not None:
            await _close_quietly(self._stack)
            self._stack, self._session = None, None


async def _close_quietly(stack: contextlib.AsyncExitStack) -> None:
    with contextlib.suppress(Exception):
        await stack.aclose()

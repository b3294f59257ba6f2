"""The HTTP client of webhook deliveries: it connects only to addresses that may receive them.
It connects to the very addresses it judged, so DNS rebinding cannot redirect a delivery."""

from __future__ import annotations

import ipaddress
import socket

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult

from ..domain.errors import InvalidInput
from ..domain.events.receivers import address_refusal, private_hint
from ..domain.events.webhooks import valid_url

CONNECTIONS = 100  # open at once, over every receiver


class RefusedAddress(OSError):
    """A name resolved only to addresses that may not receive webhooks."""


class CheckedResolver(AbstractResolver):
    """Hands on only the addresses of a name that may receive webhooks."""

    def __init__(self, inner: AbstractResolver, allow_private: bool):
        self.inner, self.allow_private = inner, allow_private

    async def resolve(self, host: str, port: int = 0,
                      family: socket.AddressFamily = socket.AF_INET) -> list[ResolveResult]:
        found = await self.inner.resolve(host, port, family)
        kept, refused = [], set()
        for result in found:
            why = self._refusal(result["host"])
            if why is None:
                kept.append(result)
            else:
                refused.add(why)
        if not kept:  # the refused addresses are not named: they may map an inside network
            whys = ", ".join(sorted(refused)) or "none found"
            raise RefusedAddress(f"{host} resolves to no address that may receive webhooks ({whys})"
                                 f"{''.join(private_hint(why) for why in sorted(refused))}")
        return kept

    def _refusal(self, text: str) -> str | None:
        try:
            address = ipaddress.ip_address(text)
        except ValueError:
            return "unreadable"
        return address_refusal(address, self.allow_private)

    async def close(self) -> None:
        await self.inner.close()


class ReceiverClient:
    """One aiohttp session for every delivery of a drainer, made on first use (in the loop)."""

    def __init__(self, allow_private: bool = False, resolver: AbstractResolver | None = None,
                 connections: int = CONNECTIONS):
        self.allow_private = allow_private
        self._inner = resolver
        self._connections = connections
        self._resolver: CheckedResolver | None = None
        self._session: aiohttp.ClientSession | None = None

    def resolver(self) -> CheckedResolver:
        if self._resolver is None:
            self._resolver = CheckedResolver(self._inner or aiohttp.DefaultResolver(), self.allow_private)
        return self._resolver

    def session(self) -> aiohttp.ClientSession:
        if self._session is None:
            connector = aiohttp.TCPConnector(resolver=self.resolver(), limit=self._connections)
            self._session = aiohttp.ClientSession(connector=connector)  # trust_env off: no proxy from the environment
        return self._session

    def refusal(self, url: str) -> str | None:
        """Why `url` may not be delivered to now (its host as written), in a few words; None when it may."""
        try:
            valid_url(url, self.allow_private)
        except InvalidInput as refused:
            return refused.message.replace("'url'", "the URL", 1)
        return None

    async def __aenter__(self) -> "ReceiverClient":
        return self

    async def __aexit__(self, *exc_info) -> None:
        await self.close()

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None
        if self._resolver is not None:  # not the connector's to close: it was handed one
            await self._resolver.close()
            self._resolver = None

"""Who is asking: the peer, or behind a trusted proxy the first untrusted X-Forwarded-For hop.
A client is counted by its address, an IPv6 one by its /64, the block one subscriber is given."""

from __future__ import annotations

import ipaddress

from aiohttp import web

from .keys import SETTINGS

MAX_HOP = 100  # characters of a hop that is no address, counted as written


def _address(written: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """The IP address a hop or a peer is written as: alone, `v4:port`, `[v6]` or `[v6]:port`."""
    text = written.strip()
    if text.startswith("["):
        text, closed, _port = text[1:].partition("]")
        if not closed:
            return None
    elif text.count(":") == 1:
        text = text.partition(":")[0]
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    mapped = getattr(address, "ipv4_mapped", None)
    return mapped or address


def client_key(written: str) -> str | None:
    """The key a client is counted by, or None when `written` is no address."""
    address = _address(written[:MAX_HOP])
    if address is None:
        return None
    if address.version == 6:
        return str(ipaddress.ip_network(f"{address}/64", strict=False))
    return str(address)


def _trusted(written: str, networks: tuple) -> bool:
    address = _address(written[:MAX_HOP])
    return address is not None and any(address in network for network in networks)


def client_address(request: web.Request) -> str:
    """The key of the client a request comes from (the hop as written when it is no address)."""
    networks = request.config_dict[SETTINGS].trusted_proxies
    peer = request.remote or "unknown"
    if not networks or not _trusted(peer, networks):
        return client_key(peer) or peer[:MAX_HOP]
    hops = [hop.strip() for header in request.headers.getall("X-Forwarded-For", ()) for hop in header.split(",")]
    for hop in reversed(hops):
        if hop and not _trusted(hop, networks):
            return client_key(hop) or hop[:MAX_HOP]
    return client_key(peer) or peer[:MAX_HOP]

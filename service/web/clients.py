"""Who is asking: the connecting peer, or behind a trusted proxy (OPTOUT_TRUSTED_PROXIES) the first
hop of X-Forwarded-For, read from the right, that is not a trusted proxy itself. Anything a client
could write there before the first trusted hop is its own claim and is not believed."""

from __future__ import annotations

import ipaddress

from aiohttp import web

from .keys import SETTINGS


def _trusted(value: str, networks: tuple) -> bool:
    try:
        address = ipaddress.ip_address(value.strip().strip("[]"))
    except ValueError:
        return False
    return any(address in network for network in networks)


def client_address(request: web.Request) -> str:
    networks = request.config_dict[SETTINGS].trusted_proxies
    peer = request.remote or "unknown"
    if not networks or not _trusted(peer, networks):
        return peer
    hops = [hop.strip() for header in request.headers.getall("X-Forwarded-For", ()) for hop in header.split(",")]
    for hop in reversed(hops):
        if hop and not _trusted(hop, networks):
            return hop[:100]
    return peer

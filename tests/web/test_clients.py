"""Who a client is, as the own page's request limit counts them: the forms one client's address
is written in (a port, brackets, case) are one client, an IPv6 client is its /64 (the block one
subscriber is given), and a trusted proxy written with a port is still trusted."""

from __future__ import annotations

import ipaddress

import pytest

from service.app import create_app
from service.web.clients import client_key
from tests.web.self_service_helpers import ask


@pytest.mark.parametrize("written, key", [
    ("203.0.113.9", "203.0.113.9"),
    ("203.0.113.9:50001", "203.0.113.9"),
    ("[2001:db8:1:2::1]", "2001:db8:1:2::/64"),
    ("[2001:DB8:1:2::1]:443", "2001:db8:1:2::/64"),
    ("2001:db8:1:2:ffff:ffff:ffff:ffff", "2001:db8:1:2::/64"),
    ("::ffff:203.0.113.9", "203.0.113.9"),
    (" 203.0.113.9 ", "203.0.113.9"),
])
def test_the_forms_of_one_client_s_address_are_one_client(written, key):
    assert client_key(written) == key


@pytest.mark.parametrize("written", ["unknown", "", "203.0.113", "[::1", "999.1.1.1:80", "x" * 500])
def test_what_is_not_an_address_is_no_client_key(written):
    assert client_key(written) is None


async def test_behind_a_proxy_that_writes_ports_one_client_is_still_one(aiohttp_client, settings, pool):
    app = create_app(settings.with_overrides(trusted_proxies=(ipaddress.ip_network("127.0.0.0/8"),)), pool)
    client = await aiohttp_client(app)
    for n in range(30):
        forwarded = {"X-Forwarded-For": f"[2001:db8:7:7::{n + 1}]:{50000 + n}, 127.0.0.5:443"}
        assert (await ask(client, f"p{n}@example.be", **forwarded)).status == 200
    refused = await ask(client, "x@example.be", **{"X-Forwarded-For": "2001:db8:7:7::99"})
    assert refused.status == 429
    other = await ask(client, "y@example.be", **{"X-Forwarded-For": "2001:db8:7:8::1"})
    assert other.status == 200

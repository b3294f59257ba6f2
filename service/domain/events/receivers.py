"""Which hosts and addresses may receive webhooks.
Ambiguous IP forms and metadata names are refused; resolved addresses are judged again at delivery."""

from __future__ import annotations

import ipaddress
import re

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

LOOPBACK_NAMES = frozenset({"localhost", "localhost."})
# The names under which clouds serve their instance metadata (credentials among it).
METADATA_NAMES = frozenset({"metadata", "metadata.google.internal", "metadata.goog", "instance-data",
                            "instance-data.ec2.internal", "metadata.tencentyun.com"})
_net = ipaddress.ip_network
# Never delivered to, whatever the configuration says: (networks, what they are, in words).
NEVER = (
    ((_net("169.254.0.0/16"), _net("fe80::/10")), "link-local"),
    ((_net("100.100.100.200/32"), _net("fd00:ec2::254/128")), "a cloud metadata service"),
    ((_net("0.0.0.0/8"), _net("::/128")), "unspecified"),
    ((_net("224.0.0.0/4"), _net("ff00::/8")), "multicast"),
    ((_net("240.0.0.0/4"), _net("::/8")), "reserved"),
)
PRIVATE = (_net("10.0.0.0/8"), _net("172.16.0.0/12"), _net("192.168.0.0/16"),
           _net("100.64.0.0/10"), _net("fc00::/7"), _net("fec0::/10"))
PRIVATE_SWITCH = "OPTOUT_WEBHOOK_ALLOW_PRIVATE"
# NAT64 addresses carry the IPv4 address a connection ends up at in their last 32 bits.
NAT64 = _net("64:ff9b::/96")

_LABEL = re.compile(r"[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?")
_NUMERIC_LABEL = re.compile(r"[0-9]+|0x[0-9a-f]*")


def address_refusal(address: IPAddress, allow_private: bool) -> str | None:
    """Why no delivery may go to `address`, in a few words; None when one may."""
    address = _carried_ipv4(address)
    if address.is_loopback:
        return None
    for networks, what in NEVER:
        if any(address in network for network in networks):
            return what
    if any(address in network for network in PRIVATE) and not allow_private:
        return "private"
    return None


def private_hint(why: str) -> str:
    """What to do about a refused private address; nothing for the others."""
    return f" (deliveries to private addresses need {PRIVATE_SWITCH}=on)" if why == "private" else ""


def host_refusal(host: str, allow_private: bool) -> str | None:
    """Why `host` (as a URL names it, lower-cased; an IPv6 address without its brackets) may
    not receive webhooks, as a sentence; None when it may."""
    if ":" in host:
        if "%" in host:
            return "'url' names an IPv6 address with a zone, which only means something on one machine."
        try:
            address = ipaddress.IPv6Address(host)
        except ValueError:
            return "'url' names a host that is neither a DNS name nor an IP address."
        return _address_sentence(address, allow_private)
    bare = host[:-1] if host.endswith(".") else host
    if _NUMERIC_LABEL.fullmatch(bare.rpartition(".")[2]):  # a name's last label is never a number
        try:
            address = ipaddress.IPv4Address(host)
        except ValueError:
            return ("'url' names an IPv4 address in an unusual form (a decimal, hex or octal number, fewer than "
                    "four parts, a leading zero or a final dot); write it as four decimal numbers, like 192.0.2.10.")
        return _address_sentence(address, allow_private)
    labels = bare.split(".")
    if len(bare) > 253 or not all(_LABEL.fullmatch(label) for label in labels):
        return ("'url' names a host that is neither a DNS name nor an IP address (a name is letters, digits and "
                "hyphens, its non-ASCII labels in their xn-- form).")
    if bare in METADATA_NAMES:
        return "'url' names a cloud metadata service, which receives no webhooks."
    return None


def is_loopback(host: str) -> bool:
    """Whether a URL's host is this machine (a name that only it answers to, or a loopback address)."""
    if host.lower() in LOOPBACK_NAMES:
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    return _carried_ipv4(address).is_loopback


def _address_sentence(address: IPAddress, allow_private: bool) -> str | None:
    why = address_refusal(address, allow_private)
    if why is None:
        return None
    return f"'url' names an address that receives no webhooks: {address} is {why}{private_hint(why)}."


def _carried_ipv4(address: IPAddress) -> IPAddress:
    """The IPv4 address an IPv6 one stands for (IPv4-mapped, NAT64, 6to4), else itself."""
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return address.ipv4_mapped
        if address in NAT64:
            return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
        if address.sixtofour is not None:
            return address.sixtofour
    return address

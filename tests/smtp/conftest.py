"""Fixtures of the mail edge: a real aiosmtpd sink standing in for the relay, a throwaway certificate,
and an address of this machine to be a stranger from."""

from __future__ import annotations

import ipaddress
import shutil
import socket
import subprocess
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller


class Sink:
    """Keeps every message it takes; with keep_bodies=False only its header block and its size."""

    def __init__(self, keep_bodies: bool = True):
        self.keep_bodies = keep_bodies
        self.messages: list[tuple[list[str], bytes]] = []
        self.sizes: list[int] = []
        self.envelope_senders: dict[str, str] = {}  # recipient -> MAIL FROM of its copy

    async def handle_DATA(self, server, session, envelope):
        content = envelope.original_content
        self.sizes.append(len(content))
        kept = content if self.keep_bodies else content[: content.find(b"\r\n\r\n") + 4]
        self.messages.append((list(envelope.rcpt_tos), kept))
        self.envelope_senders.update((r, envelope.mail_from) for r in envelope.rcpt_tos)
        return "250 2.0.0 OK"


def start_sink(handler: Sink, port: int) -> Controller:
    controller = Controller(handler, hostname="127.0.0.1", port=port, data_size_limit=64 * 1024 * 1024)
    controller.start()
    handler.port = port
    return controller


@pytest.fixture
def sink(unused_tcp_port_factory):
    handler = Sink()
    controller = start_sink(handler, unused_tcp_port_factory())
    yield handler
    controller.stop()


@pytest.fixture
def lean_sink(unused_tcp_port_factory):
    """A sink for big messages: it counts them and keeps their headers, not their bodies."""
    handler = Sink(keep_bodies=False)
    controller = start_sink(handler, unused_tcp_port_factory())
    yield handler
    controller.stop()


@pytest.fixture(scope="session")
def certificate(tmp_path_factory) -> tuple[Path, Path]:
    """A self-signed certificate for localhost, valid for a day, made by the openssl command."""
    if shutil.which("openssl") is None:
        pytest.skip("the openssl command is needed to make a test certificate")
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=localhost",
                    "-days", "1", "-keyout", str(key), "-out", str(cert)],
                   check=True, capture_output=True, timeout=60)
    return cert, key


def non_loopback_address() -> str | None:
    """An IPv4 address of this machine that is not loopback (the one its default route leaves by)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("192.0.2.1", 9))  # no packet is sent: this only picks the outgoing address
            address = probe.getsockname()[0]
        except OSError:
            return None
    if ipaddress.ip_address(address).is_loopback or ipaddress.ip_address(address).is_unspecified:
        return None
    try:
        with socket.socket() as listener:
            listener.bind((address, 0))
    except OSError:
        return None
    return address


@pytest.fixture
def stranger_address(monkeypatch) -> str:
    """An address of this machine that the gateway sees as a stranger's: a non-loopback one, or,
    on a machine with loopback alone, loopback with the gateway told it is not."""
    address = non_loopback_address()
    if address is not None:
        return address
    from service.smtp import gateway

    monkeypatch.setattr(gateway, "is_loopback", lambda peer: False)
    return "127.0.0.1"

"""A campaign through the gateway, a bounce back to one copy's return path over SMTP, and the
worker: exactly that recipient is suppressed, though the bounce names others."""

from __future__ import annotations

import asyncio
import smtplib

from service.smtp.receiver import Receiver
from service.worker import Worker
from tests.smtp.test_gateway import CAMPAIGN, send, settled, start_gateway
from tests.test_return_path_bounces import dsn
from tests.test_worker import FAST, drain


def _send_with_null_sender(port: int, recipient: str, message: bytes) -> None:
    """As an MTA sends a bounce: MAIL FROM:<>."""
    with smtplib.SMTP("127.0.0.1", port, timeout=10) as client:
        client.sendmail("", [recipient], message)


async def test_a_bounce_to_a_copy_s_return_path_suppresses_exactly_its_recipient(pool, settings, sink):
    gateway = await start_gateway(pool, settings, relay_url=f"smtp://127.0.0.1:{sink.port}")
    try:
        await asyncio.to_thread(send, gateway.port, ["jan@example.be", "marie@example.be", "els@example.be"], CAMPAIGN)
        await settled(pool, gateway)
    finally:
        await gateway.stop()
    marie_return_path = sink.envelope_senders["marie@example.be"]
    receiver = Receiver(pool, "127.0.0.1", 0, max_bytes=100_000)
    await receiver.start()
    try:
        # The remote MTA bounces marie's copy; its report names jan and els too (a forward, a Cc).
        bounce = dsn("marie.old@example.be", "5.1.1", "Forwarded for jan@example.be, copy to els@example.be.")
        await asyncio.to_thread(_send_with_null_sender, receiver.port, marie_return_path, bounce)
    finally:
        await receiver.stop(grace=2)
    worker = Worker(pool, settings, FAST)
    try:
        await drain(worker)
    finally:
        worker.close()
    rows = await pool.fetch("SELECT address, reason, source FROM suppressions")
    assert [tuple(r) for r in rows] == [("marie@example.be", "bounce", "verp")]

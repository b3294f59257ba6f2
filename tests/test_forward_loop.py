"""A forward of ours that comes back, in whatever wrapping, is never forwarded again.

A person's message is forwarded to staff through a real relay (aiosmtpd); what then comes
back to info@cetit.be is built from the bytes that relay received: a bounce without a DSN
part that pastes the forward back, a bounce that attaches it, a forward of the forward,
a bounce that names only its subject. The worker sees each through and the relay must
not receive a second forward.
"""

from __future__ import annotations

import dataclasses
import email
from email import policy

import pytest
from aiosmtpd.controller import Controller

from service.worker import Worker
from tests.conftest import CORPUS
from tests.test_worker import FAST, Sink, describe, drain, free_port, post_all


@pytest.fixture
async def forwarded(pool, settings):
    """The worker, the relay's sink, and the one forward it delivered of a person's question."""
    port = free_port()
    settings = dataclasses.replace(settings, relay_url=f"smtp://127.0.0.1:{port}", forward_to="staff@cetit.be")
    sink = Sink()
    controller = Controller(sink, hostname="127.0.0.1", port=port)
    controller.start()
    worker = Worker(pool, settings, FAST)
    [message_id] = await post_all(pool, [(CORPUS / "replies/nl-vraag-offerte.eml").read_bytes()])
    await drain(worker)
    assert (await describe(pool, message_id))["status"] == "forwarded"
    [(_from, _to, forward)] = sink.messages
    yield worker, sink, forward
    controller.stop()


def pasted_back(forward: bytes) -> bytes:
    """A bounce in the old style: no DSN part, the returned message pasted into the text."""
    return (b"From: MAILER-DAEMON@mx.cetit.be (Mail Delivery System)\r\nTo: info@cetit.be\r\n"
            b"Subject: Mail delivery failed: returning message to sender\r\n"
            b"Message-ID: <pasted@mx.cetit.be>\r\n\r\n"
            b"This message was created automatically by mail delivery software.\r\n\r\n"
            b"A message that you sent could not be delivered to one or more of its recipients.\r\n"
            b"  staff@cetit.be\r\n    mailbox is full\r\n\r\n"
            b"------ This is a copy of the message, including all the headers. ------\r\n\r\n" + forward)


def attached(forward: bytes) -> bytes:
    """A bounce that attaches the forward whole, without a delivery-status part."""
    return (b"From: postmaster@mx.cetit.be\r\nTo: info@cetit.be\r\nSubject: Undeliverable\r\n"
            b"Message-ID: <attached@mx.cetit.be>\r\nMIME-Version: 1.0\r\n"
            b"Content-Type: multipart/mixed; boundary=x\r\n\r\n--x\r\nContent-Type: text/plain\r\n\r\n"
            b"Your message could not be delivered.\r\n--x\r\nContent-Type: message/rfc822\r\n\r\n"
            + forward + b"\r\n--x--\r\n")


def forwarded_again(forward: bytes) -> bytes:
    """Someone on the staff list forwards it back to info@ as an attachment inside an attachment."""
    inner = attached(forward)
    return (b"From: Collega <collega@example.be>\r\nTo: info@cetit.be\r\nSubject: Fwd: Undeliverable\r\n"
            b"Message-ID: <again@example.be>\r\nMIME-Version: 1.0\r\n"
            b"Content-Type: multipart/mixed; boundary=y\r\n\r\n--y\r\nContent-Type: text/plain\r\n\r\n"
            b"Zie hieronder.\r\n--y\r\nContent-Type: message/rfc822\r\n\r\n" + inner + b"\r\n--y--\r\n")


def subject_only(forward: bytes) -> bytes:
    """A bounce that keeps only the forward's subject."""
    subject = email.message_from_bytes(forward, policy=policy.default)["Subject"]
    return (f"From: MAILER-DAEMON@mx.cetit.be\r\nTo: info@cetit.be\r\nSubject: Undelivered: {subject}\r\n"
            f"Message-ID: <subject@mx.cetit.be>\r\n\r\nDelivery has failed to these recipients: staff@cetit.be\r\n"
            ).encode()


@pytest.mark.parametrize("wrap", [pasted_back, attached, forwarded_again, subject_only])
async def test_a_forward_that_comes_back_is_not_forwarded_again(pool, forwarded, wrap):
    worker, sink, forward = forwarded
    for round_ in range(3):  # each round would have grown the message and reached staff again
        [message_id] = await post_all(pool, [wrap(forward).replace(b"Message-ID: <", b"Message-ID: <%d." % round_, 1)])
        await drain(worker)
        description = await describe(pool, message_id)
        assert description["status"] == "processed", description
        assert description["classification"] == "auto_reply"
    assert len(sink.messages) == 1
    assert await pool.fetchval("SELECT count(*) FROM suppressions") == 0

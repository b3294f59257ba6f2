"""The LMTP/SMTP receiver over real sockets, storing into the real PostgreSQL."""

from __future__ import annotations

import asyncio
import smtplib

import aiosmtplib
import asyncpg
import pytest

from service.domain.inbound import inbox
from service.smtp.receiver import Receiver

MESSAGE = (b"From: jan@example.be\r\nTo: info@cetit.be\r\nSubject: uitschrijven\r\n"
           b"Message-ID: <receiver-test-%d@example.be>\r\n\r\nuitschrijven aub\r\n")


@pytest.fixture
async def receiver(pool):
    server = Receiver(pool, "127.0.0.1", 0, max_bytes=100_000)
    await server.start()
    yield server
    await server.stop(grace=2)


async def stored_rows(pool):
    return await pool.fetch("SELECT id, via, mail_from, rcpt_to, raw FROM inbound_messages ORDER BY received_at")


async def lmtp_exchange(port: int, recipients: list[str], body: bytes) -> list[str]:
    """A raw LMTP session; returns the reply lines after the final dot."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)

    async def reply() -> list[str]:
        lines = []
        while True:
            line = (await reader.readline()).decode()
            lines.append(line.strip())
            if line[3:4] != "-":
                return lines

    await reply()
    for command in ["LHLO test", "MAIL FROM:<mta@example.be>", *[f"RCPT TO:<{r}>" for r in recipients], "DATA"]:
        writer.write(command.encode() + b"\r\n")
        await reply()
    writer.write(body + b"\r\n.\r\n")
    answers = [(await reply())[0] for _ in recipients]
    writer.write(b"QUIT\r\n")
    await reply()
    writer.close()
    return answers


async def test_smtp_answers_250_only_after_the_message_is_stored(receiver, pool):
    errors = await aiosmtplib.send(MESSAGE % 1, sender="mta@example.be", recipients=["info@cetit.be"],
                                   hostname="127.0.0.1", port=receiver.port)
    assert errors[1].startswith("2.0.0 Message stored as ")
    [row] = await stored_rows(pool)
    assert errors[1].endswith(str(row["id"]))  # the reply names the message: GET /v1/inbound/{id}
    assert (row["via"], row["mail_from"], list(row["rcpt_to"]), row["raw"]) == (
        "smtp", "mta@example.be", ["info@cetit.be"], MESSAGE % 1)


async def test_lmtp_answers_once_per_recipient_and_stores_one_row(receiver, pool):
    answers = await lmtp_exchange(receiver.port, ["info@cetit.be", "privacy@cetit.be"], MESSAGE % 2)
    assert len(answers) == 2 and all(a.startswith("250 2.0.0") for a in answers)
    assert "<privacy@cetit.be>" in answers[1]
    [row] = await stored_rows(pool)
    assert row["via"] == "lmtp" and list(row["rcpt_to"]) == ["info@cetit.be", "privacy@cetit.be"]


async def test_the_same_message_again_is_accepted_but_stored_once(receiver, pool):
    replies = []
    for _ in range(2):
        _errors, reply = await aiosmtplib.send(MESSAGE % 3, sender="mta@example.be", recipients=["info@cetit.be"],
                                               hostname="127.0.0.1", port=receiver.port)
        replies.append(reply)
    [row] = await stored_rows(pool)
    assert replies == [f"2.0.0 Message stored as {row['id']}", f"2.0.0 Message already stored as {row['id']}"]


async def test_a_message_over_the_limit_gets_552_and_nothing_is_stored(receiver, pool):
    big = MESSAGE % 4 + (b"x" * 998 + b"\r\n") * 300
    with pytest.raises((aiosmtplib.SMTPDataError, aiosmtplib.SMTPSenderRefused)) as raised:  # SIZE= or after DATA
        await aiosmtplib.send(big, sender="mta@example.be", recipients=["info@cetit.be"],
                              hostname="127.0.0.1", port=receiver.port)
    assert raised.value.code == 552
    answers = await lmtp_exchange(receiver.port, ["a@cetit.be", "b@cetit.be"], big)
    assert [a[:3] for a in answers] == ["552", "552"]
    assert await stored_rows(pool) == []


async def test_long_lines_are_accepted_not_refused(receiver, pool):
    body = MESSAGE % 5 + b"<p>" + b"y" * 5000 + b"</p>\r\n"
    await aiosmtplib.send(body, sender="mta@example.be", recipients=["info@cetit.be"],
                          hostname="127.0.0.1", port=receiver.port)
    assert len(await stored_rows(pool)) == 1


async def test_database_down_answers_451_and_the_retry_is_stored(receiver, pool):
    dead = await asyncpg.create_pool("postgresql://postgres@127.0.0.1:1/none", min_size=0, timeout=2)
    down = Receiver(dead, "127.0.0.1", 0, max_bytes=100_000)
    await down.start()
    try:
        with pytest.raises(aiosmtplib.SMTPDataError) as raised:
            await aiosmtplib.send(MESSAGE % 6, sender="mta@example.be", recipients=["info@cetit.be"],
                                  hostname="127.0.0.1", port=down.port)
        assert raised.value.code == 451
        answers = await lmtp_exchange(down.port, ["info@cetit.be"], MESSAGE % 6)
        assert answers[0].startswith("451 4.3.0")
    finally:
        await down.stop(grace=1)
        await dead.close()
    await aiosmtplib.send(MESSAGE % 6, sender="mta@example.be", recipients=["info@cetit.be"],
                          hostname="127.0.0.1", port=receiver.port)
    assert len(await stored_rows(pool)) == 1


async def test_an_exception_is_answered_451_never_500(receiver, monkeypatch):
    async def broken(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(inbox, "store", broken)
    with pytest.raises(aiosmtplib.SMTPDataError) as raised:
        await aiosmtplib.send(MESSAGE % 7, sender="mta@example.be", recipients=["info@cetit.be"],
                              hostname="127.0.0.1", port=receiver.port)
    assert raised.value.code == 451


async def test_an_empty_message_is_refused_with_the_reply_of_the_answers_table(receiver, pool):
    from service.answers import answer_for_class
    from service.domain.errors import InvalidInput

    answers = await lmtp_exchange(receiver.port, ["info@cetit.be"], b"")
    assert answers == [f"{answer_for_class(InvalidInput).smtp_reply} for <info@cetit.be>"]
    assert answers[0].startswith("550 5.6.0 ")
    assert await stored_rows(pool) == []


async def test_smtplib_client_with_utf8_and_an_empty_sender(receiver, pool):
    def send() -> dict:
        with smtplib.SMTP("127.0.0.1", receiver.port, timeout=10) as client:
            return client.sendmail("", ["info@cetit.be"], "From: zoë@example.be\r\nSubject: ça\r\n\r\nbonjour\r\n".encode())

    assert await asyncio.to_thread(send) == {}
    [row] = await stored_rows(pool)
    assert row["mail_from"] is None and "zoë".encode() in row["raw"]


async def test_stop_finishes_a_message_in_flight(pool):
    server = Receiver(pool, "127.0.0.1", 0, max_bytes=100_000)
    await server.start()
    client = aiosmtplib.SMTP(hostname="127.0.0.1", port=server.port)
    await client.connect()
    await client.sendmail("mta@example.be", ["info@cetit.be"], MESSAGE % 8)
    await server.stop(grace=2)
    assert len(await stored_rows(pool)) == 1
    with pytest.raises((aiosmtplib.SMTPException, OSError)):
        await aiosmtplib.send(MESSAGE % 9, sender="a@example.be", recipients=["info@cetit.be"],
                              hostname="127.0.0.1", port=server.port, timeout=2)


async def test_optout_inbound_receives_and_exits_0_on_sigterm(pool, dsn, tmp_path):
    import os
    import signal
    import socket
    import subprocess
    import sys

    from tests.conftest import ROOT

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "DATABASE_URL": dsn, "OPTOUT_VAR_DIR": str(tmp_path), "OPTOUT_SECRET_KEYS": "k" * 32,
           "OPTOUT_HASH_KEY": "h" * 32, "OPTOUT_SMTP_PORT": str(port)}
    process = subprocess.Popen([sys.executable, "-m", "service", "inbound"], cwd=ROOT, env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        for _ in range(100):
            try:
                await aiosmtplib.send(MESSAGE % 10, sender="mta@example.be", recipients=["info@cetit.be"],
                                      hostname="127.0.0.1", port=port, timeout=5)
                break
            except (aiosmtplib.SMTPConnectError, OSError):
                await asyncio.sleep(0.1)
    finally:
        process.send_signal(signal.SIGTERM)
        _out, log = process.communicate(timeout=30)
    assert process.returncode == 0, log
    assert len(await stored_rows(pool)) == 1
    assert "uitschrijven" not in log and "jan@example.be" not in log  # no body, no address in the log


async def raw_session(port: int, greeting: bytes, sender: bytes, recipients: list[bytes], body: bytes) -> list[bytes]:
    """A session whose envelope may hold bytes that are not UTF-8; returns the replies after DATA."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)

    async def reply() -> list[bytes]:
        lines = []
        while True:
            line = await reader.readline()
            lines.append(line.strip())
            if line[3:4] != b"-":
                return lines

    await reply()
    for command in [greeting, b"MAIL FROM:<" + sender + b">", *[b"RCPT TO:<" + r + b">" for r in recipients], b"DATA"]:
        writer.write(command + b"\r\n")
        await reply()
    writer.write(body + b"\r\n.\r\n")
    answers = [(await reply())[0] for _ in (recipients if greeting.startswith(b"LHLO") else [b""])]
    writer.close()
    return answers


async def test_envelope_bytes_that_are_not_utf8_are_stored_not_retried_forever(receiver, pool):
    body = b"From: x@example.be\r\nSubject: hi\r\nMessage-ID: <bad-envelope@example.be>\r\n\r\nhello"
    answers = await raw_session(receiver.port, b"EHLO test", b"\xff\xfe@example.be", [b"info@cetit.be"], body)
    assert answers[0].startswith(b"250")
    lmtp = await raw_session(receiver.port, b"LHLO test", b"mta@example.be", [b"\xffinfo@cetit.be", b"info@cetit.be"],
                             body.replace(b"bad-envelope", b"bad-envelope-2"))
    assert [a[:3] for a in lmtp] == [b"250", b"250"]
    rows = await stored_rows(pool)
    assert len(rows) == 2 and "\ufffd" in rows[0]["mail_from"]

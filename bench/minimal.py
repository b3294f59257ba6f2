"""The smallest aiohttp + asyncpg program that does the service's jobs over the same protocol, on
the same tables: no audit, erasure, consent or validation beyond the obvious. `same_job` measures
the service against it. Run it as `python -m bench.minimal --port N` with DATABASE_URL set."""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import csv
import email
import hashlib
import hmac
import os
from email import policy

import asyncpg
import orjson
from aiohttp import web

SECRET = os.environ.get("MINIMAL_SECRET_KEY", "minimal-same-job-secret-0123456789").encode()
POOL = web.AppKey("pool", asyncpg.Pool)
BATCH = 5000
CLAIM = 100
IDLE_SECONDS = 0.5  # as the service's worker waits when its queue is empty


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def sign(address: str) -> str:
    payload = address.encode()
    return f"{_b64(payload)}.{_b64(hmac.digest(SECRET, payload, hashlib.sha256))}"


def verified_address(token: str) -> str | None:
    payload, _, mac = token.partition(".")
    try:
        address = _unb64(payload)
        good = hmac.compare_digest(_unb64(mac), hmac.digest(SECRET, address, hashlib.sha256))
    except ValueError:
        return None
    return address.decode() if good else None


async def csv_rows(stream):
    """Rows of a streamed CSV body, parsed a chunk of whole lines at a time."""
    rest = b""
    async for chunk in stream.iter_chunked(1 << 16):
        rest += chunk
        cut = rest.rfind(b"\n") + 1
        if cut:
            for row in csv.reader(rest[:cut].decode().splitlines()):
                yield row
            rest = rest[cut:]
    if rest.strip():
        for row in csv.reader(rest.decode().splitlines()):
            yield row


async def import_suppressions(request: web.Request) -> web.Response:
    columns = ["address", "scope", "reason", "source", "note"]
    async with request.app[POOL].acquire() as conn, conn.transaction():
        await conn.execute("CREATE TEMP TABLE incoming (address text, scope text, reason text, source text, "
                           "note text) ON COMMIT DROP")
        rows, header = [], None
        async for row in csv_rows(request.content):
            if header is None:
                header = row
                continue
            line = dict(zip(header, row))
            rows.append((line["email"].strip().lower(), line.get("scope") or "global",
                         line.get("reason") or "unsubscribe", "import", line.get("note") or None))
            if len(rows) == BATCH:
                await conn.copy_records_to_table("incoming", records=rows, columns=columns)
                rows = []
        await conn.copy_records_to_table("incoming", records=rows, columns=columns)
        status = await conn.execute(
            "INSERT INTO suppressions (address, scope, reason, source, note) "
            "SELECT address, scope, reason, source, note FROM incoming ON CONFLICT (address, scope) DO NOTHING")
    return web.json_response({"imported": int(status.split()[-1])})


async def post_inbound(request: web.Request) -> web.Response:
    raw = await request.read()
    message_id = await request.app[POOL].fetchval(
        "INSERT INTO minimal_inbound (raw, status) VALUES ($1, 'queued') RETURNING id", raw)
    return web.json_response({"id": message_id, "status": "queued"}, status=202)


async def pending_inbound(request: web.Request) -> web.Response:
    count = await request.app[POOL].fetchval("SELECT count(*) FROM minimal_inbound WHERE status = 'queued'")
    return web.json_response({"pending": count})


async def process_inbound(pool: asyncpg.Pool) -> None:
    while True:
        async with pool.acquire() as conn, conn.transaction():
            claimed = await conn.fetch("SELECT id, raw FROM minimal_inbound WHERE status = 'queued' "
                                       "ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED", CLAIM)
            for row in claimed:
                email.message_from_bytes(row["raw"], policy=policy.default)
            await conn.execute("UPDATE minimal_inbound SET status = 'processed' WHERE id = ANY($1::bigint[])",
                               [row["id"] for row in claimed])
        if not claimed:
            await asyncio.sleep(IDLE_SECONDS)


async def one_click(request: web.Request) -> web.Response:
    address = verified_address(request.match_info["token"])
    form = await request.post()
    if address is None or form.get("List-Unsubscribe") != "One-Click":
        raise web.HTTPBadRequest(text="bad link")
    await request.app[POOL].execute(
        "INSERT INTO suppressions (address, scope, reason, source) VALUES ($1, 'global', 'unsubscribe', "
        "'one_click') ON CONFLICT DO NOTHING", address)
    return web.Response(text="You are unsubscribed.")


async def check_many(request: web.Request) -> web.Response:
    body = orjson.loads(await request.read())
    recipients, scope = body["recipients"], body.get("scope", "global")
    rows = await request.app[POOL].fetch(
        "SELECT address, reason FROM suppressions WHERE address = ANY($1::text[]) AND scope IN ('global', $2)",
        [r.lower() for r in recipients], scope)
    found = {row["address"]: row["reason"] for row in rows}
    results = [{"email": r, "allowed": r.lower() not in found, "reason": found.get(r.lower())} for r in recipients]
    return web.Response(body=orjson.dumps({"results": results}), content_type="application/json")


async def check_one(request: web.Request) -> web.Response:
    address, scope = request.query["email"].lower(), request.query.get("scope", "global")
    reason = await request.app[POOL].fetchval(
        "SELECT reason FROM suppressions WHERE address = $1 AND scope IN ('global', $2) LIMIT 1", address, scope)
    return web.json_response({"email": address, "allowed": reason is None, "reason": reason})


async def database(app: web.Application):
    app[POOL] = pool = await asyncpg.create_pool(os.environ["DATABASE_URL"], min_size=10, max_size=10)
    await pool.execute("CREATE TABLE IF NOT EXISTS minimal_inbound "
                       "(id bigserial PRIMARY KEY, raw bytea NOT NULL, status text NOT NULL)")
    worker = asyncio.create_task(process_inbound(pool))
    yield
    worker.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await worker
    await pool.close()


def create_app() -> web.Application:
    app = web.Application(client_max_size=64 << 20)
    app.cleanup_ctx.append(database)
    app.add_routes([
        web.post("/v1/suppressions/import", import_suppressions),
        web.post("/v1/inbound", post_inbound),
        web.get("/v1/inbound/pending", pending_inbound),
        web.post("/u/{token}", one_click),
        web.post("/v1/check", check_many),
        web.get("/v1/check", check_one),
    ])
    return app


if __name__ == "__main__":
    parser = argparse.ArgumentParser(prog="python -m bench.minimal")
    parser.add_argument("--port", type=int, default=8081)
    web.run_app(create_app(), host="127.0.0.1", port=parser.parse_args().port, access_log=None, print=None)

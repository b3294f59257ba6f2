"""Webhook subscriptions (API and CLI), the deliveries a change queues, and one delivery on the wire."""

import asyncio
import base64
import os
from datetime import datetime, timezone

import pytest
from aiohttp import web
from standardwebhooks import Webhook

from service.domain.events.webhooks import new_secret
from service.mail.receivers import ReceiverClient
from service.mail.webhooks import deliver
from tests.conftest import make_key
from tests.test_cli import optout

CREATED = "suppression.created"


async def subscribe(client, auth, url="https://crm.example.be/hooks", events=(CREATED,)):
    response = await client.post("/v1/webhooks", json={"url": url, "events": list(events)}, headers=auth)
    return response.status, await response.json()


async def queued(pool) -> list[tuple]:
    rows = await pool.fetch("SELECT webhook_id, event_id, address FROM outbox WHERE kind = 'webhook' ORDER BY id")
    return [(str(r["webhook_id"]), r["event_id"], r["address"]) for r in rows]


async def test_a_subscription_is_created_listed_without_its_secret_and_deleted(client, auth):
    status, made = await subscribe(client, auth, events=[CREATED, "subject.erased", CREATED])
    assert status == 201
    assert made == {"id": made["id"], "secret": made["secret"], "url": "https://crm.example.be/hooks",
                    "events": [CREATED, "subject.erased"]}
    assert made["secret"].startswith("whsec_") and len(base64.b64decode(made["secret"][6:], validate=True)) == 24
    listed = await (await client.get("/v1/webhooks", headers=auth)).json()
    assert [{k: w[k] for k in ("id", "url", "events", "created_by")} for w in listed["webhooks"]] == [
        {"id": made["id"], "url": "https://crm.example.be/hooks", "events": [CREATED, "subject.erased"],
         "created_by": "admin"}]
    assert "secret" not in listed["webhooks"][0] and made["secret"] not in str(listed)
    deleted = await client.delete(f"/v1/webhooks/{made['id']}", headers=auth)
    assert deleted.status == 200 and (await deleted.json())["deleted"] is True
    assert (await (await client.get("/v1/webhooks", headers=auth)).json()) == {"webhooks": []}
    again = await client.delete(f"/v1/webhooks/{made['id']}", headers=auth)
    assert again.status == 404 and (await again.json())["error"]["code"] == "not_found"


@pytest.mark.parametrize("body", [
    {"url": "ftp://crm.example.be/hooks", "events": [CREATED]},
    {"url": "http://crm.example.be/hooks", "events": [CREATED]},
    {"url": "https://169.254.169.254/latest/meta-data", "events": [CREATED]},
    {"url": "https://[fe80::1]/hooks", "events": [CREATED]},
    {"url": "https://crm.example.be/hooks", "events": ["suppression.deleted"]},
    {"url": "https://crm.example.be/hooks", "events": []},
    {"url": "https://crm.example.be/hooks"},
    {"events": [CREATED]},
])
async def test_a_bad_subscription_is_a_400_that_says_what_is_wrong(client, auth, body):
    response = await client.post("/v1/webhooks", json=body, headers=auth)
    assert response.status == 400
    error = (await response.json())["error"]
    assert error["code"] == "invalid_input" and error["field"] in ("url", "events") and error["message"]


ODD_HOSTS = ["https://2852039166/", "https://0xa9fea9fe/", "https://0251.0376.0251.0376/",
             "https://metadata.google.internal/", "https://[::ffff:169.254.169.254]/", "https://[::ffff:a9fe:a9fe]/"]


@pytest.mark.parametrize("url", ODD_HOSTS + ["https://10.0.0.8/hooks"])
async def test_a_host_in_an_odd_form_a_metadata_name_or_a_private_address_is_a_400(client, auth, pool, url):
    response = await client.post("/v1/webhooks", json={"url": url, "events": [CREATED]}, headers=auth)
    assert response.status == 400
    assert (await response.json())["error"]["field"] == "url"
    assert await pool.fetchval("SELECT count(*) FROM webhooks") == 0


async def test_a_private_address_is_accepted_when_private_delivery_is_switched_on(aiohttp_client, settings, pool, auth):
    from service.app import create_app

    client = await aiohttp_client(create_app(settings.with_overrides(webhook_allow_private=True), pool))
    status, made = await subscribe(client, auth, url="https://10.0.0.8/hooks")
    assert status == 201 and made["url"] == "https://10.0.0.8/hooks"
    status, _ = await subscribe(client, auth, url="https://[::ffff:169.254.169.254]/")
    assert status == 400


async def test_http_on_a_loopback_address_is_accepted(client, auth):
    status, made = await subscribe(client, auth, url="http://127.0.0.1:9000/optout")
    assert status == 201 and made["url"] == "http://127.0.0.1:9000/optout"


async def test_only_admin_keys_manage_webhooks(client, pool):
    headers = {"Authorization": f"Bearer {await make_key(pool, 'write', 'check', name='crm')}"}
    assert (await subscribe(client, headers))[0] == 403
    assert (await client.get("/v1/webhooks", headers=headers)).status == 403
    assert (await client.delete("/v1/webhooks/7d0f3c2e-4a52-4c71-9d8e-2f6f0a6a1b11", headers=headers)).status == 403


async def test_an_id_that_is_no_uuid_names_no_webhook(client, auth):
    response = await client.delete("/v1/webhooks/not-a-uuid", headers=auth)
    assert response.status == 404 and (await response.json())["error"]["code"] == "not_found"


async def test_a_suppression_queues_one_delivery_per_matching_subscription(client, auth, pool):
    _, first = await subscribe(client, auth, events=[CREATED])
    _, second = await subscribe(client, auth, url="https://dialler.example.be/in", events=[CREATED, "consent.given"])
    await subscribe(client, auth, url="https://other.example.be/in", events=["suppression.lifted"])
    response = await client.put("/v1/suppressions/Jan@Example.be", json={"scope": "newsletter"}, headers=auth)
    assert response.status == 201
    event_id = await pool.fetchval("SELECT id FROM events WHERE address = 'jan@example.be'")
    assert sorted(await queued(pool)) == sorted([(first["id"], event_id, "jan@example.be"),
                                                 (second["id"], event_id, "jan@example.be")])
    again = await client.put("/v1/suppressions/jan@example.be", json={"scope": "newsletter"}, headers=auth)
    assert again.status == 200 and len(await queued(pool)) == 2


async def test_a_removed_subscription_takes_its_pending_deliveries_with_it(client, auth, pool):
    _, made = await subscribe(client, auth)
    await client.put("/v1/suppressions/jan@example.be", json={}, headers=auth)
    assert len(await queued(pool)) == 1
    await client.delete(f"/v1/webhooks/{made['id']}", headers=auth)
    assert await queued(pool) == []


@pytest.fixture
def env(dsn, tmp_path):
    return {**os.environ, "DATABASE_URL": dsn, "OPTOUT_VAR_DIR": str(tmp_path / "var"),
            "OPTOUT_SECRET_KEYS": "k" * 32, "OPTOUT_HASH_KEY": "h" * 32}


def test_the_cli_adds_lists_and_removes_webhooks(env, pool):
    added = optout(["webhooks", "add", "https://crm.example.be/hooks", "--event", CREATED,
                    "--event", "subject.erased"], env)
    assert added.returncode == 0, added.stderr
    webhook_id, secret = added.stdout.splitlines()
    assert secret.startswith("whsec_") and "shown once" in added.stderr
    listed = optout(["webhooks", "list"], env)
    assert webhook_id in listed.stdout and "https://crm.example.be/hooks" in listed.stdout
    assert f"{CREATED},subject.erased" in listed.stdout and "cli" in listed.stdout and secret not in listed.stdout
    assert optout(["webhooks", "remove", webhook_id], env).returncode == 0
    assert webhook_id not in optout(["webhooks", "list"], env).stdout
    assert optout(["webhooks", "remove", webhook_id], env).returncode == 1


def test_the_cli_refuses_a_bad_url_or_event_type(env, pool):
    plain = optout(["webhooks", "add", "http://crm.example.be/hooks", "--event", CREATED], env)
    assert plain.returncode == 2 and "https://" in plain.stderr and plain.stdout == ""
    unknown = optout(["webhooks", "add", "https://crm.example.be/hooks", "--event", "suppression.deleted"], env)
    assert unknown.returncode == 2 and "invalid choice" in unknown.stderr


@pytest.mark.parametrize("url", ODD_HOSTS)
def test_the_cli_refuses_a_host_in_an_odd_form_or_a_metadata_name(env, pool, url):
    refused = optout(["webhooks", "add", url, "--event", CREATED], env)
    assert refused.returncode == 2 and refused.stdout == "" and "url" in refused.stderr.lower()


def test_the_cli_takes_a_private_address_only_when_private_delivery_is_switched_on(env, pool):
    url = "https://192.168.1.20/hooks"
    refused = optout(["webhooks", "add", url, "--event", CREATED], env)
    assert refused.returncode == 2 and "OPTOUT_WEBHOOK_ALLOW_PRIVATE" in refused.stderr
    added = optout(["webhooks", "add", url, "--event", CREATED], {**env, "OPTOUT_WEBHOOK_ALLOW_PRIVATE": "on"})
    assert added.returncode == 0, added.stderr
    assert url in optout(["webhooks", "list"], env).stdout


@pytest.mark.parametrize("command", [["webhooks"], ["webhooks", "add"], ["webhooks", "list"], ["webhooks", "remove"]])
def test_every_webhooks_command_has_help(command):
    result = optout([*command, "--help"], os.environ)
    assert result.returncode == 0 and "usage: optout" in result.stdout


@pytest.fixture
async def receiver(aiohttp_server):
    """A receiver on a real socket that keeps what it got and answers with the status it is told."""
    got, answer, released = [], {"status": 204}, asyncio.Event()

    async def hook(request: web.Request) -> web.StreamResponse:
        got.append((dict(request.headers), await request.read()))
        if answer["status"] == 302:
            raise web.HTTPFound("/elsewhere")
        if answer["status"] == "never":
            await released.wait()
            return web.Response(status=200)
        return web.Response(status=answer["status"], text="busy,\n try later")

    app = web.Application()
    app.router.add_post("/hook", hook)
    server = await aiohttp_server(app)
    yield f"http://127.0.0.1:{server.port}/hook", got, answer
    released.set()


PAYLOAD = {"id": "evt_12", "type": CREATED, "at": "2026-01-05T10:00:00+00:00",
           "data": {"email": "zoë@example.be", "scope": "global", "actor": "crm"}}


async def test_a_delivery_is_a_signed_compact_json_post_that_verifies(receiver):
    url, got, _ = receiver
    secret = "whsec_" + base64.b64encode(b"k" * 24).decode()
    async with ReceiverClient() as client:
        result = await deliver(client, url, secret, PAYLOAD, datetime.now(timezone.utc))
    assert result.delivered and result.error is None
    [(headers, body)] = got
    assert headers["webhook-id"] == "evt_12" and headers["Content-Type"] == "application/json"
    assert headers["User-Agent"] == "optout" and b'", "' not in body and b'": ' not in body
    assert Webhook(secret).verify(body, headers) == PAYLOAD


@pytest.mark.parametrize("status, error", [(500, "answered 500"),
                                           (302, "answered 302 (redirects are not followed)")])
async def test_anything_but_a_2xx_is_a_failure_that_names_only_its_status(receiver, status, error):
    url, got, answer = receiver
    answer["status"] = status
    async with ReceiverClient() as client:
        result = await deliver(client, url, new_secret(), PAYLOAD, datetime.now(timezone.utc))
    assert not result.delivered and result.error == error and len(got) == 1


async def test_no_answer_in_time_no_connection_and_a_broken_secret_are_failures_not_exceptions(receiver, unused_tcp_port):
    url, _, answer = receiver
    answer["status"] = "never"
    async with ReceiverClient() as client:
        late = await deliver(client, url, new_secret(), PAYLOAD, datetime.now(timezone.utc), timeout=0.2)
        refused = await deliver(client, f"http://127.0.0.1:{unused_tcp_port}/hook", new_secret(), PAYLOAD,
                                datetime.now(timezone.utc))
        unsigned = await deliver(client, url, "whsec_abc", PAYLOAD, datetime.now(timezone.utc))
    assert (late.delivered, late.error) == (False, "timed out after 0.2 s")
    assert (unsigned.delivered, unsigned.error) == (False, "cannot be signed: the secret or the event is malformed")
    assert (refused.delivered, refused.error) == (False, "connection failed (ClientConnectorError)")

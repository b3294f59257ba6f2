"""The staff console's "Not sent": what the outbox gave up, to send again or discard."""

from __future__ import annotations

from service.storage import outbox_queries
from tests.web.conftest import csrf_of, login
from tests.conftest import make_key


async def dead_copy(pool, recipient: str) -> int:
    async with pool.acquire() as conn:
        await outbox_queries.queue_gateway_message(conn, b"Subject: Nieuws\r\n\r\nHallo\r\n",
                                                   [(recipient, recipient, "bounces+x@cetit.be")], "newsletter")
    return await pool.fetchval(
        """UPDATE outbox SET status = 'dead', dead_at = now(), attempts = 3, last_error = 'relay answered 550'
            WHERE recipient = $1 RETURNING id""", recipient)


async def test_staff_see_dead_copies_masked_and_send_one_again_and_discard_another(client, pool):
    again, gone = await dead_copy(pool, "jan.peeters@example.be"), await dead_copy(pool, "marie@example.be")
    assert (await login(client, await make_key(pool, "write", name="Ann"))).status == 303
    dashboard = await (await client.get("/staff/")).text()
    assert "/staff/outbox" in dashboard and "2" in dashboard
    page = await (await client.get("/staff/outbox")).text()
    assert "j…@example.be" in page and "jan.peeters" not in page and "relay answered 550" in page
    csrf = csrf_of(page)
    response = await client.post(f"/staff/outbox/{again}/retry", data={"csrf": csrf}, allow_redirects=False)
    assert response.status == 303
    response = await client.post(f"/staff/outbox/{gone}/discard", data={"csrf": csrf}, allow_redirects=False)
    assert response.status == 303
    rows = await pool.fetch("SELECT id, status FROM outbox")
    assert [(r["id"], r["status"]) for r in rows] == [(again, "pending")]
    assert await pool.fetchval("SELECT count(*) FROM outbox_bodies") == 1
    twice = await client.post(f"/staff/outbox/{gone}/discard", data={"csrf": csrf})
    assert twice.status == 409
    huge = await client.post("/staff/outbox/99999999999999999999/retry", data={"csrf": csrf})
    assert huge.status == 404


async def test_the_not_sent_forms_need_the_session_s_csrf_token(client, pool):
    row = await dead_copy(pool, "jan@example.be")
    assert (await login(client, await make_key(pool, "write", name="Ann"))).status == 303
    response = await client.post(f"/staff/outbox/{row}/discard", data={"csrf": "forged"})
    assert response.status == 403
    assert await pool.fetchval("SELECT status FROM outbox") == "dead"

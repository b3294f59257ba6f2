"""Campaign guardrails: a campaign's sent count, the reports attributed to it through the link
they carry, the pause at the thresholds, the check's `campaign_paused`, and the resume that
counts afresh. The app, the worker and PostgreSQL are real; reports arrive as stored mail."""

from __future__ import annotations

import asyncio

import pytest

from service.domain.campaigns import guard
from service.domain.inbound import inbox
from service.storage.db import transaction
from service.worker import Worker
from tests.conftest import make_key
from tests.test_worker import FAST, drain

CAMPAIGN = "nieuwsbrief-2026-12"


def arf(link: dict, number: int, recipient: str | None = None) -> bytes:
    """An ARF feedback report (RFC 5965) whose attached message is the copy complained about,
    with the List-Unsubscribe header it was sent with. Feedback loops often hide the recipient."""
    rcpt = f"Original-Rcpt-To: {recipient}\r\n" if recipient else ""
    return (
        "From: feedback@fbl.example.net\r\nTo: info@cetit.be\r\n"
        f"Subject: Complaint about message from nieuws@cetit.be\r\nMessage-ID: <arf-{number}@fbl.example.net>\r\n"
        "MIME-Version: 1.0\r\n"
        'Content-Type: multipart/report; report-type=feedback-report; boundary="b"\r\n\r\n'
        "--b\r\nContent-Type: text/plain\r\n\r\nThis is an abuse report.\r\n\r\n"
        "--b\r\nContent-Type: message/feedback-report\r\n\r\n"
        f"Feedback-Type: abuse\r\nUser-Agent: fbl/1.0\r\nVersion: 1\r\n{rcpt}\r\n"
        "--b\r\nContent-Type: message/rfc822\r\n\r\n"
        "From: CETIT <nieuws@cetit.be>\r\nTo: redacted@example.net\r\nSubject: Nieuws van CETIT\r\n"
        f"List-Unsubscribe: {link['headers']['List-Unsubscribe']}\r\n"
        "List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n\r\nHallo,\r\n\r\n--b--\r\n"
    ).encode()


def dsn(recipient: str, number: int, link: dict | None, status: str = "5.1.1") -> bytes:
    """A DSN (RFC 3464) that returns the headers of the copy that failed."""
    returned = f"List-Unsubscribe: {link['headers']['List-Unsubscribe']}\r\n" if link else ""
    return (
        "From: Mail Delivery System <MAILER-DAEMON@mx.example.net>\r\nTo: bounces@cetit.be\r\n"
        f"Subject: Undelivered Mail Returned to Sender\r\nMessage-ID: <dsn-{number}@mx.example.net>\r\n"
        'MIME-Version: 1.0\r\nContent-Type: multipart/report; report-type=delivery-status; boundary="b"\r\n\r\n'
        f"--b\r\nContent-Type: text/plain\r\n\r\nThe mail to {recipient} could not be delivered.\r\n\r\n"
        "--b\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx.example.net\r\n\r\n"
        f"Final-Recipient: rfc822; {recipient}\r\nAction: failed\r\nStatus: {status}\r\n"
        f"Diagnostic-Code: smtp; {'550 5.1.1 no such user' if status.startswith('5') else '452 4.2.2 full'}\r\n\r\n"
        "--b\r\nContent-Type: text/rfc822-headers\r\n\r\n"
        f"From: CETIT <nieuws@cetit.be>\r\nTo: {recipient}\r\nSubject: Nieuws van CETIT\r\n{returned}\r\n--b--\r\n"
    ).encode()


@pytest.fixture
async def worker(pool, settings):
    made = Worker(pool, settings, FAST)
    yield made
    made.close()
    await made.outbox.close()


async def issue(client, auth, count: int, campaign: str | None = CAMPAIGN, start: int = 0) -> list[dict]:
    recipients = [{"email": f"person{n}@example.be", "scope": "newsletter",
                   **({"campaign": campaign} if campaign else {})} for n in range(start, start + count)]
    answer = await client.post("/v1/links", json={"recipients": recipients}, headers=auth)
    assert answer.status == 200
    return (await answer.json())["links"]


async def receive(pool, raw: bytes, rcpt: str) -> None:
    async with transaction(pool) as conn:
        await inbox.store(conn, "smtp", raw, "", [rcpt])


async def feed_events(client, auth, kind: str) -> list[dict]:
    """The feed's events of a kind. The feed lists a transaction once every older one has ended,
    and other test sessions may hold one open on the same server for a moment: ask again."""
    for _ in range(300):
        feed = await (await client.get("/v1/events/feed", headers=auth)).json()
        found = [e for e in feed["events"] if e["type"] == kind]
        if found:
            return found
        await asyncio.sleep(0.1)
    return []


async def campaign(client, auth, name: str = CAMPAIGN) -> dict:
    answer = await client.get(f"/v1/campaigns/{name}", headers=auth)
    assert answer.status == 200, await answer.text()
    return await answer.json()


async def test_sent_counts_each_recipient_once_however_often_links_are_issued(client, auth):
    await issue(client, auth, 10)
    await issue(client, auth, 10)  # the same ten again: no new recipients
    await issue(client, auth, 5, start=10)
    await issue(client, auth, 3, campaign="other")
    found = await campaign(client, auth)
    assert found["sent"] == 15 and found["status"] == "active" and found["complaint_rate"] == 0.0
    listed = await (await client.get("/v1/campaigns", headers=auth)).json()
    assert [c["campaign"] for c in listed["campaigns"]] == ["other", CAMPAIGN]  # newest first
    assert set(listed["campaigns"][0]) >= {"campaign", "sent", "hard_bounces", "soft_bounces", "complaints",
                                            "unsubscribes", "complaint_rate", "hard_bounce_rate", "status",
                                            "paused_at", "paused_reason"}


async def test_three_complaints_carrying_its_links_pause_a_campaign_of_1000(client, auth, pool, worker):
    hook = await client.post("/v1/webhooks", json={"url": "http://127.0.0.1:9/crm", "events": ["campaign.paused"]},
                             headers=auth)
    assert hook.status == 201
    links = await issue(client, auth, 1000)
    for n in range(2):
        await receive(pool, arf(links[n], n), "info@cetit.be")
    await drain(worker)
    assert (await campaign(client, auth))["complaints"] == 2
    assert (await campaign(client, auth))["status"] == "active"  # 0.2%: under 0.3%
    await receive(pool, arf(links[2], 2), "info@cetit.be")
    await drain(worker)
    found = await campaign(client, auth)
    assert found["status"] == "paused" and found["complaints"] == 3 and found["complaint_rate"] == 0.003
    assert "complaint rate 0.30%" in found["paused_reason"] and found["paused_at"]
    # The complainers are suppressed by the token their report carried (the report hid their address).
    rows = await pool.fetch("SELECT address FROM suppressions WHERE reason = 'complaint' ORDER BY address")
    assert [r["address"] for r in rows] == ["person0@example.be", "person1@example.be", "person2@example.be"]
    # While paused, a check that names the campaign blocks everyone; one that does not is unchanged.
    body = {"scope": "newsletter", "campaign": CAMPAIGN, "recipients": ["person9@example.be", "nope"]}
    results = (await (await client.post("/v1/check", json=body, headers=auth)).json())["results"]
    assert results == [{"email": "person9@example.be", "allowed": False, "reason": "campaign_paused"},
                       {"email": "nope", "allowed": False, "reason": "campaign_paused"}]
    body.pop("campaign")
    results = (await (await client.post("/v1/check", json=body, headers=auth)).json())["results"]
    assert results[0] == {"email": "person9@example.be", "allowed": True}
    one = await (await client.get("/v1/check", params={"email": "person9@example.be", "scope": "newsletter",
                                                       "campaign": CAMPAIGN}, headers=auth)).json()
    assert one == {"email": "person9@example.be", "allowed": False, "reason": "campaign_paused"}
    # The pause is an event for webhooks and the feed.
    paused = await feed_events(client, auth, "campaign.paused")
    assert len(paused) == 1 and paused[0]["data"]["campaign"] == CAMPAIGN and "email" not in paused[0]["data"]
    assert paused[0]["data"]["complaint_rate"] == 0.003 and paused[0]["data"]["actor"] == "guardrail"
    deliveries = await pool.fetch("SELECT e.type FROM outbox o JOIN events e ON e.id = o.event_id "
                                  "WHERE o.kind = 'webhook'")
    assert [r["type"] for r in deliveries] == ["campaign_paused"]  # only what the subscription asked for
    metrics = await (await client.get("/metrics")).text()
    assert "optout_campaigns_paused 1.0" in metrics
    assert "optout_campaign_complaint_rate_worst_7d 0.003" in metrics


async def test_the_same_link_reported_again_and_again_counts_once(client, auth, pool, worker):
    links = await issue(client, auth, 1000)
    for n in range(20):  # one stranger, one link of their own, twenty reports
        await receive(pool, arf(links[0], n), "info@cetit.be")
    await drain(worker)
    found = await campaign(client, auth)
    assert found["complaints"] == 1 and found["status"] == "active"


async def test_a_report_that_names_no_campaign_counts_for_none(client, auth, pool, worker):
    await issue(client, auth, 1000)
    plain = await issue(client, auth, 5, campaign=None, start=2000)
    for n in range(5):
        await receive(pool, arf(plain[n], n), "info@cetit.be")
        await receive(pool, dsn(f"person{2000 + n}@example.be", n, None), plain[n]["return_path"])
    await drain(worker)
    found = await campaign(client, auth)
    assert (found["complaints"], found["hard_bounces"], found["status"]) == (0, 0, "active")
    rows = await pool.fetch("SELECT address FROM suppressions WHERE reason IN ('complaint', 'bounce')")
    assert sorted(r["address"] for r in rows) == [f"person{2000 + n}@example.be" for n in range(5)]  # acted all the same


async def test_fifty_hard_bounces_at_return_paths_pause_it_and_soft_ones_do_not(client, auth, pool, worker):
    links = await issue(client, auth, 1000)
    for n in range(60):  # soft bounces count, but pause nothing
        await receive(pool, dsn(f"person{n}@example.be", 100 + n, links[n], "4.2.2"), links[n]["return_path"])
    for n in range(49):
        await receive(pool, dsn(f"person{n}@example.be", n, links[n]), links[n]["return_path"])
    await drain(worker)
    found = await campaign(client, auth)
    assert (found["hard_bounces"], found["soft_bounces"], found["status"]) == (49, 60, "active")
    await receive(pool, dsn("person49@example.be", 49, links[49]), links[49]["return_path"])
    await drain(worker)
    found = await campaign(client, auth)
    assert found["status"] == "paused" and found["hard_bounce_rate"] == 0.05
    assert "hard-bounce rate 5.00%" in found["paused_reason"]


async def test_a_bounce_carrying_someone_elses_link_counts_for_none(client, auth, pool, worker):
    links = await issue(client, auth, 10)
    # At person0's return path, the returned headers carry person1's link: forged, or not this copy.
    await receive(pool, dsn("person0@example.be", 1, links[1]), links[0]["return_path"])
    # At info@, a bounce about an address given a return path acts on no one, and counts for none.
    await receive(pool, dsn("person2@example.be", 2, links[2]), "info@cetit.be")
    await drain(worker)
    found = await campaign(client, auth)
    assert found["hard_bounces"] == 0
    rows = await pool.fetch("SELECT address FROM suppressions")
    assert [r["address"] for r in rows] == ["person0@example.be"]  # the return path's own recipient


async def test_a_one_click_unsubscribe_counts_for_its_campaign(client, auth):
    links = await issue(client, auth, 3)
    for link in links[:2] + links[:1]:  # the first one twice
        path = link["url"].split("8080", 1)[1]
        answer = await client.post(path, data={"List-Unsubscribe": "One-Click"})
        assert answer.status == 200
    assert (await campaign(client, auth))["unsubscribes"] == 2


async def test_a_resume_needs_an_admin_and_a_note_and_counts_afresh(client, auth, pool, worker):
    links = await issue(client, auth, 1000)
    for n in range(3):
        await receive(pool, arf(links[n], n), "info@cetit.be")
    await drain(worker)
    assert (await campaign(client, auth))["status"] == "paused"
    writer = {"Authorization": f"Bearer {await make_key(pool, 'write', 'check', name='marketing')}"}
    resume = f"/v1/campaigns/{CAMPAIGN}/resume"
    assert (await client.post(resume, json={"note": "x"}, headers=writer)).status == 403
    assert (await client.post(resume, json={}, headers=auth)).status == 400
    assert (await client.post(resume, json={"note": "   "}, headers=auth)).status == 400
    answer = await client.post(resume, json={"note": "De lijst is opgeschoond; de klachten kwamen van één "
                                                     "gekochte lijst die we niet meer gebruiken."}, headers=auth)
    assert answer.status == 200
    found = await answer.json()
    assert found["status"] == "active" and found["sent"] == 0 and found["complaints"] == 0
    assert found["resumed_by"] == "admin" and found["paused_at"] is None
    assert (await client.post(resume, json={"note": "again"}, headers=auth)).status == 409
    assert (await client.post("/v1/campaigns/none-such/resume", json={"note": "x"}, headers=auth)).status == 404
    # Counted afresh: the old complainers' reports do not count again, new recipients do.
    await issue(client, auth, 1000)  # the same 1000: each counts once in the new epoch
    await receive(pool, arf(links[0], 90), "info@cetit.be")  # reported again after the resume
    await drain(worker)
    found = await campaign(client, auth)
    assert (found["sent"], found["complaints"], found["status"]) == (1000, 1, "active")
    body = {"scope": "newsletter", "campaign": CAMPAIGN, "recipients": ["person999@example.be"]}
    results = (await (await client.post("/v1/check", json=body, headers=auth)).json())["results"]
    assert results == [{"email": "person999@example.be", "allowed": True}]
    history = await pool.fetch("SELECT type, actor, source FROM events WHERE type LIKE 'campaign%' ORDER BY id")
    assert [tuple(r) for r in history] == [("campaign_paused", "guardrail", "guardrail"),
                                           ("campaign_resumed", "admin", "api")]


async def test_below_the_minimum_nothing_pauses_until_sent_reaches_it(client, auth, pool, worker):
    links = await issue(client, auth, 500)
    for n in range(5):  # 1%, but only 500 sent
        await receive(pool, arf(links[n], n), "info@cetit.be")
    await drain(worker)
    assert (await campaign(client, auth))["status"] == "active"
    await issue(client, auth, 500, start=500)  # 5 of 1000: 0.5% once the minimum is reached
    found = await campaign(client, auth)
    assert found["status"] == "paused" and found["sent"] == 1000


@pytest.mark.parametrize("name", ["x" * 101, "a\x00b", "tab\there", "\ud800", " padded", 5])
async def test_a_bad_campaign_name_is_a_400(client, auth, name):
    answer = await client.post("/v1/links", json={"recipients": [{"email": "a@example.be", "campaign": name}]},
                               headers=auth)
    assert answer.status == 400
    body = {"scope": "newsletter", "campaign": name, "recipients": ["a@example.be"]}
    assert (await client.post("/v1/check", json=body, headers=auth)).status == 400


async def test_unknown_campaign_is_a_404_and_listing_filters_by_status(client, auth):
    assert (await client.get("/v1/campaigns/none-such", headers=auth)).status == 404
    await issue(client, auth, 2, campaign="a/b c")
    assert (await campaign(client, auth, "a%2Fb%20c"))["sent"] == 2
    listed = await (await client.get("/v1/campaigns?status=paused", headers=auth)).json()
    assert listed == {"campaigns": []}
    assert (await client.get("/v1/campaigns?status=gone", headers=auth)).status == 400


async def test_unsubscribes_are_exact_before_and_after_they_are_folded_and_never_queue_on_the_row(client, auth, pool):
    links = await issue(client, auth, 30)
    clicks = [client.post(link["url"].split("8080", 1)[1], data={"List-Unsubscribe": "One-Click"})
              for link in links[:20]]
    assert {answer.status for answer in await asyncio.gather(*clicks)} == {200}
    assert (await campaign(client, auth))["unsubscribes"] == 20  # read from the rows not folded yet
    assert await pool.fetchval("SELECT unsubscribes FROM campaigns") == 0  # the clicks did not write its row
    async with pool.acquire() as conn:
        assert await guard.fold_unsubscribes(conn, batch=7) == 20  # in batches of 7
        assert await guard.fold_unsubscribes(conn) == 0
    assert await pool.fetchval("SELECT unsubscribes FROM campaigns") == 20
    assert (await campaign(client, auth))["unsubscribes"] == 20
    await client.post(links[20]["url"].split("8080", 1)[1], data={"List-Unsubscribe": "One-Click"})
    assert (await campaign(client, auth))["unsubscribes"] == 21


async def test_an_unsubscribe_by_a_link_whose_campaign_has_no_row_counts_for_none(client, auth, pool):
    links = await issue(client, auth, 2)
    await pool.execute("DELETE FROM campaigns")  # links made before campaigns were kept
    answer = await client.post(links[0]["url"].split("8080", 1)[1], data={"List-Unsubscribe": "One-Click"})
    assert answer.status == 200  # the unsubscribe holds; no campaign counts it
    assert await pool.fetchval("SELECT count(*) FROM suppressions") == 1
    assert await pool.fetchval("SELECT count(*) FROM campaigns") == 0


async def test_an_erased_person_s_old_link_counts_for_no_campaign(client, auth, pool):
    links = await issue(client, auth, 2)
    assert (await client.post("/v1/erasure", json={"email": "person0@example.be"}, headers=auth)).status == 200
    answer = await client.post(links[0]["url"].split("8080", 1)[1], data={"List-Unsubscribe": "One-Click"})
    assert answer.status == 200
    assert await pool.fetchval("SELECT count(*) FROM campaign_reports") == 0
    assert (await campaign(client, auth))["unsubscribes"] == 0

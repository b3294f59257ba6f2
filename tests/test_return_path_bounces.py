"""Bounces at a return path (bounces+TOKEN@cetit.be): about exactly the recipient the token
names, whatever they say or quote; a token that does not verify suppresses no one."""

from __future__ import annotations

import pytest

from service.domain.inbound import inbox
from service.storage.db import transaction
from service.worker import Worker
from tests.test_worker import FAST, drain


def dsn(final_recipient: str, status: str, also_named: str = "", number: int = 1) -> bytes:
    """A standard delivery status notification (RFC 3464) about one recipient."""
    return (
        "From: Mail Delivery System <MAILER-DAEMON@mx.example.net>\r\n"
        "To: bounces@cetit.be\r\n"
        f"Subject: Undelivered Mail Returned to Sender\r\nMessage-ID: <dsn-{number}@mx.example.net>\r\n"
        "MIME-Version: 1.0\r\n"
        'Content-Type: multipart/report; report-type=delivery-status; boundary="b"\r\n\r\n'
        "--b\r\nContent-Type: text/plain\r\n\r\n"
        f"The mail to {final_recipient} could not be delivered. {also_named}\r\n\r\n"
        "--b\r\nContent-Type: message/delivery-status\r\n\r\n"
        "Reporting-MTA: dns; mx.example.net\r\n\r\n"
        f"Final-Recipient: rfc822; {final_recipient}\r\nAction: failed\r\nStatus: {status}\r\n"
        f"Diagnostic-Code: smtp; {'550 5.1.1 no such user' if status.startswith('5') else '452 4.2.2 mailbox full'}\r\n"
        "\r\n--b\r\nContent-Type: text/rfc822-headers\r\n\r\n"
        f"From: CETIT <nieuws@cetit.be>\r\nTo: {final_recipient}\r\nReply-To: marie@example.be\r\n"
        "Subject: Nieuws van CETIT\r\n\r\n--b--\r\n"
    ).encode()


@pytest.fixture
async def worker(pool, settings):
    made = Worker(pool, settings, FAST)
    yield made
    made.close()


async def return_path(client, auth, email: str) -> str:
    links = (await (await client.post("/v1/links", json={"recipients": [{"email": email}]}, headers=auth)).json())
    return links["links"][0]["return_path"]


async def receive(pool, raw: bytes, rcpt: str, mail_from: str | None = None) -> str:
    async with transaction(pool) as conn:
        stored = await inbox.store(conn, "smtp", raw, mail_from, [rcpt])
    return str(stored.id)


async def suppressions(pool) -> list[tuple]:
    rows = await pool.fetch("SELECT address, reason, source FROM suppressions ORDER BY address")
    return [tuple(r) for r in rows]


async def test_a_hard_bounce_at_a_return_path_suppresses_exactly_its_recipient(client, auth, pool, worker):
    jan = await return_path(client, auth, "jan@example.be")
    await return_path(client, auth, "marie@example.be")  # known too, and named in the bounce
    # The report names another address as the failed one: the return path says whose copy it was.
    await receive(pool, dsn("j.old-alias@example.be", "5.1.1", "See also marie@example.be."), jan)
    await drain(worker)
    assert await suppressions(pool) == [("jan@example.be", "bounce", "verp")]


async def test_a_soft_bounce_at_a_return_path_is_counted_for_its_recipient_only(client, auth, pool, worker):
    jan = await return_path(client, auth, "jan@example.be")
    for number in range(3):
        await receive(pool, dsn("jan@example.be", "4.2.2", number=number), jan)
        await drain(worker)
        expected = [] if number < 2 else [("jan@example.be", "bounce", "verp")]
        assert await suppressions(pool) == expected
    assert await pool.fetchval("SELECT count(*) FROM soft_bounces WHERE address = 'jan@example.be'") == 3


async def test_a_token_that_does_not_verify_suppresses_no_one(client, auth, pool, worker):
    await return_path(client, auth, "jan@example.be")
    message_id = await receive(pool, dsn("jan@example.be", "5.1.1"), "bounces+" + "a" * 26 + "@cetit.be")
    await drain(worker)
    assert await suppressions(pool) == []
    row = await pool.fetchrow("SELECT classification, actions FROM inbound_messages WHERE id = $1::uuid", message_id)
    assert row["classification"] == "bounce" and "does not verify" in row["actions"][0]["reason"]


async def test_an_auto_reply_at_a_return_path_stays_an_auto_reply(client, auth, pool, worker):
    jan = await return_path(client, auth, "jan@example.be")
    away = (b"From: Jan <jan@example.be>\r\nTo: bounces@cetit.be\r\nSubject: Afwezig: Nieuws van CETIT\r\n"
            b"Auto-Submitted: auto-replied\r\nMessage-ID: <away-1@example.be>\r\n\r\n"
            b"Ik ben afwezig tot maandag.\r\n")
    message_id = await receive(pool, away, jan, "jan@example.be")
    await drain(worker)
    assert await suppressions(pool) == []
    assert await pool.fetchval("SELECT classification FROM inbound_messages WHERE id = $1::uuid",
                               message_id) == "auto_reply"


async def test_an_unreadable_message_from_a_mail_system_is_a_soft_bounce_for_the_recipient(client, auth, pool, worker):
    jan = await return_path(client, auth, "jan@example.be")
    odd = (b"From: postmaster@mx.example.net\r\nTo: bounces@cetit.be\r\nSubject: Kennisgeving\r\n"
           b"Message-ID: <odd-1@mx.example.net>\r\n\r\nUw bericht kon niet worden afgeleverd.\r\n")
    message_id = await receive(pool, odd, jan, None)
    await drain(worker)
    row = await pool.fetchrow("SELECT classification, kind FROM inbound_messages WHERE id = $1::uuid", message_id)
    assert (row["classification"], row["kind"]) == ("bounce", "soft")
    assert await pool.fetchval("SELECT count(*) FROM soft_bounces WHERE address = 'jan@example.be'") == 1


async def test_a_bounce_at_the_return_path_of_an_erased_address_writes_nothing_in_clear(client, auth, pool, worker):
    jan = await return_path(client, auth, "jan@example.be")
    assert (await client.post("/v1/erasure", json={"email": "jan@example.be"}, headers=auth)).status == 200
    await receive(pool, dsn("someone@example.net", "5.1.1"), jan)
    await drain(worker)
    assert await suppressions(pool) == []
    assert await pool.fetchval("SELECT count(*) FROM events WHERE address IS NOT NULL") == 0


def forged_dsn(recipients: list[str], number: int = 1) -> bytes:
    """What anyone can send to info@: a well-formed report naming addresses CETIT mailed."""
    blocks = "".join(f"Final-Recipient: rfc822; {r}\r\nAction: failed\r\nStatus: 5.1.1\r\n"
                     f"Diagnostic-Code: smtp; 550 5.1.1 no such user\r\n\r\n" for r in recipients)
    return (
        "From: Mail Delivery System <postmaster@attacker.example>\r\nTo: info@cetit.be\r\n"
        f"Subject: Undelivered Mail Returned to Sender\r\nMessage-ID: <forged-{number}@attacker.example>\r\n"
        'MIME-Version: 1.0\r\nContent-Type: multipart/report; report-type=delivery-status; boundary="b"\r\n\r\n'
        "--b\r\nContent-Type: text/plain\r\n\r\nDelivery failed.\r\n\r\n"
        "--b\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; attacker.example\r\n\r\n"
        f"{blocks}--b--\r\n"
    ).encode()


async def test_a_forged_report_at_info_about_mailed_addresses_suppresses_no_one(client, auth, pool, worker):
    mailed = [f"klant{n}@example.be" for n in range(10)]
    for address in mailed:
        await return_path(client, auth, address)
    message_id = await receive(pool, forged_dsn(mailed), "info@cetit.be", "")
    await drain(worker)
    assert await suppressions(pool) == []
    row = await pool.fetchrow("SELECT classification, actions FROM inbound_messages WHERE id = $1::uuid", message_id)
    assert row["classification"] == "bounce"
    assert sorted(a["email"] for a in row["actions"] if a["type"] == "not_acted") == sorted(mailed)
    assert all("return path" in a["reason"] for a in row["actions"])


async def test_a_soft_bounce_at_info_about_an_address_given_a_return_path_is_not_counted(client, auth, pool, worker):
    await return_path(client, auth, "jan@example.be")
    await receive(pool, dsn("jan@example.be", "4.2.2"), "info@cetit.be", "")
    await drain(worker)
    assert await pool.fetchval("SELECT count(*) FROM soft_bounces") == 0


async def test_a_report_at_another_recipient_s_return_path_acts_only_on_that_recipient(client, auth, pool, worker):
    jan = await return_path(client, auth, "jan@example.be")
    mailed = [f"klant{n}@example.be" for n in range(5)]
    for address in mailed:
        await return_path(client, auth, address)
    await receive(pool, forged_dsn(mailed, number=2), jan, "")
    await drain(worker)
    assert await suppressions(pool) == [("jan@example.be", "bounce", "verp")]


async def test_a_return_path_token_at_another_domain_is_no_return_path(client, auth, pool, worker):
    jan = await return_path(client, auth, "jan@example.be")
    elsewhere = jan.rpartition("@")[0] + "@evil.example"
    message_id = await receive(pool, dsn("jan@example.be", "5.1.1"), elsewhere, "")
    await drain(worker)
    assert await suppressions(pool) == []
    row = await pool.fetchrow("SELECT actions FROM inbound_messages WHERE id = $1::uuid", message_id)
    assert [a["type"] for a in row["actions"]] == ["not_acted"]


async def test_a_report_at_info_still_counts_for_a_known_address_never_given_a_return_path(pool, settings, worker):
    from tests.test_worker import known
    await known(pool, settings, ["oud@example.be"])  # known from a list, before return paths
    await receive(pool, dsn("oud@example.be", "5.1.1"), "info@cetit.be", "")
    await drain(worker)
    assert await suppressions(pool) == [("oud@example.be", "bounce", "dsn")]


def fetched(raw: bytes, field: str, value: str) -> bytes:
    """The message as a mailbox automation fetches it: its delivery written in a header, its To
    the bounce address as written (or the return path itself, when that is the field)."""
    if field == "To":
        return raw.replace(b"To: bounces@cetit.be\r\n", f"To: {value}\r\n".encode(), 1)
    return f"{field}: {value}\r\n".encode() + raw


async def post(client, auth, raw: bytes) -> str:
    response = await client.post("/v1/inbound", data=raw, headers={**auth, "Content-Type": "message/rfc822"})
    assert response.status == 202, await response.text()
    return (await response.json())["id"]


@pytest.mark.parametrize("field", ["Delivered-To", "X-Original-To", "Envelope-To", "To"])
async def test_a_bounce_posted_over_http_is_read_at_the_return_path_its_headers_name(client, auth, pool, worker,
                                                                                     field):
    jan = await return_path(client, auth, "jan@example.be")
    await return_path(client, auth, "marie@example.be")
    await post(client, auth, fetched(dsn("j.old-alias@example.be", "5.1.1", "See also marie@example.be."), field, jan))
    await drain(worker)
    assert await suppressions(pool) == [("jan@example.be", "bounce", "verp")]


async def test_the_topmost_delivered_to_names_the_mailbox_a_posted_message_was_fetched_from(client, auth, pool,
                                                                                            worker):
    jan = await return_path(client, auth, "jan@example.be")
    forged = fetched(dsn("jan@example.be", "5.1.1"), "Delivered-To", jan)  # written by the sender
    message_id = await post(client, auth, b"Delivered-To: info@cetit.be\r\n" + forged)
    await drain(worker)
    assert await suppressions(pool) == []
    row = await pool.fetchrow("SELECT rcpt_to, actions FROM inbound_messages WHERE id = $1::uuid", message_id)
    assert row["rcpt_to"] == ["info@cetit.be"] and row["actions"][0]["type"] == "not_acted"


async def test_three_unreadable_reports_posted_from_a_return_path_count_soft_for_its_recipient(client, auth, pool,
                                                                                                worker):
    jan = await return_path(client, auth, "jan@example.be")
    for number in range(3):
        odd = (f"Delivered-To: {jan}\r\nFrom: postmaster@mx.example.net\r\nTo: bounces@cetit.be\r\n"
               f"Subject: Kennisgeving\r\nMessage-ID: <odd-{number}@mx.example.net>\r\n\r\n"
               f"Uw bericht kon niet worden afgeleverd ({number}).\r\n").encode()
        message_id = await post(client, auth, odd)
        await drain(worker)
        row = await pool.fetchrow("SELECT classification, kind FROM inbound_messages WHERE id = $1::uuid", message_id)
        assert (row["classification"], row["kind"]) == ("bounce", "soft")
    assert await suppressions(pool) == [("jan@example.be", "bounce", "verp")]


def test_a_bounce_domain_written_in_unicode_is_matched_in_the_form_mta_s_send():
    from service.domain.suppressions.return_paths import ReturnPaths
    paths = ReturnPaths(("k" * 32,), "bounces@exämple.be")
    token = paths.token(7)
    assert paths.address(7) == f"bounces+{token}@xn--exmple-cua.be"
    for written in (f"bounces+{token}@xn--exmple-cua.be", f"<BOUNCES+{token.upper()}@EXÄMPLE.BE>"):
        assert paths.token_in([written]) == token
    assert paths.token_in([f"bounces+{token}@exämple.be.evil.example"]) is None


async def test_the_record_of_a_return_path_bounce_names_its_recipient(client, auth, pool, worker):
    jan = await return_path(client, auth, "jan@example.be")
    message_id = await receive(pool, dsn("j.old-alias@example.be", "5.1.1"), jan)
    await drain(worker)
    shown = await (await client.get(f"/v1/inbound/{message_id}", headers=auth)).json()
    assert shown["addresses"] == ["jan@example.be"]


async def test_the_record_of_an_unsubscribe_by_an_opaque_token_in_the_subject_names_its_address(client, auth, pool,
                                                                                                 worker):
    links = await (await client.post("/v1/links", headers=auth,
                                     json={"recipients": [{"email": "lezer@example.be", "scope": "events"}]})).json()
    token = links["links"][0]["url"].rsplit("/", 1)[1]
    raw = (f"From: Lezer <ander@example.net>\r\nTo: info@cetit.be\r\nSubject: unsubscribe {token}\r\n"
           f"Message-ID: <opaque-1@example.net>\r\n\r\n").encode()
    message_id = await receive(pool, raw, "info@cetit.be", "ander@example.net")
    await drain(worker)
    shown = await (await client.get(f"/v1/inbound/{message_id}", headers=auth)).json()
    assert (shown["status"], shown["classification"]) == ("processed", "unsubscribe")
    assert shown["addresses"] == ["lezer@example.be"]
    assert await suppressions(pool) == [("lezer@example.be", "unsubscribe", "reply")]

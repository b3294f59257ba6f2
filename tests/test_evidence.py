"""Spoofed mail suppresses no one CETIT does not know, and never many people at once.

Each message goes the way mail goes in production: stored in the queue, claimed by the
worker, classified, acted on in PostgreSQL. What a stranger can send is the attack.
"""

from __future__ import annotations

import dataclasses

import pytest

from service.worker import Worker
from tests.test_worker import FAST, describe, drain, known, post_all

TRUSTED = "mx.cetit.be"


async def handled(pool, settings, raw: bytes, **overrides) -> dict:
    """Store one message, let a worker see it through, and describe what was done."""
    [message_id] = await post_all(pool, [raw])
    await drain(Worker(pool, dataclasses.replace(settings, **overrides) if overrides else settings, FAST))
    return await describe(pool, message_id)


async def suppressed(pool) -> list[str]:
    return [r["address"] for r in await pool.fetch("SELECT address FROM suppressions ORDER BY address")]


def mail(headers: str, body: str) -> bytes:
    return (headers.strip() + "\nTo: info@cetit.be\nMessage-ID: <%d@example.net>\n\n" % hash(body) + body).encode()


def types(description: dict) -> list[tuple[str, str]]:
    return [(a["type"], a.get("email", "")) for a in description["actions"]]


async def test_a_stranger_asking_to_unsubscribe_someone_unknown_suppresses_no_one(pool, settings):
    """The request is about the address it names, not its sender: who writes from a new address
    about an old one still wants mail at the new one."""
    raw = mail("From: Kwaad <attacker@evil.example>\nSubject: uitschrijven",
               "Please unsubscribe victim@example.be from all your mailings.\n")
    description = await handled(pool, settings, raw)
    assert await suppressed(pool) == []
    assert ("not_acted", "victim@example.be") in types(description)
    assert description["status"] == "held"  # no relay here: the request waits for staff to act on


OLD_ADDRESS_REQUESTS = [
    pytest.param("Graag mijn oude adres jan@oudbedrijf.be uitschrijven, ik werk daar niet meer\n", "jan@oudbedrijf.be",
                 id="Flemish"),
    pytest.param("Please unsubscribe my old address jan@old.example, I no longer use it\n", "jan@old.example",
                 id="English"),
    pytest.param("I no longer use jan@old.example. Please unsubscribe it.\n", "jan@old.example",
                 id="English, the address in the sentence before"),
]


async def given_a_return_path(pool, address: str) -> None:
    """Known as an address mailed since return paths: it has a recipient id."""
    await pool.execute("INSERT INTO known_addresses (address, source) VALUES ($1, 'link')", address)


@pytest.mark.parametrize("remember", [known, None], ids=["mailed before return paths", "given a return path"])
@pytest.mark.parametrize("body, old", OLD_ADDRESS_REQUESTS)
async def test_an_old_address_cetit_knows_named_from_a_new_one_is_suppressed_and_the_new_one_is_not(
        pool, settings, body, old, remember):
    if remember is known:
        await known(pool, settings, [old])
    else:
        await given_a_return_path(pool, old)
    raw = mail("From: Jan Peeters <jan.nieuw@example.com>\nSubject: Oud adres", body)
    description = await handled(pool, settings, raw)
    assert description["classification"] == "unsubscribe"
    assert await suppressed(pool) == [old]
    row = await pool.fetchrow("SELECT scope, reason, source FROM suppressions WHERE address = $1", old)
    assert dict(row) == {"scope": "global", "reason": "unsubscribe", "source": "reply"}
    assert types(description)[0] == ("suppressed", old)
    assert description["status"] == "held"  # staff see who asked for whom (no relay here)


@pytest.mark.parametrize("body, old", OLD_ADDRESS_REQUESTS)
async def test_an_old_address_cetit_does_not_know_is_not_acted_on_and_left_to_staff(pool, settings, body, old):
    raw = mail("From: Jan Peeters <jan.nieuw@example.com>\nSubject: Oud adres", body)
    description = await handled(pool, settings, raw)
    assert await suppressed(pool) == []
    assert types(description) == [("not_acted", old), ("held", "")]
    assert "staff" in description["actions"][0]["reason"] and description["status"] == "held"


async def test_an_address_cetit_knows_named_in_a_request_is_suppressed(pool, settings):
    await known(pool, settings, ["partner@example.be"])
    raw = mail("From: Jan <jan@example.be>\nSubject: uitschrijven",
               "Graag mij en ook partner@example.be uitschrijven.\n")
    await handled(pool, settings, raw)
    assert await suppressed(pool) == ["jan@example.be", "partner@example.be"]


async def test_the_sender_is_read_from_the_angle_brackets_never_the_display_name(pool, settings):
    raw = mail('From: "victim@example.be" <attacker@evil.example>\nSubject: unsubscribe', "unsubscribe\n")
    await handled(pool, settings, raw)
    assert await suppressed(pool) == ["attacker@evil.example"]


async def test_an_unquoted_display_name_with_an_at_sign_names_no_sender(pool, settings):
    raw = mail("From: victim@example.be <attacker@evil.example>\nSubject: unsubscribe", "unsubscribe\n")
    description = await handled(pool, settings, raw)
    assert await suppressed(pool) == []
    assert description["classification"] == "human"


@pytest.mark.parametrize("extra, body", [
    ("Subject: uitschrijven", "Schrijf mij uit.\n"),
    ("Subject: Unsubscribe\nX-Apple-Unsubscribe: true", "This message was automatically generated by Mail.\n"),
])
async def test_a_forged_from_that_the_trusted_mx_failed_on_dmarc_is_not_acted_on(pool, settings, extra, body):
    raw = mail(f"Authentication-Results: {TRUSTED}; spf=fail smtp.mailfrom=evil.example;\n"
               f" dkim=none; dmarc=fail (p=reject) header.from=example.be\n"
               f"From: Victim <victim@example.be>\n{extra}", body)
    description = await handled(pool, settings, raw, trusted_authserv_id=TRUSTED)
    assert await suppressed(pool) == []
    assert ("not_acted", "victim@example.be") in types(description)
    assert "DMARC" in description["actions"][0]["reason"] and description["status"] == "held"


async def test_dmarc_results_from_an_untrusted_authserv_id_do_not_count(pool, settings):
    raw = mail("Authentication-Results: anyone.example; dmarc=fail header.from=example.be\n"
               "From: Jan <jan@example.be>\nSubject: uitschrijven", "Schrijf mij uit.\n")
    await handled(pool, settings, raw, trusted_authserv_id=TRUSTED)
    assert await suppressed(pool) == ["jan@example.be"]


async def test_a_passing_dmarc_result_leaves_the_request_standing(pool, settings):
    raw = mail(f"Authentication-Results: {TRUSTED}; dmarc=pass header.from=example.be\n"
               "From: Jan <jan@example.be>\nSubject: uitschrijven", "Schrijf mij uit.\n")
    await handled(pool, settings, raw, trusted_authserv_id=TRUSTED)
    assert await suppressed(pool) == ["jan@example.be"]


def dsn(*recipients: str, status: str = "5.1.1") -> bytes:
    parts = "".join(f"\r\nFinal-Recipient: rfc822; {r}\r\nAction: failed\r\nStatus: {status}\r\n" for r in recipients)
    return (
        "From: MAILER-DAEMON@mx.evil.example\r\nTo: info@cetit.be\r\nSubject: Undelivered Mail\r\n"
        f"Message-ID: <{hash(recipients)}.{status}@mx.evil.example>\r\nMIME-Version: 1.0\r\n"
        "Content-Type: multipart/report; report-type=delivery-status; boundary=b\r\n\r\n"
        "--b\r\nContent-Type: text/plain\r\n\r\nfailed\r\n--b\r\nContent-Type: message/delivery-status\r\n\r\n"
        f"Reporting-MTA: dns; mx.evil.example\r\n{parts}--b--\r\n"
    ).encode()


def arf(*recipients: str) -> bytes:
    originals = "".join(f"To: {r}\r\n" for r in recipients)
    return (
        "From: abuse@evil.example\r\nTo: info@cetit.be\r\nSubject: Abuse report\r\n"
        f"Message-ID: <arf.{hash(recipients)}@evil.example>\r\nMIME-Version: 1.0\r\n"
        "Content-Type: multipart/report; report-type=feedback-report; boundary=b\r\n\r\n"
        "--b\r\nContent-Type: text/plain\r\n\r\nA complaint.\r\n"
        "--b\r\nContent-Type: message/feedback-report\r\n\r\nFeedback-Type: abuse\r\nUser-Agent: x/1\r\nVersion: 1\r\n"
        f"{''.join(f'Original-Rcpt-To: {r}{chr(13)}{chr(10)}' for r in recipients)}"
        "\r\n--b\r\nContent-Type: message/rfc822\r\n\r\n"
        f"From: nieuws@cetit.be\r\n{originals}Subject: Nieuws\r\n\r\nHallo\r\n--b--\r\n"
    ).encode()


async def test_a_fake_bounce_for_an_address_cetit_never_mailed_suppresses_no_one(pool, settings):
    description = await handled(pool, settings, dsn("stranger@example.be"))
    assert description["classification"] == "bounce"
    assert await suppressed(pool) == []
    assert types(description) == [("not_acted", "stranger@example.be")]


async def test_a_bounce_for_an_address_cetit_mailed_suppresses_it(pool, settings):
    await known(pool, settings, ["reader@example.be"])
    await handled(pool, settings, dsn("reader@example.be"))
    assert await suppressed(pool) == ["reader@example.be"]


async def test_a_soft_bounce_for_an_unknown_address_is_not_counted(pool, settings):
    description = await handled(pool, settings, dsn("stranger@example.be", status="4.2.2"))
    assert types(description) == [("not_acted", "stranger@example.be")]
    assert await pool.fetchval("SELECT count(*) FROM soft_bounces") == 0


async def test_a_fake_complaint_for_an_address_cetit_never_mailed_suppresses_no_one(pool, settings):
    description = await handled(pool, settings, arf("stranger@example.be"))
    assert description["classification"] == "complaint"
    assert await suppressed(pool) == []


async def test_a_complaint_for_a_known_address_suppresses_it(pool, settings):
    await known(pool, settings, ["reader@example.be"])
    await handled(pool, settings, arf("reader@example.be"))
    assert await suppressed(pool) == ["reader@example.be"]


async def test_an_address_only_ever_checked_is_not_known(client, pool, settings, auth):
    checked = await client.get("/v1/check", params={"email": "checked@example.be", "scope": "newsletter"}, headers=auth)
    assert checked.status == 200 and (await checked.json())["allowed"] is True
    await handled(pool, settings, dsn("checked@example.be"))
    assert await suppressed(pool) == []


NAMES = [f"reader.{n}@example.be" for n in range(2000)]


@pytest.mark.parametrize("make", [
    lambda names: mail("From: Jan <jan@example.be>\nSubject: uitschrijven",
                       "Gelieve uit te schrijven: " + ", ".join(names) + "\n"),
    dsn,
    arf,
], ids=["unsubscribe", "bounce", "complaint"])
async def test_one_message_naming_2000_known_addresses_suppresses_no_one(pool, settings, make):
    await known(pool, settings, NAMES)
    raw = make(*NAMES) if make in (dsn, arf) else make(NAMES)
    description = await handled(pool, settings, raw)
    assert await suppressed(pool) == []
    assert description["status"] == "held"
    [held] = description["actions"]
    assert held["type"] == "held" and held["limit"] == 10 and held["addresses"] >= 2000


async def test_the_limit_is_a_setting(pool, settings):
    await known(pool, settings, NAMES[:3])
    description = await handled(pool, settings, dsn(*NAMES[:3]), max_actions_per_message=2)
    assert await suppressed(pool) == [] and description["status"] == "held"
    await handled(pool, settings, dsn(*NAMES[:3]).replace(b"Message-ID: <", b"Message-ID: <again."),
                  max_actions_per_message=3)
    assert await suppressed(pool) == sorted(NAMES[:3])

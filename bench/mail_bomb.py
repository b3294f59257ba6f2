"""mail_bomb: the worst message a stranger can send for each family of patterns the classifier
runs, classified, beside an ordinary mail of the same size (a person's question, in
paragraphs) and beside `email.message_from_bytes` of the same bytes.

Each family's message is built to make a backtracking pattern work hardest: runs of blank
lines under a line-anchored `^\\s*`, a long header of address characters without an @,
letter-dot runs, unclosed brackets, many recipients, deep or wide MIME trees. The figure is
the longest of --repeat classifications after a warm-up; a ratio near 1 means the bomb costs
what any mail of its size costs.
"""

from __future__ import annotations

import argparse
import asyncio
import email
import multiprocessing
import os
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from datetime import timedelta
from pathlib import Path
from typing import Callable

import aiohttp
import aiosmtplib

from service.domain.inbound.classify import Envelope, classify
from service.domain.inbound.mime import SAFE_POLICY, UnreadableMessage
from service.domain.tokens import TokenSigner
from service.settings import Settings
from service.smtp.receiver import Receiver
from service.storage.db import create_pool
from service.worker import Worker, WorkerConfig

from .harness import fresh_schema, running_service, verdict

SIZE = 200_000  # bytes of each bomb: about MAX_TEXT, the text one part gives the classifier
MAX_POLL = 600.0  # seconds /healthz is polled at most
TARGET_RATIO = 10.0  # the longest bomb within this many times an ordinary mail of its size
SIGNER_KEY = "mail-bomb-key-" + "m" * 18
SIGNER = TokenSigner((SIGNER_KEY,), timedelta(days=90))

PERSON = (b"From: Ann Peeters <ann.peeters@example.be>\r\nTo: info@cetit.be\r\nSubject: Vraag over de cursus\r\n"
          b"MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n")
BOUNCER = (b"From: Mail Delivery System <MAILER-DAEMON@mx.example.net>\r\nTo: info@cetit.be\r\n"
           b"Subject: Undelivered Mail Returned to Sender\r\nMIME-Version: 1.0\r\n"
           b"Content-Type: text/plain; charset=us-ascii\r\n\r\n")
PARAGRAPH = (b"Goedemiddag,\n\nIk heb een vraag over de opleiding van volgende maand. Kunnen jullie mij laten weten\n"
             b"of er nog plaatsen vrij zijn voor twee collega's van onze afdeling, en wat de prijs is\n"
             b"voor leden? We zouden graag ook de syllabus vooraf ontvangen.\n\nAlvast bedankt,\nAnn\n\n")


def ordinary(size: int) -> bytes:
    """A person's question of about `size` bytes: the baseline for a bomb of that size."""
    return PERSON + PARAGRAPH * max(1, size // len(PARAGRAPH))


def _repeat(unit: bytes, size: int) -> bytes:
    return unit * max(1, size // len(unit))


def blank_lines(size: int) -> bytes:
    """Blank lines under the reply-header and closing patterns (`^\\s*` from every line start)."""
    return PERSON + b"\n" * size + b"x\n"


def blank_lines_in_a_bounce(size: int) -> bytes:
    """Blank lines under the bounce's original-message, header-line and To-line patterns."""
    return BOUNCER + b"\n" * size + b"x\n"


def quoted_lines_in_a_bounce(size: int) -> bytes:
    """Lines of '>' quoting nothing, under `^[>\\s]*` from every line start."""
    return BOUNCER + _repeat(b">\n", size) + b"x\n"


def long_from(size: int) -> bytes:
    """A From header of address characters without an @, read for addresses by the bounce reader."""
    return (b"From: " + b"a" * size + b"\r\nTo: info@cetit.be\r\nSubject: Undelivered Mail Returned to Sender\r\n\r\n"
            b"The message could not be delivered.\r\n")


def long_to(size: int) -> bytes:
    """A To header of address characters without an @, read for addresses in every message."""
    return (b"From: ann.peeters@example.be\r\nTo: " + b"a" * size + b"\r\nSubject: Vraag\r\n\r\n"
            b"Hebben jullie nog plaatsen vrij?\r\n")


def address_run(size: int) -> bytes:
    """A request whose sentence is one long run of address characters without an @."""
    return PERSON + b"Graag uitschrijven " + b"a" * size + b"\n"


def letter_dots(size: int) -> bytes:
    """'a.a.a.a.' ending in a letter: the abbreviation pattern fails late from every pair."""
    return PERSON + b"Graag uitschrijven " + _repeat(b"a.", size) + b"ab\n"


def dots_before_an_at(size: int) -> bytes:
    """Dots and letters up to an @ whose domain is not one, in a request sentence."""
    return PERSON + b"Graag uitschrijven " + _repeat(b"a.", size) + b"@-\n"


def huge_subject(size: int) -> bytes:
    """A subject of 'Re' and spaces with no colon, under the reply-prefix pattern."""
    return (b"From: ann.peeters@example.be\r\nTo: info@cetit.be\r\nSubject: Re" + b" " * size + b"x\r\n\r\n"
            b"Hebben jullie nog plaatsen vrij?\r\n")


def reply_header_words(size: int) -> bytes:
    """Lines 'op ... schreef ... schreef' without a colon: the Dutch reply header's two windows."""
    return PERSON + _repeat(b"op " + b"schreef " * 24 + b"\n", size)


def privacy_words(size: int) -> bytes:
    """One sentence of every kind of privacy word (verbs, data, "over mij", questions, business,
    negations) without an end: every word is a cue the reader pairs within its window."""
    return PERSON + _repeat(b"wis mijn gegevens over mij welke stuur mij inzage factuur niet , avg art 17 ", size)


def deep_nesting(size: int) -> bytes:
    """Multiparts nested as deep as the parser reads, padded with text to `size`."""
    depth = 300
    opening = b"".join(b'Content-Type: multipart/mixed; boundary="b%d"\r\n\r\n--b%d\r\n' % (i, i) for i in range(depth))
    closing = b"".join(b"--b%d--\r\n" % i for i in reversed(range(depth)))
    text = PARAGRAPH * max(1, (size - len(opening) - len(closing)) // len(PARAGRAPH))
    return (b"From: ann.peeters@example.be\r\nTo: info@cetit.be\r\nSubject: deep\r\nMIME-Version: 1.0\r\n"
            + opening + b"Content-Type: text/plain\r\n\r\n" + text + closing)


def many_parts(size: int) -> bytes:
    """A multipart/mixed of many small text parts (the walk stops at MAX_PARTS; the parser does not)."""
    part = b"--b\r\nContent-Type: text/plain\r\n\r\nuitschrijven?\r\n"
    return (b"From: ann.peeters@example.be\r\nTo: info@cetit.be\r\nSubject: parts\r\nMIME-Version: 1.0\r\n"
            b'Content-Type: multipart/mixed; boundary="b"\r\n\r\n' + _repeat(part, size) + b"--b--\r\n")


def ses_open_lists(size: int) -> bytes:
    """An Amazon SES notification whose recipient lists never close."""
    return (BOUNCER + b'{"notificationType":"Bounce","bounce":{"bounceType":"Permanent",'
            + _repeat(b'"bouncedRecipients":[', size) + b"\n")


def ses_open_braces(size: int) -> bytes:
    """An Amazon SES notification whose one recipient list is braces that never close."""
    return (BOUNCER + b'{"notificationType":"Bounce","bounce":{"bounceType":"Permanent","bouncedRecipients":['
            + b"{" * size + b"]}}\n")


def many_recipients_in_prose(size: int) -> bytes:
    """A bounce naming thousands of different addresses in its prose, none with a status code."""
    unit = b"r%06d@example.com\n"
    return BOUNCER + b"".join(unit % i for i in range(max(1, size // len(unit % 0))))


def many_dsn_groups(size: int) -> bytes:
    """A DSN with thousands of failed recipients and no Diagnostic-Code, beside long prose."""
    group = b"Final-Recipient: rfc822; r%06d@example.org\r\nAction: failed\r\nStatus: 5.0.0\r\n\r\n"
    count = max(1, size // 2 // len(group % 0))
    return (b"From: MAILER-DAEMON@mx.example.net\r\nTo: info@cetit.be\r\nSubject: Undelivered Mail\r\n"
            b"MIME-Version: 1.0\r\nContent-Type: multipart/report; report-type=delivery-status; boundary=b\r\n\r\n"
            b"--b\r\nContent-Type: text/plain\r\n\r\n" + _repeat(b"The mail system could not deliver it. ", size // 2)
            + b"\r\n--b\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx.example.net\r\n\r\n"
            + b"".join(group % i for i in range(count)) + b"--b--\r\n")


def exchange_recipient_list(size: int) -> bytes:
    """An old Exchange report whose list runs on: as many recipients as are read, each with
    ' on ' again and again in its name, `dda:SMTP=` attributes that never end and its own reason."""
    head = (b"Your message did not reach some or all of the intended recipients.\n\n"
            b"The following recipient(s) could not be reached:\n\n")
    unit = (b"c=BE;a= ;p=" + b" on" * 6 + b";dda:SMTP=r%06d@example.org; on 12/01/2026 10:00\n"
            b"    The recipient name is not recognized " + b"dda:SMTP=" * 40 + b" on " * 100 + b"\n"
            b"    #550 5.1.1 RESOLVER.ADR.RecipNotFound; " + b"x@" * 100 + b"##\n")
    count = max(1, (size - len(head)) // len(unit % 0))
    return BOUNCER + head + b"".join(unit % i for i in range(count))


def commas_for_flufl(size: int) -> bytes:
    """Long lines of ',a' and no address: flufl.bounce's LLNL detector backtracks from every comma."""
    return BOUNCER + _repeat(_repeat(b",a", 4000) + b"\n", size)


def brackets_for_flufl(size: int) -> bytes:
    """Netscape's bounce opening, then lines of '<': flufl.bounce's Netscape pattern is cubic in a line."""
    line = b"<" * 2000 + b"\n"
    return (b"From: MAILER-DAEMON@mx.example.net\r\nTo: info@cetit.be\r\nSubject: Undelivered Mail\r\n"
            b"MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\n"
            b"This Message was undeliverable due to the following reason:\n" + _repeat(line, size)
            + b"\r\n--b\r\nContent-Type: text/plain\r\n\r\nx\r\n--b--\r\n")


def unclosed_html(size: int) -> bytes:
    """An HTML body of tags and comments that never close."""
    return (b"From: ann.peeters@example.be\r\nTo: info@cetit.be\r\nSubject: Vraag\r\nMIME-Version: 1.0\r\n"
            b"Content-Type: text/html; charset=utf-8\r\n\r\n<p>uitschrijven</p>" + _repeat(b"<a <!-- </", size))


BOMBS: dict[str, Callable[[int], bytes]] = {
    "blank lines": blank_lines,
    "blank lines in a bounce": blank_lines_in_a_bounce,
    "quoted lines in a bounce": quoted_lines_in_a_bounce,
    "long From": long_from,
    "long To": long_to,
    "address run": address_run,
    "letter-dot run": letter_dots,
    "dots before an @": dots_before_an_at,
    "huge Subject": huge_subject,
    "reply header words": reply_header_words,
    "privacy words": privacy_words,
    "deep nesting": deep_nesting,
    "many parts": many_parts,
    "SES open lists": ses_open_lists,
    "SES open braces": ses_open_braces,
    "many recipients in prose": many_recipients_in_prose,
    "many DSN groups": many_dsn_groups,
    "Exchange recipient list": exchange_recipient_list,
    "commas for flufl": commas_for_flufl,
    "brackets for flufl": brackets_for_flufl,
    "unclosed HTML": unclosed_html,
}


def classify_once(raw: bytes) -> None:
    try:
        classify(raw, Envelope(None, ()), SIGNER.verify, frozenset())
    except UnreadableMessage:
        pass


def longest(run: Callable[[], object], repeat: int) -> float:
    """The longest of `repeat` timed runs after one warm-up."""
    run()
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        run()
        times.append(time.perf_counter() - started)
    return max(times)


def poll_healthz(url: str, stop_file: str, clients: int = 4) -> list[float]:
    """In a process of its own: GET /healthz from `clients` clients until `stop_file` exists
    (at most MAX_POLL seconds); the latencies. A request that fails or takes over 60 s counts
    as 60 s."""

    async def client(session: aiohttp.ClientSession, until: float, latencies: list[float]) -> None:
        while time.monotonic() < until and not os.path.exists(stop_file):
            started = time.perf_counter()
            try:
                async with session.get(url, timeout=aiohttp.ClientTimeout(total=60)) as answer:
                    await answer.read()
                    ok = answer.status == 200
            except (aiohttp.ClientError, asyncio.TimeoutError):
                ok = False
            latencies.append(time.perf_counter() - started if ok else 60.0)
            await asyncio.sleep(0.01)

    async def main() -> list[float]:
        latencies: list[float] = []
        until = time.monotonic() + MAX_POLL
        async with aiohttp.ClientSession() as session:
            await asyncio.gather(*(client(session, until, latencies) for _ in range(clients)))
        return latencies

    return asyncio.run(main())


def p99(latencies: list[float]) -> float:
    ordered = sorted(latencies)
    return ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]


async def _deliver(port: int, url: str, headers: dict, messages: list[bytes]) -> int:
    """Each message over SMTP; one the receiver refuses (a line over 64 KiB) through
    POST /v1/inbound, which takes any line length. Returns how many SMTP refused."""
    refused = 0
    async with aiohttp.ClientSession() as session:
        for raw in messages:
            try:
                await aiosmtplib.send(raw, sender="stranger@example.net", recipients=["info@cetit.be"],
                                      hostname="127.0.0.1", port=port, timeout=120)
                continue
            except aiosmtplib.SMTPResponseException as exc:
                if exc.code < 500:
                    raise
                refused += 1
            async with session.post(f"{url}/v1/inbound", data=raw,
                                    headers={**headers, "Content-Type": "message/rfc822"}) as answer:
                if answer.status not in (200, 202):
                    raise RuntimeError(f"POST /v1/inbound answered {answer.status}: {await answer.text()}")
    return refused


async def healthz_while_processed(dsn: str, messages: list[bytes]) -> tuple[list[float], float, dict, int]:
    """The web app, the receiver and a worker in one process, as `optout run` has them: the
    messages are sent over SMTP and worked off while another process polls /healthz.
    Returns the latencies, the seconds until every message was done, their statuses, and
    how many SMTP refused (those go through POST /v1/inbound)."""
    async with fresh_schema(dsn) as schema_dsn:
        pool = await create_pool(schema_dsn, min_size=2, max_size=10)
        try:
            settings = Settings(database_url=schema_dsn, secret_keys=(SIGNER_KEY,), hash_key=b"h" * 32)
            receiver = Receiver(pool, "127.0.0.1", 0, max_bytes=26214400)
            await receiver.start()
            worker, stop = Worker(pool, settings, WorkerConfig(batch=10)), asyncio.Event()
            async with running_service(schema_dsn, pool) as (url, headers):
                loop = asyncio.get_running_loop()
                stop_file = Path(tempfile.mkdtemp()) / "done"
                with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as poller:
                    polled = loop.run_in_executor(poller, poll_healthz, f"{url}/healthz", str(stop_file))
                    await asyncio.sleep(2)  # the poller's interpreter starts
                    started = time.perf_counter()
                    working = asyncio.create_task(worker.run(stop))
                    refused = await _deliver(receiver.port, url, headers, messages)
                    while await pool.fetchval("SELECT count(*) FROM inbound_messages WHERE status = 'queued'"):
                        await asyncio.sleep(0.1)
                    done = time.perf_counter() - started
                    stop_file.touch()
                    latencies = await polled
                stop.set()
                await working
            await receiver.stop(grace=5)
            statuses = dict(await pool.fetch("SELECT status, count(*) FROM inbound_messages GROUP BY status"))
        finally:
            await pool.close()
    return latencies, done, statuses, refused


async def run(dsn: str, args: argparse.Namespace) -> None:
    repeat = getattr(args, "repeat", 3)
    print(f"mail_bomb: longest of {repeat} classifications of each bomb (about {SIZE // 1000} KB) beside an ordinary "
          "mail of the same size, and beside message_from_bytes of the bomb's own bytes")
    worst, longest_bomb = 0.0, 0.0
    for name, build in BOMBS.items():
        bomb = build(SIZE)
        plain = ordinary(len(bomb))
        bomb_time = longest(lambda: classify_once(bomb), repeat)
        plain_time = longest(lambda: classify_once(plain), repeat)
        parse_time = longest(lambda: email.message_from_bytes(bomb, policy=SAFE_POLICY), repeat)
        ratio = bomb_time / plain_time
        worst, longest_bomb = max(worst, ratio), max(longest_bomb, bomb_time)
        print(f"  {name} ({len(bomb) // 1000} KB): bomb {bomb_time * 1000:,.1f} ms, ordinary mail "
              f"{plain_time * 1000:,.1f} ms, ratio {ratio:.2f}; parse alone {parse_time * 1000:,.1f} ms, "
              f"ratio {bomb_time / parse_time:.2f}")
    print(f"mail_bomb: longest classification of a bomb {longest_bomb * 1000:,.0f} ms; "
          f"worst ratio to an ordinary mail of the same size {worst:.2f}")
    verdict(f"every bomb within {TARGET_RATIO:g} x an ordinary mail of its size", worst <= TARGET_RATIO)

    # /healthz while the service works: every bomb twice, against as many ordinary mails of the same sizes.
    bombs = [build(SIZE) + b"\n" + str(copy).encode() for copy in range(2) for build in BOMBS.values()]
    plains = [ordinary(len(b)) + b"\n" + str(n).encode() for n, b in enumerate(bombs)]
    plain_latencies, plain_done, plain_statuses, _ = await healthz_while_processed(dsn, plains)
    bomb_latencies, bomb_done, bomb_statuses, refused = await healthz_while_processed(dsn, bombs)
    print(f"mail_bomb: /healthz p99 while {len(bombs)} bombs go through SMTP ({refused} refused there for a "
          "line over 64 KiB, then sent to POST /v1/inbound) and the worker "
          f"{p99(bomb_latencies) * 1000:,.1f} ms (max {max(bomb_latencies) * 1000:,.1f} ms, {len(bomb_latencies)} "
          f"requests; all done in {bomb_done:.1f} s: {bomb_statuses}), baseline while as many ordinary mails do "
          f"{p99(plain_latencies) * 1000:,.1f} ms (all done in {plain_done:.1f} s: {plain_statuses}), ratio "
          f"{p99(bomb_latencies) / p99(plain_latencies):.2f}")
    verdict("/healthz p99 during bombs within 2 x during ordinary mail",
            p99(bomb_latencies) <= 2 * p99(plain_latencies))

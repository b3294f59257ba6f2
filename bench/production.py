"""What production's database always holds, loaded before a benchmark measures anything: a big
list of other people's suppressions (--list-size, 1,000,000), erased addresses (10,000, and one
recipient in a hundred when the benchmark has recipients), consents, and a scope registered
`consent: required`. A figure taken on an empty database is not a figure."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Sequence

import asyncpg

from service.domain.addresses import mailbox_of
from service.domain.consent import ledger
from service.domain.suppressions.keyed_hash import KeyedHash

LIST_SIZE = 1_000_000
ERASED_ELSEWHERE = 10_000
CONSENTS_ELSEWHERE = 100_000
CONSENT_SCOPE = "news"  # registered `consent: required`
HASH_KEY = b"h" * 32  # the benchmarks' services run with this OPTOUT_HASH_KEY
GIVEN = datetime(2026, 3, 1, 9, 30, tzinfo=timezone.utc)  # consents given and confirmed before the list's suppressions
CHUNK = 100_000  # rows per COPY: the loader's memory stays small whatever the list's size


def erased_recipients(recipients: Sequence[str | None]) -> list[str]:
    """The recipients that production has erased: one in a hundred."""
    return [a for a in recipients[5::100] if a]


async def load_production(
    conn: asyncpg.Connection, list_size: int = LIST_SIZE, recipients: Sequence[str | None] = ()
) -> dict[str, int]:
    """Load what production holds besides the benchmark's own rows; `recipients` (canonical, None
    for an invalid one) are the addresses the benchmark will ask about: nine in ten gave consent
    in the consent-required scope and one in a hundred was erased. Returns the counts loaded."""
    keyed_hash = KeyedHash(HASH_KEY)
    # A fifth bounced (global); the rest unsubscribed from newsletter, global or events.
    for start in range(0, list_size, CHUNK):
        await conn.copy_records_to_table("suppressions", records=[
            (f"customer.{i}@list{i % 997}.example.com",
             "global" if i % 5 == 0 else ("global", "newsletter")[i % 2] if i % 3 else "events",
             "bounce" if i % 5 == 0 else "unsubscribe", "import")
            for i in range(start, min(start + CHUNK, list_size))], columns=["address", "scope", "reason", "source"])
    gone = erased_recipients(recipients)
    erased = keyed_hash.of_many([f"gone.{i}@example.org" for i in range(ERASED_ELSEWHERE)] + gone)
    await conn.copy_records_to_table("erased_addresses", records=[(h, "unsubscribe") for h in erased],
                                     columns=["address_hmac", "reason"])
    consenting = [a for i, a in enumerate(recipients) if a and i % 10]
    others = max(len(consenting), CONSENTS_ELSEWHERE)
    rows = [(a, CONSENT_SCOPE, "given", "web_form", "Ja, stuur mij het nieuws.", "v1", "nl", GIVEN, GIVEN,
             mailbox_of(a)) for a in consenting]
    rows += [(f"fan.{i}@example.net", CONSENT_SCOPE if i % 2 else "global", "given", "event",
              "Ja, houd mij op de hoogte.", "v1", "nl", GIVEN, GIVEN, f"fan.{i}@example.net") for i in range(others)]
    await conn.copy_records_to_table("consents", records=rows, columns=[
        "address", "scope", "status", "source", "text", "text_version", "language", "given_at", "confirmed_at",
        "mailbox"])
    await ledger.register_scope(conn, CONSENT_SCOPE, {"nl": "Nieuws"}, "required")
    for table in ("suppressions", "erased_addresses", "consents", "scopes", "check_marks"):
        await conn.execute(f"VACUUM ANALYZE {table}")
    return {"list": list_size, "erased": len(erased), "erased recipients": len(gone), "consents": len(rows)}


def described(held: dict[str, int]) -> str:
    """One line on what the database held while the benchmark ran."""
    return (f"the database held {held['list']:,} other suppressions, {held['erased']:,} erased addresses, "
            f"{held['consents']:,} consents and scope {CONSENT_SCOPE} registered consent-required")

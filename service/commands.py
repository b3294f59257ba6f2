"""The one-shot commands of the CLI: keys, scopes, webhooks, suppress, check, import, export, migrate."""

from __future__ import annotations

import asyncio
import contextlib
import difflib
import logging
import sys
from pathlib import Path
from typing import AsyncIterator

import asyncpg

from .domain import apikeys
from .domain.consent import ledger
from .domain.errors import DomainError, NotFound
from .domain.events import webhooks
from .domain.events.model import Actor
from .domain.suppressions import suppression_list
from .domain.suppressions import transfer
from .domain.suppressions.rules import GLOBAL, valid_scope
from .services import Services
from .settings import Settings
from .storage.db import connect

log = logging.getLogger("optout")

CHUNK = 1 << 16


def _progress(total: int, unit: str, description: str):
    """A progress bar on a terminal; silent (but still a summary at the end) otherwise."""
    from tqdm import tqdm

    return tqdm(
        total=total, unit=unit, unit_scale=True, desc=description, file=sys.stderr,
        disable=not sys.stderr.isatty(), dynamic_ncols=True,
    )


@contextlib.asynccontextmanager
async def _connected(settings: Settings) -> AsyncIterator[asyncpg.Connection]:
    """One connection for one command, closed however the command ends."""
    conn = await connect(settings.database_url)
    try:
        yield conn
    finally:
        await conn.close()


async def keys_create(settings: Settings, name: str, scopes: list[str]) -> int:
    async with _connected(settings) as conn:
        key_id, key = await apikeys.create_key(conn, name, scopes)
    print(f"created key {key_id} ({name}) with scopes {', '.join(sorted(set(scopes)))}; "
          "it is shown once, keep it now", file=sys.stderr)
    print(key)
    return 0


async def keys_list(settings: Settings) -> int:
    async with _connected(settings) as conn:
        rows = await apikeys.list_keys(conn)
    print(f"{'id':>4}  {'name':<24} {'prefix':<10} {'scopes':<28} {'created':<20} status")
    for r in rows:
        status = f"revoked {r['revoked_at']:%Y-%m-%d %H:%M}" if r["revoked_at"] else "active"
        print(f"{r['id']:>4}  {r['name'][:24]:<24} oo_{r['prefix']:<7} {','.join(r['scopes'])[:28]:<28} "
              f"{r['created_at']:%Y-%m-%d %H:%M}     {status}")
    return 0


async def keys_revoke(settings: Settings, key_id: int) -> int:
    async with _connected(settings) as conn:
        revoked = await apikeys.revoke_key(conn, key_id)
    if not revoked:
        print(f"no active key with id {key_id}; see `optout keys list`", file=sys.stderr)
        return 1
    print(f"key {key_id} revoked; services stop accepting it within 10 seconds", file=sys.stderr)
    return 0


async def webhooks_add(settings: Settings, url: str, events: list[str]) -> int:
    async with _connected(settings) as conn:
        made = await webhooks.subscribe(conn, url, events, Actor.CLI, settings.webhook_allow_private)
    print(f"webhook {made.subscription.id} sends {', '.join(made.subscription.events)} to {url}; "
          "its signing secret is shown once, give it to the receiver now", file=sys.stderr)
    print(made.subscription.id)
    print(made.secret)
    return 0


async def webhooks_list(settings: Settings) -> int:
    async with _connected(settings) as conn:
        found = await webhooks.subscriptions(conn)
    print(f"{'id':<36}  {'created':<16}  {'by':<16}  url and events")
    for s in found:
        print(f"{s.id}  {s.created_at:%Y-%m-%d %H:%M}  {s.created_by[:16]:<16}  {s.url}  {','.join(s.events)}")
    return 0


async def webhooks_remove(settings: Settings, webhook_id: str) -> int:
    try:
        async with _connected(settings) as conn:
            removed = await webhooks.remove(conn, webhook_id)
    except NotFound:
        print(f"no webhook with id {webhook_id}; see `optout webhooks list`", file=sys.stderr)
        return 1
    print(f"webhook {removed} removed, with its deliveries not yet made", file=sys.stderr)
    return 0


async def scopes_list(settings: Settings) -> int:
    async with _connected(settings) as conn:
        found = await ledger.scopes(conn)
    if not found:
        print("no scope is registered yet; register one with: optout scopes set SCOPE --label nl=... "
              "--consent required|soft_opt_in|none", file=sys.stderr)
    for item in found:
        labels = "; ".join(f"{lang}={text}" for lang, text in sorted(item.labels.items()))
        print(f"{item.scope:<24} {item.consent:<12} {labels}")
    return 0


async def scopes_set(settings: Settings, scope: str, labels: list[str], consent: str) -> int:
    parsed = {}
    for label in labels:
        lang, sep, text = label.partition("=")
        if not sep:
            print(f"optout: --label takes LANG=TEXT, like --label nl=Nieuwsbrief; got {label!r}", file=sys.stderr)
            return 2
        parsed[lang.strip().lower()] = text
    async with _connected(settings) as conn:
        async with conn.transaction():
            item, created = await ledger.register_scope(conn, scope, parsed, consent)
    print(f"scope {item.scope} {'registered' if created else 'changed'}: consent {item.consent}, "
          + "; ".join(f"{lang}={text}" for lang, text in sorted(item.labels.items())))
    return 0


async def warn_if_unregistered(conn: asyncpg.Connection, scope: str) -> None:
    """Once scopes are registered, a scope that is not (a typo, a Dutch name for an English one)
    is named on stderr with the registered ones closest to it: the command still does it."""
    if scope == GLOBAL:
        return
    registered = [s.scope for s in await ledger.scopes(conn)]
    if registered and scope not in registered:
        close = difflib.get_close_matches(scope, registered, n=2, cutoff=0.4)
        hint = f"; did you mean {' or '.join(close)}?" if close else ""
        print(f"warning: scope {scope!r} is not registered (registered: {', '.join(registered)}){hint} "
              "It is used as given.", file=sys.stderr)


async def suppress(services: Services, email: str, scope: str, reason: str, source: str, note: str | None) -> int:
    async with _connected(services.settings) as conn:
        valid_scope(scope)
        await warn_if_unregistered(conn, scope)
        async with conn.transaction():
            created, item = await suppression_list.suppress(
                conn, email, scope, reason, source, note, detail={"by": "cli"},
                keyed_hash=services.keyed_hash, actor=Actor.CLI,
            )
    print(("suppressed" if created else "already suppressed")
          + f": {item.reason} ({item.scope}, {item.created_at.isoformat()})")
    return 0


async def check(services: Services, email: str, scope: str) -> int:
    valid_scope(scope)
    async with _connected(services.settings) as conn:
        await warn_if_unregistered(conn, scope)
        [result] = await suppression_list.check(conn, [email], scope, services.keyed_hash, services.erased)
    if result.allowed:
        print("allowed")
        return 0
    if result.since is None:  # an invalid address, or no consent: no suppression to date
        print(f"blocked: {result.reason}" + (f" ({result.scope})" if result.scope else ""))
    else:
        print(f"blocked: {result.reason} ({result.scope}, {result.since.isoformat()})")
    return 1


def file_format(path: Path) -> str:
    fmt = path.suffix.lower().lstrip(".")
    if fmt not in transfer.FORMATS:
        raise DomainError(f"{path.name}: the file name must end in .csv or .ndjson")
    return fmt


async def import_file(services: Services, path: Path) -> int:
    fmt = file_format(path)
    size = path.stat().st_size
    async with _connected(services.settings) as conn:
        with path.open("rb") as f, _progress(size, "B", f"importing {path.name}") as bar:
            async with conn.transaction():
                async with transfer.Importer(conn, fmt, services.keyed_hash, actor=Actor.CLI) as importer:
                    while chunk := f.read(CHUNK):
                        await importer.feed(chunk)
                        bar.update(len(chunk))
                    summary = await importer.finish()
    print(f"{path.name}: {summary.lines} lines, {summary.imported} imported, "
          f"{summary.already} already suppressed, {summary.invalid_count} invalid", file=sys.stderr)
    for item in summary.invalid[:20]:
        print(f"  line {item['line']}: {item['error']} ({item['value'][:60]!r})", file=sys.stderr)
    if summary.invalid_count > 20:
        print(f"  ... and {summary.invalid_count - 20} more invalid lines", file=sys.stderr)
    if summary.imported == 0 and summary.already == 0 and summary.invalid_count:
        print(f"optout: nothing in {path.name} could be imported. The file needs an address in each line, or a "
              "header row naming its columns (email or E-mail, scope, reason, source, note), separated by "
              "',' or ';'.", file=sys.stderr)
        return 1
    return 0


async def export_file(settings: Settings, path: Path) -> int:
    fmt = file_format(path)
    written = 0
    partial = path.with_name(path.name + ".partial")
    try:
        async with _connected(settings) as conn, conn.transaction(isolation="repeatable_read", readonly=True):
            total = await transfer.export_size(conn)
            with partial.open("w", encoding="utf-8", newline="") as out, _progress(total, "rows", f"exporting {path.name}") as bar:
                if fmt == "csv":
                    out.write(transfer.csv_header())
                batch = []
                async for row in transfer.export_rows(conn):
                    batch.append(row)
                    if len(batch) >= 5000:
                        out.write(transfer.format_rows(batch, fmt))
                        written += len(batch)
                        bar.update(len(batch))
                        batch = []
                out.write(transfer.format_rows(batch, fmt))
                written += len(batch)
                bar.update(len(batch))
        partial.replace(path)
    finally:
        partial.unlink(missing_ok=True)
    print(f"{path}: {written} suppressions exported", file=sys.stderr)
    return 0


def migrate(settings: Settings) -> int:
    """Nothing to do beyond start-up: the database is migrated before any command runs."""
    print("database is up to date", file=sys.stderr)
    return 0


def run_command(coro) -> int:
    return asyncio.run(coro)

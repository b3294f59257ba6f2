"""Bulk import and export of the list as CSV or NDJSON, streamed in batches.
An import is one transaction: any fatal problem rolls all of it back, never half an import."""

from __future__ import annotations

import asyncio
import csv
import io
import json
from dataclasses import dataclass, field
from itertools import compress
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, AsyncIterator, Iterable

from ...storage import queries
from ..addresses import canonical_address
from ..cursors import feed_cursor_before
from ..errors import DomainError, InvalidInput, TooMany
from ..events.model import EventType, HistoryType
from .keyed_hash import KeyedHash
from .rules import GLOBAL, PERMANENT_REASONS, is_unicode_text, valid_reason, valid_scope, valid_source, valid_text

if TYPE_CHECKING:
    import asyncpg

BATCH_ROWS = 5000
MAX_REPORTED_INVALID = 10_000
EXPORT_COLUMNS = ("email", "scope", "reason", "source", "note", "created_at")
FORMATS = ("csv", "ndjson")
EARLIEST = datetime(1990, 1, 1, tzinfo=timezone.utc)
# A quoted field may span lines, but not without end: past this, the record is reported.
MAX_RECORD_LINES = 100
MAX_RECORD_CHARS = 64 * 1024
# A line longer than this is reported, and only its start is kept (a note holds 10,000
# characters: in NDJSON, escaped, up to 60,000 bytes).
MAX_LINE_BYTES = 128 * 1024
SHOWN_CHARS = 500
# The file as read, after any Content-Encoding is undone: a few kilobytes of gzip can
# inflate to gigabytes. Several million rows fit. Past the first MiBs, a compressed upload may
# inflate to at most MAX_INFLATION times what was sent (CSV and NDJSON compress 5 to 15 times).
MAX_IMPORT_BYTES = 256 * 1024 * 1024
FREELY_INFLATED = 16 * 1024 * 1024
MAX_INFLATION = 100


# Header names of each column as lists are made by hand or by Excel in Flanders, Wallonia and
# elsewhere (compared lower-cased, spaces, dots, dashes and underscores left out).
HEADER_NAMES = {
    "email": ("email", "emailadres", "emailaddress", "mail", "mailadres", "adres", "address", "courriel",
              "adressemail", "adresseemail", "adressecourriel", "emailadresse"),
    "scope": ("scope", "soort", "lijst", "list", "type", "categorie", "category", "catégorie", "liste"),
    "reason": ("reason", "reden", "raison", "motif"),
    "source": ("source", "bron", "herkomst", "origine"),
    "note": ("note", "notitie", "opmerking", "opmerkingen", "commentaar", "comment", "comments", "remarque"),
    "created_at": ("createdat", "created", "datum", "date", "tijdstip", "when"),
}
_HEADER_LOOKUP = {name: column for column, names in HEADER_NAMES.items() for name in names}
DELIMITERS = (",", ";", "\t")


def _header_key(value: str) -> str:
    return "".join(c for c in value.strip().lower() if c not in " .-_\ufeff")


def _columns_of_header(fields: list[str]) -> list[int | None] | None:
    """When a first record is a header naming an email column, where each of EXPORT_COLUMNS is."""
    if any("@" in f for f in fields):
        return None
    found = {}
    for index, value in enumerate(fields):
        column = _HEADER_LOOKUP.get(_header_key(value))
        if column is not None:
            found.setdefault(column, index)
    if "email" not in found:
        return None
    return [found.get(column) for column in EXPORT_COLUMNS]


def _delimiter_of(line: str) -> str:
    """The delimiter of a CSV file from its first record: Excel for Belgium writes `;`."""
    outside = line.split('"')[::2]  # the text outside quoted fields
    counts = {d: sum(part.count(d) for part in outside) for d in DELIMITERS}
    best = max(DELIMITERS, key=lambda d: counts[d])
    return best if counts[best] else ","


class ImportTooLarge(TooMany):
    code = "body_too_large"


@dataclass(frozen=True, slots=True)
class LongLine:
    """A line past MAX_LINE_BYTES: only its start, to show in the report."""

    start: bytes


@dataclass
class ImportSummary:
    imported: int = 0
    already: int = 0
    invalid: list[dict] = field(default_factory=list)
    invalid_count: int = 0
    lines: int = 0

    def as_dict(self) -> dict:
        body = {"imported": self.imported, "already": self.already, "invalid": self.invalid}
        if self.invalid_count > len(self.invalid):
            body["invalid_not_listed"] = self.invalid_count - len(self.invalid)
        return body


def _row_from_fields(values: list) -> tuple:
    """Validate one record's fields (email[,scope,reason,source,note,created_at])."""
    values = list(values) + [None] * (6 - len(values))
    email, scope, reason, source, note, created_at = values[:6]
    address = canonical_address(email)
    scope = valid_scope(scope or GLOBAL)
    reason = valid_reason(reason or "manual")
    source = valid_source(source or "import")
    if reason in PERMANENT_REASONS and scope != GLOBAL:
        raise InvalidInput(f"A {reason} suppression is always global, not {scope!r}.")
    valid_text(note, "note")
    when = None
    if created_at:
        try:
            when = datetime.fromisoformat(str(created_at))
            if when.tzinfo is None:
                raise InvalidInput("created_at needs a time zone offset.")
            when = when.astimezone(timezone.utc)
        except (ValueError, OverflowError):
            raise InvalidInput(f"created_at {created_at!r} is not an ISO-8601 time.") from None
        if not EARLIEST <= when <= datetime.now(timezone.utc) + timedelta(days=1):
            raise InvalidInput(f"created_at {created_at!r} is not a time a suppression can have been made.")
    return address, scope, reason, source, note or None, when


class Importer:
    """Feed it the file's bytes in order; it parses, validates and inserts in batches."""

    def __init__(self, conn: asyncpg.Connection, fmt: str, keyed_hash: KeyedHash, batch_rows: int = BATCH_ROWS,
                 max_bytes: int | None = None, actor: str | None = None):
        if fmt not in FORMATS:
            raise InvalidInput(f"Import format must be csv or ndjson, got {fmt!r}.")
        self.conn = conn
        self.keyed_hash = keyed_hash  # of OPTOUT_HASH_KEY, to leave erased addresses erased
        self.actor = actor
        self._first_event: tuple[int, int] | None = None  # (transaction, id) of the first row's event
        self.fmt = fmt
        self.batch_rows = batch_rows
        self.max_bytes = MAX_IMPORT_BYTES if max_bytes is None else max_bytes
        self.summary = ImportSummary()
        self._rows: list[tuple] = []
        self._staged = False
        self._received = 0
        self._pending = bytearray()  # the start of a line whose end has not come yet
        self._pending_long = False  # ... past MAX_LINE_BYTES: only its start is kept
        self._record: list[str] = []
        self._record_line = 0
        self._record_quotes = 0
        self._record_chars = 0
        self._line = 0
        self._writing: asyncio.Task | None = None
        self._delimiter: str | None = None  # a CSV file's, from its first record
        self._columns: list[int | None] | None = None  # where each column is, from a header
        self._header_read = False

    async def feed(self, chunk: bytes, sent: int | None = None) -> None:
        """Take the next bytes of the file (`sent`: how many bytes it took on the wire so far, when
        it came compressed); whole lines are parsed (off the event loop), the rest waits."""
        self._received += len(chunk)
        if self._received > self.max_bytes:
            raise ImportTooLarge(
                f"The import is larger than {self.max_bytes} bytes (after decompression); split the file."
            )
        if sent is not None and self._received > max(FREELY_INFLATED, MAX_INFLATION * sent):
            raise ImportTooLarge(
                f"The import inflates to more than {MAX_INFLATION} times its compressed size; "
                "send it uncompressed or split it."
            )
        if chunk:
            await asyncio.to_thread(self._take_chunk, chunk)
        if len(self._rows) >= self.batch_rows:
            await self._flush()

    async def finish(self) -> ImportSummary:
        if self._pending or self._pending_long:
            self._take_line(self._end_line(b""))
        if self._record:
            self._invalid(self._record_line, "\n".join(self._record), "A quoted field is never closed.")
            self._record = []
        self.summary.lines = self._line
        await self._flush()
        await self._written()
        if self._first_event is not None:
            await queries.insert_event(
                self.conn, None, HistoryType.IMPORTED, actor=self.actor, published_as=EventType.SUPPRESSION_IMPORTED,
                detail={"imported": self.summary.imported, "already": self.summary.already,
                        "invalid": self.summary.invalid_count, "cursor": feed_cursor_before(*self._first_event)},
            )
        return self.summary

    def _take_chunk(self, chunk: bytes) -> None:
        """Parse the lines this chunk completes; its unfinished last line waits in _pending.

        Blank lines are skipped without a step each (a file of line breaks costs next to
        nothing), except inside a quoted CSV field, where they are part of the value.
        """
        *ends, rest = chunk.split(b"\n")
        start = 0
        if ends and (self._pending or self._pending_long):
            self._take_line(self._end_line(ends[0]))  # it ends a line begun in an earlier chunk
            start = 1
        before = self._line - start  # ends[i] is line before + i + 1
        previous = start - 1
        for index in compress(range(start, len(ends)), ends[start:]):
            self._take_blank_lines_in_record(before, previous + 1, index)
            self._line = before + index
            part = ends[index]
            self._take_line(self._end_line(part) if len(part) > MAX_LINE_BYTES else part)
            previous = index
        self._take_blank_lines_in_record(before, previous + 1, len(ends))
        self._line = before + len(ends)
        self._hold(rest)
        self.summary.lines = self._line

    def _take_blank_lines_in_record(self, before: int, first: int, end: int) -> None:
        if self.fmt == "csv" and self._record:
            for index in range(first, end):
                self._line = before + index
                self._take_line(b"")

    def _hold(self, part: bytes) -> None:
        if self._pending_long:
            return
        self._pending += part
        if len(self._pending) > MAX_LINE_BYTES:
            self._pending_long = True
            del self._pending[4 * SHOWN_CHARS:]

    def _end_line(self, part: bytes) -> bytes | LongLine:
        self._hold(part)
        line = LongLine(bytes(self._pending)) if self._pending_long else bytes(self._pending)
        self._pending.clear()
        self._pending_long = False
        return line

    def _take_line(self, raw: bytes | LongLine) -> None:
        self._line += 1
        if isinstance(raw, LongLine):
            self._take_long_line(raw)
            return
        if raw.endswith(b"\r"):
            raw = raw[:-1]
        if self._line == 1 and raw.startswith(b"\xef\xbb\xbf"):
            raw = raw[3:]
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise InvalidInput(
                f"Line {self._line} is not UTF-8: save the file as UTF-8 and import it again.",
                line=self._line,
            ) from None
        if self.fmt == "ndjson":
            self._take_ndjson(text)
        else:
            self._take_csv(text)

    def _take_long_line(self, line: LongLine) -> None:
        if self._record:
            self._invalid(self._record_line, self._record[0], "A quoted field is never closed.")
            self._record = []
        shown = line.start.decode("utf-8", "replace")[:SHOWN_CHARS]
        self._invalid(self._line, shown, f"The line is longer than {MAX_LINE_BYTES} bytes.")

    def _take_ndjson(self, text: str) -> None:
        if not text.strip():
            return
        try:
            item = json.loads(text)
        except (ValueError, RecursionError):  # RecursionError: arrays nested thousands deep
            self._invalid(self._line, text, "Not a JSON object.")
            return
        if not isinstance(item, dict):
            self._invalid(self._line, text, "Not a JSON object.")
            return
        fields = [item.get(name) for name in EXPORT_COLUMNS]
        self._take_fields(self._line, fields, item.get("email"))

    def _take_csv(self, text: str) -> None:
        """A record may span lines inside a quoted field (RFC 4180): gather until quotes balance."""
        if not self._record:
            if not text.strip():
                return
            self._record_line = self._line
            self._record_quotes = 0
            self._record_chars = 0
        self._record.append(text)
        self._record_quotes += text.count('"')
        self._record_chars += len(text)
        if self._record_quotes % 2:
            if len(self._record) >= MAX_RECORD_LINES or self._record_chars >= MAX_RECORD_CHARS:
                self._invalid(self._record_line, self._record[0], "A quoted field is never closed.")
                self._record = []
            return
        joined = "\n".join(self._record)
        self._record = []
        if self._delimiter is None:
            self._delimiter = _delimiter_of(joined)
        if '"' in joined:
            try:
                fields = next(csv.reader([joined], strict=True, delimiter=self._delimiter))
            except csv.Error as exc:
                self._invalid(self._record_line, joined, f"Not a CSV record: {exc}.")
                return
        else:
            fields = joined.split(self._delimiter)  # what csv.reader gives for an unquoted line, much faster
        if not any(f.strip() for f in fields):
            return  # a row of empty cells, as spreadsheets save below a list: a blank line
        if not self._header_read:
            self._header_read = True
            self._columns = _columns_of_header(fields)
            if self._columns is not None:
                return  # a header: its names say where each column is
        if self._columns is not None:
            fields = [fields[i] if i is not None and i < len(fields) else None for i in self._columns]
        self._take_fields(self._record_line, fields, fields[0] if fields else "")

    def _take_fields(self, line: int, fields: list, shown: object) -> None:
        try:
            row = _row_from_fields([f.strip() if isinstance(f, str) and i < 4 else f for i, f in enumerate(fields)])
        except DomainError as exc:
            self._invalid(line, shown, exc.message)
            return
        self._rows.append(row)

    def _invalid(self, line: int, value: object, error: str) -> None:
        self.summary.invalid_count += 1
        if len(self.summary.invalid) < MAX_REPORTED_INVALID:
            shown = value if isinstance(value, str) else json.dumps(value)
            if not is_unicode_text(shown):
                shown = shown.encode("utf-8", "replace").decode("utf-8")
            self.summary.invalid.append({"line": line, "value": shown[:SHOWN_CHARS], "error": error})

    async def _flush(self) -> None:
        """Send the batch; the next one is parsed, and its addresses' HMACs worked out, while the
        database writes this one."""
        if not self._rows:
            return
        rows, self._rows = self._rows, []
        records = await asyncio.to_thread(_with_hmacs, self.keyed_hash, rows)
        await self._written()
        self._writing = asyncio.create_task(self._write(records))

    async def _write(self, records: list[tuple]) -> None:
        if not self._staged:
            await queries.create_import_batch(self.conn, self.actor)
            self._staged = True
        written = await queries.import_batch(self.conn, records)
        inserted = written["inserted"]
        if self._first_event is None and written["first_event"] is not None:
            self._first_event = (int(written["tx"]), written["first_event"])
        self.summary.imported += inserted
        self.summary.already += len(records) - inserted

    async def _written(self) -> None:
        if self._writing is not None:
            writing, self._writing = self._writing, None
            await writing

    async def __aenter__(self) -> "Importer":
        return self

    async def __aexit__(self, exc_type, exc, tb) -> None:
        """On failure, let a batch in flight finish before the caller's transaction rolls back."""
        if self._writing is not None and exc_type is not None:
            try:
                await self._written()
            except Exception:
                pass


def _with_hmacs(keyed_hash: KeyedHash, rows: list[tuple]) -> list[tuple]:
    """Each row with its address's HMAC: an erased address is found by it."""
    return [(*row, h) for row, h in zip(rows, keyed_hash.of_many([row[0] for row in rows]))]


async def export_size(conn: asyncpg.Connection) -> int:
    """How many rows export_rows gives in this transaction (for a progress bar)."""
    return await queries.count_suppressions(conn)


async def export_rows(conn: asyncpg.Connection, prefetch: int = 5000) -> AsyncIterator[asyncpg.Record]:
    """Every suppression in a stable order, through a server-side cursor (needs a transaction)."""
    async for row in conn.cursor(queries.EXPORT_SUPPRESSIONS, prefetch=prefetch):
        yield row


def csv_header() -> str:
    return ",".join(EXPORT_COLUMNS) + "\r\n"


def format_rows(rows: Iterable, fmt: str) -> str:
    """A batch of exported rows as CSV lines or NDJSON lines."""
    if fmt == "ndjson":
        return "".join(
            json.dumps(
                {
                    "email": r["address"], "scope": r["scope"], "reason": r["reason"],
                    "source": r["source"], "note": r["note"], "created_at": r["created_at"].isoformat(),
                },
                ensure_ascii=False,
            ) + "\n"
            for r in rows
        )
    out = io.StringIO()
    writer = csv.writer(out)
    for r in rows:
        writer.writerow(
            (r["address"], r["scope"], r["reason"], r["source"], r["note"] or "", r["created_at"].isoformat())
        )
    return out.getvalue()

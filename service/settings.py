"""Configuration from the environment, read and validated once into a frozen dataclass."""

from __future__ import annotations

import logging
import os
import secrets
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Mapping
from urllib.parse import urlsplit

log = logging.getLogger(__name__)


class SettingsError(ValueError):
    """A variable of the environment has a value the service cannot use."""


@dataclass(frozen=True)
class Settings:
    database_url: str | None = None
    host: str = "127.0.0.1"
    port: int = 8080
    web_concurrency: int = 1
    public_url: str = "http://127.0.0.1:8080"
    secret_keys: tuple[str, ...] = ()
    mailto: str = "info@cetit.be"
    smtp_port: int = 8025
    gateway_port: int = 8587
    gateway_auth: str = "loopback"
    relay_url: str | None = None
    forward_to: str | None = None
    hash_key: bytes = b""
    max_message_bytes: int = 26214400
    link_max_age_days: int = 90
    soft_bounce_limit: int = 3
    soft_bounce_days: int = 30
    log_format: str = "text"
    var_dir: Path = field(default_factory=lambda: Path("var"))

    def with_overrides(self, **changes) -> "Settings":
        return replace(self, **changes)


def _port(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise SettingsError(f"{name} must be a port number, got {raw!r}") from None
    if not 0 <= value <= 65535:
        raise SettingsError(f"{name} must be a port number (0-65535), got {raw!r}")
    return value


def _positive_int(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise SettingsError(f"{name} must be a whole number, got {raw!r}") from None
    if value < 1:
        raise SettingsError(f"{name} must be at least 1, got {raw!r}")
    return value


def _choice(env: Mapping[str, str], name: str, default: str, choices: tuple[str, ...]) -> str:
    raw = env.get(name) or default
    if raw not in choices:
        raise SettingsError(f"{name} must be one of {', '.join(choices)}, got {raw!r}")
    return raw


def _url(env: Mapping[str, str], name: str, schemes: tuple[str, ...]) -> str | None:
    raw = env.get(name)
    if not raw:
        return None
    parts = urlsplit(raw)
    if parts.scheme not in schemes or not parts.hostname:
        raise SettingsError(
            f"{name} must be a URL like {schemes[0]}://host, got {parts.scheme or 'no scheme'}://..."
        )
    return raw


def _address(env: Mapping[str, str], name: str, default: str | None) -> str | None:
    raw = env.get(name) or default
    if raw is not None and ("@" not in raw or any(c.isspace() or not c.isprintable() for c in raw)):
        raise SettingsError(f"{name} must be an email address, got {raw!r}")
    return raw


def _kept_secret(var_dir: Path, filename: str, what: str) -> str:
    """A secret generated on first use and kept in var/, for a laptop without configuration."""
    path = var_dir / filename
    if path.exists():
        value = path.read_text().strip()
    else:
        var_dir.mkdir(parents=True, exist_ok=True)
        value = secrets.token_urlsafe(32)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(value + "\n")
    log.warning("%s is not set: using the key kept in %s; set it in production", what, path)
    return value


def load_settings(env: Mapping[str, str] | None = None) -> Settings:
    """Build the settings from the environment; raise SettingsError naming the bad variable."""
    env = os.environ if env is None else env
    var_dir = Path(env.get("OPTOUT_VAR_DIR") or "var")
    port = _port(env, "PORT", 8080)
    public_url = (env.get("OPTOUT_PUBLIC_URL") or f"http://127.0.0.1:{port}").rstrip("/")
    if urlsplit(public_url).scheme not in ("http", "https"):
        raise SettingsError(f"OPTOUT_PUBLIC_URL must start with http:// or https://, got {public_url!r}")

    raw_keys = env.get("OPTOUT_SECRET_KEYS")
    if raw_keys:
        keys = tuple(k.strip() for k in raw_keys.split(",") if k.strip())
        if not keys:
            raise SettingsError("OPTOUT_SECRET_KEYS must hold at least one key")
        short = [i + 1 for i, k in enumerate(keys) if len(k) < 16]
        if short:
            raise SettingsError(f"OPTOUT_SECRET_KEYS: key {short[0]} is shorter than 16 characters")
    else:
        keys = (_kept_secret(var_dir, "secret_key", "OPTOUT_SECRET_KEYS"),)

    hash_key = env.get("OPTOUT_HASH_KEY") or _kept_secret(var_dir, "hash_key", "OPTOUT_HASH_KEY")
    if len(hash_key) < 16:
        raise SettingsError("OPTOUT_HASH_KEY must be at least 16 characters long")

    database_url = env.get("DATABASE_URL") or None
    if database_url and urlsplit(database_url).scheme not in ("postgres", "postgresql"):
        raise SettingsError("DATABASE_URL must start with postgresql://")

    return Settings(
        database_url=database_url,
        host=env.get("OPTOUT_HOST") or "127.0.0.1",
        port=port,
        web_concurrency=_positive_int(env, "WEB_CONCURRENCY", 1),
        public_url=public_url,
        secret_keys=keys,
        mailto=_address(env, "OPTOUT_MAILTO", "info@cetit.be"),
        smtp_port=_port(env, "OPTOUT_SMTP_PORT", 8025),
        gateway_port=_port(env, "OPTOUT_GATEWAY_PORT", 8587),
        gateway_auth=_choice(env, "OPTOUT_GATEWAY_AUTH", "loopback", ("loopback", "always")),
        relay_url=_url(env, "OPTOUT_RELAY_URL", ("smtp", "smtps")),
        forward_to=_address(env, "OPTOUT_FORWARD_TO", None),
        hash_key=hash_key.encode(),
        max_message_bytes=_positive_int(env, "OPTOUT_MAX_MESSAGE_BYTES", 26214400),
        link_max_age_days=_positive_int(env, "OPTOUT_LINK_MAX_AGE_DAYS", 90),
        soft_bounce_limit=_positive_int(env, "OPTOUT_SOFT_BOUNCE_LIMIT", 3),
        soft_bounce_days=_positive_int(env, "OPTOUT_SOFT_BOUNCE_DAYS", 30),
        log_format=_choice(env, "OPTOUT_LOG_FORMAT", "text", ("text", "json")),
        var_dir=var_dir,
    )

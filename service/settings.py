"""Configuration from the environment, read and validated once into a frozen dataclass."""

from __future__ import annotations

import ipaddress
import logging
import os
import secrets
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Mapping
from urllib.parse import urlsplit

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

log = logging.getLogger(__name__)


class SettingsError(ValueError):
    """A variable of the environment has a value the service cannot use."""


@dataclass(frozen=True)
class Settings:
    database_url: str | None = None
    database_read_url: str | None = None
    read_max_lag_ms: int = 1000
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
    confirm_max_age_days: int = 7
    self_service_minutes: int = 60
    trusted_proxies: tuple = ()  # ip_network values: proxies whose X-Forwarded-For is believed
    soft_bounce_limit: int = 3
    soft_bounce_days: int = 30
    retention_days: int = 90
    max_actions_per_message: int = 10
    trusted_authserv_id: str | None = None
    tls_cert: Path | None = None
    tls_key: Path | None = None
    gateway_max_recipients: int = 1000
    bounce_address: str = "bounces@cetit.be"
    dkim_key: bytes | None = field(default=None, repr=False)  # PEM private key
    dkim_selector: str | None = None
    dkim_domain: str | None = None
    log_format: str = "text"
    webhook_allow_private: bool = False  # webhooks to RFC 1918 and fc00::/7 addresses
    guard_complaint_rate: float = 0.003
    guard_bounce_rate: float = 0.05
    guard_min_sent: int = 1000
    var_dir: Path = field(default_factory=lambda: Path("var"))

    def with_overrides(self, **changes) -> "Settings":
        return replace(self, **changes)


def _number(env: Mapping[str, str], name: str, parse: type, wanted: str) -> tuple[str, int | float] | None:
    """The variable as given and as a number; None when it is unset or empty (its default applies)."""
    raw = env.get(name)
    if raw is None or raw == "":
        return None
    try:
        return raw, parse(raw)
    except ValueError:
        raise SettingsError(f"{name} must be {wanted}, got {raw!r}") from None


def _port(env: Mapping[str, str], name: str, default: int) -> int:
    given = _number(env, name, int, "a port number")
    if given is None:
        return default
    raw, value = given
    if not 0 <= value <= 65535:
        raise SettingsError(f"{name} must be a port number (0-65535), got {raw!r}")
    return value


def _networks(env: Mapping[str, str], name: str) -> tuple:
    """Comma-separated IP addresses or networks (`10.0.0.0/8`, `::1`)."""
    networks = []
    for part in (env.get(name) or "").split(","):
        if part.strip():
            try:
                networks.append(ipaddress.ip_network(part.strip(), strict=False))
            except ValueError:
                raise SettingsError(f"{name} must list IP addresses or networks, got {part.strip()!r}") from None
    return tuple(networks)


def _whole_number(env: Mapping[str, str], name: str, default: int, minimum: int = 1, maximum: int | None = None,
                  unit: str = "") -> int:
    given = _number(env, name, int, f"a whole number{f' of {unit}' if unit else ''}")
    if given is None:
        return default
    raw, value = given
    if value < minimum:
        raise SettingsError(f"{name} must be at least {minimum}, got {raw!r}")
    if maximum is not None and value > maximum:
        raise SettingsError(f"{name} must be at most {maximum}, got {raw!r}")
    return value


def _fraction(env: Mapping[str, str], name: str, default: float) -> float:
    """A rate as a fraction: 0.003 is 0.3%."""
    given = _number(env, name, float, f"a fraction such as {default} ({default:.1%})")
    if given is None:
        return default
    raw, value = given
    if not 0 < value <= 1:
        raise SettingsError(f"{name} must be more than 0 and at most 1 (a fraction: {default} is {default:.1%}), "
                            f"got {raw!r}")
    return value


SWITCHED_ON = ("on", "1", "true", "yes")
SWITCHED_OFF = ("off", "0", "false", "no")


def _switch(env: Mapping[str, str], name: str, default: bool) -> bool:
    raw = (env.get(name) or "").strip().lower()
    if not raw:
        return default
    if raw not in SWITCHED_ON + SWITCHED_OFF:
        raise SettingsError(f"{name} must be on or off (on/off, 1/0, true/false, yes/no), got {env[name]!r}")
    return raw in SWITCHED_ON


def _database_url(env: Mapping[str, str], name: str) -> str | None:
    raw = env.get(name) or None
    if raw and urlsplit(raw).scheme not in ("postgres", "postgresql"):
        raise SettingsError(f"{name} must start with postgresql://")
    return raw


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


def _authserv_id(env: Mapping[str, str]) -> str | None:
    raw = (env.get("OPTOUT_TRUSTED_AUTHSERV_ID") or "").strip()
    if not raw:
        return None
    if any(c.isspace() or c in ";()\"" or not c.isprintable() for c in raw):
        raise SettingsError(f"OPTOUT_TRUSTED_AUTHSERV_ID must be one host name, e.g. mx.cetit.be, got {raw!r}")
    return raw.lower()


def _tls_files(env: Mapping[str, str]) -> tuple[Path | None, Path | None]:
    cert, key = env.get("OPTOUT_TLS_CERT") or None, env.get("OPTOUT_TLS_KEY") or None
    if (cert is None) != (key is None):
        raise SettingsError("OPTOUT_TLS_CERT and OPTOUT_TLS_KEY go together: set both (PEM files) or neither")
    if cert is None:
        return None, None
    for name, value in (("OPTOUT_TLS_CERT", cert), ("OPTOUT_TLS_KEY", key)):
        if not os.access(value, os.R_OK):
            raise SettingsError(f"{name} must name a readable PEM file, got {value!r}")
    return Path(cert), Path(key)


def _bounce_address(env: Mapping[str, str]) -> str:
    """The return path of marketing mail; its `+` forms carry the bounce tokens, so it has none itself."""
    raw = _address(env, "OPTOUT_BOUNCE_ADDRESS", "bounces@cetit.be")
    local = raw.rpartition("@")[0]
    if "+" in local or not local or len(local) > 30:
        raise SettingsError(f"OPTOUT_BOUNCE_ADDRESS must be a plain address without '+' (its local part at most "
                            f"30 characters, leaving room for the token), got {raw!r}")
    return raw


def _dkim(env: Mapping[str, str]) -> tuple[bytes | None, str | None, str | None]:
    """OPTOUT_DKIM_KEY (a PEM private key, or the path of a file holding one), _SELECTOR and _DOMAIN: all or none."""
    key, selector, domain = (env.get(f"OPTOUT_DKIM_{n}") or None for n in ("KEY", "SELECTOR", "DOMAIN"))
    if key is None and selector is None and domain is None:
        return None, None, None
    if None in (key, selector, domain):
        raise SettingsError("OPTOUT_DKIM_KEY, OPTOUT_DKIM_SELECTOR and OPTOUT_DKIM_DOMAIN go together: set all three "
                            "or none")
    if "-----BEGIN" in key:
        pem = key.encode()
    else:
        try:
            pem = Path(key).read_bytes()
        except OSError:
            raise SettingsError("OPTOUT_DKIM_KEY must be a PEM private key, or the path of a readable file holding "
                                f"one; got {key[:40]!r}") from None
    if b"PRIVATE KEY-----" not in pem:
        raise SettingsError("OPTOUT_DKIM_KEY does not hold a PEM private key (-----BEGIN ... PRIVATE KEY-----)")
    try:
        key = serialization.load_pem_private_key(pem, password=None)
    except (ValueError, TypeError) as exc:
        raise SettingsError(f"OPTOUT_DKIM_KEY could not be read as an unencrypted PEM private key ({exc}); "
                            "make one with: openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048") from None
    if not isinstance(key, rsa.RSAPrivateKey) or key.key_size < 1024:
        raise SettingsError("OPTOUT_DKIM_KEY must be an RSA private key of at least 1024 bits (2048 advised)")
    for name, value in (("OPTOUT_DKIM_SELECTOR", selector), ("OPTOUT_DKIM_DOMAIN", domain)):
        if not value.replace("-", "").replace(".", "").replace("_", "").isalnum() or not value.isascii():
            raise SettingsError(f"{name} must be a DNS label or name, got {value!r}")
    return pem, selector, domain.lower()


def _kept_secret(var_dir: Path, filename: str, what: str, create: bool) -> str:
    """A secret generated on first use and kept in var/, for a laptop without configuration.
    Only the commands that make var/ (`create`) make it; the others look for it and refuse."""
    path = var_dir / filename
    if path.exists():
        return path.read_text().strip()
    if not create:
        pgdata = (var_dir / "pg").resolve()
        where = (f"there is no embedded PostgreSQL in {pgdata}" if not (var_dir / "pg").exists()
                 else f"there is no {path} beside the embedded PostgreSQL in {pgdata}")
        raise SettingsError(
            f"DATABASE_URL is not set and {where}. Run this command in the folder where `optout run` keeps "
            "its var/ (or set OPTOUT_VAR_DIR to that var/ folder), or set DATABASE_URL to your PostgreSQL "
            "and OPTOUT_SECRET_KEYS and OPTOUT_HASH_KEY as the service has them.")
    var_dir.mkdir(parents=True, exist_ok=True)
    value = secrets.token_urlsafe(32)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(value + "\n")
    log.warning("%s is not set: created %s and keep using it here (set %s in production)", what, path, what)
    return value


def _deployment_secret(env: Mapping[str, str], name: str, var_dir: Path, filename: str, create: bool) -> str:
    """A secret from the environment; generated into var/ only on a laptop (no DATABASE_URL).

    In a deployment several hosts share one database: a key generated per host would make
    the links of one host fail on the next, and let erased people come back.
    """
    value = env.get(name)
    if value:
        return value
    if env.get("DATABASE_URL"):
        raise SettingsError(
            f"{name} must be set when DATABASE_URL is set: every host of a deployment needs the same "
            f"key (generate one with: python3 -c 'import secrets; print(secrets.token_urlsafe(32))', "
            f"and back it up with the database)"
        )
    return _kept_secret(var_dir, filename, name, create)


def load_settings(env: Mapping[str, str] | None = None, create_keys: bool = True) -> Settings:
    """Build the settings from the environment; raise SettingsError naming the bad variable.
    Without DATABASE_URL the keys are kept in var/, made there only when `create_keys`."""
    env = os.environ if env is None else env
    var_dir = Path(env.get("OPTOUT_VAR_DIR") or "var")
    port = _port(env, "PORT", 8080)
    public_url = (env.get("OPTOUT_PUBLIC_URL") or f"http://127.0.0.1:{port}").rstrip("/")
    if urlsplit(public_url).scheme not in ("http", "https"):
        raise SettingsError(f"OPTOUT_PUBLIC_URL must start with http:// or https://, got {public_url!r}")

    database_url = _database_url(env, "DATABASE_URL")
    database_read_url = _database_url(env, "DATABASE_READ_URL")
    if database_read_url and not database_url:
        raise SettingsError("DATABASE_READ_URL needs DATABASE_URL: a standby serves reads for a primary")

    raw_keys = _deployment_secret(env, "OPTOUT_SECRET_KEYS", var_dir, "secret_key", create_keys)
    keys = tuple(k.strip() for k in raw_keys.split(",") if k.strip())
    if not keys:
        raise SettingsError("OPTOUT_SECRET_KEYS must hold at least one key")
    short = [i + 1 for i, k in enumerate(keys) if len(k) < 16]
    if short:
        raise SettingsError(f"OPTOUT_SECRET_KEYS: key {short[0]} is shorter than 16 characters")

    hash_key = _deployment_secret(env, "OPTOUT_HASH_KEY", var_dir, "hash_key", create_keys)
    if len(hash_key) < 16:
        raise SettingsError("OPTOUT_HASH_KEY must be at least 16 characters long")

    tls_cert, tls_key = _tls_files(env)
    dkim_key, dkim_selector, dkim_domain = _dkim(env)
    return Settings(
        database_url=database_url,
        database_read_url=database_read_url,
        read_max_lag_ms=_whole_number(env, "OPTOUT_READ_MAX_LAG_MS", 1000, minimum=0),
        host=env.get("OPTOUT_HOST") or "127.0.0.1",
        port=port,
        web_concurrency=_whole_number(env, "WEB_CONCURRENCY", 1),
        public_url=public_url,
        secret_keys=keys,
        mailto=_address(env, "OPTOUT_MAILTO", "info@cetit.be"),
        smtp_port=_port(env, "OPTOUT_SMTP_PORT", 8025),
        gateway_port=_port(env, "OPTOUT_GATEWAY_PORT", 8587),
        gateway_auth=_choice(env, "OPTOUT_GATEWAY_AUTH", "loopback", ("loopback", "always")),
        relay_url=_url(env, "OPTOUT_RELAY_URL", ("smtp", "smtps")),
        forward_to=_address(env, "OPTOUT_FORWARD_TO", None),
        hash_key=hash_key.encode(),
        max_message_bytes=_whole_number(env, "OPTOUT_MAX_MESSAGE_BYTES", 26214400),
        link_max_age_days=_whole_number(env, "OPTOUT_LINK_MAX_AGE_DAYS", 90, minimum=0),
        confirm_max_age_days=_whole_number(env, "OPTOUT_CONFIRM_MAX_AGE_DAYS", 7, maximum=3650, unit="days"),
        self_service_minutes=_whole_number(env, "OPTOUT_SELF_SERVICE_MINUTES", 60, maximum=10_080, unit="minutes"),
        trusted_proxies=_networks(env, "OPTOUT_TRUSTED_PROXIES"),
        soft_bounce_limit=_whole_number(env, "OPTOUT_SOFT_BOUNCE_LIMIT", 3),
        soft_bounce_days=_whole_number(env, "OPTOUT_SOFT_BOUNCE_DAYS", 30),
        retention_days=_whole_number(env, "OPTOUT_RETENTION_DAYS", 90),
        max_actions_per_message=_whole_number(env, "OPTOUT_MAX_ACTIONS_PER_MESSAGE", 10),
        trusted_authserv_id=_authserv_id(env),
        tls_cert=tls_cert,
        tls_key=tls_key,
        gateway_max_recipients=_whole_number(env, "OPTOUT_GATEWAY_MAX_RECIPIENTS", 1000),
        bounce_address=_bounce_address(env),
        dkim_key=dkim_key,
        dkim_selector=dkim_selector,
        dkim_domain=dkim_domain,
        log_format=_choice(env, "OPTOUT_LOG_FORMAT", "text", ("text", "json")),
        webhook_allow_private=_switch(env, "OPTOUT_WEBHOOK_ALLOW_PRIVATE", False),
        guard_complaint_rate=_fraction(env, "OPTOUT_GUARD_COMPLAINT_RATE", 0.003),
        guard_bounce_rate=_fraction(env, "OPTOUT_GUARD_BOUNCE_RATE", 0.05),
        guard_min_sent=_whole_number(env, "OPTOUT_GUARD_MIN_SENT", 1000, unit="recipients"),
        var_dir=var_dir,
    )

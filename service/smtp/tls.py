"""STARTTLS (RFC 3207) for the receiver and the gateway, from OPTOUT_TLS_CERT and OPTOUT_TLS_KEY.

Without them nothing offers STARTTLS, and the gateway takes AUTH only from loopback.
"""

from __future__ import annotations

import ssl

from ..settings import Settings, SettingsError


def starttls_context(settings: Settings) -> ssl.SSLContext | None:
    """The server side of STARTTLS: TLS 1.2 or newer, Python's default ciphers; clients present
    no certificate. None when no certificate is configured."""
    if settings.tls_cert is None or settings.tls_key is None:
        return None
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    try:
        context.load_cert_chain(settings.tls_cert, settings.tls_key)
    except (ssl.SSLError, OSError) as exc:
        raise SettingsError(
            f"OPTOUT_TLS_CERT and OPTOUT_TLS_KEY must be a PEM certificate and its key ({exc.__class__.__name__})"
        ) from None
    return context

"""One webhook delivery: a signed POST (Standard Webhooks headers), judged by its status.
What a failing receiver answers is never read, so it cannot reach a log line or the console."""

from __future__ import annotations

import ssl
from dataclasses import dataclass
from datetime import datetime

import aiohttp
import orjson

from ..domain.events.webhooks import sign
from .receivers import ReceiverClient, RefusedAddress

USER_AGENT = "optout"


@dataclass(frozen=True)
class DeliveryResult:
    delivered: bool
    error: str | None = None


async def deliver(client: ReceiverClient, url: str, secret: str, payload: dict, now: datetime,
                  timeout: float = 10.0) -> DeliveryResult:
    """POST `payload` to `url`; a 2xx answer within `timeout` seconds is a delivery.

    Redirects are not followed (the signature is for the URL subscribed). Never raises: a
    refused connection, a timeout, a bad certificate or an address that may not receive
    webhooks is a failed delivery like a 500.
    """
    refused = client.refusal(url)
    if refused is not None:
        return DeliveryResult(False, f"refused: {refused}")
    try:
        body, headers = signed_request(secret, payload, now)
    except (ValueError, TypeError, KeyError):  # a secret that is not base64, an event that is not JSON
        return DeliveryResult(False, "cannot be signed: the secret or the event is malformed")
    try:
        async with client.session().post(url, data=body, headers=headers, allow_redirects=False,
                                timeout=aiohttp.ClientTimeout(total=timeout)) as response:
            if 200 <= response.status < 300:
                return DeliveryResult(True)
    except TimeoutError:
        return DeliveryResult(False, f"timed out after {timeout:g} s")
    except (aiohttp.ClientSSLError, ssl.SSLError) as exc:
        return DeliveryResult(False, f"TLS failed ({type(exc).__name__})")
    except aiohttp.ClientConnectorError as exc:
        if isinstance(exc.os_error, RefusedAddress):
            return DeliveryResult(False, f"refused: {exc.os_error}")
        return DeliveryResult(False, f"connection failed ({type(exc).__name__})")
    except aiohttp.InvalidURL:
        return DeliveryResult(False, "the URL cannot be used")
    except aiohttp.ClientError as exc:
        return DeliveryResult(False, f"request failed ({type(exc).__name__})")
    except Exception as exc:  # whatever else a stranger's server can cause is a failed delivery too
        return DeliveryResult(False, f"request failed ({type(exc).__name__})")
    if 300 <= response.status < 400:
        return DeliveryResult(False, f"answered {response.status} (redirects are not followed)")
    return DeliveryResult(False, f"answered {response.status}")


def signed_request(secret: str, payload: dict, now: datetime) -> tuple[bytes, dict[str, str]]:
    """The body (compact JSON, made once: the signature covers these very bytes) and the headers."""
    body = orjson.dumps(payload)
    timestamp = int(now.timestamp())
    return body, {
        "webhook-id": payload["id"],
        "webhook-timestamp": str(timestamp),
        "webhook-signature": sign(secret, payload["id"], timestamp, body),
        "content-type": "application/json",
        "user-agent": USER_AGENT,
    }


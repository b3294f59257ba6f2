"""Deliveries are signed as Standard Webhooks do: the reference library verifies them."""

import base64
import hashlib
import hmac
import json
from datetime import datetime, timezone

import pytest
from standardwebhooks import Webhook, WebhookVerificationError

from service.domain.errors import InvalidInput
from service.domain.events.model import EventType
from service.domain.events.receivers import is_loopback
from service.domain.events.webhooks import new_secret, sign, valid_events, valid_url


def test_a_signature_verifies_with_the_standard_webhooks_library():
    secret = new_secret()
    body = json.dumps({"id": "evt_7", "type": "suppression.created", "data": {"email": "zoë@example.be"}},
                      ensure_ascii=False).encode()
    now = int(datetime.now(timezone.utc).timestamp())
    headers = {"webhook-id": "evt_7", "webhook-timestamp": str(now), "webhook-signature": sign(secret, "evt_7", now, body)}
    assert Webhook(secret).verify(body, headers)["data"]["email"] == "zoë@example.be"


def test_a_changed_body_or_another_secret_does_not_verify():
    secret, now = new_secret(), int(datetime.now(timezone.utc).timestamp())
    headers = {"webhook-id": "evt_1", "webhook-timestamp": str(now), "webhook-signature": sign(secret, "evt_1", now, b"{}")}
    with pytest.raises(WebhookVerificationError):
        Webhook(secret).verify(b'{"a":1}', headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(new_secret()).verify(b"{}", headers)


def test_the_signature_is_hmac_sha256_of_id_timestamp_and_body_under_the_decoded_secret():
    key = bytes(range(24))
    secret = "whsec_" + base64.b64encode(key).decode()
    expected = base64.b64encode(hmac.new(key, b"evt_42.1700000000.{}", hashlib.sha256).digest()).decode()
    assert sign(secret, "evt_42", 1700000000, b"{}") == "v1," + expected


def test_a_secret_is_whsec_and_the_base64_of_24_random_bytes():
    first, second = new_secret(), new_secret()
    assert first.startswith("whsec_") and first != second
    assert len(base64.b64decode(first.removeprefix("whsec_"), validate=True)) == 24


@pytest.mark.parametrize("url", ["https://crm.example.be/hooks/optout", "https://[2001:db8::1]:8443/x",
                                 "http://127.0.0.1:9000/hook", "http://127.8.9.10/", "http://[::1]:81/",
                                 "http://localhost/hook", "http://LOCALHOST:8080/"])
def test_https_anywhere_and_http_on_this_machine_are_accepted(url):
    assert valid_url(url) == url


@pytest.mark.parametrize("url", ["ftp://crm.example.be/", "http://crm.example.be/hook", "http://10.0.0.8/",
                                 "http://localhost.example.be/", "https://", "https://user:pw@crm.example.be/",
                                 "https://crm.example.be/#part", "https://crm.example.be:99999/", "https://[::1/",
                                 "HTTPS://crm.example.be/", "https://crm example.be/", "https://bücher.example/",
                                 "https://a.example/\n", "", None, 42])
def test_other_urls_are_refused_with_a_reason(url):
    with pytest.raises(InvalidInput) as refused:
        valid_url(url)
    assert refused.value.detail == {"field": "url"}


def test_ipv4_mapped_loopback_counts_as_this_machine():
    assert is_loopback("::ffff:127.0.0.1") and not is_loopback("::ffff:10.0.0.1")


def test_event_types_are_kept_once_in_the_order_given_and_unknown_ones_are_refused():
    assert valid_events(["consent.given", "suppression.created", "consent.given"]) == (
        EventType.CONSENT_GIVEN, EventType.SUPPRESSION_CREATED)
    for bad in ([], ["suppression.deleted"], "suppression.created", [1], None):
        with pytest.raises(InvalidInput):
            valid_events(bad)

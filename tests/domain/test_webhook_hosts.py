"""Which hosts may receive webhooks: a DNS name or an IP address in its usual form, never an
address of a range no delivery goes to, a private one only when that is switched on."""

import ipaddress

import pytest

from service.domain.errors import InvalidInput
from service.domain.events.receivers import address_refusal
from service.domain.events.webhooks import valid_url

METADATA = "169.254.169.254"
ODD_FORMS_OF_METADATA = ["https://2852039166/", "https://0xa9fea9fe/", "https://0251.0376.0251.0376/",
                         "https://0xa9.0xfe.0xa9.0xfe/", "https://169.254.43518/", "https://0251.254.169.254/"]


@pytest.mark.parametrize("url", ODD_FORMS_OF_METADATA + [
    "https://127.1/", "http://127.1/", "http://2130706433/", "https://1.2.3.4.5/", "https://93.184.216.034/",
    "https://0x5d.184.216.34/", "https://1.2.3.4./"])
def test_decimal_hex_and_octal_forms_of_ipv4_are_refused(url):
    with pytest.raises(InvalidInput) as refused:
        valid_url(url)
    assert "four decimal numbers" in refused.value.message


@pytest.mark.parametrize("url", ["https://metadata.google.internal/computeMetadata/v1/",
                                 "https://METADATA.google.internal./", "https://metadata.goog/", "https://metadata/",
                                 "https://instance-data.ec2.internal/latest/", "https://instance-data/"])
def test_cloud_metadata_names_are_refused(url):
    with pytest.raises(InvalidInput) as refused:
        valid_url(url)
    assert "metadata" in refused.value.message


@pytest.mark.parametrize("url", [
    "https://169.254.169.254/", "https://[::ffff:169.254.169.254]/", "https://[::ffff:a9fe:a9fe]/",
    "https://[64:ff9b::a9fe:a9fe]/", "https://[2002:a9fe:a9fe::1]/", "https://[fe80::1]/", "https://[fe80::1%25eth0]/",
    "https://0.0.0.0/", "https://0.1.2.3/", "https://[::]/", "https://224.0.0.1/", "https://[ff02::1]/",
    "https://255.255.255.255/", "https://100.100.100.200/", "https://[fd00:ec2::254]/", "https://[::a9fe:a9fe]/"])
def test_an_ip_literal_of_a_range_never_delivered_to_is_refused(url):
    with pytest.raises(InvalidInput) as refused:
        valid_url(url, allow_private=True)
    assert refused.value.detail == {"field": "url"}


@pytest.mark.parametrize("url", ["https://10.0.0.8/hooks", "https://172.16.5.4/", "https://192.168.1.20:8443/",
                                 "https://[fd12:3456::1]/", "https://[::ffff:10.0.0.8]/", "https://100.64.0.1/"])
def test_a_private_address_is_refused_unless_private_delivery_is_switched_on(url):
    with pytest.raises(InvalidInput) as refused:
        valid_url(url)
    assert "OPTOUT_WEBHOOK_ALLOW_PRIVATE" in refused.value.message
    assert valid_url(url, allow_private=True) == url


@pytest.mark.parametrize("url", ["https://crm.example.be/hooks", "https://93.184.216.34/", "https://[2606:4700::1111]/",
                                 "https://hooks_1.example.be./", "https://xn--bcher-kva.example/", "http://127.0.0.1/",
                                 "http://[::ffff:127.0.0.1]:81/", "http://localhost./", "https://crm.example.be:8443/"])
def test_names_and_addresses_in_their_usual_form_are_accepted(url):
    assert valid_url(url) == url


@pytest.mark.parametrize("url", ["https://%31%32%37.0.0.1/", "https://crm.example.be%2F/", "https://a..example.be/",
                                 "https://-crm.example.be/", "https://" + "a" * 64 + ".example.be/",
                                 "https://evil.example\\@169.254.169.254/", "https://crm.example.be\\hooks/"])
def test_a_host_that_is_neither_a_name_nor_an_address_is_refused(url):
    with pytest.raises(InvalidInput):
        valid_url(url)


@pytest.mark.parametrize("address, allowed, private_allowed", [
    ("127.0.0.1", True, True), ("::1", True, True), ("::ffff:127.0.0.1", True, True),
    ("93.184.216.34", True, True), ("2606:4700::1111", True, True),
    ("169.254.169.254", False, False), ("::ffff:169.254.169.254", False, False), ("fe80::1", False, False),
    ("0.0.0.0", False, False), ("::", False, False), ("239.1.2.3", False, False), ("ff05::2", False, False),
    ("10.1.2.3", False, True), ("192.168.0.9", False, True), ("fd00::7", False, True), ("::ffff:172.16.0.1", False, True),
])
def test_each_address_resolved_at_delivery_is_judged(address, allowed, private_allowed):
    found = ipaddress.ip_address(address)
    assert (address_refusal(found, allow_private=False) is None) == allowed
    assert (address_refusal(found, allow_private=True) is None) == private_allowed

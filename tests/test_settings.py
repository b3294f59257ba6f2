"""Settings from the environment: working defaults, and a clear error naming a bad variable."""

from pathlib import Path

import pytest

from service.settings import SettingsError, load_settings

BASE = {"OPTOUT_SECRET_KEYS": "k" * 32, "OPTOUT_HASH_KEY": "h" * 32}


def test_defaults_work_on_a_laptop(tmp_path):
    settings = load_settings({"OPTOUT_VAR_DIR": str(tmp_path)})
    assert (settings.port, settings.host, settings.smtp_port, settings.gateway_port) == (8080, "127.0.0.1", 8025, 8587)
    assert settings.public_url == "http://127.0.0.1:8080" and settings.mailto == "info@cetit.be"
    assert settings.database_url is None and settings.max_message_bytes == 26214400
    assert (tmp_path / "secret_key").exists() and (tmp_path / "hash_key").exists()
    assert load_settings({"OPTOUT_VAR_DIR": str(tmp_path)}).secret_keys == settings.secret_keys


def test_secret_keys_are_newest_first():
    settings = load_settings({**BASE, "OPTOUT_SECRET_KEYS": "n" * 20 + ", " + "o" * 20})
    assert settings.secret_keys == ("n" * 20, "o" * 20)


@pytest.mark.parametrize("name, value, says", [
    ("OPTOUT_SMTP_PORT", "abc", "OPTOUT_SMTP_PORT must be a port number, got 'abc'"),
    ("PORT", "70000", "PORT must be a port number"),
    ("WEB_CONCURRENCY", "0", "WEB_CONCURRENCY must be at least 1"),
    ("OPTOUT_GATEWAY_AUTH", "never", "OPTOUT_GATEWAY_AUTH must be one of loopback, always"),
    ("OPTOUT_RELAY_URL", "http://relay", "OPTOUT_RELAY_URL must be a URL like smtp://host"),
    ("OPTOUT_MAILTO", "info@cetit.be\r\nBcc: x@evil.be", "OPTOUT_MAILTO must be an email address"),
    ("DATABASE_URL", "mysql://x", "DATABASE_URL must start with postgresql://"),
    ("OPTOUT_SECRET_KEYS", "short", "shorter than 16"),
    ("OPTOUT_LINK_MAX_AGE_DAYS", "-1", "OPTOUT_LINK_MAX_AGE_DAYS must be at least 0"),
    ("OPTOUT_RETENTION_DAYS", "0", "OPTOUT_RETENTION_DAYS must be at least 1"),
    ("OPTOUT_READ_MAX_LAG_MS", "soon", "OPTOUT_READ_MAX_LAG_MS must be a whole number"),
    ("DATABASE_READ_URL", "mysql://standby", "DATABASE_READ_URL must start with postgresql://"),
    ("OPTOUT_MAX_ACTIONS_PER_MESSAGE", "0", "OPTOUT_MAX_ACTIONS_PER_MESSAGE must be at least 1"),
    ("OPTOUT_GATEWAY_MAX_RECIPIENTS", "many", "OPTOUT_GATEWAY_MAX_RECIPIENTS must be a whole number"),
    ("OPTOUT_TRUSTED_AUTHSERV_ID", "mx.cetit.be; evil", "OPTOUT_TRUSTED_AUTHSERV_ID must be one host name"),
    ("OPTOUT_TLS_CERT", "/nonexistent/cert.pem", "OPTOUT_TLS_CERT and OPTOUT_TLS_KEY go together"),
    ("OPTOUT_CONFIRM_MAX_AGE_DAYS", "x", "OPTOUT_CONFIRM_MAX_AGE_DAYS must be a whole number of days, got 'x'"),
    ("OPTOUT_CONFIRM_MAX_AGE_DAYS", "1.5", "OPTOUT_CONFIRM_MAX_AGE_DAYS must be a whole number of days, got '1.5'"),
    ("OPTOUT_CONFIRM_MAX_AGE_DAYS", "0", "OPTOUT_CONFIRM_MAX_AGE_DAYS must be at least 1, got '0'"),
    ("OPTOUT_CONFIRM_MAX_AGE_DAYS", "99999999999", "OPTOUT_CONFIRM_MAX_AGE_DAYS must be at most 3650"),
    ("OPTOUT_SELF_SERVICE_MINUTES", "an hour", "OPTOUT_SELF_SERVICE_MINUTES must be a whole number of minutes"),
    ("OPTOUT_SELF_SERVICE_MINUTES", "0", "OPTOUT_SELF_SERVICE_MINUTES must be at least 1"),
    ("OPTOUT_TRUSTED_PROXIES", "10.0.0.1, proxy.local", "OPTOUT_TRUSTED_PROXIES must list IP addresses or networks"),
])
def test_a_bad_value_is_named(name, value, says):
    with pytest.raises(SettingsError) as error:
        load_settings({**BASE, name: value})
    assert says in str(error.value)


def test_a_confirmation_link_lasts_seven_days_unless_set():
    assert load_settings(BASE).confirm_max_age_days == 7
    assert load_settings({**BASE, "OPTOUT_CONFIRM_MAX_AGE_DAYS": "14"}).confirm_max_age_days == 14


def test_the_own_page_link_lasts_an_hour_and_no_proxy_is_trusted_unless_set():
    import ipaddress
    assert load_settings(BASE).self_service_minutes == 60 and load_settings(BASE).trusted_proxies == ()
    settings = load_settings({**BASE, "OPTOUT_SELF_SERVICE_MINUTES": "15",
                              "OPTOUT_TRUSTED_PROXIES": "10.0.0.0/8, ::1"})
    assert settings.self_service_minutes == 15
    assert settings.trusted_proxies == (ipaddress.ip_network("10.0.0.0/8"), ipaddress.ip_network("::1"))


def test_a_link_max_age_of_zero_is_valid():
    assert load_settings({**BASE, "OPTOUT_LINK_MAX_AGE_DAYS": "0"}).link_max_age_days == 0


def test_standby_retention_and_lag_have_working_defaults():
    settings = load_settings({**BASE, "DATABASE_URL": "postgresql://db/optout"})
    assert (settings.database_read_url, settings.read_max_lag_ms, settings.retention_days) == (None, 1000, 90)
    standby = load_settings({**BASE, "DATABASE_URL": "postgresql://db/optout",
                             "DATABASE_READ_URL": "postgresql://standby/optout", "OPTOUT_READ_MAX_LAG_MS": "0"})
    assert (standby.database_read_url, standby.read_max_lag_ms) == ("postgresql://standby/optout", 0)


@pytest.mark.parametrize("missing", ["OPTOUT_SECRET_KEYS", "OPTOUT_HASH_KEY"])
def test_a_deployment_refuses_to_start_without_its_shared_keys(missing, tmp_path):
    env = {**BASE, "DATABASE_URL": "postgresql://db/optout", "OPTOUT_VAR_DIR": str(tmp_path)}
    del env[missing]
    with pytest.raises(SettingsError) as error:
        load_settings(env)
    assert f"{missing} must be set when DATABASE_URL is set" in str(error.value)
    assert not any(tmp_path.iterdir())  # nothing generated on the host


def test_hostile_mail_settings_have_safe_defaults():
    settings = load_settings(BASE)
    assert (settings.max_actions_per_message, settings.trusted_authserv_id, settings.gateway_max_recipients) == (
        10, None, 1000)
    assert (settings.tls_cert, settings.tls_key) == (None, None)
    assert load_settings({**BASE, "OPTOUT_TRUSTED_AUTHSERV_ID": "MX.cetit.be"}).trusted_authserv_id == "mx.cetit.be"


def test_tls_files_must_be_readable(tmp_path):
    cert = tmp_path / "cert.pem"
    cert.write_text("x")
    with pytest.raises(SettingsError) as error:
        load_settings({**BASE, "OPTOUT_TLS_CERT": str(cert), "OPTOUT_TLS_KEY": str(tmp_path / "missing.pem")})
    assert "OPTOUT_TLS_KEY must name a readable PEM file" in str(error.value)


def test_the_bounce_address_is_a_plain_address_whose_plus_forms_carry_tokens():
    assert load_settings(BASE).bounce_address == "bounces@cetit.be"
    assert load_settings({**BASE, "OPTOUT_BOUNCE_ADDRESS": "retour@cetit.be"}).bounce_address == "retour@cetit.be"
    with pytest.raises(SettingsError, match="OPTOUT_BOUNCE_ADDRESS must be a plain address without"):
        load_settings({**BASE, "OPTOUT_BOUNCE_ADDRESS": "bounces+x@cetit.be"})


def test_dkim_takes_all_three_or_none_and_a_key_as_pem_or_as_a_file(tmp_path):
    pem = (Path(__file__).resolve().parent / "smtp" / "dkim-test-key.pem").read_text()
    dkim = {"OPTOUT_DKIM_SELECTOR": "optout", "OPTOUT_DKIM_DOMAIN": "CETIT.be"}
    assert load_settings(BASE).dkim_key is None
    settings = load_settings({**BASE, **dkim, "OPTOUT_DKIM_KEY": pem})
    assert (settings.dkim_key, settings.dkim_selector, settings.dkim_domain) == (pem.encode(), "optout", "cetit.be")
    (tmp_path / "dkim.pem").write_text(pem)
    assert load_settings({**BASE, **dkim, "OPTOUT_DKIM_KEY": str(tmp_path / "dkim.pem")}).dkim_key == pem.encode()
    with pytest.raises(SettingsError, match="go together"):
        load_settings({**BASE, "OPTOUT_DKIM_SELECTOR": "optout"})
    with pytest.raises(SettingsError, match="must be a PEM private key"):
        load_settings({**BASE, **dkim, "OPTOUT_DKIM_KEY": str(tmp_path / "missing.pem")})
    with pytest.raises(SettingsError, match="could not be read as an unencrypted PEM private key.*openssl genpkey"):
        load_settings({**BASE, **dkim, "OPTOUT_DKIM_KEY": "-----BEGIN PRIVATE KEY-----\nMIIB\n-----END PRIVATE KEY-----\n"})
    assert "PRIVATE" not in repr(settings)


@pytest.mark.parametrize("value, allowed", [(None, False), ("", False), ("off", False), ("0", False), ("false", False),
                                            ("no", False), ("on", True), ("1", True), ("TRUE", True), ("yes", True)])
def test_private_webhook_receivers_are_off_unless_switched_on(value, allowed):
    env = BASE if value is None else {**BASE, "OPTOUT_WEBHOOK_ALLOW_PRIVATE": value}
    assert load_settings(env).webhook_allow_private is allowed


def test_a_private_switch_that_is_neither_on_nor_off_is_named():
    with pytest.raises(SettingsError) as error:
        load_settings({**BASE, "OPTOUT_WEBHOOK_ALLOW_PRIVATE": "maybe"})
    assert "OPTOUT_WEBHOOK_ALLOW_PRIVATE must be on or off (on/off, 1/0, true/false, yes/no), got 'maybe'" in str(error.value)

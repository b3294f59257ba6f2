"""The command line, run as a real process against the test database."""

import os
import subprocess
import sys

import pytest

from tests.conftest import ROOT

COMMANDS = [[], ["run"], ["serve"], ["migrate"], ["keys"], ["keys", "create"], ["keys", "list"],
            ["keys", "revoke"], ["scopes"], ["scopes", "list"], ["scopes", "set"], ["suppress"], ["check"],
            ["import"], ["export"], ["webhooks"], ["webhooks", "add"]]


def optout(args, env, **kwargs):
    return subprocess.run([sys.executable, "-m", "service", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=60, **kwargs)


@pytest.fixture
def env(dsn, tmp_path):
    return {**os.environ, "DATABASE_URL": dsn, "OPTOUT_VAR_DIR": str(tmp_path / "var"),
            "OPTOUT_SECRET_KEYS": "k" * 32, "OPTOUT_HASH_KEY": "h" * 32}


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: " ".join(c) or "optout")
def test_every_command_has_help(command):
    result = optout([*command, "--help"], os.environ)
    assert result.returncode == 0 and "usage: optout" in result.stdout


def test_a_bad_setting_is_named_with_what_to_do(env):
    result = optout(["check", "a@example.be"], {**env, "OPTOUT_SMTP_PORT": "abc"})
    assert result.returncode == 2
    assert "OPTOUT_SMTP_PORT must be a port number, got 'abc'" in result.stderr


def test_keys_create_prints_the_key_alone_on_stdout(env, pool):
    result = optout(["keys", "create", "campaign-tool", "--scope", "check", "--scope", "links"], env)
    assert result.returncode == 0
    assert result.stdout.count("\n") == 1 and result.stdout.startswith("oo_")
    listed = optout(["keys", "list"], env)
    assert "campaign-tool" in listed.stdout and "check,links" in listed.stdout
    assert result.stdout.strip() not in listed.stdout
    assert optout(["keys", "revoke", "1"], env).returncode == 0
    assert "revoked" in optout(["keys", "list"], env).stdout
    assert optout(["keys", "revoke", "1"], env).returncode == 1


def test_suppress_then_check_prints_and_exits_as_documented(env, pool):
    assert optout(["check", "jan@example.be", "--scope", "events"], env).stdout == "allowed\n"
    done = optout(["suppress", "Jan@Example.be", "--scope", "events", "--reason", "manual", "--source", "phone",
                   "--note", "called 25/11"], env)
    assert done.returncode == 0, done.stderr
    blocked = optout(["check", "jan@example.be", "--scope", "events"], env)
    assert blocked.returncode == 1 and blocked.stdout.startswith("blocked: manual (events, ")
    assert optout(["check", "jan@example.be", "--scope", "newsletter"], env).returncode == 0
    invalid = optout(["check", "nope"], env)
    assert invalid.returncode == 1 and invalid.stdout == "blocked: invalid_address\n"


def test_check_exits_2_when_the_database_cannot_be_reached(env):
    result = optout(["check", "a@example.be"], {**env, "DATABASE_URL": "postgresql://postgres@127.0.0.1:1/x"},)
    assert result.returncode == 2 and "database cannot be reached" in result.stderr


def test_import_then_export_round_trip_with_a_summary(env, pool, tmp_path):
    source = tmp_path / "old-list.csv"
    source.write_text("email,scope\na@example.be,events\nbad line\nb@example.be\n")
    result = optout(["import", str(source)], env)
    assert result.returncode == 0
    assert "2 imported" in result.stderr and "1 invalid" in result.stderr and "line 3" in result.stderr
    target = tmp_path / "list.ndjson"
    result = optout(["export", str(target)], env)
    assert result.returncode == 0 and "2 suppressions exported" in result.stderr
    assert sorted(line.split('"email": "')[1].split('"')[0] for line in target.read_text().splitlines()) == [
        "a@example.be", "b@example.be"]
    wrong = optout(["export", str(tmp_path / "list.xlsx")], env)
    assert wrong.returncode == 2 and ".csv or .ndjson" in wrong.stderr
    missing = optout(["import", str(tmp_path / "nothing.csv")], env)
    assert missing.returncode == 2 and "no such file" in missing.stderr


def test_check_with_an_invalid_scope_is_an_error(env, pool):
    result = optout(["check", "jan@example.be", "--scope", "BAD"], env)
    assert result.returncode == 2 and "Scope" in result.stderr


def test_a_reader_that_goes_away_is_not_an_error(env, pool):
    result = subprocess.run(f"{sys.executable} -m service keys list | head -c 1", shell=True, cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=60)
    assert "cannot be reached" not in result.stderr and "Traceback" not in result.stderr


def test_scopes_are_registered_listed_and_a_scope_typo_is_warned_about(env, pool):
    empty = optout(["scopes", "list"], env)
    assert empty.returncode == 0 and empty.stdout == "" and "optout scopes set" in empty.stderr
    made = optout(["scopes", "set", "newsletter", "--label", "nl=Nieuwsbrief", "--label", "en=Newsletter",
                   "--consent", "required"], env)
    assert made.returncode == 0, made.stderr
    assert made.stdout == "scope newsletter registered: consent required, en=Newsletter; nl=Nieuwsbrief\n"
    listed = optout(["scopes", "list"], env)
    assert listed.stdout.split() == ["newsletter", "required", "en=Newsletter;", "nl=Nieuwsbrief"]
    # As a new user would try it: a Dutch name for a scope nobody sends. Done, and warned about.
    typo = optout(["suppress", "jan@example.be", "--scope", "nieuwsbrief"], env)
    assert typo.returncode == 0
    assert "warning: scope 'nieuwsbrief' is not registered (registered: newsletter); did you mean newsletter?" \
        in typo.stderr
    assert "warning" not in optout(["suppress", "jan@example.be", "--scope", "newsletter"], env).stderr
    no_consent = optout(["check", "piet@example.be", "--scope", "newsletter"], env)
    assert no_consent.returncode == 1 and no_consent.stdout == "blocked: no_consent (newsletter)\n"


@pytest.mark.parametrize("args, says", [
    (["scopes", "set", "news", "--label", "Nieuwsbrief"], "--label takes LANG=TEXT"),
    (["scopes", "set", "news", "--label", "en=News"], "Dutch label"),
    (["scopes", "set", "Nieuws Brief", "--label", "nl=x"], "is not valid"),
])
def test_a_scope_that_cannot_be_registered_says_what_to_do(env, pool, args, says):
    result = optout(args, env)
    assert result.returncode == 2 and says in result.stderr, result.stderr


def test_a_list_saved_by_excel_for_belgium_imports(env, pool, tmp_path):
    """Semicolons, a UTF-8 BOM, CRLF and a header with the words people use, in another order."""
    source = tmp_path / "uitschrijvingen.csv"
    source.write_bytes("\ufeffNaam;E-mail;Opmerking\r\nJan Peeters;Jan.Peeters@Example.be;belde op 2/12\r\n"
                       "An Claes;an@example.be;\"gezegd; niet meer mailen\"\r\n;;\r\n".encode("utf-8"))
    result = optout(["import", str(source)], env)
    assert result.returncode == 0, result.stderr
    assert "2 imported" in result.stderr and "0 invalid" in result.stderr
    checked = optout(["check", "jan.peeters@example.be"], env)
    assert checked.returncode == 1 and checked.stdout.startswith("blocked: manual (global, ")


def test_an_import_that_takes_nothing_exits_non_zero_and_says_what_the_file_needs(env, pool, tmp_path):
    source = tmp_path / "lijst.csv"
    source.write_text("Naam;Telefoon\nJan;0470 12 34 56\nAn;0471 65 43 21\n", encoding="utf-8")
    result = optout(["import", str(source)], env)
    assert result.returncode == 1
    assert "0 imported" in result.stderr and "nothing in lijst.csv could be imported" in result.stderr

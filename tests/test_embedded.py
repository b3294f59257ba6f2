"""The embedded PostgreSQL (no DATABASE_URL): created only by the commands that own it, and
stopped by the last process that uses it, even after one of them was killed with -9."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

LAPTOP_ENV = {k: v for k, v in os.environ.items()
              if k not in ("DATABASE_URL", "DATABASE_READ_URL", "OPTOUT_SECRET_KEYS", "OPTOUT_HASH_KEY", "OPTOUT_VAR_DIR")}


def optout(args, folder: Path, **env) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "service", *args], cwd=folder, env={**LAPTOP_ENV, **env},
                          capture_output=True, text=True, timeout=120)


def server_pid(pgdata: Path) -> int | None:
    """The postmaster's process id while it runs, else None."""
    try:
        pid = int((pgdata / "postmaster.pid").read_text().split("\n", 1)[0])
        os.kill(pid, 0)
    except (OSError, ValueError):
        return None
    return pid


def wait_for_health(port: int, process: subprocess.Popen, seconds: float = 90) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        assert process.poll() is None, process.stderr.read()
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1) as answer:
                if answer.status == 200:
                    return
        except OSError:
            time.sleep(0.3)
    pytest.fail("the service did not answer /healthz in time")


def test_a_command_in_a_folder_without_the_database_stops_and_says_where_it_looked(tmp_path):
    result = optout(["check", "jan@example.be"], tmp_path)
    assert result.returncode == 2
    assert f"no embedded PostgreSQL in {tmp_path / 'var' / 'pg'}" in result.stderr
    assert "DATABASE_URL" in result.stderr and "allowed" not in result.stdout
    assert not (tmp_path / "var" / "pg").exists()


def test_after_a_kill_9_the_next_process_stops_the_embedded_database_when_it_is_done(tmp_path, unused_tcp_port_factory):
    port = unused_tcp_port_factory()
    serving = subprocess.Popen([sys.executable, "-m", "service", "serve"], cwd=tmp_path,
                               env={**LAPTOP_ENV, "PORT": str(port)}, stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE, text=True)
    pgdata = tmp_path / "var" / "pg"
    try:
        wait_for_health(port, serving)
    finally:
        serving.send_signal(signal.SIGKILL)
        serving.wait(10)
        serving.stderr.close()
    left_running = server_pid(pgdata)
    assert left_running is not None and serving.pid in json.loads((pgdata / ".handle_pids.json").read_text())

    done = optout(["suppress", "jan@example.be", "--scope", "newsletter", "--note", "called"], tmp_path)
    assert done.returncode == 0, done.stderr
    assert "died without stopping it" in done.stderr
    assert server_pid(pgdata) is None, "the embedded PostgreSQL was left running"

    blocked = optout(["check", "jan@example.be", "--scope", "newsletter"], tmp_path)
    assert blocked.returncode == 1 and blocked.stdout.startswith("blocked: manual (newsletter, ")
    assert server_pid(pgdata) is None


def test_a_command_in_a_folder_without_the_database_creates_nothing(tmp_path):
    """Only `run`, `serve` and `migrate` make var/: another command looked in the wrong folder."""
    result = optout(["check", "jan@example.be"], tmp_path)
    assert result.returncode == 2 and "no embedded PostgreSQL" in result.stderr
    assert list(tmp_path.iterdir()) == []


def test_commands_say_only_what_they_did_and_more_with_verbose(tmp_path):
    """The first `migrate` says it made the keys and the database; later commands print their
    answer alone, and -v adds what they did on the way."""
    made = optout(["migrate"], tmp_path)
    assert made.returncode == 0, made.stderr
    assert "created" in made.stderr and "var/secret_key" in made.stderr and "var/hash_key" in made.stderr
    listed = optout(["keys", "list"], tmp_path)
    assert listed.returncode == 0 and listed.stderr == "", listed.stderr
    assert "prefix" in listed.stdout
    verbose = optout(["-v", "keys", "list"], tmp_path)
    assert verbose.returncode == 0 and "embedded PostgreSQL running" in verbose.stderr
    assert "created" not in verbose.stderr

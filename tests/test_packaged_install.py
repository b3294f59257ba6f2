"""A wheel installed into a fresh virtual environment runs the whole service from an empty
folder: migrations, pages and style sheets travel inside the package, no source tree beside it."""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import pytest

from tests.conftest import ROOT, with_search_path

INSTALL_TIMEOUT = 600
COMMAND_TIMEOUT = 60
START_TIMEOUT = 60
STOP_TIMEOUT = 30
NOT_SOURCES = shutil.ignore_patterns(".git", ".venv", "var", "build", "dist", "*.egg-info", "__pycache__",
                                     ".pytest_cache", "artifacts")
DIRECT = urllib.request.build_opener(urllib.request.ProxyHandler({}))


@dataclass
class Service:
    process: subprocess.Popen
    base_url: str
    stderr_path: Path

    def stderr(self) -> str:
        return self.stderr_path.read_text(errors="replace")


def run(args: list[str], timeout: float = INSTALL_TIMEOUT, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run([str(a) for a in args], capture_output=True, text=True, timeout=timeout, **kwargs)


def build_wheel(workdir: Path) -> Path:
    """Built from a copy of the sources: setuptools leaves build/ and *.egg-info beside what it builds."""
    source = workdir / "source"
    shutil.copytree(ROOT, source, ignore=NOT_SOURCES)
    built = run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "-w", workdir / "wheels", source])
    assert built.returncode == 0, f"building the wheel failed:\n{built.stdout}\n{built.stderr}"
    (wheel,) = (workdir / "wheels").glob("optout-*.whl")
    return wheel


def outside_environment(bin_dir: Path, **settings: str) -> dict[str, str]:
    """The environment minus every variable that could lead Python or optout back to the checkout."""
    env = {name: value for name, value in os.environ.items()
           if not name.startswith(("PYTHON", "OPTOUT_", "DATABASE_")) and str(ROOT) not in value
           and name not in ("VIRTUAL_ENV", "PORT", "WEB_CONCURRENCY")}
    path = [p for p in os.environ.get("PATH", os.defpath).split(os.pathsep) if str(ROOT) not in p]
    return {**env, "PATH": os.pathsep.join([str(bin_dir), *path]), **settings}


def install_in_fresh_venv(wheel: Path, venv: Path, env: dict[str, str]) -> Path:
    created = run([sys.executable, "-m", "venv", venv], env=env)
    assert created.returncode == 0, f"creating the virtual environment failed:\n{created.stderr}"
    home = [line for line in (venv / "pyvenv.cfg").read_text().splitlines() if line.startswith("home")]
    assert str(ROOT) not in str(home), f"the new venv is based on the checkout's: {home}"
    installed = run([venv / "bin" / "python", "-m", "pip", "install", "--quiet", wheel], env=env, cwd=venv)
    assert installed.returncode == 0, f"installing the wheel failed:\n{installed.stdout}\n{installed.stderr}"
    return venv / "bin"


def http(method: str, url: str, key: str | None = None, body: dict | None = None) -> tuple[int, str]:
    headers = {"Accept-Language": "nl", "Content-Type": "application/json"}
    if key:
        headers["Authorization"] = f"Bearer {key}"
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=method, headers=headers)
    try:
        with DIRECT.open(request, timeout=10) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        with error:
            return error.code, error.read().decode()


def wait_until_healthy(service: Service) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if service.process.poll() is not None:
            pytest.fail(f"`optout run` exited with {service.process.returncode} before answering /healthz; "
                        f"its stderr:\n{service.stderr()}")
        with contextlib.suppress(OSError):
            if http("GET", f"{service.base_url}/healthz")[0] == 200:
                return
        time.sleep(0.2)
    pytest.fail(f"/healthz did not answer within {START_TIMEOUT} s; stderr of `optout run`:\n{service.stderr()}")


@contextlib.contextmanager
def optout_run(bin_dir: Path, folder: Path, env: dict[str, str], logs: Path):
    """`optout run` in `folder`; killed at the end if a failure left it running."""
    with open(logs / "optout.stdout", "w") as out, open(logs / "optout.stderr", "w") as err:
        process = subprocess.Popen([str(bin_dir / "optout"), "run"], cwd=folder, env=env, stdout=out, stderr=err)
    service = Service(process, f"http://127.0.0.1:{env['PORT']}", logs / "optout.stderr")
    try:
        wait_until_healthy(service)
        yield service
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def stop(service: Service) -> int:
    service.process.send_signal(signal.SIGTERM)
    try:
        return service.process.wait(timeout=STOP_TIMEOUT)
    except subprocess.TimeoutExpired:
        pytest.fail(f"`optout run` did not stop within {STOP_TIMEOUT} s of SIGTERM:\n{service.stderr()}")


def allowed(service: Service, key: str, email: str, scope: str) -> bool:
    status, body = http("GET", f"{service.base_url}/v1/check?email={email}&scope={scope}", key)
    assert status == 200, f"GET /v1/check answered {status}: {body}\n{service.stderr()}"
    return json.loads(body)["allowed"]


def assert_pages_render(service: Service, key: str) -> None:
    status, body = http("POST", f"{service.base_url}/v1/links", key,
                        {"recipients": [{"email": "jan@example.be", "scope": "newsletter"}]})
    assert status == 200, f"POST /v1/links answered {status}: {body}\n{service.stderr()}"
    url = json.loads(body)["links"][0]["url"]
    assert url.startswith(f"{service.base_url}/u/")
    status, page = http("GET", url)
    assert status == 200, f"the unsubscribe page answered {status}: {page}\n{service.stderr()}"
    assert "j…@example.be" in page and "Uitschrijven" in page and "de nieuwsbrief" in page
    assert 'href="/static/optout.css"' in page
    status, login = http("GET", f"{service.base_url}/staff/login")
    assert status == 200, f"/staff/login answered {status}: {login}\n{service.stderr()}"
    status, css = http("GET", f"{service.base_url}/static/optout.css")
    assert status == 200 and css.strip(), f"/static/optout.css answered {status}\n{service.stderr()}"
    # Double opt-in: the confirmation mail is made from the mail templates, the page from its own.
    status, body = http("PUT", f"{service.base_url}/v1/scopes/news", key,
                        {"labels": {"nl": "Nieuwsbrief"}, "consent": "required"})
    assert status == 201, f"PUT /v1/scopes/news answered {status}: {body}\n{service.stderr()}"
    status, body = http("POST", f"{service.base_url}/v1/consents", key, {
        "email": "an@example.be", "scope": "news", "source": "web_form", "language": "nl", "confirm": True,
        "text": "Ja, stuur mij de nieuwsbrief."})
    assert status == 202, f"POST /v1/consents answered {status}: {body}\n{service.stderr()}"
    assert allowed(service, key, "an@example.be", "news") is False
    status, page = http("GET", f"{service.base_url}/c/not-a-token")
    assert status == 400 and "Deze link werkt niet" in page, f"/c/ answered {status}: {page}\n{service.stderr()}"


@pytest.fixture
async def fresh_schema_dsn(server_dsn: str):
    """DATABASE_URL for an empty schema of its own, which `optout run` must migrate itself."""
    schema = f"packaged_{secrets.token_hex(4)}"
    admin = await asyncpg.connect(server_dsn)
    await admin.execute(f'CREATE SCHEMA "{schema}"')
    try:
        yield with_search_path(server_dsn, schema)
    finally:
        await admin.execute(f'DROP SCHEMA "{schema}" CASCADE')
        await admin.close()


def test_a_wheel_installed_in_a_fresh_venv_runs_the_service_from_an_empty_folder(
        tmp_path, fresh_schema_dsn, unused_tcp_port_factory):
    venv = tmp_path / "venv"
    env = outside_environment(
        venv / "bin", DATABASE_URL=fresh_schema_dsn, OPTOUT_SECRET_KEYS="packaged-" + secrets.token_hex(16),
        OPTOUT_HASH_KEY="packaged-" + secrets.token_hex(16), PORT=str(unused_tcp_port_factory()),
        OPTOUT_SMTP_PORT=str(unused_tcp_port_factory()), OPTOUT_GATEWAY_PORT=str(unused_tcp_port_factory()))
    assert [name for name, value in env.items() if str(ROOT) in value and name != "DATABASE_URL"] == []
    bin_dir = install_in_fresh_venv(build_wheel(tmp_path / "wheelhouse"), venv, env)
    folder = tmp_path / "empty"
    folder.mkdir()

    imported = run([bin_dir / "python", "-c", "import service; print(service.__file__)"], cwd=folder, env=env)
    assert imported.returncode == 0, imported.stderr
    assert Path(imported.stdout.strip()).resolve().is_relative_to(venv.resolve()), imported.stdout

    def optout(*args: str) -> subprocess.CompletedProcess:
        return run([bin_dir / "optout", *args], timeout=COMMAND_TIMEOUT, cwd=folder, env=env)

    with optout_run(bin_dir, folder, env, tmp_path) as service:
        created = optout("keys", "create", "packaged-install", "--scope", "admin")
        assert created.returncode == 0, created.stderr
        key = created.stdout.strip()
        assert created.stdout.count("\n") == 1 and key.startswith("oo_"), created.stdout
        assert allowed(service, key, "jan@example.be", "newsletter") is True

        suppressed = optout("suppress", "jan@example.be", "--scope", "newsletter", "--reason", "manual",
                            "--source", "phone", "--note", "asked by phone")
        assert suppressed.returncode == 0, suppressed.stderr
        checked = optout("check", "jan@example.be", "--scope", "newsletter")
        assert checked.returncode == 1 and checked.stdout.startswith("blocked: manual (newsletter"), (
            checked.stdout, checked.stderr)
        assert allowed(service, key, "jan@example.be", "newsletter") is False

        assert_pages_render(service, key)
        exit_code = stop(service)

    assert exit_code == 0, f"`optout run` exited {exit_code} after SIGTERM:\n{service.stderr()}"
    assert "Traceback" not in service.stderr(), service.stderr()
    assert list(folder.iterdir()) == [], f"optout wrote into its working folder: {list(folder.iterdir())}"

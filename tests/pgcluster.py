"""PostgreSQL servers a test starts, stops and kills itself, from Debian's binaries.

initdb and pg_ctl refuse to run as root: as root they run as the `postgres` user, in a
folder that user owns. Each server listens on 127.0.0.1 on a port of its own.
"""

from __future__ import annotations

import asyncio
import glob
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import asyncpg


def postgres_bin() -> Path:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(Path(p).parts[4]))
    if not found:
        raise RuntimeError("Debian's PostgreSQL binaries are missing: apt-get install postgresql (or `make test`)")
    return Path(found[-1]).parent


def _as_postgres(command: list[str]) -> list[str]:
    return ["runuser", "-u", "postgres", "--", *command] if os.geteuid() == 0 else command


def owned_folder(prefix: str) -> Path:
    """A fresh folder the server's user may write (as root: chowned to postgres)."""
    folder = Path(tempfile.mkdtemp(prefix=prefix))
    if os.geteuid() == 0:
        shutil.chown(folder, "postgres", "postgres")
    return folder


class Cluster:
    """One PostgreSQL server in `folder`/data, on 127.0.0.1:`port`."""

    def __init__(self, folder: Path, port: int) -> None:
        self.folder = folder
        self.data = folder / "data"
        self.port = port
        self.bin = postgres_bin()

    @property
    def dsn(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def run(self, *command: str, timeout: float = 60) -> subprocess.CompletedProcess:
        result = subprocess.run(_as_postgres([str(self.bin / command[0]), *command[1:]]), cwd=self.folder,
                                capture_output=True, text=True, timeout=timeout)
        if result.returncode != 0:
            raise RuntimeError(f"{command[0]} failed ({result.returncode}): {result.stderr or result.stdout}")
        return result

    def _settings(self) -> str:
        return (f"port = {self.port}\nlisten_addresses = '127.0.0.1'\nunix_socket_directories = '{self.folder}'\n"
                "wal_level = replica\nmax_wal_senders = 5\nhot_standby = on\nfsync = off\n"
                "shared_buffers = 32MB\nmax_connections = 60\n")

    def init_primary(self) -> "Cluster":
        self.run("initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust", "--encoding=UTF8")
        self._append_settings()
        return self

    def init_standby_of(self, primary: "Cluster") -> "Cluster":
        """A streaming replica of `primary` (pg_basebackup -R writes the recovery settings)."""
        self.run("pg_basebackup", "-h", "127.0.0.1", "-p", str(primary.port), "-U", "postgres",
                 "-D", str(self.data), "-R", "-X", "stream", "-c", "fast")
        self._append_settings()
        return self

    def _append_settings(self) -> None:
        with (self.data / "postgresql.auto.conf").open("a") as conf:
            conf.write(self._settings())

    def start(self) -> "Cluster":
        self.run("pg_ctl", "-D", str(self.data), "-l", str(self.folder / "server.log"), "-w", "-t", "60", "start")
        return self

    def stop(self, mode: str = "fast") -> None:
        self.run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "stop")

    def running(self) -> bool:
        return (self.data / "postmaster.pid").exists()

    def log(self) -> str:
        path = self.folder / "server.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def remove(self) -> None:
        if self.running():
            try:
                self.stop("immediate")
            except RuntimeError:
                pass
        shutil.rmtree(self.folder, ignore_errors=True)


async def wait_until(predicate, seconds: float = 30, every: float = 0.1, what: str = "the condition"):
    """Poll an async predicate until it is true; fail naming what was awaited."""
    deadline = time.monotonic() + seconds
    while True:
        value = await predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {seconds} s waiting for {what}")
        await asyncio.sleep(every)


async def fetchval(dsn: str, query: str, *args):
    conn = await asyncpg.connect(dsn, timeout=5)
    try:
        return await conn.fetchval(query, *args)
    finally:
        await conn.close()

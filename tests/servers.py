"""Real Redis and PostgreSQL servers for the tests, on Unix sockets in their own directories.

A socket in a directory of its own cannot be taken by anything else, so two test processes
(pytest-xdist workers) never race for a port, and a server stopped and started again gets its
address back. Where a server's binaries are missing the test is skipped, unless
PORTAL_REQUIRE_SERVICES is set (as `.ci/run` does), in which case it fails: CI must never pass
by skipping.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest


def free_port() -> int:
    """A port that was free a moment ago (bench/ starts its servers on these).

    Tests do not use it: a server they start listens on a Unix socket or on port 0, and an
    address where nothing answers is `closed_port()`.
    """
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def closed_port() -> Iterator[int]:
    """A loopback port where nothing listens, held for the block so nothing else can take it.

    The socket is bound but never listens: a connection to it is refused at once.
    """
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        yield sock.getsockname()[1]


def missing(what: str) -> None:
    if os.environ.get("PORTAL_REQUIRE_SERVICES"):
        pytest.fail(f"{what} is required (PORTAL_REQUIRE_SERVICES is set) but not installed")
    pytest.skip(f"{what} is not installed")


def wait_for_socket(path: Path, proc: subprocess.Popen, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the server for {path} exited with {proc.returncode}")
        try:
            with socket.socket(socket.AF_UNIX) as sock:
                sock.connect(str(path))
                return
        except OSError:
            time.sleep(0.02)
    raise RuntimeError(f"nothing listens on {path}")


@dataclass(frozen=True)
class RedisServer:
    socket: Path

    def location(self, db: int = 0) -> str:
        """For Django's CACHES LOCATION (redis-py's URL)."""
        return f"unix://{self.socket}?db={db}"

    def cache_url(self, db: int = 0) -> str:
        """For the portal's CACHE_URL (django-environ's URL)."""
        return f"rediscache://{self.socket}?db={db}"


@contextmanager
def redis_server(directory: Path | None = None) -> Iterator[RedisServer]:
    """A Redis listening on `directory`/redis.sock (a new directory if None), stopped when the
    block ends. Started again on the same directory, it is found at the same address."""
    binary = shutil.which("redis-server")
    if not binary:
        missing("redis-server")
    own = directory is None
    directory = Path(tempfile.mkdtemp(prefix="portal-redis-")) if own else Path(directory)
    path = directory / "redis.sock"
    proc = subprocess.Popen(
        [binary, "--port", "0", "--unixsocket", str(path), "--unixsocketperm", "700",
         "--save", "", "--appendonly", "no", "--dir", str(directory)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        wait_for_socket(path, proc)
        yield RedisServer(path)
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        if own:
            shutil.rmtree(directory, ignore_errors=True)


def _postgres_bin() -> str | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    return os.path.dirname(found[-1]) if found else None


def postgres_available() -> bool:
    return _postgres_bin() is not None


PG_USER = "portal"
PG_PASSWORD = "portal-test-pw"


def _as_postgres_user() -> list[str]:
    # PostgreSQL refuses to run as root: run it as the postgres user when we are root.
    return ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []


def postgres_start(workdir: Path) -> str:
    """Create a cluster in `workdir` and start it on a Unix socket there; returns its URL.

    The server runs on its own (pg_ctl detaches it) until `postgres_stop(workdir)`.
    """
    bindir = _postgres_bin()
    if not bindir:
        missing("PostgreSQL")
    as_user = _as_postgres_user()
    workdir.mkdir(parents=True, exist_ok=True)
    if as_user:
        shutil.chown(workdir, user="postgres")
    data = workdir / "data"

    def run(*args: str) -> None:
        subprocess.run([*as_user, *args], check=True, capture_output=True)

    pwfile = workdir / "pw"
    pwfile.write_text(PG_PASSWORD)
    if as_user:
        shutil.chown(pwfile, user="postgres")
    run(f"{bindir}/initdb", "-D", str(data), "-U", PG_USER, "--pwfile", str(pwfile), "-A", "md5",
        "--no-sync")  # fmt: skip
    # No TCP at all (listen_addresses empty); fsync off: a test cluster is thrown away.
    options = f"-c listen_addresses='' -k {workdir} -c fsync=off -c synchronous_commit=off"
    run(f"{bindir}/pg_ctl", "-D", str(data), "-l", str(workdir / "log"), "-w", "-o", options,
        "start")  # fmt: skip
    return f"postgres://{PG_USER}:{PG_PASSWORD}@/postgres?host={workdir}"


def postgres_stop(workdir: Path) -> None:
    bindir = _postgres_bin()
    data = workdir / "data"
    if bindir and (data / "postmaster.pid").exists():
        subprocess.run(
            [*_as_postgres_user(), f"{bindir}/pg_ctl", "-D", str(data), "-m", "immediate", "stop"],
            capture_output=True,
        )
    shutil.rmtree(workdir, ignore_errors=True)


@contextmanager
def postgres_server() -> Iterator[str]:
    """A PostgreSQL server for the block; its URL (DATABASE_URL) is what the block gets."""
    workdir = Path(tempfile.mkdtemp(prefix="portal-pg-"))
    try:
        yield postgres_start(workdir)
    finally:
        postgres_stop(workdir)

"""Real Redis and PostgreSQL servers for the tests, started on free loopback ports.

Where a server's binaries are missing the test is skipped, unless PORTAL_REQUIRE_SERVICES is
set (as `.ci/run` does), in which case it fails: CI must never pass by skipping.
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

import pytest


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def missing(what: str) -> None:
    if os.environ.get("PORTAL_REQUIRE_SERVICES"):
        pytest.fail(f"{what} is required (PORTAL_REQUIRE_SERVICES is set) but not installed")
    pytest.skip(f"{what} is not installed")


def wait_for_port(port: int, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"nothing listens on port {port}")


@contextmanager
def redis_server(port: int | None = None) -> Iterator[str]:
    """A Redis on `port` (a free one if None), stopped when the block ends."""
    binary = shutil.which("redis-server")
    if not binary:
        missing("redis-server")
    port = port or free_port()
    proc = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for_port(port)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def _postgres_bin() -> str | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    return os.path.dirname(found[-1]) if found else None


def postgres_available() -> bool:
    return _postgres_bin() is not None


@contextmanager
def postgres_server() -> Iterator[str]:
    bindir = _postgres_bin()
    if not bindir:
        missing("PostgreSQL")
    # PostgreSQL refuses to run as root: run it as the postgres user when we are root.
    as_user = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    workdir = tempfile.mkdtemp(prefix="portal-pg-")
    if as_user:
        shutil.chown(workdir, user="postgres")
    data = os.path.join(workdir, "data")
    port = free_port()
    password = "portal-test-pw"

    def run(*args: str) -> None:
        subprocess.run([*as_user, *args], check=True, capture_output=True)

    pwfile = os.path.join(workdir, "pw")
    with open(pwfile, "w") as f:
        f.write(password)
    if as_user:
        shutil.chown(pwfile, user="postgres")
    run(f"{bindir}/initdb", "-D", data, "-U", "portal", "--pwfile", pwfile, "-A", "md5")
    run(
        f"{bindir}/pg_ctl", "-D", data, "-l", os.path.join(workdir, "log"), "-w", "-o",
        f"-p {port} -c listen_addresses=127.0.0.1 -k {workdir}", "start",
    )  # fmt: skip
    try:
        yield f"postgres://portal:{password}@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run(
            [*as_user, f"{bindir}/pg_ctl", "-D", data, "-m", "immediate", "stop"],
            capture_output=True,
        )
        shutil.rmtree(workdir, ignore_errors=True)

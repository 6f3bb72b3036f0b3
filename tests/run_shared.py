"""What a test run makes once and its pytest-xdist workers share: a PostgreSQL server, the
collected static files. Loaded with `-p` (pyproject.toml), in the controller and each worker.

The controller (or a run without xdist) makes a directory for the run and names it in
PORTAL_TEST_RUN_DIR, which the workers it starts inherit. The first worker that needs a shared
thing makes it under a file lock there; the others wait for it and use it. The controller
stops the server and removes the directory when the run ends, however the workers ended.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.servers import postgres_start, postgres_stop

RUN_DIR = "PORTAL_TEST_RUN_DIR"
_owned = pytest.StashKey[Path]()


def pytest_configure(config: pytest.Config) -> None:
    if os.environ.get("PYTEST_XDIST_WORKER"):
        return  # a worker: its controller made the directory
    run_dir = Path(tempfile.mkdtemp(prefix="portal-run-"))
    run_dir.chmod(0o711)  # PostgreSQL runs as its own user, in a directory of its own here
    os.environ[RUN_DIR] = str(run_dir)
    config.stash[_owned] = run_dir


def pytest_unconfigure(config: pytest.Config) -> None:
    run_dir = config.stash.get(_owned, None)
    if run_dir is None:
        return
    postgres_stop(run_dir / "postgres")
    shutil.rmtree(run_dir, ignore_errors=True)


def run_dir() -> Path:
    return Path(os.environ[RUN_DIR])


@contextmanager
def _locked(name: str) -> Iterator[None]:
    with open(run_dir() / f"{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def once(name: str, make: Callable[[Path], str]) -> str:
    """What `make(directory)` returned the first time any process of this run asked for
    `name`; the others wait for it. A `make` that raised is tried again by the next."""
    done = run_dir() / f"{name}.done"
    with _locked(name):
        if not done.exists():
            done.write_text(make(run_dir() / name))
        return done.read_text()


def postgres_url() -> str:
    """The run's PostgreSQL server, started by whichever process needs it first."""
    return once("postgres", postgres_start)

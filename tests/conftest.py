"""Shared fixtures: a real simulator over real HTTP, and settings pointing the portal at it."""

from __future__ import annotations

import hashlib
import json
import shutil
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from bs4 import BeautifulSoup, Tag
from django.conf import settings
from django.core.cache import cache
from django.test import Client

from dashboard.accounts.roles import operators_group
from dashboard.spacelift import process_state, service, stack_search
from dashboard.spacelift.account import Connection
from dashboard.spacelift.client import SpaceliftClient
from dashboard.spacelift.clock import clock as service_clock
from simulator.server import SimulatorHandle, start_simulator

# The [postgres] copies of the tests of modules that use `each_database`: see tests/postgres.py.
from tests.postgres import (  # noqa: F401
    django_db_modify_db_settings,
    each_database,
    pytest_collection_modifyitems,
)
from tests.run_shared import once
from tests.servers import closed_port as _closed_port
from tests.servers import redis_server

# Django's default hasher costs about half a second per test user; the suite checks who may do
# what, not how passwords are stored, so it hashes with MD5 (as healthchecks' tests do).
settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


# Collected static files kept between runs, one directory per fingerprint of their sources.
STATIC_CACHE = Path(__file__).resolve().parent.parent / ".pytest_cache" / "portal-static"


def _static_fingerprint() -> str:
    """What collectstatic's output depends on: every source file's path and content, the
    storage, and the versions of Django and WhiteNoise."""
    from importlib.metadata import version

    from django.contrib.staticfiles.finders import get_finders

    versions = (version("django"), version("whitenoise"))
    digest = hashlib.sha256(repr((versions, settings.STORAGES)).encode())
    found = sorted(
        (path, storage.path(path))
        for finder in get_finders()
        for path, storage in finder.list(["CVS", ".*", "*~"])
    )
    for path, full in found:
        digest.update(path.encode() + b"\0" + Path(full).read_bytes() + b"\0")
    return digest.hexdigest()[:16]


def _collect_static(_run_directory: Path) -> str:
    """collectstatic into a cache directory named by the sources' fingerprint, unless an
    earlier run (or the browser tests' process beside this one) already did."""
    from django.core.management import call_command

    done = STATIC_CACHE / _static_fingerprint()
    if not done.is_dir():
        STATIC_CACHE.mkdir(parents=True, exist_ok=True)
        work = Path(tempfile.mkdtemp(dir=STATIC_CACHE, prefix=".collecting-"))
        settings.STATIC_ROOT = work
        call_command("collectstatic", interactive=False, verbosity=0)
        try:
            work.rename(done)  # whole, or not at all
        except OSError:  # another process put the same files there first
            shutil.rmtree(work, ignore_errors=True)
    return str(done)


@pytest.fixture(scope="session", autouse=True)
def collected_static():
    """Static files collected as in production (hashed names, compressed), once for the run."""
    settings.STATIC_ROOT = Path(once("static", _collect_static))


@pytest.fixture(scope="session", autouse=True)
def static_files_scanned_once(collected_static):
    """WhiteNoise reads STATIC_ROOT whenever a handler loads the middleware, that is for every
    test client; the files do not change during a run, so each later one reuses the first read.
    """
    from whitenoise.base import WhiteNoise

    read: dict[tuple, dict] = {}
    original = WhiteNoise.update_files_dictionary

    def update_files_dictionary(self, root, prefix):
        key = (type(self), root, prefix, self.max_age, self.allow_all_origins, self.charset,
               self.index_file, self.add_headers_function)  # fmt: skip
        if key not in read:
            files, self.files = self.files, {}
            try:
                original(self, root, prefix)
                read[key] = self.files
            finally:
                self.files = files
        self.files.update(read[key])

    WhiteNoise.update_files_dictionary = update_files_dictionary
    yield
    WhiteNoise.update_files_dictionary = original


@pytest.fixture(scope="session")
def simulator():
    handle = start_simulator(port=0, stacks=48, seed=7)
    yield handle
    handle.stop()


def quiet_stacks(sim):
    """Stacks whose runs do not move on their own (the world's active stacks take a step every
    7 s of real time, which a test on a busy machine can outlast), with their history."""
    for stack in sim.world.stacks:
        if stack.id not in sim.world.active_stack_ids:
            stack.ensure_history()
            yield stack


def failed_stack(sim):
    """A failed stack, its failed run (its latest tracked run) and the phase it failed in."""
    for stack in quiet_stacks(sim):
        # The stack's state is its latest tracked run's; a queued run does not change it.
        run = next((r for r in stack.tracked if r.state != "QUEUED"), None)
        if stack.state == "FAILED" and run is not None and run.state == "FAILED":
            phase = [t for t in run.transitions if t.has_logs][-1]
            return stack, run, phase
    raise AssertionError("the simulated account has no failed stack")


def fresh_portal_state() -> None:
    """What the portal holds between requests, as a newly started one has it: nothing."""
    cache.clear()
    process_state.reset_all()
    service_clock.reset()


@pytest.fixture
def sim(simulator):
    """The shared simulator as it started (its world built anew, no faults, zero counters, the
    first key), and an empty portal cache: no test sees what another did."""
    simulator.reset()
    fresh_portal_state()
    yield simulator
    service_clock.reset()


@pytest.fixture(autouse=True)
def unpaced(monkeypatch):
    """Search pages are paced (5 a second) on a clock their waits move instead of waiting:
    `unpaced[0]` is how long the test's pages would have waited in all."""
    now = [0.0]

    def sleep(seconds: float) -> None:
        now[0] += seconds

    monkeypatch.setattr(stack_search.StackSearch, "monotonic", staticmethod(lambda: now[0]))
    monkeypatch.setattr(stack_search.StackSearch, "sleep", staticmethod(sleep))
    return now


@pytest.fixture
def connected(sim, settings):
    """The portal's settings pointed at the simulator through the environment variables."""
    settings.SPACELIFT_API_KEY_ENDPOINT = sim.url
    settings.SPACELIFT_API_KEY_ID = sim.key_id
    settings.SPACELIFT_API_KEY_SECRET = sim.key_secret
    settings.SPACELIFT_TIMEOUT_SECONDS = 2.0
    settings.SPACELIFT_CONNECT_TIMEOUT_SECONDS = 1.0
    return sim


# What htmx sends with every request it makes (a poll): `client.get(url, **HTMX)`.
HTMX = {"HTTP_HX_REQUEST": "true"}


def parse(response_or_html) -> Tag:
    """A page or fragment as a tree, to assert on with CSS selectors.

    A whole page is read by lxml (several times faster); a fragment by Python's parser, which
    keeps its top level as sent instead of wrapping it in <html><body>."""
    if isinstance(response_or_html, Tag):
        return response_or_html
    content = getattr(response_or_html, "content", response_or_html)
    if isinstance(content, bytes):
        content = content.decode()
    whole = content.lstrip()[:9].lower() == "<!doctype"
    return BeautifulSoup(content, "lxml" if whole else "html.parser")


def region_of(response_or_html, name: str) -> Tag:
    """The polled `<section id=name>`; fails the test when there is none."""
    region = parse(response_or_html).select_one(f"section#{name}")
    assert region is not None, f"no region #{name}"
    return region


def poll_values(region: Tag) -> dict[str, str]:
    """What the region sends back with its poll (hx-vals): its name, version, and so on."""
    return json.loads(region["hx-vals"])


@pytest.fixture
def user(django_user_model):
    return django_user_model.objects.create_user("viewer", password="pw-viewer-123")


@pytest.fixture
def viewer_client(client, user):
    """Logged in, in no group: may look, may not act or administer."""
    client.force_login(user)
    return client


@pytest.fixture
def operator_client(django_user_model):
    """Logged in, in the operators group: may trigger, confirm and discard runs."""
    operator = django_user_model.objects.create_user("olga", password="pw-olga-123")
    operator.groups.add(operators_group())
    client = Client()
    client.force_login(operator)
    return client


@pytest.fixture
def staff_client(django_user_model):
    """Logged in as staff (not a superuser): may administer the connection and read the audit."""
    staff = django_user_model.objects.create_user("ops", password="pw-ops-123", is_staff=True)
    client = Client()
    client.force_login(staff)
    return client


@pytest.fixture
def still_time(time_machine):
    """The wall clock held still (time-machine) for the test: no minute and no poll interval
    ends between two of its requests, and the simulator's world does not move by itself."""
    time_machine.move_to(datetime.now(tz=UTC), tick=False)


@pytest.fixture
def clock():
    """The service's clock: `clock.advance(seconds)` instead of sleeping."""
    service_clock.reset()
    yield service_clock
    service_clock.reset()


@pytest.fixture
def make_client():
    """`make_client(handle, ...)`: a Spacelift client for a simulator, over real HTTP."""

    def make(
        handle: SimulatorHandle,
        *,
        key_id: str | None = None,
        secret: str | None = None,
        read_timeout: float = 2.0,
        clock=time.time,
    ) -> SpaceliftClient:
        connection = Connection(handle.url, key_id or handle.key_id, secret or handle.key_secret)
        return SpaceliftClient(
            connection, connect_timeout=1.0, read_timeout=read_timeout, clock=clock
        )

    return make


@pytest.fixture
def make_service(make_client):
    """`make_service(handle, ttl=..., read_timeout=...)`: the cached service over a client."""

    def make(handle: SimulatorHandle, *, read_timeout: float = 2.0, **kwargs):
        client = make_client(handle, read_timeout=read_timeout)
        return service.SpaceliftService(client.connection, client=client, **kwargs)

    return make


@pytest.fixture(scope="session")
def _redis_of_this_worker():
    with redis_server() as server:
        yield server


@pytest.fixture
def redis(_redis_of_this_worker):
    """A real Redis, empty: one server per test process (xdist worker), emptied for each test."""
    import redis as redis_py

    with redis_py.Redis(unix_socket_path=str(_redis_of_this_worker.socket)) as connection:
        connection.flushall()
    return _redis_of_this_worker


@pytest.fixture
def closed_port():
    """A loopback port where nothing listens, and nothing can start to while the test runs."""
    with _closed_port() as port:
        yield port


@pytest.fixture
def scripted_failure(connected):
    """A failed run whose failed phase logs test_run_logs' FAILED_LOG (its why line is WHY);
    the script is dropped afterwards."""
    from simulator.logs import logbook
    from tests.test_run_logs import FAILED_LOG

    stack, run, phase = failed_stack(connected)
    logbook(connected.world).script(run.id, phase.state, FAILED_LOG)
    yield stack, run
    logbook(connected.world).scripted.clear()

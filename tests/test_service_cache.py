"""What the portal pickles into the shared cache: under a versioned key prefix, and an entry
written by another layout (a class that has since moved) read as a miss, never as an error."""

from __future__ import annotations

import io
import pickle
import sys
import types
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import pytest
import redis

from dashboard.spacelift import process_state
from dashboard.spacelift import shared_cache as shared_cache_module
from dashboard.spacelift.account import Connection
from dashboard.spacelift.client import SpaceliftClient
from dashboard.spacelift.service import SpaceliftService
from dashboard.spacelift.shared_cache import CACHE_VERSION, shared_cache
from tests.conftest import parse
from tests.servers import redis_server
from tests.test_redis_down import redis_cache
from tests.test_run_logs import WHY

# Where each class the portal pickles into the cache lives, at CACHE_VERSION. When this list
# changes because a class moved (or changed shape), bump shared_cache.CACHE_VERSION with it.
PICKLED_AT_VERSION_3 = {
    "dashboard.runs.why.Why",
    "dashboard.spacelift.exchange.Token",
    "dashboard.spacelift.fields.KnownFields",
    "dashboard.spacelift.run_records.PhaseTail",
    "dashboard.spacelift.types.config.ConfigElement",
    "dashboard.spacelift.types.config.ConfigType",
    "dashboard.spacelift.types.logs.LogPage",
    "dashboard.spacelift.types.logs.Phase",
    "dashboard.spacelift.types.logs.ResourceChange",
    "dashboard.spacelift.types.modules.Module",
    "dashboard.spacelift.types.modules.ModuleVersion",
    "dashboard.spacelift.types.runs.Delta",
    "dashboard.spacelift.types.runs.Run",
    "dashboard.spacelift.types.runs.StateTransition",
    "dashboard.spacelift.types.stacks.Commit",
    "dashboard.spacelift.types.stacks.Stack",
    "dashboard.spacelift.types.states.RunState",
    "dashboard.spacelift.types.states.RunType",
    "dashboard.spacelift.types.states.StackState",
}
# The module a class is pickled from, and then moved away from, as logtypes.py once was.
OLD_HOME = "dashboard.spacelift.logtypes"


@contextmanager
def a_class_that_moves() -> Iterator[type]:
    """A class importable from OLD_HOME inside the block and nowhere once it has ended."""
    module = types.ModuleType(OLD_HOME)

    @dataclass(frozen=True)
    class LogPage:
        lines: tuple[str, ...]

    LogPage.__module__, LogPage.__qualname__ = OLD_HOME, "LogPage"
    module.LogPage = LogPage
    sys.modules[OLD_HOME] = module
    try:
        yield LogPage
    finally:
        del sys.modules[OLD_HOME]


def written_before_the_move() -> bytes:
    with a_class_that_moves() as moved:
        return pickle.dumps(moved(("an old line",)))


@pytest.fixture(params=["locmem", "redis"])
def any_cache(request, settings):
    """The cache the portal runs on by default, then a real Redis."""
    if request.param == "locmem":
        yield
        return
    with redis_server() as server:
        url = server.location()
        settings.CACHES = redis_cache(url)
        yield


@pytest.mark.redis
def test_an_entry_whose_class_has_moved_is_a_miss_not_an_error(any_cache, caplog):
    with a_class_that_moves() as moved:
        shared_cache.set("page", moved(("an old line",)))
        assert shared_cache.get("page").lines == ("an old line",)
    assert shared_cache.get("page") is None
    assert shared_cache.get("page", "default") == "default"
    assert not shared_cache.degraded  # the cache answered: only the entry is unusable
    assert "The cache cannot be reached" not in caplog.text


def test_entries_of_another_cache_version_are_not_read(monkeypatch):
    shared_cache.set("token", "written at this version")
    monkeypatch.setattr(shared_cache_module, "CACHE_VERSION", CACHE_VERSION + 1)
    assert shared_cache.get("token") is None
    shared_cache.set("token", "written at the next")
    monkeypatch.setattr(shared_cache_module, "CACHE_VERSION", CACHE_VERSION)
    assert shared_cache.get("token") == "written at this version"


def test_a_result_whose_class_has_moved_is_read_again_from_spacelift(sim):
    connection = Connection(sim.url, sim.key_id, sim.key_secret)
    client = SpaceliftClient(connection, connect_timeout=1.0, read_timeout=2.0)
    service = SpaceliftService(connection, client=client, ttl=60)
    with a_class_that_moves() as moved:
        before = service._read("lines", lambda: moved(("an old line",)))
        assert before.data.lines == ("an old line",)
    process_state.reset_all()  # a process started after the deploy that moved the class
    after = service._read("lines", lambda: ("read again",))
    assert after.ok and after.data == ("read again",)


def classes_in(payload: bytes, found: set[str]) -> None:
    """Every class `payload` names, and those of the pickles nested in it (cached results)."""

    class Recorder(pickle.Unpickler):
        def find_class(self, module, name):
            found.add(f"{module}.{name}")
            return super().find_class(module, name)

    value = Recorder(io.BytesIO(payload)).load()
    nested = value.values() if isinstance(value, dict) else ()
    for inner in nested:
        if isinstance(inner, bytes) and inner.startswith(b"\x80"):
            classes_in(inner, found)


@pytest.fixture
def redis_url(settings):
    with redis_server() as server:
        url = server.location()
        settings.CACHES = redis_cache(url)
        yield url


def pages_read(client, stack, run) -> dict[str, str]:
    paths = ["/", f"/stacks/{stack.id}/", f"/stacks/{stack.id}/runs/{run.id}/", "/modules/"]
    answers = {path: client.get(path) for path in paths}
    assert {path: a.status_code for path, a in answers.items()} == dict.fromkeys(paths, 200)
    return {path: a.content.decode() for path, a in answers.items()}


@pytest.mark.redis
@pytest.mark.django_db
def test_what_the_pages_keep_in_redis_is_under_the_version_and_its_classes_are_listed(
    viewer_client, scripted_failure, redis_url
):
    pages_read(viewer_client, *scripted_failure)
    raw = redis.Redis.from_url(redis_url)
    keys = list(raw.scan_iter("*"))
    assert keys and all(f":portal:v{CACHE_VERSION}:".encode() in key for key in keys)
    found: set[str] = set()
    for key in keys:
        value = raw.get(key)
        if value is not None and not value.isdigit():  # Django keeps integers as they are
            classes_in(value, found)
    pickled = {name for name in found if name.startswith("dashboard.")}
    assert pickled == PICKLED_AT_VERSION_3, "a pickled class moved: bump CACHE_VERSION"


@pytest.mark.redis
@pytest.mark.django_db
def test_pages_answer_when_every_entry_in_redis_was_written_by_another_layout(
    viewer_client, connected, scripted_failure, redis_url
):
    stack, run = scripted_failure
    pages_read(viewer_client, stack, run)
    raw = redis.Redis.from_url(redis_url)
    old = written_before_the_move()
    for key in raw.scan_iter("*"):
        raw.set(key, old, keepttl=True)
    process_state.reset_all()  # a process started after the deploy
    exchanges = connected.stats()["token_exchanges"]
    pages = pages_read(viewer_client, stack, run)
    assert parse(pages["/"]).select("tr[data-stack]")
    run_page = parse(pages[f"/stacks/{stack.id}/runs/{run.id}/"])
    assert run_page.select_one(".why-line .why").get_text().startswith(WHY)
    assert parse(pages["/modules/"]).select("li.module[data-module]")
    assert connected.stats()["token_exchanges"] == exchanges + 1  # the token, read as a miss
    assert not shared_cache.degraded

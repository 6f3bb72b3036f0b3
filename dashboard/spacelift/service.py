"""The cached service every view reads Spacelift through.

One upstream query per key per poll interval, however many people watch. A result is kept in
Django's cache as a small head (version, fetched at, fresh until) and its payload, both for
LAST_GOOD_SECONDS: freshness is decided by `clock`, so expired data is still there to show.
When it has expired, the one request that wins a lock (`cache.add`) asks Spacelift and every
other is answered at once with the last data (stale-while-revalidate); only a request with
nothing to show waits. A failed read serves the last good result marked stale and backs off
(growing, honouring Retry-After). `budget` caps the requests waiting on Spacelift and gives a
page one deadline; `shared_cache` survives Redis going away. A process that already holds a
version never unpickles it again.
"""

from __future__ import annotations

import hashlib
import logging
import pickle
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import wait as wait_for_futures
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any, TypeVar

from cachetools import LRUCache
from django.conf import settings

from . import budget, errors
from .account import Connection, InvalidEndpoint, default_registry_org, normalize_endpoint
from .client import SpaceliftClient
from .clock import clock
from .shared_cache import shared_cache
from .snapshot import (
    Problem,
    Snapshot,
    busy_failure,
    error_fields,
    in_flight_failure,
    problem_from,
    timeout_failure,
)
from .types import ConfigElement, Module, ModuleVersions, Run, Stack

logger = logging.getLogger(__name__)

T = TypeVar("T")

__all__ = ["Problem", "Snapshot", "SpaceliftService", "client_for"]

# The last good data is kept this long, so a stale page can still show it after a long outage.
LAST_GOOD_SECONDS = 7 * 24 * 3600
# The longest the portal leaves a failing Spacelift alone between tries.
MAX_BACKOFF_SECONDS = 300
# How often a request waiting on another's fetch looks for its result.
WAIT_STEP_SECONDS = 0.05
# Decoded results this process holds: a few stack lists, and the stacks people have open.
MEMO_ENTRIES = 512
# How long `read_many` waits past its deadline for reads to record their own timeout.
DEADLINE_GRACE_SECONDS = 0.5


# Per process: decoded results by cache key (head, data), and one client per connection.
_memo: LRUCache[str, tuple[dict[str, Any], Any]] = LRUCache(maxsize=MEMO_ENTRIES)
_memo_lock = threading.Lock()
_clients: LRUCache[str, SpaceliftClient] = LRUCache(maxsize=8)


def reset_process_state() -> None:
    """Forget what this process holds (decoded results, clients, permits): for tests."""
    with _memo_lock:
        _memo.clear()
    _clients.clear()
    budget.reset()
    shared_cache.reset()


def _version_of(payload: bytes) -> str:
    return hashlib.blake2b(payload, digest_size=8).hexdigest()


def _remember_decoded(key: str, head: dict[str, Any], data: Any) -> None:
    with _memo_lock:
        _memo[key] = (head, data)


def _decoded(key: str) -> tuple[dict[str, Any], Any] | None:
    with _memo_lock:
        return _memo.get(key)


class SpaceliftService:
    def __init__(
        self,
        connection: Connection,
        *,
        client: SpaceliftClient | None = None,
        ttl: float | None = None,
        cached: bool | None = None,
    ) -> None:
        self.connection = connection
        self.client = client or client_for(connection)
        self.ttl = ttl if ttl is not None else settings.PORTAL_POLL_SECONDS
        self.cached = settings.PORTAL_CACHE if cached is None else cached
        self.prefix = f"spacelift:{connection.fingerprint}:"
        # A waiter gives up a little after the fetch it waits on must have ended: the client
        # bounds a whole read (exchange, query, retry) by its read timeout.
        self.wait_seconds = self.client.timeout[1] + 0.5

    # What views call ----------------------------------------------------------------------

    def stacks(self) -> Snapshot[list[Stack]]:
        return self._read("stacks", self.client.list_stacks)

    def stack(self, stack_id: str) -> Snapshot[Stack | None]:
        return self._read(f"stack:{stack_id}", lambda: self.client.get_stack(stack_id))

    def runs(self, stack_id: str, before: str | None = None) -> Snapshot[list[Run] | None]:
        return self._read(
            f"runs:{stack_id}:{before or ''}", lambda: self.client.list_runs(stack_id, before)
        )

    def run(self, stack_id: str, run_id: str) -> Snapshot[Run | None]:
        return self._read(f"run:{stack_id}:{run_id}", lambda: self.client.get_run(stack_id, run_id))

    def stack_config(self, stack_id: str) -> Snapshot[list[ConfigElement] | None]:
        return self._read(f"config:{stack_id}", lambda: self.client.get_stack_config(stack_id))

    def modules(self) -> Snapshot[list[Module]]:
        return self._read("modules", self.client.list_modules)

    def module_version_lists(self, module_ids: list[str]) -> Snapshot[dict[str, Any]]:
        """Versions of these modules over GraphQL, read in one query (client.py)."""
        key = "module-version-lists:" + _version_of("\0".join(module_ids).encode())
        return self._read(key, lambda: self.client.list_module_versions(module_ids))

    def registry_org(self) -> str:
        """SPACELIFT_REGISTRY_ORG, else the account's name taken from its host."""
        return settings.SPACELIFT_REGISTRY_ORG or default_registry_org(self.connection.base_url)

    def module_versions(
        self, org: str, name: str, provider: str, *, cached_only: bool = False
    ) -> Snapshot[ModuleVersions] | None:
        """One module's versions from the registry; with `cached_only`, None unless cached."""
        key = f"module-versions:{org}/{name}/{provider}"
        if cached_only and self.head_version(key) is None:
            return None
        return self._read(
            key,
            lambda: self.client.module_versions(org, name, provider, registry_url=_registry_url()),
        )

    def head_version(self, name: str) -> str | None:
        """The version of the fresh result for `name`, without loading it; None if expired."""
        head = self._head(self.prefix + name)
        return head["version"] if head and head["fresh_until"] > clock() else None

    def may_exist(self, stack_id: str) -> bool:
        """False when the current stack list is known and lacks `stack_id`.

        A made-up ID then costs no upstream query (nor a cache entry) until the list itself
        is refreshed; without a list (Spacelift failing from the start) the stack is asked for.
        """
        listed = self.stacks()
        if listed.data is None:
            return True
        return stack_id in _stack_ids(listed.version, listed.data)

    @contextmanager
    def one_deadline(self) -> Iterator[None]:
        """Every read in this block (and its `read_many`) ends by one deadline, the read
        timeout from now: a page waits on Spacelift once, however many things it reads."""
        at = time.monotonic() + self.client.timeout[1]
        with budget.page(at), self.client.deadline(at):
            yield

    def read_many(self, **reads: Callable[[], Snapshot[Any]]) -> dict[str, Snapshot[Any]]:
        """Run a page's reads at once under one deadline (the read timeout) for them all.

        `reads` are calls of this service's methods, e.g. `stack=lambda: svc.stack(id)`. Those
        answered from the cache return at once; the others share one permit and one deadline,
        so a hung Spacelift holds the page no longer than SPACELIFT_TIMEOUT_SECONDS in all.
        """
        deadline = budget.page_deadline() or time.monotonic() + self.client.timeout[1]
        with budget.permit() as permitted:
            if not permitted or len(reads) == 1:
                return {name: read() for name, read in reads.items()}
            futures = {
                name: budget.pool().submit(self._within, deadline, read)
                for name, read in reads.items()
            }
            wait_for_futures(
                futures.values(), timeout=deadline - time.monotonic() + DEADLINE_GRACE_SECONDS
            )
        results = {}
        for name, future in futures.items():
            if future.done():
                results[name] = future.result()
            else:  # past the deadline and the grace: the read ends on its own, unwaited for
                problem = problem_from(timeout_failure(self.client.timeout[1]))
                results[name] = Snapshot(None, "", None, problem)
        return results

    def _within(self, deadline: float, read: Callable[[], Snapshot[Any]]) -> Snapshot[Any]:
        with budget.lent(deadline), self.client.deadline(deadline):
            return read()

    # The mechanism ------------------------------------------------------------------------

    def _read(self, name: str, fetch: Callable[[], T]) -> Snapshot[T]:
        if not self.cached:
            return self._fetch_uncached(fetch)
        key = self.prefix + name
        head = self._head(key)
        if head is not None and head["fresh_until"] > clock():
            return self._snapshot(key, head)
        failure = shared_cache.get(key + ":failure")
        if failure and failure["retry_at"] > clock():
            return self._stale(key, failure)
        lock = key + ":lock"
        if not shared_cache.add(lock, 1, timeout=int(self.wait_seconds) + 1):
            if head is not None:  # another request is refreshing it: the last data, at once
                return self._snapshot(key, head)
            with budget.permit() as permitted:
                if not permitted:
                    return self._stale(key, in_flight_failure())
                return self._wait_for(key, lock)
        try:
            with budget.permit() as permitted:
                if not permitted:
                    return self._stale(key, failure or busy_failure())
                return self._fetch(key, fetch)
        finally:
            shared_cache.delete(lock)

    def _head(self, key: str) -> dict[str, Any] | None:
        head = shared_cache.get(key)
        if head is None and shared_cache.degraded and (held := _decoded(key)):
            return held[0]  # the shared cache is away: what this process last saw
        return head

    def _fetch(self, key: str, fetch: Callable[[], T]) -> Snapshot[T]:
        try:
            data = fetch()
        except errors.SpaceliftError as exc:
            return self._stale(key, self._record_failure(key, exc))
        payload = pickle.dumps(data, protocol=pickle.HIGHEST_PROTOCOL)
        now = clock()
        head = {"version": _version_of(payload), "fetched_at": now, "fresh_until": now + self.ttl}
        shared_cache.set(key + ":good", {**head, "payload": payload}, timeout=LAST_GOOD_SECONDS)
        self._remember(key)
        shared_cache.set(key, head, timeout=LAST_GOOD_SECONDS)
        shared_cache.delete(key + ":failure")
        _remember_decoded(key, head, data)
        return self._snapshot(key, head, data)

    def _fetch_uncached(self, fetch: Callable[[], T]) -> Snapshot[T]:
        """Pass-through mode, for benchmarks: every call is an upstream query."""
        try:
            data = fetch()
        except errors.SpaceliftError as exc:
            problem = Problem(**error_fields(exc), since=datetime.now(tz=UTC), retry_after=0)
            return Snapshot(None, "", None, problem)
        payload = pickle.dumps(data, protocol=pickle.HIGHEST_PROTOCOL)
        return Snapshot(data, _version_of(payload), datetime.now(tz=UTC))

    def _remember(self, key: str) -> None:
        """Note a key this connection wrote, so `forget` can drop it when the connection goes."""
        index_key = self.prefix + "index"
        names = shared_cache.get(index_key) or set()
        if key not in names:
            shared_cache.set(index_key, names | {key}, timeout=LAST_GOOD_SECONDS)

    def invalidate(self, *names: str) -> None:
        """Make the next read of `names` go to Spacelift (after an action changed them)."""
        for name in names:
            key = self.prefix + name
            head = shared_cache.get(key)
            if head is not None:
                shared_cache.set(key, {**head, "fresh_until": 0}, timeout=LAST_GOOD_SECONDS)
            if held := _decoded(key):
                _remember_decoded(key, {**held[0], "fresh_until": 0}, held[1])

    def forget(self) -> None:
        """Drop every cached result, failure and the token of this connection."""
        index_key = self.prefix + "index"
        names = shared_cache.get(index_key) or set()
        shared_cache.delete_many(
            [name + suffix for name in names for suffix in ("", ":good", ":failure")] + [index_key]
        )
        with _memo_lock:
            for name in names:
                _memo.pop(name, None)
        self.client.forget_token()
        _clients.pop(self.connection.fingerprint, None)

    def _record_failure(self, key: str, exc: errors.SpaceliftError) -> dict[str, Any]:
        previous = shared_cache.get(key + ":failure") or {}
        count = previous.get("count", 0) + 1
        delay = min(self.ttl * 2 ** (count - 1), MAX_BACKOFF_SECONDS)
        if exc.retry_after:
            delay = max(delay, min(exc.retry_after, MAX_BACKOFF_SECONDS))
        now = clock()
        failure = {
            "count": count,
            "since": previous.get("since", now),
            "retry_at": now + delay,
            "error": error_fields(exc),
        }
        shared_cache.set(key + ":failure", failure, timeout=LAST_GOOD_SECONDS)
        logger.warning(
            "Reading %s from Spacelift failed (%s, %d in a row); retrying in %ds",
            key.removeprefix(self.prefix),
            exc.message,
            count,
            delay,
        )
        return failure

    def _wait_for(self, key: str, lock: str) -> Snapshot[Any]:
        """Wait for another request's fetch of what this one has nothing of, up to a deadline."""
        deadline = time.monotonic() + self.wait_seconds
        if page_deadline := budget.page_deadline():
            deadline = min(deadline, page_deadline)
        while time.monotonic() < deadline:
            time.sleep(WAIT_STEP_SECONDS)
            head = shared_cache.get(key)
            if head is not None:
                return self._snapshot(key, head)
            if shared_cache.get(lock) is None:
                break
        failure = shared_cache.get(key + ":failure") or timeout_failure(self.client.timeout[1])
        return self._stale(key, failure)

    def _stale(self, key: str, failure: dict[str, Any]) -> Snapshot[Any]:
        problem = problem_from(failure)
        good = shared_cache.get(key + ":good")
        if good is None:
            held = _decoded(key)
            if held is None:
                return Snapshot(None, "", None, problem)
            head, data = held
            return Snapshot(data, head["version"], _when(head), problem)
        snapshot = self._snapshot(key, good)
        return Snapshot(snapshot.data, snapshot.version, snapshot.fetched_at, problem)

    def _snapshot(self, key: str, head: dict[str, Any], data: Any = ...) -> Snapshot[Any]:
        """Build a snapshot for `head`, decoding its payload only if this process lacks it."""
        if data is ...:
            held = _decoded(key)
            if held and held[0]["version"] == head["version"]:
                data = held[1]
            else:
                good = head if "payload" in head else shared_cache.get(key + ":good")
                if good is None:
                    return Snapshot(None, "", None)
                head = {k: v for k, v in good.items() if k != "payload"}
                data = _decode(good["payload"])
                _remember_decoded(key, head, data)
        return Snapshot(data, head["version"], _when(head))


def _when(head: dict[str, Any]) -> datetime:
    return datetime.fromtimestamp(head["fetched_at"], tz=UTC)


_stack_id_sets: LRUCache[str, frozenset[str]] = LRUCache(maxsize=4)


def _stack_ids(version: str, stacks: list[Stack]) -> frozenset[str]:
    ids = _stack_id_sets.get(version)
    if ids is None:
        ids = _stack_id_sets[version] = frozenset(s.id for s in stacks)
    return ids


def _registry_url() -> str | None:
    """SPACELIFT_REGISTRY_URL, checked like the endpoint; None: the account's own host."""
    raw = settings.SPACELIFT_REGISTRY_URL
    if not raw:
        return None
    try:
        return normalize_endpoint(raw)
    except InvalidEndpoint as exc:
        raise errors.NotConfigured(f"SPACELIFT_REGISTRY_URL: {exc}") from None


def _decode(payload: bytes) -> Any:
    return pickle.loads(payload)  # noqa: S301 - only this service writes these payloads


def client_for(connection: Connection) -> SpaceliftClient:
    """One client per connection and process, so its HTTP sessions are reused."""
    client = _clients.get(connection.fingerprint)
    if client is None:
        client = SpaceliftClient(
            connection,
            connect_timeout=settings.SPACELIFT_CONNECT_TIMEOUT_SECONDS,
            read_timeout=settings.SPACELIFT_TIMEOUT_SECONDS,
        )
        _clients[connection.fingerprint] = client
    return client

"""The cached service every view reads Spacelift through.

One upstream query per key per poll interval, however many people watch: a result is kept in
Django's cache for `PORTAL_POLL_SECONDS`, and concurrent misses are coalesced behind a lock
taken with `cache.add` (atomic in locmem and Redis alike, so across processes when the cache
is shared). When a read fails, the last good result is served, marked stale, and Spacelift is
left alone for a backoff period that grows with each failure and honours Retry-After.

Results are stored in two parts: a small head (version, when fetched) under a short-lived key,
and the payload under its version. A poll whose version matches the browser's needs the head
only; a process that already holds a version in memory never unpickles it again.
"""

from __future__ import annotations

import hashlib
import logging
import pickle
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Generic, TypeVar

from django.conf import settings
from django.core.cache import cache

from . import errors
from .client import SpaceliftClient
from .connection import Connection, InvalidEndpoint, default_registry_org, normalize_endpoint
from .types import ConfigElement, Module, ModuleVersions, Run, Space, Stack

logger = logging.getLogger(__name__)

T = TypeVar("T")

# The last good data is kept this long, so a stale page can still show it after a long outage.
LAST_GOOD_SECONDS = 7 * 24 * 3600
# The longest the portal leaves a failing Spacelift alone between tries.
MAX_BACKOFF_SECONDS = 300
# How often a request waiting on another's fetch looks for its result.
WAIT_STEP_SECONDS = 0.05


@dataclass(frozen=True)
class Problem:
    """Why the data shown is stale (or missing), in words for the person looking at it."""

    summary: str
    detail: str
    hint: str
    since: datetime
    retry_after: float


@dataclass(frozen=True)
class Snapshot(Generic[T]):
    """What a view gets: data (None when there never was any), its version and freshness."""

    data: T | None
    version: str
    fetched_at: datetime | None
    problem: Problem | None = None

    @property
    def stale(self) -> bool:
        return self.problem is not None and self.data is not None

    @property
    def ok(self) -> bool:
        return self.problem is None


# Decoded payloads this process already holds, by cache key and version.
_memo: dict[str, tuple[str, Any]] = {}
_memo_lock = threading.Lock()
_clients: dict[str, SpaceliftClient] = {}


def _version_of(payload: bytes) -> str:
    return hashlib.blake2b(payload, digest_size=8).hexdigest()


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

    def spaces(self) -> Snapshot[list[Space]]:
        return self._read("spaces", self.client.list_spaces)

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
        head = cache.get(self.prefix + name)
        return head["version"] if head else None

    # The mechanism ------------------------------------------------------------------------

    def _read(self, name: str, fetch: Callable[[], T]) -> Snapshot[T]:
        if not self.cached:
            return self._fetch_uncached(fetch)
        key = self.prefix + name
        head = cache.get(key)
        if head is not None:
            return self._snapshot(key, head)
        failure = cache.get(key + ":failure")
        if failure and failure["retry_at"] > time.time():
            return self._stale(key, failure)
        lock = key + ":lock"
        if cache.add(lock, 1, timeout=int(self.wait_seconds) + 1):
            try:
                return self._fetch(key, fetch)
            finally:
                cache.delete(lock)
        return self._wait_for(key, lock)

    def _fetch(self, key: str, fetch: Callable[[], T]) -> Snapshot[T]:
        try:
            data = fetch()
        except errors.SpaceliftError as exc:
            return self._stale(key, self._record_failure(key, exc))
        payload = pickle.dumps(data, protocol=pickle.HIGHEST_PROTOCOL)
        head = {"version": _version_of(payload), "fetched_at": time.time()}
        cache.set(key + ":good", {**head, "payload": payload}, timeout=LAST_GOOD_SECONDS)
        self._remember(key)
        cache.set(key, head, timeout=self.ttl)
        cache.delete(key + ":failure")
        with _memo_lock:
            _memo[key] = (head["version"], data)
        return self._snapshot(key, head, data)

    def _fetch_uncached(self, fetch: Callable[[], T]) -> Snapshot[T]:
        """Pass-through mode, for benchmarks: every call is an upstream query."""
        try:
            data = fetch()
        except errors.SpaceliftError as exc:
            problem = Problem(**_error_fields(exc), since=datetime.now(tz=UTC), retry_after=0)
            return Snapshot(None, "", None, problem)
        payload = pickle.dumps(data, protocol=pickle.HIGHEST_PROTOCOL)
        return Snapshot(data, _version_of(payload), datetime.now(tz=UTC))

    def _remember(self, key: str) -> None:
        """Note a key this connection wrote, so `forget` can drop it when the connection goes."""
        index_key = self.prefix + "index"
        names = cache.get(index_key) or set()
        if key not in names:
            cache.set(index_key, names | {key}, timeout=LAST_GOOD_SECONDS)

    def invalidate(self, *names: str) -> None:
        """Make the next read of `names` go to Spacelift (after an action changed them)."""
        cache.delete_many([self.prefix + name for name in names])

    def forget(self) -> None:
        """Drop every cached result, failure and the token of this connection."""
        index_key = self.prefix + "index"
        names = cache.get(index_key) or set()
        cache.delete_many(
            [name + suffix for name in names for suffix in ("", ":good", ":failure")] + [index_key]
        )
        with _memo_lock:
            for name in names:
                _memo.pop(name, None)
        self.client.forget_token()
        _clients.pop(self.connection.fingerprint, None)

    def _record_failure(self, key: str, exc: errors.SpaceliftError) -> dict[str, Any]:
        previous = cache.get(key + ":failure") or {}
        count = previous.get("count", 0) + 1
        delay = min(self.ttl * 2 ** (count - 1), MAX_BACKOFF_SECONDS)
        if exc.retry_after:
            delay = max(delay, min(exc.retry_after, MAX_BACKOFF_SECONDS))
        now = time.time()
        failure = {
            "count": count,
            "since": previous.get("since", now),
            "retry_at": now + delay,
            "error": _error_fields(exc),
        }
        cache.set(key + ":failure", failure, timeout=LAST_GOOD_SECONDS)
        logger.warning(
            "Reading %s from Spacelift failed (%s, %d in a row); retrying in %ds",
            key.removeprefix(self.prefix),
            exc.message,
            count,
            delay,
        )
        return failure

    def _wait_for(self, key: str, lock: str) -> Snapshot[Any]:
        deadline = time.monotonic() + self.wait_seconds
        while time.monotonic() < deadline:
            time.sleep(WAIT_STEP_SECONDS)
            head = cache.get(key)
            if head is not None:
                return self._snapshot(key, head)
            if cache.get(lock) is None:
                break
        failure = cache.get(key + ":failure")
        if failure is None:
            failure = {
                "since": time.time(),
                "retry_at": time.time(),
                "error": _error_fields(errors.Timeout("Spacelift did not answer in time")),
            }
        return self._stale(key, failure)

    def _stale(self, key: str, failure: dict[str, Any]) -> Snapshot[Any]:
        problem = Problem(
            **failure["error"],
            since=datetime.fromtimestamp(failure["since"], tz=UTC),
            retry_after=max(0.0, failure["retry_at"] - time.time()),
        )
        good = cache.get(key + ":good")
        if good is None:
            return Snapshot(None, "", None, problem)
        snapshot = self._snapshot(key, good)
        return Snapshot(snapshot.data, snapshot.version, snapshot.fetched_at, problem)

    def _snapshot(self, key: str, head: dict[str, Any], data: Any = ...) -> Snapshot[Any]:
        """Build a snapshot for `head`, decoding its payload only if this process lacks it."""
        if data is ...:
            held = _memo.get(key)
            if held and held[0] == head["version"]:
                data = held[1]
            else:
                good = head if "payload" in head else cache.get(key + ":good")
                if good is None:
                    return Snapshot(None, "", None)
                head = good
                data = _decode(good["payload"])
                with _memo_lock:
                    _memo[key] = (good["version"], data)
        fetched_at = datetime.fromtimestamp(head["fetched_at"], tz=UTC)
        return Snapshot(data, head["version"], fetched_at)


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


def _error_fields(exc: errors.SpaceliftError) -> dict[str, str]:
    """An error as plain data: exceptions with extra arguments do not survive pickling."""
    return {"summary": exc.summary, "detail": exc.message, "hint": exc.hint}


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

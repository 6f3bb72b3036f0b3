"""How the service reads: each result cached as a versioned snapshot, one upstream query a key.

One upstream query per key per poll interval, however many people watch. A result is kept in
Django's cache as a small head (version, fetched at, fresh until) and its payload, both for
LAST_GOOD_SECONDS: freshness is decided by `clock`, so expired data is still there to show.
When it has expired, the one request that wins a lock (`cache.add`) asks Spacelift and every
other is answered at once with the last data (stale-while-revalidate); only a request with
nothing to show waits. A failed read serves the last good result marked stale and backs off
(growing, honouring Retry-After). `budget` caps the requests waiting on Spacelift;
`shared_cache` survives Redis going away. A process that already holds a version never
unpickles it again. What is read is service.py.
"""

from __future__ import annotations

import hashlib
import logging
import pickle
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, TypeVar

from django.conf import settings

from . import budget, errors, outbound, process_state
from .account import Connection
from .client import SpaceliftClient
from .clock import clock
from .shared_cache import Undecodable, shared_cache, unpickled
from .snapshot import (
    Problem,
    Snapshot,
    busy_failure,
    error_fields,
    in_flight_failure,
    problem_from,
    timeout_failure,
)

logger = logging.getLogger(__name__)

T = TypeVar("T")

# The last good data is kept this long, so a stale page can still show it after a long outage.
LAST_GOOD_SECONDS = 7 * 24 * 3600
# The longest the portal leaves a failing Spacelift alone between tries.
MAX_BACKOFF_SECONDS = 300
# How often a request waiting on another's fetch looks for its result.
WAIT_STEP_SECONDS = 0.05
# Decoded results this process holds: a few stack lists, and the stacks people have open.
MEMO_ENTRIES = 512


# Per process: decoded results by cache key (head, data), and one client per connection.
_memo: process_state.ProcessCache[str, tuple[dict[str, Any], Any]] = process_state.ProcessCache(
    "spacelift reads", MEMO_ENTRIES
)
_clients: process_state.ProcessCache[str, SpaceliftClient] = process_state.ProcessCache(
    "spacelift clients", 8
)


def reset_process_state() -> None:
    """Forget what this process holds (decoded results, clients)."""
    _memo.clear()
    _clients.clear()


def _version_of(payload: bytes) -> str:
    return hashlib.blake2b(payload, digest_size=8).hexdigest()


def _remember_decoded(key: str, head: dict[str, Any], data: Any) -> None:
    _memo.set(key, (head, data))


def _decoded(key: str) -> tuple[dict[str, Any], Any] | None:
    return _memo.get(key)


class CachedReads:
    """The read mechanism SpaceliftService (service.py) is built on, per connection."""

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

    # The mechanism ------------------------------------------------------------------------

    def _read(
        self, name: str, fetch: Callable[[], T], *, lock_seconds: float | None = None
    ) -> Snapshot[T]:
        """`lock_seconds`: how long a fetch may hold the refresh (a paced stack pass may outlast
        the read timeout); the read timeout unless given."""
        if not self.cached:
            return self._fetch_uncached(fetch)
        key = self.prefix + name
        head = self._head(key)
        if head is not None and head["fresh_until"] > clock():
            if (held := self._held(key, head)) is not None:
                return held
            head = None  # its data is gone, or from another layout: as if nothing were kept
        failure = shared_cache.get(key + ":failure")
        if failure and failure["retry_at"] > clock():
            return self._stale(key, failure)
        lock = key + ":lock"
        hold = max(self.wait_seconds, lock_seconds or 0)
        if not shared_cache.add(lock, 1, timeout=int(hold) + 1):
            # Another request is refreshing it: the last data, at once.
            if head is not None and (held := self._held(key, head)) is not None:
                return held
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
        started = clock()
        try:
            data = fetch()
        except errors.SpaceliftError as exc:
            return self._stale(key, self._record_failure(key, exc))
        # Dated when the read began: a paced pass of many pages is as old as its first page.
        snapshot = self._store(key, data, fresh_until=clock() + self.ttl, fetched_at=started)
        shared_cache.delete(key + ":failure")
        return snapshot

    def _fetch_uncached(self, fetch: Callable[[], T]) -> Snapshot[T]:
        """Pass-through mode, for benchmarks: every call is an upstream query."""
        try:
            data = fetch()
        except errors.SpaceliftError as exc:
            problem = Problem(**error_fields(exc), since=datetime.now(tz=UTC), retry_after=0)
            return Snapshot(None, "", None, problem)
        payload = pickle.dumps(data, protocol=pickle.HIGHEST_PROTOCOL)
        return Snapshot(data, _version_of(payload), datetime.now(tz=UTC))

    def held(self, name: str) -> Snapshot[Any] | None:
        """What the cache holds for `name`, fresh or not, without asking Spacelift."""
        key = self.prefix + name
        head = self._head(key)
        if head is None:
            return None
        return self._held(key, head)

    def refetch(self, name: str, fetch: Callable[[], T]) -> Snapshot[T] | None:
        """Read `name` from Spacelift now, fresh or not (a webhook said it changed).

        None when another request is reading it right now: the caller tries again later, so
        two reads of one thing never run at once.
        """
        key = self.prefix + name
        lock = key + ":lock"
        if not shared_cache.add(lock, 1, timeout=int(self.wait_seconds) + 1):
            return None
        try:
            with budget.permit() as permitted:
                if not permitted:
                    return None
                return self._fetch(key, fetch)
        finally:
            shared_cache.delete(lock)

    def replace(self, name: str, data: Any) -> Snapshot[Any]:
        """Store `data` as the new version of `name`, fresh as long as what it replaces."""
        key = self.prefix + name
        previous = self._head(key)
        fresh_until = previous["fresh_until"] if previous else clock() + self.ttl
        return self._store(key, data, fresh_until=fresh_until)

    def _store(
        self, key: str, data: Any, *, fresh_until: float, fetched_at: float | None = None
    ) -> Snapshot[Any]:
        """Keep `data` as the current version of `key`: its head, its last good copy (for a
        week), and this process's decoded copy."""
        payload = pickle.dumps(data, protocol=pickle.HIGHEST_PROTOCOL)
        now = clock() if fetched_at is None else fetched_at
        head = {"version": _version_of(payload), "fetched_at": now, "fresh_until": fresh_until}
        shared_cache.set(key + ":good", {**head, "payload": payload}, timeout=LAST_GOOD_SECONDS)
        self._remember(key)
        shared_cache.set(key, head, timeout=LAST_GOOD_SECONDS)
        _remember_decoded(key, head, data)
        return _snapshot(head, data)

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
        self.client.forget_token()
        for name in names:
            _memo.pop(name)
        _clients.pop(self.connection.fingerprint)

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
        if (page_deadline := outbound.deadline_at()) is not None:
            deadline = min(deadline, page_deadline)
        while time.monotonic() < deadline:
            time.sleep(WAIT_STEP_SECONDS)
            head = shared_cache.get(key)
            if head is not None and (held := self._held(key, head)) is not None:
                return held
            if shared_cache.get(lock) is None:
                break
        failure = shared_cache.get(key + ":failure") or timeout_failure(self.client.timeout[1])
        return self._stale(key, failure)

    def _stale(self, key: str, failure: dict[str, Any]) -> Snapshot[Any]:
        problem = problem_from(failure)
        good = shared_cache.get(key + ":good")
        snapshot = self._held(key, good) if good is not None else None
        if snapshot is None:
            decoded = _decoded(key)
            if decoded is None:
                return Snapshot(None, "", None, problem)
            head, data = decoded
            return Snapshot(data, head["version"], _when(head), problem)
        return Snapshot(snapshot.data, snapshot.version, snapshot.fetched_at, problem)

    def _held(self, key: str, head: dict[str, Any]) -> Snapshot[Any] | None:
        """The data of `head`, decoded only if this process lacks it; None when the cache no
        longer has it, or has it from another layout (shared_cache.CACHE_VERSION): a miss."""
        decoded = _decoded(key)
        if decoded and decoded[0]["version"] == head["version"]:
            return _snapshot(head, decoded[1])
        good = head if "payload" in head else shared_cache.get(key + ":good")
        if good is None:
            return None
        head = {k: v for k, v in good.items() if k != "payload"}
        try:
            data = _decode(good["payload"])
        except Undecodable as exc:
            logger.info("A cached result could not be read back (%s); reading it afresh", exc)
            shared_cache.delete_many([key, key + ":good"])
            return None
        _remember_decoded(key, head, data)
        return _snapshot(head, data)


def _snapshot(head: dict[str, Any], data: Any) -> Snapshot[Any]:
    return Snapshot(data, head["version"], _when(head))


def _when(head: dict[str, Any]) -> datetime:
    return datetime.fromtimestamp(head["fetched_at"], tz=UTC)


def _decode(payload: bytes) -> Any:
    return unpickled(payload)


def client_for(connection: Connection) -> SpaceliftClient:
    """One client per connection and process, so its HTTP sessions are reused."""
    return _clients.get_or_make(
        connection.fingerprint,
        lambda: SpaceliftClient(
            connection,
            connect_timeout=settings.SPACELIFT_CONNECT_TIMEOUT_SECONDS,
            read_timeout=settings.SPACELIFT_TIMEOUT_SECONDS,
        ),
    )

"""Process-wide state in one place: each holder registers how to forget it; one call forgets all.

Memos, clients, permits, rendered regions: whatever a process keeps between requests registers
a reset here (`@forgets("name")`), or is a `ProcessCache`, which registers its own.
`reset_all()` runs them; the app calls it when a setting changes (Django's `setting_changed`,
which tests send), so no test resets state by name.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

from cachetools import LRUCache, TTLCache

_resets: dict[str, Callable[[], None]] = {}
_lock = threading.Lock()

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


def forgets(name: str) -> Callable[[Callable[[], None]], Callable[[], None]]:
    """Register `reset` as the way to forget the state called `name` (one reset per name)."""

    def register(reset: Callable[[], None]) -> Callable[[], None]:
        with _lock:
            _resets[name] = reset
        return reset

    return register


def reset_all() -> None:
    """Forget everything this process holds between requests, as a newly started one has it."""
    with _lock:
        resets = list(_resets.values())
    for reset in resets:
        reset()


class ProcessCache(Generic[K, V]):
    """A cachetools LRU (or, with `ttl`, TTL) cache behind its own lock, forgotten by `reset_all`.

    cachetools' caches are not thread-safe; every read and write here holds the lock.
    """

    def __init__(
        self,
        name: str,
        maxsize: int,
        *,
        ttl: float | None = None,
        timer: Callable[[], float] = time.monotonic,
    ) -> None:
        self._cache: LRUCache[K, V] = (
            TTLCache(maxsize, ttl, timer=timer) if ttl is not None else LRUCache(maxsize)
        )
        self._lock = threading.Lock()
        forgets(name)(self.clear)

    def get(self, key: K) -> V | None:
        with self._lock:
            return self._cache.get(key)

    def set(self, key: K, value: V) -> V:
        with self._lock:
            self._cache[key] = value
        return value

    def pop(self, key: K) -> V | None:
        with self._lock:
            return self._cache.pop(key, None)

    def get_or_make(self, key: K, make: Callable[[], V]) -> V:
        """The value kept for `key`, made by `make` under the lock (once) when there is none."""
        with self._lock:
            value = self._cache.get(key)
            if value is None:
                value = self._cache[key] = make()
            return value

    def clear(self) -> None:
        with self._lock:
            self._cache.clear()

"""Django's cache, or this process's own memory while that cache cannot be reached.

Redis is a cache, not a dependency: when a call to it fails, the portal logs it once, goes on
with a per-process LocMemCache, and tries the shared cache again every RETRY_SECONDS. Pages
keep answering (from the last data this process holds, or from Spacelift), and `/healthz`
reports the cache as degraded without failing.

Every key sits under `portal:v<CACHE_VERSION>:`. What the portal keeps here is pickled (the
types of types/, a run's tail and why line, the token), and unpickling needs each class where
it was when it was written: bump CACHE_VERSION when such a class moves or changes shape, and a
deploy starts on fresh keys while the old ones expire on their own. An entry that still cannot
be read back is a miss, read again from Spacelift, never an error.
"""

from __future__ import annotations

import logging
import pickle
import threading
from typing import Any

from django.core.cache import cache as django_cache
from django.core.cache.backends.locmem import LocMemCache

from . import process_state
from .clock import clock

logger = logging.getLogger(__name__)

# How long the portal stays on its own memory before trying the shared cache again.
RETRY_SECONDS = 5
# The fallback is per process and only bridges an outage: bounded like any cache here.
LOCAL_ENTRIES = 2000
# The layout of what is pickled here. 2: logtypes.py became types/logs.py (and keys got this
# version). 3: Stack gained drift_checked (issue 22). tests/test_service_cache.py lists the
# classes found in the cache, to say when.
CACHE_VERSION = 3
# What unpickling raises for an entry another layout wrote (a class moved, renamed or reshaped)
# or one cut short. Reaching the cache raises other errors (the client's connection errors).
UNDECODABLE = (
    pickle.UnpicklingError,
    EOFError,
    ImportError,
    AttributeError,
    TypeError,
    ValueError,
    IndexError,
)


class Undecodable(Exception):
    """The cache answered with an entry this code cannot unpickle."""


def key_prefix() -> str:
    return f"portal:v{CACHE_VERSION}:"


def unpickled(payload: bytes) -> Any:
    """`payload` unpickled, or Undecodable when it was written by another layout."""
    try:
        return pickle.loads(payload)  # noqa: S301 - only the portal writes this cache
    except UNDECODABLE as exc:
        raise Undecodable(type(exc).__name__) from exc


class FallbackCache:
    """The subset of Django's cache API the portal uses, surviving the backend going away."""

    def __init__(self) -> None:
        self.local = LocMemCache(
            "spacelift-portal-fallback", {"OPTIONS": {"MAX_ENTRIES": LOCAL_ENTRIES}}
        )
        self._down_since: float | None = None
        self._retry_at = 0.0
        self._lock = threading.Lock()

    @property
    def degraded(self) -> bool:
        """True while the shared cache cannot be reached and this process uses its memory."""
        return self._down_since is not None

    def reset(self) -> None:
        """Back to the shared cache, forgetting the outage (for tests)."""
        with self._lock:
            self._down_since = None
            self.local.clear()

    def check(self) -> bool:
        """Touch the shared cache (unless resting after a failure); True when it answers."""
        self._call("get", key_prefix() + "healthz")
        return not self.degraded

    def get(self, key: str, default: Any = None) -> Any:
        try:
            return self._call("get", key_prefix() + key, default)
        except Undecodable as exc:
            logger.info("A cache entry could not be read back (%s); reading it afresh", exc)
            self.delete(key)
            return default

    def set(self, key: str, value: Any, timeout: float | None = None) -> None:
        self._call("set", key_prefix() + key, value, timeout=timeout)

    def add(self, key: str, value: Any, timeout: float | None = None) -> bool:
        return self._call("add", key_prefix() + key, value, timeout=timeout)

    def incr(self, key: str, delta: int = 1) -> int:
        """Add `delta` to a counter kept without expiry (created at 0), atomically in Redis."""
        key = key_prefix() + key
        self._call("add", key, 0, timeout=None)
        return self._call("incr", key, delta)

    def delete(self, key: str) -> None:
        self._call("delete", key_prefix() + key)

    def delete_many(self, keys: list[str]) -> None:
        self._call("delete_many", [key_prefix() + key for key in keys])

    def _call(self, method: str, *args: Any, **kwargs: Any) -> Any:
        if self._down_since is not None and clock() < self._retry_at:
            return getattr(self.local, method)(*args, **kwargs)
        try:
            result = getattr(django_cache, method)(*args, **kwargs)
        except Exception as exc:
            if method == "get" and isinstance(exc, UNDECODABLE):
                self._came_back()  # it answered, with something this code cannot read
                raise Undecodable(type(exc).__name__) from exc
            self._went_down(exc)
            return getattr(self.local, method)(*args, **kwargs)
        if self._down_since is not None:
            self._came_back()
        return result

    def _went_down(self, exc: Exception) -> None:
        with self._lock:
            now = clock()
            self._retry_at = now + RETRY_SECONDS
            if self._down_since is None:
                self._down_since = now
                logger.warning(
                    "The cache cannot be reached (%s); serving from this process's memory "
                    "and trying again every %d s",
                    type(exc).__name__,
                    RETRY_SECONDS,
                )

    def _came_back(self) -> None:
        with self._lock:
            if self._down_since is None:
                return
            logger.warning("The cache answers again after %.0f s", clock() - self._down_since)
            self._down_since = None
            self.local.clear()  # what was kept during the outage is older than the shared cache


shared_cache = FallbackCache()
process_state.forgets("shared cache fallback")(shared_cache.reset)

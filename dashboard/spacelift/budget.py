"""How many requests of this process may wait on Spacelift at once, and a page's deadline.

At most PORTAL_SPACELIFT_CONCURRENCY requests hold a permit; a request without one answers
from the cache at once, so a hung Spacelift never holds every server thread (nor `/healthz`
queued behind them). A permit holder's page runs its reads in `pool()`, each lent the permit
and the page's deadline.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager

from django.conf import settings

# A page reads at most this many things at once (stack, runs, environment).
READS_PER_PAGE = 4

_local = threading.local()
_permits: tuple[int, threading.BoundedSemaphore] | None = None
_pool: ThreadPoolExecutor | None = None
_setup_lock = threading.Lock()


def _upstream_permits() -> threading.BoundedSemaphore:
    global _permits, _pool
    slots = settings.PORTAL_SPACELIFT_CONCURRENCY
    with _setup_lock:
        if _permits is None or _permits[0] != slots:
            _permits = (slots, threading.BoundedSemaphore(slots))
            _pool = ThreadPoolExecutor(slots * READS_PER_PAGE, thread_name_prefix="spacelift")
        return _permits[1]


def pool() -> ThreadPoolExecutor:
    _upstream_permits()
    assert _pool is not None
    return _pool


def reset() -> None:
    global _permits
    with _setup_lock:
        _permits = None


@contextmanager
def permit() -> Iterator[bool]:
    """A permit to wait on Spacelift, taken without waiting; False when all are in use."""
    if getattr(_local, "permitted", False):
        yield True
        return
    permits = _upstream_permits()
    acquired = permits.acquire(blocking=False)
    _local.permitted = acquired
    try:
        yield acquired
    finally:
        _local.permitted = False
        if acquired:
            permits.release()


@contextmanager
def lent(deadline: float) -> Iterator[None]:
    """On a pool thread: the page's permit and its deadline, for one read."""
    _local.permitted = True
    _local.deadline = deadline
    try:
        yield
    finally:
        _local.permitted = False
        _local.deadline = None


@contextmanager
def page(deadline: float) -> Iterator[None]:
    """On a request thread: every read of this page, here or in the pool, ends by `deadline`."""
    previous = getattr(_local, "deadline", None)
    _local.deadline = deadline if previous is None else min(previous, deadline)
    try:
        yield
    finally:
        _local.deadline = previous


def page_deadline() -> float | None:
    """The `time.monotonic()` deadline of the page this thread reads for, if any."""
    return getattr(_local, "deadline", None)

"""How many requests of this process may wait on Spacelift at once, and the pool a page's
reads run in.

At most PORTAL_SPACELIFT_CONCURRENCY requests hold a permit; a request without one answers
from the cache at once, so a hung Spacelift never holds every server thread (nor `/healthz`
queued behind them). A permit holder's page runs its reads in the pool (`submit`), each in a
copy of the page's context: the permit it holds and its deadline (outbound.deadline) go with
them. The pool is shut down when the process exits or its state is reset (process_state).
"""

from __future__ import annotations

import atexit
import contextvars
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from typing import TypeVar

from django.conf import settings

from . import process_state

T = TypeVar("T")

# A page reads at most this many things at once (stack, runs, environment).
READS_PER_PAGE = 4

# True while this request (or a read it handed to the pool) holds a permit.
_permitted: contextvars.ContextVar[bool] = contextvars.ContextVar(
    "spacelift_permit_held", default=False
)
_permits: tuple[int, threading.BoundedSemaphore] | None = None
_pool: ThreadPoolExecutor | None = None
_setup_lock = threading.Lock()


def _setup() -> tuple[threading.BoundedSemaphore, ThreadPoolExecutor]:
    """The permits and the pool for the current PORTAL_SPACELIFT_CONCURRENCY."""
    global _permits, _pool
    slots = settings.PORTAL_SPACELIFT_CONCURRENCY
    with _setup_lock:
        if _permits is None or _pool is None or _permits[0] != slots:
            _permits = (slots, threading.BoundedSemaphore(slots))
            _shut_down(_pool)
            _pool = ThreadPoolExecutor(slots * READS_PER_PAGE, thread_name_prefix="spacelift")
        return _permits[1], _pool


def submit(read: Callable[[], T]) -> Future[T]:
    """Run `read` in the pool, in a copy of this context: this permit, this deadline."""
    _, pool = _setup()
    return pool.submit(contextvars.copy_context().run, read)


@process_state.forgets("spacelift permits and read pool")
def reset() -> None:
    """New permits for the current setting; the pool shut down (reads under way end alone)."""
    global _permits, _pool
    with _setup_lock:
        _permits = None
        _shut_down(_pool)
        _pool = None


@atexit.register
def _shut_down_at_exit() -> None:
    with _setup_lock:
        _shut_down(_pool)


def _shut_down(pool: ThreadPoolExecutor | None) -> None:
    if pool is not None:
        # Queued reads are dropped; running ones end by their deadline, unwaited for.
        pool.shutdown(wait=False, cancel_futures=True)


@contextmanager
def permit() -> Iterator[bool]:
    """A permit to wait on Spacelift, taken without waiting; False when all are in use."""
    if _permitted.get():
        yield True
        return
    permits, _ = _setup()
    acquired = permits.acquire(blocking=False)
    token = _permitted.set(acquired)
    try:
        yield acquired
    finally:
        _permitted.reset(token)
        if acquired:
            permits.release()

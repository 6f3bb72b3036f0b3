"""A background loop of this process: one daemon thread however often it is started, and steps
that outlive their failures. Used by the list read ahead (live/ahead.py) and the notification
watcher (notifications/watcher.py)."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from django.db import close_old_connections

# How long `stop` waits for the thread: a step in flight ends by its own timeouts.
JOIN_SECONDS = 5


class BackgroundThread:
    """Runs `loop(stop)` in a daemon thread named `name`: `start` is idempotent, `stop` sets the
    event the loop watches (and `wake`, so a loop waiting on it sees the stop at once) and
    waits for the thread."""

    def __init__(self, name: str, loop: Callable[[threading.Event], None]) -> None:
        self.name = name
        self.wake = threading.Event()
        self._loop = loop
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> None:
        with self._lock:
            if self.running:
                return
            self._stop = threading.Event()
            self._thread = threading.Thread(
                target=self._loop, args=(self._stop,), name=self.name, daemon=True
            )
            self._thread.start()

    def stop(self) -> bool:
        """Stop the thread and wait for it; False when there was none."""
        with self._lock:
            self._stop.set()
            self.wake.set()
            thread, self._thread = self._thread, None
        if thread is None:
            return False
        thread.join(timeout=JOIN_SECONDS)
        return True


def run_step(
    step: Callable[[], object], *, failing: bool, logger: logging.Logger, message: str
) -> bool:
    """One step of a loop, which must outlive any one failure; returns whether it failed.

    `failing` says the step before failed: a streak of failures is one log line, not one a
    step. The step's database connections are closed as a request's would be.
    """
    try:
        step()
        return False
    except Exception:
        if not failing:
            logger.exception(message)
        return True
    finally:
        close_old_connections()

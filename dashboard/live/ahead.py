"""The stack list read again the moment it expires while pages are open, and announced.

Without webhooks, a change waited for the cached list to expire and then for the page's next
poll: up to two intervals. Here one thread per process, running while this process has open
event streams, reads the list as soon as it expires (still once per interval for everyone: the
cache's lock lets one process read) and announces each new version (see `announce`),
so open pages fetch it at once: a change is on screen within one interval plus one read.
"""

from __future__ import annotations

import logging
import threading

from django.conf import settings

from dashboard.live.broker import Event, broker
from dashboard.live.loops import BackgroundThread, run_step
from dashboard.spacelift import process_state
from dashboard.spacelift.service import Snapshot
from dashboard.spacelift.shared_cache import shared_cache

logger = logging.getLogger(__name__)

# How often the thread looks at the list's expiry (wall time; the expiry itself is `clock`).
STEP_SECONDS = 0.2
# The version last announced is remembered across processes this long.
ANNOUNCED_SECONDS = 3600


def announce(fingerprint: str, snapshot: Snapshot, *, first_is_news: bool = True) -> bool:
    """Tell open pages the list has a new version: once per change, whoever saw it first.

    "New" is "not the version last announced" (not "never announced"): a stack that goes
    FAILED, FINISHED, FAILED again brings back an earlier version, and that is a change too.
    Two processes seeing one change at the same moment may both announce it; a page then
    fetches twice, the second answered 204.
    """
    if not snapshot.version or snapshot.data is None or snapshot.problem is not None:
        return False
    key = f"live:announced:{fingerprint}"
    last = shared_cache.get(key)
    if last == snapshot.version:
        return False
    shared_cache.set(key, snapshot.version, timeout=ANNOUNCED_SECONDS)
    if last is None and not first_is_news:
        return False  # the watcher's first look: what open pages already show
    from dashboard.stacks import history  # late: the app's models

    history.record_changes(fingerprint, snapshot)
    broker.publish(Event("stacks"))
    from dashboard.notifications.watcher import poke  # late: the app's models

    poke()  # notifications look at the new version now, not at the next interval
    return True


def note_shown_version() -> None:
    """Record the list version open pages show, when nothing was announced yet: called as a
    stream opens, so a change between the page's render and the watcher's first look is news,
    not taken for what the page already shows."""
    from dashboard.connection.source import current_service  # late: the app's models

    service = current_service()
    snapshot = service.held("stacks") if service is not None else None
    if snapshot is not None and snapshot.version and snapshot.problem is None:
        key = f"live:announced:{service.connection.fingerprint}"
        shared_cache.add(key, snapshot.version, timeout=ANNOUNCED_SECONDS)


class ListWatcher:
    def __init__(self) -> None:
        self._thread = BackgroundThread("list-ahead", self._loop)
        self.reads = 0
        self.looks = 0

    def watch(self) -> None:
        """Run while this process has open streams (started by each new stream)."""
        self._thread.start()

    def stop(self) -> None:
        self._thread.stop()

    def _loop(self, stop: threading.Event) -> None:
        idle_steps = 0
        failing = False
        while not stop.wait(STEP_SECONDS):
            if broker.open_streams == 0:
                idle_steps += 1
                # Streams reconnect within seconds; past two intervals without one, end.
                if idle_steps * STEP_SECONDS > 2 * settings.PORTAL_POLL_SECONDS:
                    return
                continue
            idle_steps = 0
            failing = run_step(
                self._look,
                failing=failing,
                logger=logger,
                message="Reading the stack list ahead of its expiry failed",
            )

    def _look(self) -> None:
        from dashboard.connection.source import current_service  # late: the app's models

        self.looks += 1
        service = current_service()
        if service is None:
            return
        if service.head_version("stacks") is None:  # expired (or never read): read it now
            self.reads += 1
            service.stacks()
        snapshot = service.held("stacks")
        if snapshot is not None:
            announce(service.connection.fingerprint, snapshot, first_is_news=False)


watcher = ListWatcher()
watch = watcher.watch


@process_state.forgets("list read ahead")
def reset_process_state() -> None:
    watcher.stop()

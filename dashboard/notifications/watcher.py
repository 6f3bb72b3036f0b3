"""The watcher: every interval, in each portal process, look for news and send it (one sends).

`tick()` is one look: take the lease (lease.py), read the stack list through the same cached
read the pages use (one upstream query per interval for everyone, none when it is fresh),
compare each stack's problems with what was last told (changes.py), and write one digest per
route to the outbox together with the new "last told", in one transaction; then send what is due
(outbox.py). A background thread per process calls it every PORTAL_POLL_SECONDS, whether or not
a page is open, and at once when a webhook or the live watcher saw a new version (`poke`).
Tests call `tick()` and move the service clock instead of waiting.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
from dataclasses import dataclass

from django.conf import settings
from django.db import DatabaseError, close_old_connections, transaction

from dashboard.live.loops import BackgroundThread, run_step
from dashboard.models import NotifiedProblem, OutboxMessage, WatchedConnection
from dashboard.notifications import changes, lease, outbox
from dashboard.notifications.routes import Route, all_routes, forget
from dashboard.spacelift import outbound, process_state
from dashboard.spacelift.service import SpaceliftService
from dashboard.spacelift.shared_cache import shared_cache

logger = logging.getLogger(__name__)

# Failed stacks whose why line one look reads at most (a run's log each, kept for long after),
# and the time all of them may take: a slow Spacelift costs a message its why lines, never
# the lease (LEASE_INTERVALS intervals) or the message itself.
WHY_READS_PER_LOOK = 20
WHY_SECONDS_PER_LOOK = 10.0
# Old delivered messages are pruned at most this often.
PRUNE_EVERY_SECONDS = 3600


@dataclass(frozen=True)
class Look:
    """What one tick did, for tests and logs."""

    held: bool = False
    queued: int = 0
    delivered: int = 0


class Watcher:
    def __init__(self) -> None:
        # Names this process in the lease: host, process and a random part (PIDs repeat).
        self.holder = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.ticks = 0
        self._thread = BackgroundThread("notifications", self._loop)

    # One look ------------------------------------------------------------------------------

    def tick(self) -> Look:
        try:
            return self._tick()
        finally:
            self.ticks += 1

    def _tick(self) -> Look:
        routes = all_routes()
        if not routes and not OutboxMessage.objects.filter(status="pending").exists():
            return Look()
        if not lease.take(self.holder):
            return Look()
        queued = 0
        service = _current_service()
        if service is not None and routes:
            queued = self.look(service, routes)
        delivered = outbox.deliver_due(lambda: lease.take(self.holder))
        if shared_cache.add("notifications:prune", 1, timeout=PRUNE_EVERY_SECONDS):
            outbox.prune()
        return Look(held=True, queued=queued, delivered=delivered)

    def look(self, service: SpaceliftService, routes: list[Route]) -> int:
        """Write what changed to the outbox; returns how many messages were queued."""
        snapshot = service.stacks()
        if snapshot.data is None or snapshot.problem is not None:
            return 0  # nothing current to compare: never take a failed read for a recovery
        stacks = snapshot.data
        fingerprint = service.connection.fingerprint
        moment = lease.now()
        current = changes.problems_of(stacks, moment)
        first = not WatchedConnection.objects.filter(connection=fingerprint).exists()
        told = NotifiedProblem.objects.filter(connection=fingerprint)
        previous = {row.stack_id: row.kinds for row in told}
        if first:
            found = changes.everything_wrong(current, stacks)
        else:
            found = changes.news(previous, current, stacks)
        coverage = self._coverage(service, routes) if found else {}
        # Only what some route takes is worth a why line (a read of its run's log).
        found = [c for c in found if any(takes(r, c, coverage) for r in routes)]
        if not first:  # the summary names what is wrong; why lines come with each change
            found = self._with_why(service, found)
        messages = self._messages(service, routes, found, coverage, summary=first, moment=moment)
        with transaction.atomic():
            if not lease.take(self.holder):
                return 0  # another process took over meanwhile: it will look itself
            OutboxMessage.objects.bulk_create(messages)
            _remember(fingerprint, previous, current, moment)
            if first:
                WatchedConnection.objects.create(connection=fingerprint, since=moment)
        if messages:
            logger.info("Notifications: %d message(s) queued", len(messages))
        return len(messages)

    def _with_why(
        self, service: SpaceliftService, found: list[changes.Change]
    ) -> list[changes.Change]:
        """Each newly failed stack's why line (issue 12), for at most a few stacks; the others
        keep the attention queue's reason ("Tracked run failed")."""
        result, reads = [], 0
        with outbound.within(WHY_SECONDS_PER_LOOK) as deadline:
            for change in found:
                if change.kind == "failed" and reads < WHY_READS_PER_LOOK:
                    reads += 1
                    why = self._why(service, change.stack, deadline)
                    if why is not None and why.line:
                        change = changes.Change(change.stack, change.kind, why.line)
                result.append(change)
        return result

    def _why(self, service: SpaceliftService, stack, deadline: float):
        from dashboard.runs.why import why_stack_failed

        if time.monotonic() >= deadline:
            return None
        try:
            with service.one_deadline():
                return why_stack_failed(service, stack)
        except Exception:  # a why line is a courtesy: never worth losing the message
            logger.warning("Why %s failed could not be read", stack.id)
            return None

    def _coverage(self, service: SpaceliftService, routes: list[Route]) -> Coverage:
        """Each route's spaces with those below them (None: every space)."""
        tree = []
        if any(route.spaces for route in routes):
            tree = service.spaces().data or []  # unreadable: the named spaces only, never more
        return {route.key: route.covered_spaces(tree) for route in routes}

    def _messages(
        self, service, routes, found, coverage, *, summary, moment
    ) -> list[OutboxMessage]:
        messages = []
        for route in routes:
            mine = [c for c in found if takes(route, c, coverage)]
            if not mine:
                continue
            title, body = changes.digest(mine, service.connection, summary=summary)
            messages.append(
                OutboxMessage(
                    route_key=route.key,
                    route_name=route.name,
                    kind="summary" if summary else "digest",
                    title=title,
                    body=body,
                    stacks=len({c.stack.id for c in mine}),
                    created_at=moment,
                    next_attempt_at=moment,
                )
            )
        return messages

    # The background thread -----------------------------------------------------------------

    def start(self) -> None:
        """Run `tick` every interval in a thread of this process (idempotent)."""
        self._thread.start()

    def poke(self) -> None:
        """Look now (a webhook or the live watcher saw a new version of the list)."""
        self._thread.wake.set()

    def stop(self) -> None:
        if self._thread.stop():
            try:
                lease.release(self.holder)
            except DatabaseError:
                pass
            finally:
                close_old_connections()

    @property
    def running(self) -> bool:
        return self._thread.running

    def _loop(self, stop: threading.Event) -> None:
        wake = self._thread.wake
        failing = False
        while not stop.is_set():
            wake.wait(settings.PORTAL_POLL_SECONDS)
            wake.clear()
            if stop.is_set():
                return
            failing = run_step(
                self.tick,
                failing=failing,
                logger=logger,
                message="Looking for notifications failed; trying again",
            )


Coverage = dict[str, frozenset[str] | None]


def takes(route: Route, change: changes.Change, coverage: Coverage) -> bool:
    """Whether `route` is told of `change`: its kind, and a stack its spaces and labels cover."""
    return change.for_route(route) and route.covers(change.stack, coverage[route.key])


def _remember(fingerprint: str, previous: dict[str, list[str]], current, moment) -> None:
    """Make the "last told" rows what was just looked at."""
    gone = [stack_id for stack_id in previous if stack_id not in current]
    for start in range(0, len(gone), 500):
        NotifiedProblem.objects.filter(
            connection=fingerprint, stack_id__in=gone[start : start + 500]
        ).delete()
    changed = [
        NotifiedProblem(
            connection=fingerprint, stack_id=stack_id, kinds=sorted(kinds), since=moment
        )
        for stack_id, kinds in current.items()
        if sorted(previous.get(stack_id, ())) != sorted(kinds)
    ]
    NotifiedProblem.objects.bulk_create(
        changed,
        update_conflicts=True,
        unique_fields=["connection", "stack_id"],
        update_fields=["kinds", "since"],
    )


def _current_service() -> SpaceliftService | None:
    from dashboard.connection.source import current_service

    return current_service()


watcher = Watcher()
poke = watcher.poke


def start_in_background() -> None:
    """Called where the portal serves (spacelift_portal/asgi.py, wsgi.py): not in commands."""
    if settings.PORTAL_NOTIFY_WATCH:
        watcher.start()


@process_state.forgets("notifications")
def reset_process_state() -> None:
    watcher.stop()
    forget()

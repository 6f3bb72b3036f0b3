"""What a delivery sets off, after the response: re-read what it names, merge, tell open pages.

The body is a hint, never the truth: the portal re-reads the stack from Spacelift over GraphQL,
stores that answer as the stack and merges it into the cached stack list, records the change in
history from that answer, and tells open pages that the region changed. Nothing the body claims
(its state above all) is ever shown.

Bounded, whatever arrives: one worker thread per process takes the waiting stacks in rounds.
Deliveries for the same stack within a round collapse into one re-read; a round with more than
STACK_READS_PER_ROUND stacks reads the whole list once instead; while deliveries keep coming a
round starts at most once per ROUND_SECONDS. A storm across 200 stacks thus costs a few list
reads, and a lone delivery is on screen in about GATHER_SECONDS plus one read.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
from dataclasses import dataclass
from typing import Any

from django.db import close_old_connections

from dashboard.live import ahead, broker
from dashboard.spacelift import errors, process_state
from dashboard.spacelift.service import SpaceliftService
from dashboard.spacelift.shared_cache import shared_cache
from dashboard.webhooks.stats import Outcome, count

logger = logging.getLogger(__name__)

# After a quiet spell, how long to wait for the other deliveries of the same event.
GATHER_SECONDS = 0.1
# While deliveries keep coming, rounds start at most this often: "within a moment".
ROUND_SECONDS = 1.0
# More stacks than this waiting in one round: read the list once instead of each stack.
STACK_READS_PER_ROUND = 2
# Stacks waiting at most; past it the next round reads the list (and nothing is held longer).
MAX_WAITING = 5000
# Rounds a hint waits for another read of the list to end before it is left to the poll.
MAX_ATTEMPTS = 5
# How long a (run, stateVersion) is remembered, to drop replays and older deliveries.
SEEN_SECONDS = 24 * 3600


@dataclass(frozen=True)
class Hint:
    """What a delivery names: a stack, and the run state it claims (used only to dedupe)."""

    stack_id: str
    run_id: str = ""
    state_version: int | None = None
    account: str = ""
    attempts: int = 0

    @classmethod
    def from_payload(cls, payload: dict[str, Any]) -> Hint | None:
        """The hint in Spacelift's run payload; None when it names no stack.

        Fields past `stack.id` are optional: a notification policy may reshape the payload.
        """
        stack = payload.get("stack")
        stack_id = stack.get("id") if isinstance(stack, dict) else None
        if not isinstance(stack_id, str) or not stack_id:
            return None
        run = payload.get("run") if isinstance(payload.get("run"), dict) else {}
        run_id = run.get("id") if isinstance(run.get("id"), str) else ""
        version = payload.get("stateVersion")
        account = payload.get("account")
        return cls(
            stack_id=stack_id,
            run_id=run_id,
            state_version=version if isinstance(version, int) else None,
            account=account if isinstance(account, str) else "",
        )


def first_sighting(hint: Hint) -> bool:
    """False for a (run, stateVersion) seen before, or older than one seen: nothing to do."""
    if not hint.run_id or hint.state_version is None:
        return True
    base = f"webhooks:seen:{hint.account}:{hint.run_id}"
    if not shared_cache.add(f"{base}:{hint.state_version}", 1, timeout=SEEN_SECONDS):
        return False
    newest = shared_cache.get(base)
    if newest is not None and newest > hint.state_version:
        return False
    shared_cache.set(base, hint.state_version, timeout=SEEN_SECONDS)
    return True


class Rereader:
    """One worker thread per process that turns waiting hints into re-reads, in rounds."""

    def __init__(self, service_for: Any) -> None:
        self._service_for = service_for  # () -> SpaceliftService | None, read per round
        self._waiting: dict[tuple[str, str], Hint] = {}
        self._overflow = False
        self._busy = False
        self._last_round = float("-inf")
        self._cond = threading.Condition()
        self._thread: threading.Thread | None = None
        self._stopping = False
        self.rounds = 0

    def submit(self, hint: Hint) -> None:
        if not first_sighting(hint):
            count(Outcome.DUPLICATE)
            return
        with self._cond:
            key = (hint.account, hint.stack_id)
            if key not in self._waiting and len(self._waiting) >= MAX_WAITING:
                self._overflow = True
                count(Outcome.DROPPED)
            else:
                self._waiting[key] = hint
            if self._thread is None or not self._thread.is_alive():
                self._stopping = False
                self._thread = threading.Thread(
                    target=self._loop, name="webhook-rereads", daemon=True
                )
                self._thread.start()
            self._cond.notify_all()

    def wait_idle(self, timeout: float) -> bool:
        """Block until nothing waits and no round runs (for tests and the benchmark)."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while self._waiting or self._overflow or self._busy:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._cond.wait(left)
        return True

    def stop(self) -> None:
        with self._cond:
            self._stopping = True
            self._waiting.clear()
            self._overflow = False
            self._cond.notify_all()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def _loop(self) -> None:
        while True:
            with self._cond:
                while not (self._waiting or self._overflow or self._stopping):
                    self._cond.wait()
                start_at = max(time.monotonic() + GATHER_SECONDS, self._last_round + ROUND_SECONDS)
                while not self._stopping and (left := start_at - time.monotonic()) > 0:
                    self._cond.wait(left)
                if self._stopping:
                    return
                batch, overflow = list(self._waiting.values()), self._overflow
                self._waiting, self._overflow, self._busy = {}, False, True
                self._last_round = time.monotonic()
            retry: list[Hint] = []
            try:
                retry = self._round(batch, overflow)
            except Exception:  # a round must never end the worker
                logger.exception("Re-reading what a webhook named failed")
            finally:
                close_old_connections()
                with self._cond:
                    if retry and len(retry) == len(batch):  # nothing read: no need to pace
                        self._last_round = float("-inf")
                    for hint in retry:
                        if hint.attempts + 1 < MAX_ATTEMPTS:
                            again = dataclasses.replace(hint, attempts=hint.attempts + 1)
                            self._waiting.setdefault((hint.account, hint.stack_id), again)
                    self._busy = False
                    self.rounds += 1
                    self._cond.notify_all()

    def _round(self, batch: list[Hint], overflow: bool) -> list[Hint]:
        """Re-read the hinted stacks (or the list); returns the hints to try again later."""
        service = self._service_for()
        if service is None:
            return []
        expected = service.registry_org()
        mine = []
        for hint in batch:
            if hint.account and expected and hint.account != expected:
                count(Outcome.OTHER_ACCOUNT)
            else:
                mine.append(hint)
        if not (mine or overflow):
            return []
        if overflow or len(mine) > STACK_READS_PER_ROUND:
            return [] if reread_list(service, [h.stack_id for h in mine]) else mine
        merged = [hint for hint in mine if reread_stack(service, hint.stack_id)]
        # One announcement for the round: pages fetch the list once, with every merge in it.
        _changed(service, service.held("stacks"), [hint.stack_id for hint in mine])
        return [hint for hint in mine if hint not in merged]


def reread_list(service: SpaceliftService, stack_ids: list[str]) -> bool:
    """Read the whole stack list once; False when another read of it is under way."""
    snapshot = service.refetch("stacks", service.client.list_stacks)
    if snapshot is None:
        return False
    for stack_id in stack_ids:
        service.invalidate(f"stack:{stack_id}")
    _changed(service, snapshot, stack_ids)
    return True


def reread_stack(service: SpaceliftService, stack_id: str) -> bool:
    """Read one stack, store it, and merge it into the cached list (if one is cached).

    False when the list itself was being read meanwhile: that read may have begun before the
    change and would overwrite the merge, so the stack is read again next round. A failed read
    is left to the list's own refresh: retrying would hammer a failing API.
    """
    list_lock = service.prefix + "stacks:lock"
    if shared_cache.get(list_lock) is not None:
        return False
    try:
        stack = service.client.get_stack(stack_id)
    except errors.SpaceliftError as exc:
        logger.warning("A webhook named stack %s; reading it failed (%s)", stack_id, exc.message)
        return True
    service.replace(f"stack:{stack_id}", stack)
    service.invalidate(f"runs:{stack_id}:")
    listed = service.held("stacks")
    if listed is None or listed.data is None:
        return True
    others = [s for s in listed.data if s.id != stack_id]
    if stack is None:
        merged = others
    else:
        merged = [stack if s.id == stack_id else s for s in listed.data]
        if len(merged) == len(others):  # a stack the list did not have yet
            merged.append(stack)
    if merged != listed.data:
        service.replace("stacks", merged)
    return shared_cache.get(list_lock) is None


def _changed(service: SpaceliftService, snapshot: Any, stack_ids: list[str]) -> None:
    """Record the new list's changes (Spacelift's answer) and tell open pages."""
    if snapshot is not None:
        ahead.announce(service.connection.fingerprint, snapshot)
    for stack_id in stack_ids:
        broker.publish(broker.Event(f"stack-{stack_id}", stack_id=stack_id))


def _current_service() -> SpaceliftService | None:
    from dashboard.connection.source import current_service

    return current_service()


rereader = Rereader(_current_service)


@process_state.forgets("webhook re-reads")
def reset_process_state() -> None:
    rereader.stop()

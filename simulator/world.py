"""A simulated Spacelift account: what it holds, what reads and mutations do, and its clock.

Behaviour follows docs/spacelift-api.md:

- a stack's state is the state of its latest tracked run whose state is also a stack state
  (QUEUED is not one: a queued run does not change the stack); NONE means it never ran;
- proposed runs, tasks and drift detection never change a stack's state;
- runs are listed newest first, ten a page, paged with `before` (the last ID received);
- run IDs are ULIDs, so they sort by creation time.

The parts live beside this module: model.py (the records), ids.py (IDs and slugs),
generation.py (building a seeded world), ticking.py (runs moving with the clock) and
search.py (searchStacks and searchModules). `PristineWorld` hands out the same world again,
moved to the present: that is how the simulator resets between tests.

Time and mutations take the world's lock (re-entrant); the server holds it while it
executes a query, so one answer always sees one consistent world.
"""

from __future__ import annotations

import pickle
import threading
import time
from collections.abc import Callable
from typing import Any

from .generation import Account, commit_url, generate, move_in_time, random_commit
from .health import HealthModel
from .ids import stack_index_of_run
from .model import TERMINAL_RUN_STATES, Module, Run, Space, Stack, WorldError
from .search import search_modules, search_stacks
from .ticking import Timeline

RUNS_PAGE_SIZE = 10  # Spacelift does not document its page size; ten makes paging visible.
DEFAULT_SEED = 42
DEFAULT_STACK_COUNT = 48
DEFAULT_ACTIVE_STACKS = 6
# One transition per 7 s, so a page polling every 10 s sees something change each time.
DEFAULT_STEP_SECONDS = 7.0


class World:
    """The simulated account. Deterministic from `seed` and the clock's time at build."""

    def __init__(
        self,
        stack_count: int = DEFAULT_STACK_COUNT,
        seed: int | str = DEFAULT_SEED,
        *,
        clock: Callable[[], float] = time.time,
        step_seconds: float = DEFAULT_STEP_SECONDS,
        active_stacks: int = DEFAULT_ACTIVE_STACKS,
        account: Account | None = None,
    ) -> None:
        """Build the account of `seed` now, or take `account` (PristineWorld makes one)."""
        if stack_count < 0:
            raise ValueError("stack_count must be 0 or more")
        if account is None:
            account = generate(seed, stack_count, active_stacks, int(clock()), step_seconds)
        self.seed = seed
        self.clock = clock
        self.lock = threading.RLock()
        self.anchor = account.anchor
        self.spaces = account.spaces
        self._spaces_by_id = {space.id: space for space in self.spaces}
        self.worker_pools = account.worker_pools
        self.stacks = account.stacks
        self._stacks_by_id = {stack.id: stack for stack in self.stacks}
        self.active_stack_ids = account.active_stack_ids
        self.modules = account.modules
        self._modules_by_id = {module.id: module for module in self.modules}
        self.health = HealthModel(self)  # derived from the records above
        self._timeline = Timeline(
            seed,
            self.anchor,
            step_seconds,
            self._stacks_by_id,
            self.active_stack_ids,
            account.moving,
        )

    @property
    def step_seconds(self) -> float:
        return self._timeline.step_seconds

    @property
    def ticks(self) -> int:
        """How many ticks have been played since the world was built."""
        return self._timeline.ticks

    # -- reading -------------------------------------------------------------------------

    def get_stack(self, stack_id: str) -> Stack | None:
        return self._stacks_by_id.get(stack_id)

    def get_space(self, space_id: str) -> Space | None:
        return self._spaces_by_id.get(space_id)

    def get_module(self, module_id: str) -> Module | None:
        return self._modules_by_id.get(module_id)

    def stack_of_run(self, run_id: str) -> Stack | None:
        index = stack_index_of_run(run_id)
        if index is None or index >= len(self.stacks):
            return None
        stack = self.stacks[index]
        return stack if stack.find_run(run_id) else None

    def runs_page(self, stack: Stack, run_type: str, before: str | None) -> list[Run]:
        """One page of a stack's runs, newest first; an empty page ends the list."""
        runs = stack.runs_of_type(run_type)
        if before:
            # Run IDs are ULIDs: a smaller ID is an older run.
            runs = [run for run in runs if run.id < before]
        return runs[:RUNS_PAGE_SIZE]

    # -- time ----------------------------------------------------------------------------

    def advance(self, now: float | None = None) -> int:
        """Play every tick due by `now` (default: the clock's); return how many were played."""
        with self.lock:
            return self._timeline.advance(self.clock() if now is None else now)

    def step(self) -> None:
        """Force one tick now: every moving run takes one transition (for tests and demos)."""
        with self.lock:
            self._timeline.tick(int(self.clock()))

    # -- mutations -------------------------------------------------------------------------

    def _writable_stack(self, stack_id: str) -> Stack:
        stack = self._stacks_by_id.get(stack_id)
        if stack is None:
            raise WorldError(f"stack {stack_id} not found")
        if not stack.can_write:
            raise WorldError(
                f"forbidden: this API key has {stack.space_details.access_level} access to "
                f"space {stack.space_details.name}; this action needs WRITE"
            )
        return stack

    def _run_of(self, stack: Stack, run_id: str) -> Run:
        run = stack.find_run(run_id)
        if run is None:
            raise WorldError(f"run {run_id} not found in stack {stack.id}")
        return run

    def trigger_run(
        self,
        stack_id: str,
        actor: str,
        commit_sha: str | None = None,
        run_type: str | None = None,
    ) -> Run:
        with self.lock:
            stack = self._writable_stack(stack_id)
            run_type = run_type or "TRACKED"
            if run_type not in ("TRACKED", "PROPOSED"):
                raise WorldError(f"runType {run_type} cannot be triggered; use TRACKED or PROPOSED")
            if stack.is_disabled:
                raise WorldError(f"stack {stack_id} is disabled")
            if stack.locked_by and stack.locked_by != actor:
                raise WorldError(f"stack {stack_id} is locked by {stack.locked_by}")
            now = int(self.clock())
            commit = stack.tracked_commit
            if commit_sha:
                sha = commit_sha.strip().lower()
                if not (7 <= len(sha) <= 40) or any(c not in "0123456789abcdef" for c in sha):
                    raise WorldError(f"invalid commit SHA {commit_sha!r}")
                if commit is None or not commit.hash.startswith(sha):
                    commit = random_commit(stack, self._timeline.rng, now - 60)
                    commit.hash = sha.ljust(40, "0")
                    commit.url = commit_url(stack, commit.hash)
            if commit is None:
                commit = random_commit(stack, self._timeline.rng, now - 60)
                stack.tracked_commit = commit
            run = self._timeline.new_run(stack, run_type, commit, now, actor)
            # Whatever holds the stack moves again, so the new run is not stuck behind it.
            for other in stack.tracked:
                if other.state not in TERMINAL_RUN_STATES and other.state != "UNCONFIRMED":
                    self._timeline.keep_moving(other)
            return run

    def retry_run(self, stack_id: str, run_id: str, actor: str) -> Run:
        """`runRetry`: a new run of the same type on the failed run's commit and branch, as
        spacectl's `run retry` reports it (it prints the new run's ID, not the old one's)."""
        with self.lock:
            stack = self._writable_stack(stack_id)
            run = self._run_of(stack, run_id)
            if not run.can_retry:
                raise WorldError(f"run {run.id} is {run.state}: only a failed run can be retried")
            if stack.locked_by and stack.locked_by != actor:
                raise WorldError(f"stack {stack_id} is locked by {stack.locked_by}")
            commit = run.commit or stack.tracked_commit
            if commit is None:
                raise WorldError(f"run {run.id} has no commit to retry")
            now = int(self.clock())
            return self._timeline.new_run(stack, run.type, commit, now, actor, run.branch)

    def _pending_run(self, stack: Stack, run_id: str | None) -> Run:
        if run_id:
            return self._run_of(stack, run_id)
        for run in stack.tracked:
            if run.state == "UNCONFIRMED":
                return run
        raise WorldError(f"stack {stack.id} has no run awaiting confirmation")

    def confirm_run(
        self, stack_id: str, run_id: str | None, actor: str, note: str | None = None
    ) -> Run:
        with self.lock:
            run = self._answer_plan(stack_id, run_id, "CONFIRMED", actor, note)
            self._timeline.keep_moving(run)  # on to PREPARING_APPLY and APPLYING
            return run

    def discard_run(
        self, stack_id: str, run_id: str | None, actor: str, note: str | None = None
    ) -> Run:
        with self.lock:
            return self._answer_plan(stack_id, run_id, "DISCARDED", actor, note)

    def _answer_plan(
        self, stack_id: str, run_id: str | None, state: str, actor: str, note: str | None
    ) -> Run:
        """A person's answer to a plan that awaits confirmation: runConfirm or runDiscard."""
        run = self._pending_run(self._writable_stack(stack_id), run_id)
        if run.state != "UNCONFIRMED":
            raise WorldError(f"run {run.id} is {run.state}, not UNCONFIRMED")
        self._timeline.set_state(run, state, int(self.clock()), actor, note)
        return run

    # -- search ----------------------------------------------------------------------------

    def search_stacks(self, search_input: dict[str, Any]) -> tuple[list[tuple[str, Stack]], dict]:
        return search_stacks(self.stacks, search_input)

    def search_modules(self, search_input: dict[str, Any]) -> tuple[list[tuple[str, Module]], dict]:
        return search_modules(self.modules, search_input)


class PristineWorld:
    """A world as `generate()` left it, kept as bytes to hand out again and again.

    `fresh()` is the world `World(stack_count, seed, ...)` would build at the clock's present,
    for less: unpickling and moving the times costs a fraction of generating the stacks again.
    """

    def __init__(
        self,
        stack_count: int,
        seed: int | str,
        *,
        clock: Callable[[], float],
        step_seconds: float,
        active_stacks: int,
    ) -> None:
        account = generate(seed, stack_count, active_stacks, int(clock()), step_seconds)
        self._frozen = pickle.dumps(account, protocol=pickle.HIGHEST_PROTOCOL)
        self._anchor = account.anchor
        self.seed = seed
        self.clock = clock
        self.step_seconds = step_seconds

    def fresh(self) -> World:
        account = pickle.loads(self._frozen)  # noqa: S301 - bytes this object made itself
        move_in_time(account, int(self.clock()) - self._anchor)
        return World(
            len(account.stacks),
            self.seed,
            clock=self.clock,
            step_seconds=self.step_seconds,
            account=account,
        )

"""Time in a world: ticks that move runs through their states, new pushes, and colleagues.

Time moves lazily: `advance(now)` (the world calls it before every request) plays every tick
of `step_seconds` that has passed. On each tick, every moving run takes one transition. A
few "active" stacks start a new run (a git push) a few ticks after the last one ended, and a
simulated colleague confirms their plans. Runs started through the API on other stacks also
move, but a plan there waits for `runConfirm` or `runDiscard`. The world holds its lock
around every call here.
"""

from __future__ import annotations

import random

from .generation import CONFIRM_NOTES, FEATURE_BRANCHES, PEOPLE, random_commit, random_delta
from .ids import make_run_id
from .model import TERMINAL_RUN_STATES, Commit, Delta, Run, Stack

# After a long pause the world replays at most this many ticks, then jumps to now.
MAX_CATCH_UP_TICKS = 500


class Timeline:
    """When the next tick is due, which runs move, and what each tick does to them."""

    def __init__(
        self,
        seed: int | str,
        anchor: int,
        step_seconds: float,
        stacks_by_id: dict[str, Stack],
        active_stack_ids: list[str],
        moving: list[Run],
    ) -> None:
        self.step_seconds = float(step_seconds)
        self.stacks_by_id = stacks_by_id  # the world's own, so a renamed stack is found
        self.active_stack_ids = active_stack_ids
        self.rng = random.Random(f"{seed}:ticks")
        self.last_run_ms = anchor * 1000
        self.moving: dict[str, Run] = {run.id: run for run in moving}  # advance each tick
        self.idle: dict[str, int] = {}  # active stack ID -> ticks until its next push
        self.waits: dict[str, int] = {}  # run ID -> ticks a simulated colleague waits
        self.next_tick_at = anchor + self.step_seconds
        self.ticks = 0

    def advance(self, now: float) -> int:
        """Play every tick due by `now`; return how many were played."""
        played = 0
        while self.next_tick_at <= now and played < MAX_CATCH_UP_TICKS:
            self.tick(int(self.next_tick_at))
            self.next_tick_at += self.step_seconds
            played += 1
        if self.next_tick_at <= now:
            self.next_tick_at = now + self.step_seconds
        return played

    def keep_moving(self, run: Run) -> None:
        """Move `run` on every tick from now on (a mutation woke it)."""
        self.moving.setdefault(run.id, run)

    def tick(self, at: int) -> None:
        self.ticks += 1
        for run in sorted(self.moving.values(), key=lambda r: r.id):
            self._advance_run(run, at)
        for stack_id in self.active_stack_ids:
            if stack_id in self.idle:
                self.idle[stack_id] -= 1
                if self.idle[stack_id] <= 0:
                    del self.idle[stack_id]
                    self._push_commit(self.stacks_by_id[stack_id], at)

    def _new_run_ms(self, at: int) -> int:
        ms = max(at * 1000 + self.rng.randrange(1000), self.last_run_ms + 1)
        self.last_run_ms = ms
        return ms

    def new_run(
        self,
        stack: Stack,
        run_type: str,
        commit: Commit,
        at: int,
        triggered_by: str | None,
        branch: str | None = None,
    ) -> Run:
        stack.ensure_history()
        run = Run(
            id=make_run_id(self._new_run_ms(at), stack.index, self.rng),
            stack=stack,
            type=run_type,
            state="QUEUED",
            title=commit.message.splitlines()[0] if commit.message else "",
            branch=branch or stack.branch,
            triggered_by=triggered_by,
            created_at=at,
            updated_at=at,
            commit=commit,
        )
        run.transition("QUEUED", at)
        stack.runs_of_type(run_type).insert(0, run)
        self.moving[run.id] = run
        return run

    def _push_commit(self, stack: Stack, at: int) -> None:
        rng = self.rng
        commit = random_commit(stack, rng, at - rng.randint(20, 600))
        stack.tracked_commit = commit
        stack.tracked_commit_set_by = None
        self.new_run(stack, "TRACKED", commit, at, "")
        if rng.random() < 0.25:
            feature = random_commit(stack, rng, at - rng.randint(20, 600))
            self.new_run(stack, "PROPOSED", feature, at, "", rng.choice(FEATURE_BRANCHES))

    def set_state(
        self, run: Run, state: str, at: int, username: str | None = None, note: str | None = None
    ) -> None:
        run.transition(state, at, username, note)
        stack = run.stack
        if run.type == "TRACKED":
            stack.refresh_state()
        if state in TERMINAL_RUN_STATES:
            self.moving.pop(run.id, None)
            self.waits.pop(run.id, None)
            if state == "FINISHED" and run.type == "TRACKED" and run.delta:
                delta = run.delta
                stack.entity_count = max(
                    0, stack.entity_count + delta.add_count - delta.delete_count
                )
                stack.is_drifted = False
            if (
                run.type == "TRACKED"
                and stack.id in self.active_stack_ids
                and stack.blocker is None
                and not any(r.state == "QUEUED" for r in stack.tracked[:3])
            ):
                self.idle[stack.id] = self.rng.randint(2, 4)

    def _has_older_unfinished(self, run: Run) -> bool:
        for other in run.stack.tracked:
            if other.id < run.id and other.state not in TERMINAL_RUN_STATES:
                return True
        return False

    def _advance_run(self, run: Run, at: int) -> None:
        rng = self.rng
        stack = run.stack
        state = run.state
        nxt: str | None = None
        match state:
            case "QUEUED":
                if run.type == "TRACKED" and self._has_older_unfinished(run):
                    return
                nxt = "READY"
            case "READY":
                nxt = "PREPARING"
            case "PREPARING":
                nxt = "INITIALIZING"
            case "INITIALIZING":
                nxt = "PERFORMING" if run.type == "TASK" else "PLANNING"
            case "PERFORMING":
                nxt = "FINISHED" if rng.random() < 0.9 else "FAILED"
            case "PLANNING":
                roll = rng.random()
                if roll < 0.08:
                    nxt = "FAILED"
                elif run.type != "TRACKED":
                    run.delta = random_delta(rng, stack)
                    nxt = "FINISHED"
                elif roll < 0.25:
                    run.delta = Delta(0, 0, 0, max(stack.entity_count, 1))
                    nxt = "FINISHED"
                else:
                    run.delta = random_delta(rng, stack)
                    nxt = "APPLYING" if stack.autodeploy else "UNCONFIRMED"
            case "UNCONFIRMED":
                if stack.id not in self.active_stack_ids:
                    self.moving.pop(run.id, None)  # waits for runConfirm or runDiscard
                    return
                left = self.waits.get(run.id, rng.randint(1, 3)) - 1
                if left > 0:
                    self.waits[run.id] = left
                    return
                person = rng.choice(PEOPLE[:-1])[0]
                if rng.random() < 0.85:
                    self.set_state(run, "CONFIRMED", at, person, rng.choice(CONFIRM_NOTES))
                else:
                    self.set_state(run, "DISCARDED", at, person, None)
                return
            case "CONFIRMED":
                nxt = "PREPARING_APPLY"
            case "PREPARING_APPLY":
                nxt = "APPLYING"
            case "APPLYING" | "DESTROYING":
                nxt = "FINISHED" if rng.random() < 0.93 else "FAILED"
            case "REPLAN_REQUESTED":
                nxt = "PREPARING_REPLAN"
            case "PREPARING_REPLAN":
                nxt = "PLANNING"
            case _:
                self.moving.pop(run.id, None)
                return
        self.set_state(run, nxt, at)

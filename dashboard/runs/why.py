"""Why a run failed, in one line, and the plan a run would apply: built from what
`RunRecords` reads, for the run page, the stack page, "Needs a human" and the confirmation.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace

from django.urls import reverse

from dashboard.runs.log_lines import find_why_at
from dashboard.spacelift import errors
from dashboard.spacelift.run_records import RunRecords
from dashboard.spacelift.service import SpaceliftService
from dashboard.spacelift.types import Delta, Run, RunState, Stack, StackState
from dashboard.spacelift.types.logs import ChangeGroup, Phase, ResourceChange, group_changes

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Why:
    run_id: str
    phase: Phase | None = None
    line: str | None = None  # None: nothing in the log says it plainly; "see the log"
    problem: str = ""  # Spacelift could not be read: say so, and try again next time
    line_number: int | None = None  # the line's 1-based number in the failed phase's log
    stack_id: str = ""
    settled: bool = True  # False: the failed phase's log was still being written when read

    @property
    def url(self) -> str:
        """The run page, scrolled to the failing line (or to the logs when none says why)."""
        run = reverse("dashboard:run", args=[self.stack_id, self.run_id])
        return f"{run}#{FAILED_LINE_ID if self.line_number else 'logs'}"


# The id of the failing line on the run page (`_log_chunk.html`): the why line links to it.
FAILED_LINE_ID = "failed-line"


def failed_phase(phases: list[Phase]) -> Phase | None:
    """The phase a failed run failed in: the last one that wrote a log."""
    return phases[-1] if phases else None


def why_run_failed(records: RunRecords, stack_id: str, run_id: str) -> Why | None:
    """The line that says why a failed run failed; None when the run did not fail.

    Kept for long once the failed phase's log is complete: a failed run never changes again.
    """
    key = f"why-at:{stack_id}:{run_id}"  # (was "why:": a Why that knew no line nor stack)
    if (held := records.held(key)) is not None:
        return held[0]
    try:
        found = records.phases(stack_id, run_id)
        if found is None or found[1] != RunState.FAILED.value:
            return None
        phase = failed_phase(found[0])
        if phase is None:
            why, complete = Why(run_id, stack_id=stack_id), True
        else:
            tail = records.tail(stack_id, run_id, phase)
            at = find_why_at(tail.lines)
            if at is None:
                why = Why(run_id, phase, stack_id=stack_id)
            else:
                number = tail.first_line + at[0] + 1
                why = Why(run_id, phase, at[1], line_number=number, stack_id=stack_id)
            complete = tail.finished
            why = replace(why, settled=complete)
    except errors.SpaceliftError as exc:
        logger.info("Could not read why run %s failed: %s", run_id, exc.message)
        return Why(run_id, problem=exc.summary, stack_id=stack_id)
    records.keep(key, why, ended=complete)
    return why


def why_stack_failed(service: SpaceliftService, stack: Stack) -> Why | None:
    """Why a failed stack's latest tracked run failed (its state is that run's state)."""
    if stack.state is not StackState.FAILED:
        return None
    records = RunRecords(service)
    set_at = int(stack.state_set_at.timestamp()) if stack.state_set_at else 0
    key = f"failed-run:{stack.id}:{set_at}"

    def newest_failed() -> str | None:
        runs = service.runs(stack.id)
        failed = [run for run in runs.data or () if run.state is RunState.FAILED]
        return failed[0].id if failed else None

    run_id = records.remember(key, newest_failed, ended=bool(set_at), keep_none=False)
    if run_id is None:
        return None
    return why_run_failed(records, stack.id, run_id)


def stack_for_why(service: SpaceliftService, stack_id: str) -> Stack | None:
    """The stack from the cached stack list when the overview has it, else on its own."""
    if service.head_version("stacks") is not None:
        stacks = service.stacks().data or []
        for stack in stacks:
            if stack.id == stack_id:
                return stack
    return service.stack(stack_id).data


@dataclass(frozen=True)
class Plan:
    groups: list[ChangeGroup]
    total: int
    delta: Delta | None
    problem: str = ""


def has_plan(run: Run) -> bool:
    delta = run.delta
    return bool(delta and (delta.add or delta.change or delta.delete))


def plan_of(service: SpaceliftService, stack_id: str, run: Run | None) -> Plan | None:
    """The resources a run's plan changes, grouped by kind; None for a run without a plan."""
    if run is None or not has_plan(run):
        return None
    records = RunRecords(service)
    # An unconfirmed plan can still be replanned; any other plan is final.
    ended = run.state is not RunState.UNCONFIRMED and (run.finished or run.state.is_terminal)
    try:
        resources: tuple[ResourceChange, ...] = records.changes(stack_id, run.id, ended=ended)
    except errors.SpaceliftError as exc:
        return Plan([], 0, run.delta, problem=exc.message)
    groups = group_changes(resources)
    return Plan(groups, sum(len(g.resources) for g in groups), run.delta)

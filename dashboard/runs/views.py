"""One run: its facts, state timeline, why it failed, its plan and its logs.

The facts poll themselves while the run moves, with the plan (it appears when the run
reaches UNCONFIRMED, beside Confirm) and the why line (when it fails); the logs are their own
region, which polls only for new phases: each phase's label follows the run, while its log
body is kept across refreshes (hx-preserve), so a phase opened or followed stays as it is.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from functools import cached_property
from typing import Any

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.views.decorators.http import require_GET
from django.views.decorators.vary import vary_on_headers

from dashboard.accounts import access as space_access
from dashboard.audit.actors import portal_actors
from dashboard.decorators import with_service
from dashboard.regions import Region, failed, or_404, render_regions
from dashboard.runs.log_views import Chunk, phase_url, tail_chunk
from dashboard.runs.why import Why, failed_phase, plan_of, why_run_failed
from dashboard.spacelift import errors
from dashboard.spacelift.run_records import RunRecords
from dashboard.spacelift.service import Snapshot, SpaceliftService
from dashboard.spacelift.types import (
    Health,
    Run,
    RunState,
    StateTransition,
    run_health,
    state_label,
)
from dashboard.spacelift.types.logs import Phase


@dataclass(frozen=True)
class TimelineEntry:
    """One state a run was in: when it entered it, who moved it there, and for how long."""

    transition: StateTransition
    seconds: float | None  # None: the run ended in this state
    current: bool

    @property
    def health(self) -> Health:
        return run_health(self.transition.state)

    @property
    def label(self) -> str:
        return state_label(self.transition.state_raw)


def build_timeline(run: Run, now: datetime) -> list[TimelineEntry]:
    """The transitions oldest first, each with the time until the next one.

    Spacelift lists history newest first; it is reversed before a stable sort on the time,
    so two transitions in the same second keep Spacelift's order. The last state of a run
    that has not ended lasts until now.
    """
    ordered = sorted(
        reversed(run.history),
        key=lambda t: t.timestamp or datetime.min.replace(tzinfo=UTC),
    )
    moving = not (run.finished or run.state.is_terminal)
    entries = []
    for index, transition in enumerate(ordered):
        last = index == len(ordered) - 1
        end = now if last and moving else None if last else ordered[index + 1].timestamp
        seconds = None
        if transition.timestamp and end:
            seconds = max(0.0, (end - transition.timestamp).total_seconds())
        entries.append(TimelineEntry(transition, seconds, current=last and moving))
    return entries


@dataclass(frozen=True)
class PhaseItem:
    phase: Phase
    url: str
    open: bool  # shown without a click: the phase that failed, or the one running
    failed: bool
    running: bool  # the run is moving and no later state followed this one
    chunk: Chunk | None = None
    problem: str = ""


def log_phases(service: SpaceliftService, stack_id: str, run_id: str) -> Snapshot[Any]:
    """The run's phases and final state, versioned by which phases exist and which ended:
    what the logs region shows changes only when a phase starts or ends."""
    try:
        found = RunRecords(service).phases(stack_id, run_id)
    except errors.SpaceliftError as exc:
        return failed(exc, "")
    phases, final = found or ([], None)
    seed = "|".join(f"{p.key}:{p.ended}" for p in phases) + f"|{final}"
    version = hashlib.blake2b(seed.encode(), digest_size=8).hexdigest()
    return Snapshot((phases, final), version, datetime.now(tz=UTC))


@dataclass
class Logs:
    """The logs region's phases; their items (and the tails of the open ones) are read only
    when the region is rendered, never for a poll of the run's facts."""

    request: HttpRequest
    service: SpaceliftService
    stack_id: str
    run_id: str
    phases: Snapshot[Any]
    why: Why | None = None  # a failed run's: its line is marked in the failed phase

    @cached_property
    def items(self) -> list[PhaseItem]:
        """One item per phase that wrote a log, in order; the failed or running one opened."""
        phases, final = self.phases.data or ([], None)
        records = RunRecords(self.service)
        failed_one = failed_phase(phases) if final == RunState.FAILED.value else None
        items = []
        for phase in phases:
            running = final is None and not phase.ended
            url = phase_url(self.stack_id, self.run_id, phase)
            failed = phase == failed_one
            item = PhaseItem(phase, url, running or failed, failed, running)
            if item.open:
                why = self.why
                marked = why.line_number if failed and why and why.phase == phase else None
                try:
                    chunk = tail_chunk(
                        self.request, records, self.stack_id, self.run_id, phase, marked
                    )
                    item = replace(item, chunk=chunk)
                except errors.SpaceliftError as exc:
                    item = replace(item, problem=exc.message)
            items.append(item)
        return items


@require_GET
@login_required
@vary_on_headers("HX-Request")
@with_service
def run_detail(
    request: HttpRequest, service: SpaceliftService, stack_id: str, run_id: str
) -> HttpResponse:
    space_access.require_stack(request, service, stack_id, "No such run")
    if not service.may_exist(stack_id):
        raise Http404("No such run")
    snapshot = or_404(service.run(stack_id, run_id), "No such run")
    run = snapshot.data
    # Why a failed run failed is read with the run (kept for long once read): the run region
    # shows it, and the logs mark its line.
    why = None
    if run is not None and run.state is RunState.FAILED:
        why = why_run_failed(RunRecords(service), stack_id, run_id)
    # A run that has ended never changes again: its page stops polling, once it shows why
    # it failed (the log may say so a poll after the run says FAILED).
    moving = run is None or not (run.finished or run.state.is_terminal)
    moving = moving or (run.state is RunState.FAILED and (why is None or not why.settled))
    regions = [Region.of(request, "run", snapshot, stack_id, run_id, why_part(why), polling=moving)]
    logs = None
    if run is not None:
        phases = log_phases(service, stack_id, run_id)
        # The logs poll on their own while a phase may start or end (or while unread).
        polling = phases.data is None or phases.data[1] is None
        regions.append(Region.of(request, "logs", phases, stack_id, run_id, polling=polling))
        logs = Logs(request, service, stack_id, run_id, phases, why)
    # The plan is read for the run region only (the page, or its poll), never the logs' poll:
    # a run that reaches UNCONFIRMED shows its plan with the Confirm button, in one swap.
    wants_plan = not request.htmx or request.GET.get("region") == "run"

    def context() -> dict:  # built only when something is rendered, not for a 204
        return {
            "connection": service.connection,
            "stack_id": stack_id,
            "run_id": run_id,
            "snapshot": snapshot,
            "run": run,
            "timeline": build_timeline(run, datetime.now(tz=UTC)) if run else [],
            "portal_actors": portal_actors([run_id]).get(run_id, []),
            "key_id": service.connection.key_id,
            "logs": logs,
            "why": why,
            "plan": plan_of(service, stack_id, run) if wants_plan else None,
        }

    return render_regions(request, "dashboard/run.html", regions, context)


def why_part(why: Why | None) -> str:
    """What of the why line the run region's version names: whether it is known, and its line."""
    if why is None:
        return ""
    return f"why:{why.line_number}:{why.line or ''}:{why.problem}:{why.settled}"

"""One run: its facts and its state timeline, polling itself while the run is still moving."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.views.decorators.http import require_GET
from django.views.decorators.vary import vary_on_headers

from .decorators import with_service
from .regions import Region, or_404, render_regions
from .run_actors import portal_actors
from .spacelift.service import SpaceliftService
from .spacelift.types import Health, Run, StateTransition, run_health, state_label


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


@require_GET
@login_required
@vary_on_headers("HX-Request")
@with_service
def run_detail(
    request: HttpRequest, service: SpaceliftService, stack_id: str, run_id: str
) -> HttpResponse:
    if not service.may_exist(stack_id):
        raise Http404("No such run")
    snapshot = or_404(service.run(stack_id, run_id), "No such run")
    run = snapshot.data
    # A run that has ended never changes again: its page stops polling.
    moving = run is None or not (run.finished or run.state.is_terminal)
    region = Region.of(request, "run", snapshot, stack_id, run_id, polling=moving)
    return render_regions(request, "dashboard/run.html", [region], {
        "connection": service.connection,
        "stack_id": stack_id,
        "run_id": run_id,
        "snapshot": snapshot,
        "run": run,
        "timeline": build_timeline(run, datetime.now(tz=UTC)) if run else [],
        "portal_actors": portal_actors([run_id]).get(run_id, []),
        "key_id": service.connection.key_id,
    })  # fmt: skip

"""A run's logs, phase by phase, and the "why" region of a failed stack.

One URL per phase serves three things: its last lines (a finished phase opened on demand),
the lines before a given line ("load earlier"), and the lines after a token (a running
phase followed live: the token stays in the page, so each refresh brings only new lines).
Following is a region of `regions.py`'s protocol: its version is the token and line it
holds, a poll that brings nothing new answers 204, and a failed read keeps it polling.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import urlencode

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_GET

from dashboard.accounts import access as space_access
from dashboard.decorators import with_service
from dashboard.regions import Region, failed, held, unchanged
from dashboard.runs.log_lines import render_lines
from dashboard.runs.why import stack_for_why, why_run_failed, why_stack_failed
from dashboard.spacelift import errors
from dashboard.spacelift.run_records import RunRecords
from dashboard.spacelift.service import Snapshot, SpaceliftService
from dashboard.spacelift.types.logs import Phase

logger = logging.getLogger(__name__)

# Spacelift's tokens are opaque; anything longer than this is not one.
MAX_TOKEN_CHARS = 2000
_PHASE = re.compile(r"^([A-Z_]{2,40})-(\d{1,6})$")


@dataclass(frozen=True)
class Chunk:
    """Some consecutive lines of a phase, ready for `_log_chunk.html`."""

    url: str  # the phase's log URL
    first_line: int  # 0-based number of the first line
    lines: list
    earlier: bool = False  # lines before these exist: offer "load earlier"
    follow: Region | None = None  # the phase still runs: the region polling for more
    marked: int | None = None  # the 1-based number of the line that says why the run failed

    @property
    def start(self) -> int:
        return self.first_line + 1

    @property
    def numbered(self) -> list[tuple[int, object]]:
        """Each line with its 1-based number in the phase, as the `<ol start>` shows it."""
        return list(enumerate(self.lines, start=self.start))

    @property
    def next_line(self) -> int:
        return self.first_line + len(self.lines)


def phase_url(stack_id: str, run_id: str, phase: Phase) -> str:
    return reverse("dashboard:run_log", args=[stack_id, run_id, phase.key])


def following(
    request: HttpRequest,
    url: str,
    token: str | None,
    line: int,
    failure: Snapshot | None = None,
) -> Region | None:
    """The region that polls a running phase (its log at `url`) for the lines after `token`,
    line `line` on; None once the phase has finished. `failure`: a failed read's snapshot."""
    if token is None:
        return None
    polled = failure or Snapshot(True, f"{token}|{line}", datetime.now(tz=UTC))
    name = "follow-" + url.rstrip("/").rsplit("/", 1)[-1]  # the phase's key: one per page
    query = urlencode({"after": token, "line": line})
    return Region.of(request, name, polled, url=f"{url}?{query}")


def tail_chunk(
    request: HttpRequest,
    records: RunRecords,
    stack_id: str,
    run_id: str,
    phase: Phase,
    marked: int | None = None,
) -> Chunk:
    tail = records.tail(stack_id, run_id, phase)
    url = phase_url(stack_id, run_id, phase)
    lines = render_lines(tail.lines)
    token = None if tail.finished else tail.next_token
    follow = following(request, url, token, tail.first_line + len(lines))
    return Chunk(url, tail.first_line, lines, earlier=tail.earlier, follow=follow, marked=marked)


@require_GET
@login_required
@with_service
def run_log(
    request: HttpRequest, service: SpaceliftService, stack_id: str, run_id: str, phase_key: str
) -> HttpResponse:
    if not _PHASE.match(phase_key):
        raise Http404("No such log")
    space_access.require_stack(request, service, stack_id, "No such log")
    records = RunRecords(service)
    context = {"stack_id": stack_id, "run_id": run_id}
    url = reverse("dashboard:run_log", args=[stack_id, run_id, phase_key])
    after = request.GET.get("after")
    following_from = after is not None and len(after) <= MAX_TOKEN_CHARS
    line = _int(request.GET.get("line"))
    try:
        found = records.phases(stack_id, run_id)
        phase = next((p for p in (found or ([], None))[0] if p.key == phase_key), None)
        if phase is None:
            raise Http404("No such log")
        context["phase"] = phase
        if following_from:
            lines, token, finished = records.lines_after(stack_id, run_id, phase, after)
            rendered = render_lines(lines)
            follow = following(request, url, None if finished else token, line + len(rendered))
            if follow is not None and held(request, follow):
                return unchanged(follow)  # nothing new: the page keeps its token
            # The phase's last lines: the one that says why the run failed, if it did, is marked.
            marked = _why_line(records, stack_id, run_id, phase) if follow is None else None
            chunk = Chunk(url, line, rendered, follow=follow, marked=marked)
        elif (before := request.GET.get("before")) is not None:
            first, lines = records.lines_before(stack_id, run_id, phase, _int(before))
            marked = _why_line(records, stack_id, run_id, phase)
            chunk = Chunk(url, first, render_lines(lines), earlier=first > 0, marked=marked)
        else:
            chunk = tail_chunk(request, records, stack_id, run_id, phase)
    except errors.SpaceliftError as exc:
        if not following_from:
            context["problem"] = exc.message
            return render(request, _template(request), context)
        # The follower again, at the same token and line, saying why: the page keeps polling.
        failure = failed(exc, f"{after}|{line}")
        chunk = Chunk(url, line, [], follow=following(request, url, after, line, failure))
    context["chunk"] = chunk
    return render(request, _template(request), context)


def _why_line(records: RunRecords, stack_id: str, run_id: str, phase: Phase) -> int | None:
    """The number of the line that says why the run failed, when it failed in this phase."""
    why = why_run_failed(records, stack_id, run_id)
    return why.line_number if why and why.phase == phase else None


def _template(request: HttpRequest) -> str:
    # htmx swaps the fragment in; without JavaScript the link opens it as a page.
    return "dashboard/_log_chunk.html" if request.htmx else "dashboard/run_log.html"


def _int(value: str | None) -> int:
    try:
        return max(0, int(value or 0))
    except ValueError:
        return 0


@require_GET
@login_required
@with_service
def stack_why(request: HttpRequest, service: SpaceliftService, stack_id: str) -> HttpResponse:
    """The "why" line of a failed stack: its own region, so no page waits on a log."""
    space_access.require_stack(request, service, stack_id)
    stack = stack_for_why(service, stack_id)
    why = why_stack_failed(service, stack) if stack is not None else None
    return render(
        request,
        "dashboard/_why.html",
        {"stack_id": stack_id, "stack": stack, "why": why, "loaded": True},
    )

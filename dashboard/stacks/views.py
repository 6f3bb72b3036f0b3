"""The portal's pages. One view per URL serves the full page and, for htmx, its regions.

How a region polls (version, 204, interval, stale banner) lives in `regions.py`.
"""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.db import connection as db_connection
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET
from django.views.decorators.vary import vary_on_headers

from dashboard.accounts import access as space_access
from dashboard.accounts.access_views import no_spaces
from dashboard.audit.actors import portal_actors
from dashboard.converters import RUN_ID
from dashboard.decorators import with_service
from dashboard.regions import Region, or_404, render_regions
from dashboard.spacelift.service import SpaceliftService
from dashboard.spacelift.shared_cache import shared_cache
from dashboard.stacks import history
from dashboard.stacks.health import drift_summary
from dashboard.stacks.query import (
    AttentionView,
    StackQueryForm,
    attention_queue,
    build_page,
    index_for,
)

# "Since you last looked" lists this many changes; for someone who sees only some spaces,
# they are picked from this many of the latest changes of all stacks.
SINCE_SHOWN = 30
SINCE_READ_FOR_SOME_SPACES = 500


@require_GET
@login_required
@vary_on_headers("HX-Request")
@with_service
def overview(request: HttpRequest, service: SpaceliftService) -> HttpResponse:
    connection = service.connection
    access = space_access.access_of(request, service)
    if access == frozenset():
        return no_spaces(request)
    listed = service.stacks()
    snapshot = space_access.visible_stacks(listed, access)
    query = StackQueryForm.query_from(request.GET)
    stacks = Region.of(
        request, "stacks", snapshot, query.url(), url=request.path + query.url(), live="stacks"
    )

    def context() -> dict:
        page = attention = strips = since = None
        if snapshot.data is not None:
            page = build_page(snapshot.data, query, snapshot.version)
            stuck_after = timedelta(minutes=settings.PORTAL_STUCK_MINUTES)
            # The queue, like the counts, describes the stacks the filters and search match.
            if query.filtered:
                attention = attention_queue(page.matching, stuck_after=stuck_after)
            else:
                attention = index_for(snapshot.version, snapshot.data).attention(stuck_after)
            history.record_changes(connection.fingerprint, listed)
            strips = history.strips(connection.fingerprint, page.stacks)
            if not request.htmx:
                # Someone who sees some spaces only: their stacks' changes among more of them.
                limit = SINCE_SHOWN if access is None else SINCE_READ_FOR_SOME_SPACES
                since = history.since_last_look(request.user, connection.fingerprint, limit=limit)
                if query.filtered or access is not None:
                    since = since.only({stack.id for stack in page.matching}, SINCE_SHOWN)
        return {
            "connection": connection,
            "snapshot": snapshot,
            "page": page,
            "query": query,
            "attention": AttentionView.of(attention or []),
            "strips": strips or {},
            "since": since,
            "drift": drift_summary(snapshot.data),
        }

    # Shared by everyone who sees the same spaces, and by no one else.
    shared_by = f"{connection.fingerprint}:{space_access.fingerprint(access)}"
    return render_regions(
        request, "dashboard/overview.html", [stacks], context, shared_by=shared_by
    )


@require_GET
@login_required
@vary_on_headers("HX-Request")
@with_service
def stack_detail(request: HttpRequest, service: SpaceliftService, stack_id: str) -> HttpResponse:
    before = request.GET.get("before") or None
    if before is not None and not RUN_ID.match(before):
        before = None
    with service.one_deadline():
        space_access.require_stack(request, service, stack_id)
        if not service.may_exist(stack_id):
            raise Http404("No such stack")
        reads = service.read_many(
            stack=lambda: service.stack(stack_id),
            runs=lambda: service.runs(stack_id, before),
            environment=lambda: service.stack_config(stack_id),
        )
    stack = or_404(reads["stack"], "No such stack")
    runs, environment = reads["runs"], reads["environment"]
    regions = [
        Region.of(request, "stack", stack, stack_id, live=f"stack-{stack_id}"),
        # The configuration, folded below the runs: the same read, its own region.
        Region.of(request, "config", stack, stack_id, live=f"stack-{stack_id}"),
        Region.of(request, "runs", runs, stack_id, before=before, live=f"stack-{stack_id}"),
        Region.of(request, "environment", environment, stack_id),
    ]
    return render_regions(request, "dashboard/stack.html", regions, {
        "connection": service.connection,
        "stack_id": stack_id,
        "stack": stack.data,
        "runs": runs.data,
        "before": before,
        "older_url": f"?before={runs.data[-1].id}" if runs.data else None,
        "environment": environment.data,
        "portal_actors": portal_actors(run.id for run in runs.data or ()),
    })  # fmt: skip


@never_cache
def healthz(request: HttpRequest) -> HttpResponse:
    """Up when the database answers, whatever Spacelift is doing. It never reads Spacelift.

    A cache that cannot be reached is reported ("degraded") but keeps the instance in: pages
    go on from each process's memory, and taking instances out would not bring Redis back.
    """
    try:
        with db_connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception:  # any database failure means "not healthy"
        return JsonResponse({"status": "error", "database": "unavailable"}, status=503)
    return JsonResponse({"status": "ok", "cache": "ok" if shared_cache.check() else "degraded"})

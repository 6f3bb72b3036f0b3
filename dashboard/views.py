"""The portal's pages. One view per URL serves the full page and, for htmx, its partial."""

from __future__ import annotations

import hashlib
import json
import re
import threading
import time
from collections import OrderedDict
from datetime import timedelta
from functools import wraps

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.db import connection as db_connection
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET
from django.views.decorators.vary import vary_on_headers

from . import history
from .connections import ConnectionProblem, current_connection
from .overview import ATTENTION_LIMIT, StackQuery, build_page, index_for
from .spacelift.service import Snapshot, SpaceliftService
from .spacelift.shared_cache import shared_cache

# Spacelift stack IDs are slugs; run IDs are ULIDs. Anything else never reaches Spacelift.
STACK_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")
RUN_ID = re.compile(r"^[0-9A-HJKMNP-TV-Za-hjkmnp-tv-z]{26}$")
# Relative times ("4 min") are re-rendered at least this often even when data is unchanged.
RELATIVE_TIME_GRANULARITY_SECONDS = 60


def _region_version(snapshot: Snapshot, *parts: str) -> str:
    """Names what a region shows; equal versions mean an identical fragment."""
    problem = snapshot.problem
    seed = "|".join(
        (
            snapshot.version,
            problem.summary if problem else "",
            str(int(time.time() // RELATIVE_TIME_GRANULARITY_SECONDS)),
            *parts,
        )
    )
    return hashlib.blake2b(seed.encode(), digest_size=8).hexdigest()


def _unchanged(request: HttpRequest, version: str, snapshot: Snapshot) -> HttpResponse | None:
    """For a poll whose browser already holds `version`: 204, and no table on the wire."""
    if not (request.htmx and request.GET.get("v") == version):
        return None
    response = HttpResponse(status=204)
    fetched_at = snapshot.fetched_at.timestamp() if snapshot.fetched_at else None
    response["HX-Trigger"] = json.dumps({"portal:unchanged": {"fetchedAt": fetched_at}})
    return response


class _RenderedRegions:
    """The overview region as last rendered for each version, shared by every viewer.

    The region holds nothing personal (no user name, no CSRF token), and its version names
    the data, the query, the problem and the minute, so equal versions render equal bytes:
    a hundred viewers of one view cost one render per change.
    """

    def __init__(self, size: int) -> None:
        self.size = size
        self._items: OrderedDict[tuple[str, str], bytes] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: tuple[str, str]) -> bytes | None:
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                return self._items[key]
        return None

    def put(self, key: tuple[str, str], html: bytes) -> None:
        with self._lock:
            self._items[key] = html
            self._items.move_to_end(key)
            while len(self._items) > self.size:
                self._items.popitem(last=False)


# About 120 KB each at 100 rows: a few MB for the views people keep open.
_rendered_regions = _RenderedRegions(size=32)


def _poll_seconds(snapshot: Snapshot) -> int:
    """Poll at the configured pace; after a failure, no sooner than the service will retry."""
    interval = settings.PORTAL_POLL_SECONDS
    if snapshot.problem:
        interval = max(interval, int(snapshot.problem.retry_after) + 1)
    return interval


def _template(request: HttpRequest, page: str, partial: str) -> str:
    return f"dashboard/{page}.html#{partial}" if request.htmx else f"dashboard/{page}.html"


def with_service(view):
    """Call `view(request, service, ...)` with the current connection's service, or show
    what is missing: no connection yet, or one that cannot be used as configured."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        try:
            connection = current_connection()
        except ConnectionProblem as exc:
            return render(request, "dashboard/not_configured.html", {"problem": str(exc)})
        if connection is None:
            return render(request, "dashboard/not_configured.html", {})
        return view(request, SpaceliftService(connection), *args, **kwargs)

    return wrapper


@require_GET
@login_required
@vary_on_headers("HX-Request")
@with_service
def overview(request: HttpRequest, service: SpaceliftService) -> HttpResponse:
    connection = service.connection
    snapshot = service.stacks()
    query = StackQuery.from_querydict(request.GET)
    version = _region_version(snapshot, query.url())
    if unchanged := _unchanged(request, version, snapshot):
        return unchanged
    if request.htmx and (html := _rendered_regions.get((connection.fingerprint, version))):
        return HttpResponse(html)
    page = attention = strips = since = None
    if snapshot.data is not None:
        page = build_page(snapshot.data, query, snapshot.version)
        stuck_after = timedelta(minutes=settings.PORTAL_STUCK_MINUTES)
        attention = index_for(snapshot.version, snapshot.data).attention(stuck_after)
        history.record_changes(connection.fingerprint, snapshot)
        strips = history.strips(connection.fingerprint, page.stacks)
        if not request.htmx:
            since = history.since_last_look(request.user, connection.fingerprint)
    context = {
        "connection": connection,
        "snapshot": snapshot,
        "page": page,
        "query": query,
        "version": version,
        "poll_seconds": _poll_seconds(snapshot),
        "attention": attention[:ATTENTION_LIMIT] if attention else [],
        "attention_more": max(0, len(attention or []) - ATTENTION_LIMIT),
        "strips": strips or {},
        "since": since,
    }
    response = render(request, _template(request, "overview", "stacks"), context)
    if request.htmx:
        _rendered_regions.put((connection.fingerprint, version), response.content)
    return response


@require_GET
@login_required
@vary_on_headers("HX-Request")
@with_service
def stack_detail(request: HttpRequest, service: SpaceliftService, stack_id: str) -> HttpResponse:
    connection = service.connection
    if not STACK_ID.match(stack_id):
        raise Http404("No such stack")
    before = request.GET.get("before") or None
    if before is not None and not RUN_ID.match(before):
        before = None
    region = request.GET.get("region") if request.htmx else None
    with service.one_deadline():
        if not service.may_exist(stack_id):
            raise Http404("No such stack")
        reads = service.read_many(
            stack=lambda: service.stack(stack_id),
            runs=lambda: service.runs(stack_id, before),
            environment=lambda: service.stack_config(stack_id),
        )
    stack, runs, environment = reads["stack"], reads["runs"], reads["environment"]
    if stack.data is None and stack.problem is None:
        raise Http404("No such stack")
    snapshots = {"stack": stack, "runs": runs, "environment": environment}
    versions = {
        "stack": _region_version(stack, stack_id),
        "runs": _region_version(runs, stack_id, before or ""),
        "environment": _region_version(environment, stack_id),
    }
    if region in versions:
        snapshot = snapshots[region]
        if unchanged := _unchanged(request, versions[region], snapshot):
            return unchanged
    context = {
        "connection": connection,
        "stack_id": stack_id,
        "stack_snapshot": stack,
        "stack": stack.data,
        "runs_snapshot": runs,
        "runs": runs.data,
        "before": before,
        "older_url": f"?before={runs.data[-1].id}" if runs.data else None,
        "versions": versions,
        "stack_poll_seconds": _poll_seconds(stack),
        "runs_poll_seconds": _poll_seconds(runs),
        "environment_snapshot": environment,
        "environment": environment.data,
        "environment_poll_seconds": _poll_seconds(environment),
    }
    partial = region if region in versions else None
    template = f"dashboard/stack.html#{partial}" if partial else "dashboard/stack.html"
    return render(request, template, context)


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

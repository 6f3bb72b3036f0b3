"""Machine-readable views of the same data, behind the same login: JSON, badges, metrics."""

from __future__ import annotations

import hmac
from datetime import UTC, datetime

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.template.loader import render_to_string
from django.urls import NoReverseMatch, reverse
from django.views.decorators.http import require_GET

from dashboard.accounts import access as space_access
from dashboard.connection.source import current_service
from dashboard.decorators import with_service
from dashboard.notifications.outbox import OutboxCollector
from dashboard.spacelift.service import SpaceliftService
from dashboard.spacelift.types import Health
from dashboard.stacks import metrics as prometheus
from dashboard.stacks.query import StackQuery, build_page
from dashboard.webhooks.stats import WebhookCollector


def _page_url(request: HttpRequest, stack_id: str) -> str | None:
    """The stack's page here; None for an ID the portal's URLs cannot carry (e.g. with `/`)."""
    try:
        return request.build_absolute_uri(reverse("dashboard:stack", args=[stack_id]))
    except NoReverseMatch:
        return None


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


@require_GET
@login_required
@with_service
def status_json(request: HttpRequest, service: SpaceliftService) -> JsonResponse:
    """The overview's current view (the same filters, sorting and paging) as JSON."""
    access = space_access.access_of(request, service)
    snapshot = space_access.visible_stacks(service.stacks(), access)
    problem = snapshot.problem
    body: dict = {
        "generated_at": datetime.now(tz=UTC).isoformat(),
        "fetched_at": _iso(snapshot.fetched_at),
        "stale": snapshot.stale,
        "problem": {"summary": problem.summary, "detail": problem.detail,
                    "since": _iso(problem.since)} if problem else None,
    }  # fmt: skip
    if snapshot.data is None:
        return JsonResponse(body, status=503)
    page = build_page(snapshot.data, StackQuery.from_querydict(request.GET), snapshot.version)
    connection = service.connection
    body |= {
        "counts": {health.value: count for health, count in page.counts},
        "total": page.total,
        "matched": page.matched,
        "page": page.page,
        "pages": page.pages,
        "stacks": [
            {
                "id": s.id,
                "name": s.name,
                "state": s.state_raw,
                "health": s.health.value,
                "state_set_at": _iso(s.state_set_at),
                "space": s.space_name,
                "branch": s.branch,
                "repository": s.repository_full_name,
                "labels": list(s.labels),
                "locked_by": s.locked_by or None,
                "tracked_commit": s.tracked_commit.hash if s.tracked_commit else None,
                "url": _page_url(request, s.id),
                "spacelift_url": connection.stack_url(s.id),
            }
            for s in page.stacks
        ],
    }
    return JsonResponse(body)


# Badge colours by health, as in the portal's chips (light theme).
BADGE_COLOURS = {
    Health.HEALTHY: "#1d7a45",
    Health.FAILING: "#c0292b",
    Health.NEEDS_ATTENTION: "#b35c00",
    Health.IN_PROGRESS: "#2463c9",
    Health.WAITING: "#6b5bb5",
    Health.NEVER_RUN: "#6b7280",
    Health.UNKNOWN: "#8a6d00",
}
# Roughly the width of one character of an 11 px sans-serif font.
BADGE_CHAR_WIDTH = 6.5


@require_GET
@login_required
@with_service
def stack_badge(request: HttpRequest, service: SpaceliftService, stack_id: str) -> HttpResponse:
    space_access.require_stack(request, service, stack_id)
    if not service.may_exist(stack_id):
        raise Http404("No such stack")
    snapshot = service.stack(stack_id)
    if snapshot.data is None and snapshot.problem is None:
        raise Http404("No such stack")
    stack = snapshot.data
    label = stack.name if stack else stack_id
    value = (stack.state_label if stack else "unknown") + (" (stale)" if snapshot.problem else "")
    colour = BADGE_COLOURS[stack.health if stack else Health.UNKNOWN]
    left = int(len(label) * BADGE_CHAR_WIDTH + 12)
    right = int(len(value) * BADGE_CHAR_WIDTH + 12)
    svg = render_to_string("dashboard/badge.svg", {
        "label": label, "value": value, "colour": colour, "left": left, "right": right,
        "width": left + right, "label_x": left / 2, "value_x": left + right / 2,
    })  # fmt: skip
    response = HttpResponse(svg, content_type="image/svg+xml; charset=utf-8")
    response["Content-Security-Policy"] = "default-src 'none'; style-src 'unsafe-inline'"
    return response


def _metrics_token_ok(request: HttpRequest) -> bool:
    token = settings.PORTAL_METRICS_TOKEN
    header = request.headers.get("Authorization", "")
    return bool(token) and hmac.compare_digest(header, f"Bearer {token}")


@require_GET
def metrics(request: HttpRequest) -> HttpResponse:
    """Prometheus metrics of stack states. Log in, or send PORTAL_METRICS_TOKEN as a bearer."""
    if not (request.user.is_authenticated or _metrics_token_ok(request)):
        return HttpResponse(
            "Log in, or send the metrics token.\n", status=401, content_type="text/plain"
        )
    # Not `with_service`: without a connection an exporter still answers, with "up 0", so
    # an alert can say the portal has no data rather than that the scrape failed.
    service = current_service()
    snapshot = service.stacks() if service else None
    if snapshot is not None and not _metrics_token_ok(request):
        # A signed-in person's scrape shows their spaces; the token (a machine) sees all.
        snapshot = space_access.visible_stacks(snapshot, space_access.access_of(request, service))
    body = prometheus.render(snapshot, WebhookCollector(), OutboxCollector())
    return HttpResponse(body, content_type=prometheus.CONTENT_TYPE)

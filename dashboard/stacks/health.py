"""A stack page's health regions (issue 22): each loads and polls on its own URL.

The lock (its controls: dashboard/stacks/locks.py), dependencies, pull-request previews,
resources, drift detection and why a stack waits. The stack page holds a slot per region
(`templates/dashboard/health/_stack_health.html`) that fetches it once the page is shown, so
opening a stack costs no more than before until they load; each then reads through the
cached service (one upstream query per key and interval, whoever watches): dependencies and
drift detection share one query, resources one, previews one per page, and a waiting stack's
worker pool one per pool. The lock comes from the stack read the page made, and other
stacks' names and states from the cached stack list.

A stack outside the person's spaces is shown without its name, state or link: "a stack
outside your spaces".
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlencode

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.urls import reverse
from django.views.decorators.http import require_GET
from django.views.decorators.vary import vary_on_headers

from dashboard.accounts import access as space_access
from dashboard.converters import RUN_ID
from dashboard.decorators import with_service
from dashboard.regions import Region, render_regions
from dashboard.spacelift.service import SpaceliftService
from dashboard.spacelift.snapshot import Snapshot
from dashboard.spacelift.types import Health, Run, Stack, StackState
from dashboard.spacelift.types.health import PoolLoad, Resource, StackRef
from dashboard.stacks.locks import holder_of

# What each region is called on the page, in the order the page shows them.
PARTS = {
    "drifted": "Drifted resources",
    "lock": "Lock",
    "waiting": "Waiting",
    "dependencies": "Dependencies",
    "drift": "Drift detection",
    "resources": "Resources",
    "previews": "Pull-request previews",
}
RESOURCES_PAGE = 25
DRIFTED_NAMED = 3  # the drifted resources a drifted stack names at the top of its page
# An upstream in one of these holds back the runs of the stacks that depend on it.
HOLDING = frozenset({Health.IN_PROGRESS, Health.WAITING})
# Graph drawing: one column each for upstreams, the stack, downstreams.
NODE_W, NODE_H, GAP_Y, COLUMN_X = 180, 34, 12, (10, 230, 450)
LABEL_CHARS = 22


@dataclass(frozen=True)
class Neighbour:
    """A stack on the other end of a dependency, as this person may see it."""

    id: str
    name: str
    stack: Stack | None  # from the list: its state; None when not listed
    hidden: bool  # outside the person's spaces: no name, state or link

    @property
    def href(self) -> str:
        return "" if self.hidden else reverse("dashboard:stack", args=[self.id])

    @property
    def label(self) -> str:
        return "A stack outside your spaces" if self.hidden else self.name

    @property
    def holding(self) -> bool:
        return self.stack is not None and (
            self.stack.health in HOLDING or self.stack.state == StackState.UNCONFIRMED
        )


@require_GET
@login_required
@vary_on_headers("HX-Request")
@with_service
def stack_health(
    request: HttpRequest, service: SpaceliftService, stack_id: str, part: str
) -> HttpResponse:
    build = _BUILDERS.get(part)
    if build is None:
        raise Http404("No such part")
    with service.one_deadline():
        space_access.require_stack(request, service, stack_id)
        if not service.may_exist(stack_id):
            raise Http404("No such stack")
        return build(request, service, stack_id)


def _neighbours(request, service, refs: tuple[StackRef, ...]) -> list[Neighbour]:
    access = space_access.access_of(request, service)
    listed = service.stacks().data
    by_id = {stack.id: stack for stack in listed or ()}
    found = []
    for ref in refs:
        stack = by_id.get(ref.id)
        hidden = access is not None and (stack is None or stack.space_id not in access)
        found.append(Neighbour(ref.id, ref.name, None if hidden else stack, hidden))
    # Those one may see first, by name; the others after, all alike.
    return sorted(found, key=lambda n: (n.hidden, n.name.lower() if not n.hidden else ""))


def _page(request, service, stack_id: str, part: str, region: Region, values: dict) -> HttpResponse:
    """The region alone for htmx; without JavaScript, a page of its own around it."""
    return render_regions(request, f"dashboard/health/{part}.html", [region], {
        "stack_id": stack_id, "part": part, "title": PARTS[part], "region": region,
        "connection": service.connection, **values,
    })  # fmt: skip


def dependencies(request, service, stack_id: str) -> HttpResponse:
    health = service.stack_health(stack_id)
    up = down = []
    if health.data is not None:
        up = _neighbours(request, service, health.data.depends_on)
        down = _neighbours(request, service, health.data.needed_by)
    snapshot, _, is_waiting = _waiting(service, stack_id)
    stack = snapshot.data
    # Held back: it waits, and an upstream is still running (or awaits a confirmation).
    holding = [n for n in up if n.holding] if is_waiting else []
    region = Region.of(request, "health-dependencies", health, stack_id, _states(up + down),
                       str(is_waiting))  # fmt: skip
    return _page(request, service, stack_id, "dependencies", region, {
        "health": health.data, "up": up, "down": down,
        "holding": holding,
        "graph": graph(stack, up, down) if len(up) + len(down) > 1 else None,
    })  # fmt: skip


def _states(neighbours: list[Neighbour]) -> str:
    return ",".join(f"{n.id}={n.stack.state_raw if n.stack else ''}" for n in neighbours)


def graph(stack: Stack | None, up: list[Neighbour], down: list[Neighbour]) -> dict:
    """A small three-column drawing: upstreams, this stack, downstreams, with arrows."""
    rows = max(len(up), len(down), 1)
    height = rows * (NODE_H + GAP_Y) + GAP_Y

    def column(items: list[Neighbour], x: int) -> list[dict]:
        top = (height - len(items) * (NODE_H + GAP_Y) + GAP_Y) // 2
        return [
            {"x": x, "y": top + i * (NODE_H + GAP_Y), "label": _short(n.label),
             "title": n.label, "href": n.href,
             "health": n.stack.health.value if n.stack else "unknown", "me": False}
            for i, n in enumerate(items)
        ]  # fmt: skip

    me = {"x": COLUMN_X[1], "y": (height - NODE_H) // 2,
          "label": _short(stack.name if stack else ""), "title": stack.name if stack else "",
          "health": stack.health.value if stack else "unknown", "href": "", "me": True}  # fmt: skip
    left, right = column(up, COLUMN_X[0]), column(down, COLUMN_X[2])
    edges = [(n["x"] + NODE_W, n["y"] + NODE_H // 2, me["x"], me["y"] + NODE_H // 2) for n in left]
    edges += [
        (me["x"] + NODE_W, me["y"] + NODE_H // 2, n["x"], n["y"] + NODE_H // 2) for n in right
    ]
    return {"width": COLUMN_X[2] + NODE_W + 10, "height": height, "nodes": [*left, me, *right],
            "edges": edges, "node_w": NODE_W, "node_h": NODE_H, "me": me}  # fmt: skip


def _short(text: str) -> str:
    return text if len(text) <= LABEL_CHARS else text[: LABEL_CHARS - 1] + "…"


def previews(request, service, stack_id: str) -> HttpResponse:
    before = request.GET.get("before") or None
    if before is not None and not RUN_ID.match(before):
        before = None
    runs = service.proposed_runs(stack_id, before)
    region = Region.of(request, "health-previews", runs, stack_id, before=before)
    return _page(request, service, stack_id, "previews", region, {
        "runs": runs.data, "before": before,
        "older": runs.data[-1].id if runs.data else None,
    })  # fmt: skip


def resources(request, service, stack_id: str) -> HttpResponse:
    query = request.GET.get("q", "").strip()[:200]
    drifted_only = request.GET.get("drifted") == "1"
    try:
        page = max(1, int(request.GET.get("page", "1")))
    except ValueError:
        page = 1
    snapshot = service.resources(stack_id)
    every = snapshot.data or ()
    matching = [r for r in every if _matches(r, query) and (r.drifted_at or not drifted_only)]
    matching.sort(key=lambda r: (r.type, r.address))
    paginator = Paginator(matching, RESOURCES_PAGE)
    pages = paginator.num_pages  # 1 when nothing matches
    page = min(page, pages)
    shown = paginator.page(page).object_list
    groups: dict[str, list[Resource]] = {}
    for resource in shown:
        groups.setdefault(resource.type, []).append(resource)
    counts: dict[str, int] = {}
    for resource in matching:
        counts[resource.type] = counts.get(resource.type, 0) + 1
    base = reverse("dashboard:health", args=[stack_id, "resources"])

    def url(to_page: int) -> str:
        params = {"q": query, "drifted": "1" if drifted_only else "", "page": to_page}
        return f"{base}?{urlencode({k: v for k, v in params.items() if v})}"

    region = Region.of(request, "health-resources", snapshot, stack_id, query, str(page),
                       str(drifted_only), url=url(page))  # fmt: skip
    return _page(request, service, stack_id, "resources", region, {
        "resources": snapshot.data, "query": query,
        "drifted_only": drifted_only, "matching": len(matching), "types": len(counts),
        "groups": [(kind, counts[kind], items) for kind, items in groups.items()],
        "page": page, "pages": pages, "base_url": base,
        "previous_url": url(page - 1) if page > 1 else "",
        "next_url": url(page + 1) if page < pages else "",
    })  # fmt: skip


def drifted(request, service, stack_id: str) -> HttpResponse:
    """The drifted resources by name, in one line at the top of the stack page, with when
    drift was last found and a link to the resources filtered to the drifted ones. From the
    same cached read as Resources, so no query of its own."""
    snapshot = service.resources(stack_id)
    found = sorted((r for r in snapshot.data or () if r.drifted_at), key=lambda r: r.address)
    region = Region.of(request, "health-drifted", snapshot, stack_id)
    resources_url = reverse("dashboard:health", args=[stack_id, "resources"])
    return _page(request, service, stack_id, "drifted", region, {
        "resources": snapshot.data,
        "drifted": found[:DRIFTED_NAMED], "drifted_more": max(0, len(found) - DRIFTED_NAMED),
        "drifted_count": len(found),
        "found_at": max((r.drifted_at for r in found), default=None),
        "drifted_url": f"{resources_url}?drifted=1",
    })  # fmt: skip


def _matches(resource: Resource, query: str) -> bool:
    if not query:
        return True
    needle = query.lower()
    return needle in resource.address.lower() or needle in resource.type.lower()


def drift(request, service, stack_id: str) -> HttpResponse:
    health = service.stack_health(stack_id)
    detection = health.data.drift_detection if health.data else None
    region = Region.of(request, "health-drift", health, stack_id)
    return _page(request, service, stack_id, "drift", region, {
        "health": health.data, "detection": detection,
        "schedules": [(expr, cron_in_words(expr)) for expr in detection.schedule]
        if detection else [],
    })  # fmt: skip


def cron_in_words(expression: str) -> str:
    """`0 */6 * * *` -> `every 6 hours`; "" for a form it does not know (shown as written)."""
    parts = expression.split()
    if len(parts) != 5:
        return ""
    minute, hour, day, month, weekday = parts
    if (day, month) != ("*", "*"):
        return ""
    days = {"*": "every day", **{str(i): f"every {n}" for i, n in enumerate(_WEEKDAYS)}}
    days["7"] = "every Sunday"
    if weekday not in days:
        return ""
    if minute.startswith("*/") and minute[2:].isdigit() and hour == "*" and weekday == "*":
        return f"every {minute[2:]} minutes"
    if not minute.isdigit():
        return ""
    at_minute = f" at minute {int(minute)}" if int(minute) else ""
    if hour == "*" and weekday == "*":
        return f"every hour{at_minute}"
    if hour.startswith("*/") and hour[2:].isdigit() and weekday == "*":
        return f"every {hour[2:]} hours{at_minute}"
    if hour.isdigit():
        return f"{days[weekday]} at {int(hour):02d}:{int(minute):02d}"
    return ""


_WEEKDAYS = ("Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday")


def _waiting(service, stack_id: str) -> tuple[Snapshot, Run | None, bool]:
    """The stack, its latest tracked run, and whether it waits (READY, or a run QUEUED or
    READY): read as the stack page reads them, so from the cache."""
    stack = service.stack(stack_id)
    runs = service.runs(stack_id)
    latest = runs.data[0] if runs.data else None
    is_waiting = stack.data is not None and (
        stack.data.state == StackState.READY
        or (latest is not None and latest.state_raw in ("QUEUED", "READY"))
    )
    return stack, latest, is_waiting


def waiting(request, service, stack_id: str) -> HttpResponse:
    stack, latest, is_waiting = _waiting(service, stack_id)
    holding, pool, pool_problem = [], None, ""
    if is_waiting:
        health = service.stack_health(stack_id).data
        if health is not None:
            holding = [n for n in _neighbours(request, service, health.depends_on) if n.holding]
        pool_record = stack.data.worker_pool
        load = service.worker_pool(pool_record.id if pool_record else "",
                                   pool_record.name if pool_record else "")  # fmt: skip
        pool = load.data
        pool_problem = load.problem.summary if load.problem and pool is None else ""
    parts = (str(is_waiting), latest.id if latest else "", _states(holding), repr(pool),
             pool_problem)  # fmt: skip
    region = Region.of(request, "health-waiting", stack, stack_id, *parts,
                       live=f"stack-{stack_id}")  # fmt: skip
    return _page(request, service, stack_id, "waiting", region, {
        "stack": stack.data, "latest": latest,
        "is_waiting": is_waiting, "holding": holding, "pool": pool,
        "pool_facts": pool_facts(pool) if pool else [], "pool_problem": pool_problem,
    })  # fmt: skip


def pool_facts(pool: PoolLoad) -> list[tuple[str, str]]:
    """What is known of a pool's load, as phrases: runs waiting, workers busy, drained."""
    facts = []
    if pool.pending_runs is not None:
        runs = "1 run waits" if pool.pending_runs == 1 else f"{pool.pending_runs} runs wait"
        facts.append(("pending", f"{runs} there"))
    if pool.busy_workers is not None:
        total = "?" if pool.workers is None else str(pool.workers)
        facts.append(
            ("busy", f"{pool.busy_workers} of {total} worker{'' if total == '1' else 's'} busy")
        )
    if pool.drained is not None:
        facts.append(("drained", f"{pool.drained} drained"))
    return facts


def lock(request, service, stack_id: str) -> HttpResponse:
    """Who holds the stack's lock, since when and why; an operator's control to change it.
    From the stack read the page has made already: no query of its own."""
    stack = service.stack(stack_id)
    holder = holder_of(stack.data, service.connection.key_id) if stack.data else ""
    region = Region.of(request, "health-lock", stack, stack_id, holder, live=f"stack-{stack_id}")
    return _page(request, service, stack_id, "lock", region, {
        "stack": stack.data, "holder": holder,
    })  # fmt: skip


@dataclass(frozen=True)
class DriftSummary:
    """For the overview, from its one list read: stacks drifted, and drift-detection coverage.

    A count of drifted *resources* is not here: the list carries no per-stack resource
    counts by drift (`entities` is per stack; `metrics.resourcesCountByDrift` is the
    exporter's only, and a query of its own)."""

    drifted: int | None  # None: the API has no Stack.isDrifted
    checked: int | None  # None: the list was read without `integrations`
    total: int


def drift_summary(stacks: list[Stack] | None) -> DriftSummary | None:
    if not stacks:
        return None
    drifted = [s.is_drifted for s in stacks if s.is_drifted is not None]
    checked = [s.drift_checked for s in stacks if s.drift_checked is not None]
    return DriftSummary(
        drifted=sum(drifted) if drifted else None,
        checked=sum(checked) if checked else None,
        total=len(stacks),
    )


_BUILDERS: dict[str, Callable[[HttpRequest, SpaceliftService, str], HttpResponse]] = {
    "drifted": drifted,
    "lock": lock,
    "dependencies": dependencies,
    "previews": previews,
    "resources": resources,
    "drift": drift,
    "waiting": waiting,
}

"""The refresh protocol: how a region of a page keeps itself current, in one place.

A region is a `<section>` that polls its own URL. The view builds a `Region` per polled part of
the page and hands them to `render_regions`, which answers:

- the full page, for a browser's ordinary request;
- the region alone (the template's partial of the same name), for htmx's poll;
- 204 and no body when the poll already holds this version, with a `portal:unchanged` event
  (django-htmx's `trigger_client_event`) that keeps "Updated … ago" true.

A region's version names its data, its problem, its own parts (IDs, query) and the minute, so
relative times ("4 min") are re-rendered at least once a minute. After a failure it polls no
sooner than the service will retry; the stale banner is `_problem.html`, with status 200 so the
polling survives. The `hx-*` header is `templates/dashboard/_region.html`.

A new polled region, the whole view:

    @require_GET
    @login_required
    @vary_on_headers("HX-Request")
    @with_service
    def space_detail(request, service, space_id: str) -> HttpResponse:
        snapshot = or_404(service.space(space_id), "No such space")
        space = Region.of(request, "space", snapshot, space_id)
        return render_regions(request, "dashboard/space.html", [space], {"space": snapshot.data})

and its template, `dashboard/space.html`:

    {% partialdef space inline %}
    <section {% include "dashboard/_region.html" with region=regions.space %}>
      {% include "dashboard/_problem.html" with snapshot=regions.space.snapshot %}
      {% if space %}<h1>{{ space.name }}</h1>{% endif %}
    </section>
    {% endpartialdef %}
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from cachetools import LRUCache
from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.template.loader import render_to_string
from django_htmx.http import trigger_client_event

from dashboard.spacelift import errors, process_state
from dashboard.spacelift.snapshot import Problem, Snapshot, error_fields

# Relative times ("4 min") are re-rendered at least this often even when data is unchanged.
RELATIVE_TIME_GRANULARITY_SECONDS = 60
# The event an unchanged poll sends; static/js/portal.js refreshes "Updated … ago" on it.
UNCHANGED_EVENT = "portal:unchanged"


def region_version(snapshot: Snapshot[Any], *parts: str) -> str:
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


def poll_seconds(snapshot: Snapshot[Any]) -> int:
    """Poll at the configured pace; after a failure, no sooner than the service will retry."""
    interval = settings.PORTAL_POLL_SECONDS
    if snapshot.problem:
        interval = max(interval, int(snapshot.problem.retry_after) + 1)
    return interval


def or_404(snapshot: Snapshot[Any], message: str) -> Snapshot[Any]:
    """The snapshot, unless Spacelift answered that the thing does not exist.

    No data and no problem means Spacelift was read and had nothing; no data with a problem
    is an outage, which the region shows as such.
    """
    if snapshot.data is None and snapshot.problem is None:
        raise Http404(message)
    return snapshot


@dataclass(frozen=True)
class Region:
    """One polled part of a page: what `_region.html` and the view's answer need."""

    name: str  # the element's id and the template's partial
    url: str
    snapshot: Snapshot[Any]
    version: str
    polling: bool = True
    # Sent back with every poll beside the version (e.g. the page of runs shown).
    vals: tuple[tuple[str, str], ...] = ()
    # The server-sent event that makes it fetch itself at once (dashboard/live/): "stacks".
    live: str = ""

    @classmethod
    def of(
        cls,
        request: HttpRequest,
        name: str,
        snapshot: Snapshot[Any],
        *parts: str,
        url: str | None = None,
        polling: bool = True,
        live: str = "",
        **vals: str | None,
    ) -> Region:
        kept = tuple((key, value) for key, value in vals.items() if value)
        version = region_version(snapshot, name, *parts, *(f"{k}={v}" for k, v in kept))
        return cls(name, url or request.path, snapshot, version, polling, kept, live)

    @property
    def poll_seconds(self) -> int:
        return poll_seconds(self.snapshot)

    @property
    def hx_trigger(self) -> str:
        """Every poll interval, on coming back to the tab, and on its server-sent event."""
        trigger = f"every {self.poll_seconds}s, portal:visible from:body"
        return f"{trigger}, sse:{self.live}" if self.live else trigger

    @property
    def hx_vals(self) -> str:
        return json.dumps({"region": self.name, "v": self.version, **dict(self.vals)})


def polled_region(request: HttpRequest, regions: Sequence[Region]) -> Region | None:
    """The region an htmx poll asks for; None for a full page."""
    if not request.htmx:
        return None
    if len(regions) == 1:
        return regions[0]
    wanted = request.GET.get("region")
    return next((region for region in regions if region.name == wanted), None)


def held(request: HttpRequest, region: Region) -> bool:
    """Whether the poll comes from a browser that already holds this version of the region."""
    return bool(request.htmx) and request.GET.get("v") == region.version


def failed(exc: errors.SpaceliftError, version: str) -> Snapshot[Any]:
    """A read that failed with nothing to show instead: the region says why (`_problem.html`)
    and polls on, at the configured pace, as `version` (what the browser holds)."""
    problem = Problem(**error_fields(exc), since=datetime.now(tz=UTC),
                      retry_after=settings.PORTAL_POLL_SECONDS)  # fmt: skip
    return Snapshot(None, version, None, problem)


def unchanged(region: Region) -> HttpResponse:
    """204 for a poll whose browser already holds this version: no fragment on the wire."""
    fetched_at = region.snapshot.fetched_at
    return trigger_client_event(
        HttpResponse(status=204),
        UNCHANGED_EVENT,
        {"fetchedAt": fetched_at.timestamp() if fetched_at else None},
    )


Context = Mapping[str, Any] | Callable[[], Mapping[str, Any]]


def render_regions(
    request: HttpRequest,
    template: str,
    regions: Sequence[Region],
    context: Context,
    *,
    shared_by: str | None = None,
) -> HttpResponse:
    """The page, or the polled region, or 204 when that region is unchanged.

    `context` may be a function: it is then called only when something is rendered. With
    `shared_by` (whose data the region shows, e.g. the connection's fingerprint), a polled
    region is rendered once per version for every viewer; see `_shared`.
    """
    region = polled_region(request, regions)
    if region is not None and held(request, region):
        return unchanged(region)
    key = (shared_by, region.url, region.version) if shared_by and region else None
    if key and (html := _shared_region(key)) is not None:
        return HttpResponse(html)
    values = dict(context() if callable(context) else context)
    values["regions"] = {r.name: r for r in regions}
    if region is None:
        return render(request, template, values)
    if key:
        html = render_to_string(f"{template}#{region.name}", values)
        _share_region(key, html.encode())
        return HttpResponse(html)
    return render(request, f"{template}#{region.name}", values)


# Regions as last rendered for each version, shared by every viewer: (shared_by, url, version)
# to the bytes. About 120 KB each at 100 rows: a few MB for the views people keep open.
#
# Safe by construction: a shared region is rendered without the request, so no context
# processor runs and nothing personal (user, permissions, CSRF token, messages) can reach it;
# a per-user control added to such a region renders empty, never someone else's.
# tests/test_regions.py renders one for a viewer and an operator and compares the bytes.
SHARED_REGIONS = 32
_shared: LRUCache[tuple[str, str, str], bytes] = LRUCache(maxsize=SHARED_REGIONS)
# cachetools' caches are not thread-safe, and a read reorders an LRU: every access locks.
_shared_lock = threading.Lock()


def _shared_region(key: tuple[str, str, str]) -> bytes | None:
    with _shared_lock:
        return _shared.get(key)


def _share_region(key: tuple[str, str, str], html: bytes) -> None:
    with _shared_lock:
        _shared[key] = html


@process_state.forgets("shared regions")
def forget_shared_regions() -> None:
    with _shared_lock:
        _shared.clear()

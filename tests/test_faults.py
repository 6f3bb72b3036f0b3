"""The fault matrix: every simulator fault against every page and poll.

Each answers 200 with the last good data and a stale banner, then recovers by itself.
"""

from __future__ import annotations

import pytest
from django.conf import settings

from dashboard.connection.source import current_connection
from dashboard.spacelift.clock import clock
from dashboard.spacelift.service import MAX_BACKOFF_SECONDS
from tests.conftest import HTMX

pytestmark = pytest.mark.django_db

FAULTS = ["http500", "not_json", "unauthorized", "hang", "graphql_error", "rate_limit"]


STACK_ROWS = 'data-stack="'  # the overview's table
STACK_FACTS = "<dt>Repository</dt>"  # the stack page's configuration
RUN_ROWS = 'data-run="'  # the stack page's runs


def pages(stack_id: str) -> list[tuple[str, dict, dict, tuple[str, ...]]]:
    """Each page and poll, with what shows that its last good data is still there."""
    return [
        ("/", {}, {}, (STACK_ROWS,)),
        ("/", {}, HTMX, (STACK_ROWS,)),
        (f"/stacks/{stack_id}/", {}, {}, (STACK_FACTS, RUN_ROWS)),
        (f"/stacks/{stack_id}/", {"region": "config"}, HTMX, (STACK_FACTS,)),
        (f"/stacks/{stack_id}/", {"region": "runs"}, HTMX, (RUN_ROWS,)),
    ]


def end_interval(*, backoff_too: bool = False) -> None:
    """Move the service's clock past the poll interval (and, optionally, the longest backoff)."""
    clock.advance(MAX_BACKOFF_SECONDS + 1 if backoff_too else settings.PORTAL_POLL_SECONDS + 1)


@pytest.fixture
def a_stack_id(connected):
    from dashboard.spacelift.client import SpaceliftClient

    client = SpaceliftClient(current_connection())
    return next(s.id for s in client.list_stacks() if s.health.value == "healthy")


@pytest.mark.parametrize("fault", FAULTS)
def test_every_page_keeps_its_last_good_data_through_a_fault_and_recovers(
    viewer_client, connected, a_stack_id, fault
):
    for path, params, headers, shown in pages(a_stack_id):
        html = viewer_client.get(path, params, **headers).content.decode()
        assert all(marker in html for marker in shown), (path, params)
    end_interval()
    connected.set_faults(mode=fault)
    for path, params, headers, shown in pages(a_stack_id):
        response = viewer_client.get(path, params, **headers)
        html = response.content.decode()
        assert response.status_code == 200, (fault, path, params)
        assert "Stale:" in html, (fault, path, params)
        assert "Traceback" not in html
        for marker in shown:
            assert marker in html, (fault, path, params, marker)
    connected.set_faults(mode=None)
    end_interval(backoff_too=True)
    for path, params, headers, shown in pages(a_stack_id):
        html = viewer_client.get(path, params, **headers).content.decode()
        assert "Stale:" not in html and "banner-error" not in html, (fault, path)
        assert all(marker in html for marker in shown), (fault, path, params)


@pytest.mark.parametrize("fault", ["http500", "not_json", "rate_limit"])
def test_without_good_data_the_page_says_what_failed_and_what_to_do(
    viewer_client, connected, fault
):
    connected.set_faults(mode=fault)
    for path, params, headers in [
        ("/", {}, {}),
        ("/", {}, HTMX),
        ("/stacks/payments-prod/", {}, {}),
    ]:
        response = viewer_client.get(path, params, **headers)
        html = response.content.decode()
        assert response.status_code == 200
        assert "Spacelift could not be read." in html
        assert 'class="hint"' in html


def test_after_a_failure_the_region_polls_no_sooner_than_the_retry(viewer_client, connected):
    connected.set_faults(mode="rate_limit")  # Retry-After: 7
    html = viewer_client.get("/", **HTMX).content.decode()
    interval = int(html.split('hx-trigger="every ')[1].split("s")[0])
    assert interval >= 7


def test_a_stack_that_vanished_is_a_404_not_an_error(viewer_client, connected):
    before = {s.id for s in connected.world.stacks}
    viewer_client.get("/")
    gone = sorted(before)[-1]
    assert viewer_client.get(f"/stacks/{gone}/").status_code == 200
    connected.rebuild_world(10, seed=99)
    try:
        gone = next(i for i in sorted(before) if connected.world.get_stack(i) is None)
        end_interval()
        response = viewer_client.get(f"/stacks/{gone}/")
        assert response.status_code == 404
        assert b"Not found" in response.content
        assert viewer_client.get("/").status_code == 200
    finally:
        connected.rebuild_world(48, seed=7)

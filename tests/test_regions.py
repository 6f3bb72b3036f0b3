"""The refresh protocol (dashboard/regions.py): versions, 204, the hx-* header, shared renders."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from django.test import RequestFactory
from django.urls import Resolver404, resolve

from dashboard import regions
from dashboard.regions import Region, polled_region, region_version
from dashboard.spacelift.service import Problem, Snapshot, SpaceliftService
from tests.conftest import HTMX, poll_values, region_of

pytestmark = pytest.mark.django_db

FETCHED = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


def snapshot(version: str = "v1", *, problem: Problem | None = None) -> Snapshot[list[int]]:
    return Snapshot(data=[1], version=version, fetched_at=FETCHED, problem=problem)


def htmx_request(path: str = "/", **params: str):
    request = RequestFactory().get(path, params)
    request.htmx = True  # what django-htmx's middleware sets for HX-Request: true
    return request


def test_a_region_sends_back_its_name_version_and_only_the_values_it_has():
    region = Region.of(htmx_request("/stacks/a/"), "runs", snapshot(), "a", before=None)
    assert json.loads(region.hx_vals) == {"region": "runs", "v": region.version}
    older = Region.of(htmx_request("/stacks/a/"), "runs", snapshot(), "a", before="01J0")
    assert json.loads(older.hx_vals) == {"region": "runs", "v": older.version, "before": "01J0"}
    assert older.version != region.version
    assert region.url == "/stacks/a/"


def test_the_version_changes_with_the_data_the_problem_and_the_parts():
    problem = Problem("Spacelift is down", "HTTP 500", "", FETCHED, retry_after=30)
    base = region_version(snapshot("v1"), "a")
    assert region_version(snapshot("v1"), "a") == base
    assert region_version(snapshot("v2"), "a") != base
    assert region_version(snapshot("v1", problem=problem), "a") != base
    assert region_version(snapshot("v1"), "b") != base


def test_after_a_failure_a_region_polls_no_sooner_than_the_retry(settings):
    settings.PORTAL_POLL_SECONDS = 10
    problem = Problem("Spacelift is down", "HTTP 500", "", FETCHED, retry_after=29.5)
    assert Region.of(htmx_request(), "x", snapshot()).poll_seconds == 10
    assert Region.of(htmx_request(), "x", snapshot(problem=problem)).poll_seconds == 30


def test_a_poll_names_its_region_and_a_plain_request_gets_the_page():
    a = Region.of(htmx_request(), "a", snapshot())
    b = Region.of(htmx_request(), "b", snapshot())
    assert polled_region(htmx_request(region="b"), [a, b]) is b
    assert polled_region(htmx_request(region="nope"), [a, b]) is None
    assert polled_region(htmx_request(), [a]) is a  # one region: every poll is for it
    plain = RequestFactory().get("/", {"region": "b"})
    plain.htmx = False
    assert polled_region(plain, [a, b]) is None


def test_an_unchanged_poll_says_when_the_data_was_confirmed():
    response = regions.unchanged(Region.of(htmx_request(), "x", snapshot()))
    assert response.status_code == 204
    assert json.loads(response["HX-Trigger"]) == {
        regions.UNCHANGED_EVENT: {"fetchedAt": FETCHED.timestamp()}
    }


@pytest.mark.parametrize(
    "path",
    [
        "/stacks/%3Cscript%3E/",
        "/stacks/-leading-dash/",
        "/stacks/payments-prod/runs/not-a-ulid/",
        "/stacks/payments-prod/runs/01J0000000000000000000000U/",  # U is not Crockford base32
        "/stacks/payments-prod/badge.svg/x",
    ],
)
def test_a_malformed_id_matches_no_url(path):
    with pytest.raises(Resolver404):
        resolve(path)


def test_well_formed_ids_reach_their_views():
    match = resolve("/stacks/payments-prod/runs/01J00000000000000000000000/")
    assert match.url_name == "run"
    assert match.kwargs == {"stack_id": "payments-prod", "run_id": "01J00000000000000000000000"}


def test_viewers_of_one_view_share_one_render_of_the_region(
    viewer_client, staff_client, still, monkeypatch
):
    renders = []
    real = regions.render_to_string
    monkeypatch.setattr(
        regions, "render_to_string", lambda *a, **k: renders.append(a[0]) or real(*a, **k)
    )
    first = viewer_client.get("/", {"q": "prod"}, **HTMX)
    second = staff_client.get("/", {"q": "prod"}, **HTMX)
    assert first.content == second.content
    assert renders == ["dashboard/overview.html#stacks"]
    viewer_client.get("/", {"q": "dev"}, **HTMX)  # another view renders on its own
    assert len(renders) == 2


@pytest.fixture
def still(connected, monkeypatch, still_time):
    """The stack list and the wall clock (relative times) held still: only the viewer varies."""
    from dashboard.connection.source import current_connection

    snapshot = SpaceliftService(current_connection()).stacks()
    assert snapshot.data
    monkeypatch.setattr(SpaceliftService, "stacks", lambda self: snapshot)


def test_the_shared_region_is_the_same_bytes_for_a_viewer_and_an_operator(
    viewer_client, operator_client, staff_client, still
):
    """Each renders it afresh: a per-user control in the region would make them differ."""
    answers = []
    for client in (viewer_client, operator_client, staff_client):
        regions.forget_shared_regions()
        response = client.get("/", {"q": "prod"}, **HTMX)
        assert response.status_code == 200
        answers.append(response.content)
    assert answers[0] == answers[1] == answers[2]
    assert region_of(answers[0], "stacks").select("tr[data-stack]")


def test_the_full_page_and_the_poll_show_the_same_region(viewer_client, still):
    page = region_of(viewer_client.get("/?q=prod"), "stacks")
    poll = region_of(viewer_client.get("/", {"q": "prod"}, **HTMX), "stacks")
    assert poll_values(page) == poll_values(poll)
    assert page.select("tr[data-stack]") == poll.select("tr[data-stack]")

"""The stack page's health regions (issue 22): each must-show, over the simulator."""

from __future__ import annotations

import json

import pytest
from django.contrib.auth.models import Group

from dashboard.stacks import health as stack_health
from tests.conftest import HTMX, parse, poll_values, region_of

pytestmark = pytest.mark.django_db

PARTS = ("drifted", "lock", "waiting", "dependencies", "drift", "resources", "previews")


def health(client, stack_id: str, part: str, query: str = ""):
    response = client.get(f"/stacks/{stack_id}/health/{part}/{query}", **HTMX)
    assert response.status_code == 200
    return region_of(response, f"health-{part}")


def test_the_stack_page_holds_a_slot_per_region_and_each_loads_on_its_own(viewer_client, connected):
    page = parse(viewer_client.get("/stacks/k8s-cluster-prod/"))
    slots = page.select("section.stack-health .health-slot")
    assert [s["hx-get"] for s in slots] == [
        f"/stacks/k8s-cluster-prod/health/{part}/" for part in PARTS if part != "drifted"
    ]
    assert all(s["hx-trigger"] == "load" and s.select_one("a[href]") for s in slots)
    # The drifted resources head the page: under its header, above the runs, no box till loaded.
    top = page.select_one("#health-drifted")
    assert top["hx-get"] == "/stacks/k8s-cluster-prod/health/drifted/"
    assert top.find_previous("section", id="stack") and top.find_next("h2")["id"] == "runs-title"
    assert top.get_text(strip=True) == "Drifted resources"  # the link inside <noscript> only
    assert top.select_one("noscript") is not None
    # Each region polls its own URL; without JavaScript it is a page of its own.
    region = health(viewer_client, "k8s-cluster-prod", "drift")
    assert poll_values(region)["region"] == "health-drift"
    full = viewer_client.get("/stacks/k8s-cluster-prod/health/drift/")
    assert parse(full).select_one("h1").get_text() == "Drift detection"
    assert viewer_client.get("/stacks/k8s-cluster-prod/health/bogus/").status_code == 404
    assert viewer_client.get("/stacks/no-such-stack/health/drift/").status_code == 404


def test_it_links_what_a_stack_depends_on_and_what_depends_on_it(viewer_client, connected):
    region = health(viewer_client, "k8s-cluster-prod", "dependencies")
    lists = region.select(".neighbours")
    assert [a["href"] for a in lists[0].select("a")] == ["/stacks/network-core-prod/"]
    assert [a["href"] for a in lists[1].select("a")] == ["/stacks/payments-prod/"]
    assert all(li.select_one(".chip") for ul in lists for li in ul.select("li[data-neighbour]"))
    # Two or more: a drawing, with a title, whose nodes link the other stacks.
    svg = region.select_one("figure.dependency-graph svg")
    assert svg["role"] == "group" and svg.select_one("title")
    assert {a["href"] for a in svg.select("a")} == {
        "/stacks/network-core-prod/", "/stacks/payments-prod/"
    }  # fmt: skip
    # One only: no drawing. A stack held back by an upstream says which.
    held = health(viewer_client, "payments-staging", "dependencies")
    assert held.select_one("svg") is None
    banner = held.select_one("[data-held-back]")
    assert banner and banner.select_one("a")["href"] == "/stacks/network-core-staging/"
    assert (
        health(viewer_client, "k8s-cluster-prod", "dependencies").select_one("[data-held-back]")
        is None
    )


def test_a_dependency_outside_the_persons_spaces_shows_no_name_and_no_link(
    client, connected, django_user_model, settings
):
    data_space = next(s.id for s in connected.world.spaces if s.name == "data")
    settings.PORTAL_SPACE_ACCESS = json.dumps({"team-data": [data_space]})
    person = django_user_model.objects.create_user("dee", password="pw-dee-12345")
    person.groups.add(Group.objects.create(name="team-data"))
    client.force_login(person)
    region = health(client, "data-lake-prod", "dependencies")
    text = region.get_text(" ")
    assert "A stack outside your spaces" in text
    assert "network-core" not in str(region).lower()
    assert not region.select(".neighbours a")
    # The stacks themselves stay as unknown as before.
    assert client.get("/stacks/network-core-prod/health/dependencies/").status_code == 404


def test_it_lists_pull_request_previews_with_branches_and_pages_them(viewer_client, connected):
    stack = connected.world.get_stack("payments-staging")
    stack.ensure_history()
    region = health(viewer_client, "payments-staging", "previews")
    rows = region.select("tr[data-preview]")
    assert [r["data-preview"] for r in rows] == [r.id for r in stack.proposed[:10]]
    first = stack.proposed[0]
    assert first.branch in rows[0].get_text()
    assert rows[0].select_one("a.run-link")["href"] == f"/stacks/payments-staging/runs/{first.id}/"
    older = region.select_one("a[rel=next]")
    if len(stack.proposed) > 10:
        assert older["href"].endswith(f"?before={stack.proposed[9].id}")
    # The run page of a preview is the run page of any run.
    assert viewer_client.get(f"/stacks/payments-staging/runs/{first.id}/").status_code == 200


def test_it_lists_resources_by_type_and_marks_and_names_the_drifted_ones(
    viewer_client, connected, monkeypatch
):
    stack = connected.world.get_stack("k8s-cluster-prod")
    entities = connected.world.health.entities(stack)
    drifted = sorted(e.address for e in entities if e.drifted)
    region = health(viewer_client, "k8s-cluster-prod", "resources")
    assert region.select_one("[data-resource-count]").get_text().startswith(f"{len(entities)} ")
    # At the top of the stack page, one line: how many, the first few by name, when found,
    # and a link to the resources filtered to the drifted ones.
    line = health(viewer_client, "k8s-cluster-prod", "drifted").select_one(
        "p[data-drifted-resources]"
    )
    text = " ".join(line.get_text(" ").split())
    assert text.startswith(f"{len(drifted)} drifted resource")
    assert [c.get_text() for c in line.select("code")] == drifted[:3]
    assert "found" in text and " ago)" in text
    link = line.select_one("a[hx-target='#health-resources']")
    assert link["href"] == link["hx-get"] == "/stacks/k8s-cluster-prod/health/resources/?drifted=1"
    # More than it names: the rest are counted, and the link shows them all.
    monkeypatch.setattr(stack_health, "DRIFTED_NAMED", 2)
    short = health(viewer_client, "k8s-cluster-prod", "drifted").select_one(
        "p[data-drifted-resources]"
    )
    assert [c.get_text() for c in short.select("code")] == drifted[:2]
    assert f"… and {len(drifted) - 2} more" in " ".join(short.get_text(" ").split())
    # A stack without drift shows nothing there; its page without JavaScript says so.
    calm = next(s.id for s in connected.world.stacks if not s.is_drifted and s.entity_count)
    quiet = health(viewer_client, calm, "drifted")
    assert quiet.get_text(strip=True) == "" and quiet["id"] == "health-drifted"
    own_page = parse(viewer_client.get(f"/stacks/{calm}/health/drifted/"))
    assert "No resource has drifted" in own_page.get_text()
    assert len(region.select("tr[data-resource]")) == 25  # a page
    assert region.select("tbody[data-type]")
    # Search, and drifted only: the drifted rows are marked with when.
    found = health(viewer_client, "k8s-cluster-prod", "resources", "?drifted=1")
    rows = found.select("tr[data-resource]")
    assert sorted(r["data-resource"] for r in rows) == drifted
    assert all("drifted" in r["class"] and r.select_one("time") for r in rows)
    searched = health(viewer_client, "k8s-cluster-prod", "resources", "?q=aws_iam_role")
    assert {t["data-type"] for t in searched.select("tbody[data-type]")} == {"aws_iam_role"}
    # Paging keeps the search; the poll keeps the page.
    second = health(viewer_client, "k8s-cluster-prod", "resources", "?page=2")
    assert "Page 2 of" in second.get_text()
    assert "page=2" in second["hx-get"]


def test_it_shows_the_drift_detection_schedule_or_that_it_is_off(viewer_client, connected):
    region = health(viewer_client, "payments-prod", "drift")
    assert "every 6 hours (0 */6 * * *)" in " ".join(region.get_text(" ").split()).replace(
        "( ", "("
    ).replace(" )", ")")
    assert "Next check" in region.get_text() and region.select_one("time")
    off = health(viewer_client, "network-core-prod", "drift")
    assert "Drift detection is off for this stack." in off.get_text()


def test_a_waiting_stack_names_its_pool_and_how_many_runs_wait_there(viewer_client, connected):
    stack = next(s for s in connected.world.stacks if s.state == "READY")
    region = health(viewer_client, stack.id, "waiting")
    pool = region.select_one("[data-pool]").get_text(" ")
    assert stack.worker_pool.name in pool
    assert "2 runs wait there" in " ".join(pool.split())
    assert "2 of 3 workers busy" in " ".join(pool.split()) and "1 drained" in pool
    # Waiting on an upstream: named, with its state.
    queued = health(viewer_client, "payments-staging", "waiting")
    waits = queued.select_one("[data-waits-on] a")
    assert waits["href"] == "/stacks/network-core-staging/"
    # A stack not waiting says so.
    assert "Not waiting" in health(viewer_client, "k8s-cluster-prod", "waiting").get_text()


def test_a_key_that_may_not_read_worker_pools_is_said_so(viewer_client, connected):
    connected.set_faults(no_worker_pools=True)
    stack = next(s for s in connected.world.stacks if s.state == "READY")
    region = health(viewer_client, stack.id, "waiting")
    assert "may not read worker pools" in region.select_one("[data-pool]").get_text()
    assert region.select_one(".banner-error") is None


def test_a_failed_pool_read_is_said_and_the_rest_of_the_region_stays(viewer_client, connected):
    stack = next(s for s in connected.world.stacks if s.state == "READY")
    health(viewer_client, stack.id, "dependencies")  # the stack, its runs and its dependencies
    connected.set_faults(mode="graphql_error")  # from now on Spacelift fails every query
    region = health(viewer_client, stack.id, "waiting")
    assert "could not be read" in region.select_one("[data-pool]").get_text()
    assert region.select_one("[data-waiting]")


def test_opening_a_stack_costs_a_bounded_number_of_queries(viewer_client, connected):
    viewer_client.get("/")  # the list, as from the overview
    connected.reset_stats()
    stack = next(s for s in connected.world.stacks if s.state == "READY")
    viewer_client.get(f"/stacks/{stack.id}/")
    page_only = connected.stats()["queries"]
    for part in PARTS:
        health(viewer_client, stack.id, part)
    with_health = connected.stats()["queries"]
    # stack, runs, environment; then health (dependencies + drift), resources, previews, pool.
    assert (page_only, with_health) == (3, 7)
    for part in PARTS:  # a second look within the interval: all from the cache
        health(viewer_client, stack.id, part)
    assert connected.stats()["queries"] == with_health


def test_the_overview_counts_drift_and_its_coverage_from_its_one_list_read(
    viewer_client, connected
):
    stacks = connected.world.stacks
    checked = sum(1 for s in stacks if connected.world.health.drift[s.id])
    drifted = {s.id for s in stacks if s.is_drifted}
    connected.reset_stats()
    summary = parse(viewer_client.get("/")).select_one("[data-drift-summary]")
    coverage = " ".join(summary.select_one("[data-drift-coverage]").get_text().split())
    assert coverage == f"drift checked on {checked} of {len(stacks)} stacks"
    assert f"{len(drifted)} drifted stacks" in " ".join(summary.get_text().split())
    assert connected.list_reads() == 1  # the list read alone
    # and nothing else, but the once-per-connection request that learns the page size
    assert connected.stats()["queries"] == 1 + connected.stats()["search_limit_refused"]
    filtered = parse(viewer_client.get("/?drift=drifted&per_page=250"))
    assert {a["href"].split("/")[2] for a in filtered.select("td a[href^='/stacks/']")} == drifted
    unchecked = parse(viewer_client.get("/?drift=unchecked&per_page=250"))
    rows = {a["href"].split("/")[2] for a in unchecked.select("td a[href^='/stacks/']")}
    assert rows == {s.id for s in stacks if not connected.world.health.drift[s.id]}
    # and nothing else, but the once-per-connection request that learns the page size
    assert connected.stats()["queries"] == 1 + connected.stats()["search_limit_refused"]

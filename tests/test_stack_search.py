"""The stack list from searchStacks pages (issue 21, item 1), against the simulator over HTTP."""

from __future__ import annotations

import pytest
from django.conf import settings

from dashboard.spacelift import stack_search
from dashboard.spacelift.clock import clock
from dashboard.spacelift.service import MAX_BACKOFF_SECONDS
from tests.conftest import HTMX, parse


def test_it_lists_every_stack_from_pages_and_learns_the_page_size_once(sim, make_client, unpaced):
    sim.rebuild_world(120, seed=7)
    client = make_client(sim)
    stacks = client.list_stacks()
    assert len(stacks) == len({s.id for s in stacks}) == 120
    stats = sim.stats()
    # A page of 100 refused (the error names 50), then 3 pages of 50; never `stacks`.
    assert stats["search_limit_refused"] == 1 and stats["search_pages"] == 3
    assert "stacks" not in stats["by_field"]
    assert client.page_size() == 50
    sim.reset_stats()
    assert len(make_client(sim).list_stacks()) == 120  # another worker: no refusal again
    assert sim.stats()["search_limit_refused"] == 0 and sim.stats()["search_pages"] == 3
    # Paced at 5 a second: the 7 requests of the two passes went 0.2 s apart.
    assert unpaced[0] == pytest.approx(6 / stack_search.PAGES_PER_SECOND)
    assert client.stack_pass_seconds() == pytest.approx(2.0 + 4 / 5)


def test_a_failed_pass_keeps_the_last_good_list(sim, clock, make_service, unpaced):
    sim.rebuild_world(120, seed=7)
    svc = make_service(sim, ttl=10)
    first = svc.stacks()
    assert len(first.data) == 120 and first.ok
    clock.advance(11)
    sim.set_faults(mode="http500")
    again = svc.stacks()
    assert again.stale and again.data == first.data and again.version == first.version


def overview_stack_ids(viewer_client, **headers) -> tuple[list[str], str]:
    html = viewer_client.get("/", {"per_page": 250}, **headers).content.decode()
    rows = parse(html).select("[data-stack]")
    return [row["data-stack"] for row in rows], html


@pytest.mark.django_db
def test_a_later_page_failing_keeps_the_last_good_list_whole_and_the_next_pass_recovers(
    viewer_client, connected, unpaced
):
    connected.rebuild_world(120, seed=7)
    before, html = overview_stack_ids(viewer_client)
    assert len(set(before)) == 120 and "Stale:" not in html
    # The account changes (130 other stacks), and the second page of the next pass fails:
    # its first page (50 of the new stacks) was read, but none of them may show.
    connected.rebuild_world(130, seed=8)
    assert not {s.id for s in connected.world.stacks} >= set(before)
    connected.set_faults(fail_search_page=2)
    connected.reset_stats()
    clock.advance(settings.PORTAL_POLL_SECONDS + 1)
    for headers in ({}, HTMX):
        during, html = overview_stack_ids(viewer_client, **headers)
        assert sorted(during) == sorted(before), "the last good list, whole, not a half list"
        assert "Stale:" in html and "answered HTTP 500" in html and "Traceback" not in html
    stats = connected.stats()
    assert stats["search_pages"] == 1 and stats["faults"] == 1  # page 1 read, page 2 failed
    assert connected.faults()["fail_search_page"] == 0  # once
    clock.advance(MAX_BACKOFF_SECONDS + 1)
    after, html = overview_stack_ids(viewer_client)
    assert sorted(after) == sorted(s.id for s in connected.world.stacks)
    assert len(after) == 130 and "Stale:" not in html and "banner-error" not in html


def test_where_search_is_refused_it_reads_stacks_and_remembers(sim, make_client, unpaced):
    sim.set_faults(no_search=True)
    client = make_client(sim)
    assert len(client.list_stacks()) == 48
    assert len(client.list_stacks()) == 48
    by_field = sim.stats()["by_field"]
    assert by_field["searchStacks"] == 1  # refused once, then never asked again
    assert by_field["stacks"] == 2


def test_an_empty_first_page_is_doubted_with_viewer(sim, make_client, unpaced):
    client = make_client(sim)
    client.list_stacks()  # the list held stacks
    sim.set_faults(unaccepted_empty=True, accept_no_tokens=True)
    with pytest.raises(Exception) as raised:
        client.list_stacks()
    assert raised.value.__class__.__name__ == "TokenNotAccepted"
    assert sim.stats()["by_field"]["viewer"] >= 1


@pytest.mark.parametrize(
    ("message", "asked", "step"),
    [
        ("first: must be at most 50, got 100", 100, 50),
        ("page size exceeds the maximum of 25", 100, 25),
        ("first is too large", 100, 50),
        ("internal error", 100, None),
        ("must be at most 50", 50, None),
    ],
)
def test_it_steps_down_only_on_an_error_that_names_a_limit(message, asked, step):
    assert stack_search.limit_named(message, asked) == step

"""The run page: facts, state timeline with durations, deep link, polling, 404s, faults."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from dashboard.runs.views import build_timeline
from dashboard.spacelift.types import Run
from dashboard.templatetags.portal import humanize_seconds
from tests.conftest import HTMX, parse, poll_values, region_of

pytestmark = pytest.mark.django_db

UNKNOWN_RUN = "01J00000000000000000000000"


def quiet_runs(sim, *, terminal: bool):
    """Tracked runs of stacks that do not move on their own, ended or not."""
    for stack in sim.world.stacks:
        if stack.id in sim.world.active_stack_ids:
            continue
        stack.ensure_history()
        for run in stack.tracked:
            if run.finished == terminal and len(run.transitions) >= 3:
                yield stack, run


def a_run(sim, *, terminal: bool = True, where=lambda stack, run: True):
    return next((s, r) for s, r in quiet_runs(sim, terminal=terminal) if where(s, r))


def page(viewer_client, stack, run, **extra):
    return viewer_client.get(f"/stacks/{stack.id}/runs/{run.id}/", **extra)


def timeline_rows(html: str) -> list[tuple[str, str]]:
    """(state, time in state) for each row of the timeline, top to bottom."""
    return [
        (row["data-state"], row.select_one("td.in-state").get_text(strip=True))
        for row in parse(html).select("table.timeline tr[data-state]")
    ]


def test_the_run_page_requires_login(client):
    response = client.get(f"/stacks/payments-prod/runs/{UNKNOWN_RUN}/")
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


def test_it_shows_the_run_with_its_commit_delta_trigger_and_deep_link(viewer_client, connected):
    stack, run = a_run(connected, where=lambda s, r: r.commit.url and r.delta and r.triggered_by)
    response = page(viewer_client, stack, run)
    assert response.status_code == 200
    html = response.content.decode()
    assert f'href="{connected.url}/stack/{stack.id}/run/{run.id}"' in html
    assert f'href="{run.commit.url}"' in html
    assert f"<code>{run.commit.hash[:7]}</code>" in html
    assert run.commit.author_name in html
    assert f"+{run.delta.add_count}" in html
    assert f"~{run.delta.change_count}" in html
    assert f"-{run.delta.delete_count}" in html
    assert run.triggered_by in html
    assert "<dt>Type</dt><dd>Tracked" in html
    assert f'title="{run.state}"' in html  # the state chip
    assert connected.key_secret not in html


def test_a_run_started_by_a_push_says_git_push(viewer_client, connected):
    stack, run = a_run(connected, where=lambda s, r: not r.triggered_by)
    html = page(viewer_client, stack, run).content.decode()
    assert "<dt>Triggered by</dt><dd>git push</dd>" in html


def test_the_timeline_is_in_chronological_order_with_the_time_in_each_state(
    viewer_client, connected
):
    stack, run = a_run(connected)
    html = page(viewer_client, stack, run).content.decode()
    rows = timeline_rows(html)
    transitions = run.transitions  # oldest first; Spacelift sends them newest first
    assert [state for state, _ in rows] == [t.state for t in transitions]
    for (_, spent), this, following in zip(rows, transitions, transitions[1:], strict=False):
        assert spent == humanize_seconds(following.timestamp - this.timestamp)
    assert rows[-1][1] == "final"
    assert "data-poll" not in html  # an ended run never changes: no polling


def test_the_current_state_of_a_moving_run_counts_until_now(viewer_client, connected, still_time):
    stack, run = a_run(connected, terminal=False)
    html = page(viewer_client, stack, run).content.decode()
    rows = timeline_rows(html)
    assert rows[-1][0] == run.state
    assert rows[-1][1].endswith("so far")
    expected = datetime.now(tz=UTC).timestamp() - run.transitions[-1].timestamp
    assert rows[-1][1] == f"{humanize_seconds(expected)} so far"
    assert 'aria-current="step"' in html


def test_transitions_in_the_same_second_keep_spacelifts_order():
    at = 1_800_000_000
    run = Run.from_api(
        {
            "id": UNKNOWN_RUN,
            "state": "FAILED",
            "type": "TRACKED",
            "finished": True,
            # Newest first, as Spacelift sends them; two in the same second.
            "history": [
                {"state": "FAILED", "timestamp": at + 30},
                {"state": "PLANNING", "timestamp": at + 10},
                {"state": "INITIALIZING", "timestamp": at + 10},
                {"state": "QUEUED", "timestamp": at},
            ],
        }
    )
    timeline = build_timeline(run, datetime.fromtimestamp(at + 100, tz=UTC))
    assert [e.transition.state_raw for e in timeline] == [
        "QUEUED",
        "INITIALIZING",
        "PLANNING",
        "FAILED",
    ]
    assert [e.seconds for e in timeline] == [10, 0, 20, None]


def test_the_run_region_polls_itself_and_answers_204_when_unchanged(
    viewer_client, connected, still_time
):
    stack, run = a_run(connected, terminal=False)
    # The run page has two regions (the run, its logs): a poll names the one it asks for.
    fragment = parse(page(viewer_client, stack, run, data={"region": "run"}, **HTMX))
    assert [tag.name for tag in fragment.find_all(recursive=False)] == ["section"]
    region = region_of(fragment, "run")
    assert region["hx-get"] == f"/stacks/{stack.id}/runs/{run.id}/"
    assert "portal:visible from:body" in region["hx-trigger"]
    values = poll_values(region)
    unchanged = viewer_client.get(f"/stacks/{stack.id}/runs/{run.id}/", values, **HTMX)
    assert unchanged.status_code == 204
    assert unchanged.content == b""
    changed = viewer_client.get(
        f"/stacks/{stack.id}/runs/{run.id}/", {"region": "run", "v": "0" * 16}, **HTMX
    )
    assert changed.status_code == 200


def test_an_unknown_run_is_a_404_page(viewer_client, connected):
    stack, _ = a_run(connected)
    response = viewer_client.get(f"/stacks/{stack.id}/runs/{UNKNOWN_RUN}/")
    assert response.status_code == 404
    assert b"Not found" in response.content


def test_a_run_of_an_unknown_stack_is_a_404_page(viewer_client, connected):
    _, run = a_run(connected)
    response = viewer_client.get(f"/stacks/no-such-stack/runs/{run.id}/")
    assert response.status_code == 404


@pytest.mark.parametrize(
    "path",
    ["/stacks/payments-prod/runs/not-a-ulid/", f"/stacks/%3Cscript%3E/runs/{UNKNOWN_RUN}/"],
)
def test_malformed_ids_are_a_404_without_asking_spacelift(viewer_client, connected, path):
    before = connected.stats()["queries"]
    assert viewer_client.get(path).status_code == 404
    assert connected.stats()["queries"] == before


def test_when_spacelift_fails_the_page_says_so_with_status_200(viewer_client, connected):
    stack, run = a_run(connected)
    connected.set_faults(mode="http500")
    response = page(viewer_client, stack, run)
    assert response.status_code == 200
    html = response.content.decode()
    assert "banner-error" in html
    assert "Spacelift could not be read" in html
    assert "data-poll" in html  # keeps trying


def test_a_commit_message_with_html_is_escaped(viewer_client, connected):
    stack, run = next(
        (s, r)
        for terminal in (True, False)
        for s, r in quiet_runs(connected, terminal=terminal)
        if "<img src=x" in r.commit.message
    )
    html = page(viewer_client, stack, run).content.decode()
    assert "&lt;img src=x onerror=alert(1)&gt;" in html
    assert "<img src=x" not in html
    assert not parse(html).select("[onerror]")


def test_the_stack_page_links_each_run_to_its_page(viewer_client, connected):
    stack, _ = a_run(connected)
    rows = parse(viewer_client.get(f"/stacks/{stack.id}/")).select("tr[data-run]")
    assert rows
    for row in rows:
        assert row.select_one("a.run-link")["href"] == f"/stacks/{stack.id}/runs/{row['data-run']}/"
        # The commit message links there too.
        assert row.select_one("td.commit a.message")["href"] == row.select_one("a.run-link")["href"]


def test_a_stack_opens_on_its_runs_with_its_configuration_folded_below(viewer_client, connected):
    stack = next(s for s in connected.world.stacks if not s.description)
    page = parse(viewer_client.get(f"/stacks/{stack.id}/"))
    order = [tag.get("id") for tag in page.select("section#stack, section#runs, details.fold")]
    assert order == ["stack", "runs", "stack-config-fold", "stack-environment-fold"]
    assert all(not fold.has_attr("open") for fold in page.select("details.fold"))
    assert page.select_one("details.fold section#config dl.config")
    assert page.select_one("details.fold section#environment")
    # An empty description takes no space; every run is tracked, so no Type column yet.
    assert not page.select(".description") and "No description" not in page.get_text()
    assert "Type" not in [th.get_text(strip=True) for th in page.select("table.runs th")]

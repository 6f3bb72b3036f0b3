"""The overview's attention queue, history, grouping, title; JSON, badge and metrics."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from itertools import pairwise

import pytest
from django.db import OperationalError

from dashboard.models import LastSeenState, LastVisit, StackStateChange
from dashboard.spacelift.types import Stack
from dashboard.stacks.history import net_changes
from dashboard.stacks.query import (
    ATTENTION_LIMIT,
    ATTENTION_ORDER,
    PLAN_GRACE,
    AttentionView,
    attention_queue,
)
from tests.conftest import HTMX, parse

pytestmark = pytest.mark.django_db


def stack(id_, state, *, ago_minutes=5, **fields):
    set_at = (datetime.now(tz=UTC) - timedelta(minutes=ago_minutes)).timestamp()
    return Stack.from_api({"id": id_, "name": id_, "state": state, "stateSetAt": set_at} | fields)


def test_the_attention_queue_lists_exactly_what_waits_for_a_human():
    stacks = [
        stack("ok", "FINISHED"),
        stack("plan", "UNCONFIRMED", ago_minutes=30),
        stack("broken", "FAILED", ago_minutes=60),
        stack("ready-new", "READY", ago_minutes=2),
        stack("ready-old", "READY", ago_minutes=40),
        stack("drift", "FINISHED", isDrifted=True),
        stack("held", "FINISHED", lockedBy="alice", lockedAt=datetime.now(tz=UTC).timestamp()),
        stack("busy", "APPLYING"),
        stack("planning-for-hours", "PLANNING", ago_minutes=300),
        stack("fresh-plan", "UNCONFIRMED", ago_minutes=1),
        stack("older-failure", "FAILED", ago_minutes=90),
    ]
    items = attention_queue(stacks, stuck_after=timedelta(minutes=15))
    assert {(i.stack.id, i.kind) for i in items} == {
        ("plan", "unconfirmed"), ("broken", "failed"), ("ready-old", "stuck"),
        ("drift", "drifted"), ("held", "locked"), ("planning-for-hours", "stuck"),
        ("older-failure", "failed"),
    }  # fmt: skip
    # Most urgent kind first, then the longest waiting within a kind.
    assert [i.stack.id for i in items] == [
        "older-failure", "broken", "plan", "drift", "held", "planning-for-hours", "ready-old",
    ]  # fmt: skip
    reasons = {i.stack.id: i.reason for i in items}
    assert reasons["planning-for-hours"] == "Stuck in Planning"
    assert reasons["ready-old"] == "Waiting for a worker"


def test_stopped_stacks_and_every_waiting_state_are_in_the_queue_by_what_they_mean():
    stacks = [
        stack("halted", "STOPPED", ago_minutes=10),
        stack("thrown-away", "DISCARDED", ago_minutes=20),
        stack("replan", "REPLAN_REQUESTED", ago_minutes=40),
        stack("ready", "READY", ago_minutes=40),
        stack("confirmed", "CONFIRMED", ago_minutes=40),
    ]
    items = attention_queue(stacks, stuck_after=timedelta(minutes=15))
    reasons = {i.stack.id: (i.kind, i.reason) for i in items}
    assert reasons == {
        "halted": ("stopped", "Tracked run stopped"),
        "thrown-away": ("stopped", "Tracked plan discarded"),
        "replan": ("stuck", "Replan requested, not started"),
        "ready": ("stuck", "Waiting for a worker"),
        "confirmed": ("stuck", "Confirmed, apply not started"),
    }


def test_the_queue_counts_what_it_hides_by_kind():
    stacks = [stack(f"failed-{n:02}", "FAILED", ago_minutes=100 + n) for n in range(11)] + [
        stack("plan", "UNCONFIRMED", ago_minutes=30),
        stack("halted", "STOPPED"),
        stack("drift", "FINISHED", isDrifted=True),
        stack("ready-1", "READY", ago_minutes=40),
        stack("ready-2", "READY", ago_minutes=50),
        stack("replan", "REPLAN_REQUESTED", ago_minutes=40),
    ]
    view = AttentionView.of(attention_queue(stacks, stuck_after=timedelta(minutes=15)), limit=12)
    assert len(view.shown) == 12 and view.stacks == 17
    hidden = [i.stack.id for i in view.hidden]
    assert set(hidden) == {"halted", "drift", "ready-1", "ready-2", "replan"}
    assert view.hidden_counts == ["1 stopped or discarded", "1 drifted", "3 stuck or waiting"]
    assert not AttentionView.of([]) and AttentionView.of([], limit=12).hidden_counts == []


def test_the_overview_lists_the_hidden_queue_items_under_their_count(viewer_client, connected):
    connected.rebuild_world(48, seed=7)
    queue = parse(viewer_client.get("/")).select_one("section.attention")
    shown = queue.select(":scope > ol > li.attention-item")
    more = queue.select_one("details.attention-more")
    assert more is not None  # this world's queue is longer than one screen
    hidden = more.select("li.attention-item")
    total = int(re.search(r"and (\d+) more", more.summary.get_text()).group(1))
    assert len(shown) == ATTENTION_LIMIT and len(hidden) == total
    counted = sum(int(n) for n in re.findall(r"(\d+) [a-z]", more.summary.get_text())[1:])
    assert counted == total  # the words add up to what is folded away
    assert "Waiting for a worker" not in [
        li.select_one(".kind").get_text() for li in queue.select("li.attention-item")
        if "REPLAN" in li.get_text()
    ]  # fmt: skip


def test_a_new_plan_joins_the_queue_after_the_grace_period():
    plan = stack("plan", "UNCONFIRMED", ago_minutes=0)
    now = datetime.now(tz=UTC)
    assert attention_queue([plan], stuck_after=timedelta(minutes=15), now=now) == []
    later = now + PLAN_GRACE
    assert [i.kind for i in attention_queue([plan], stuck_after=timedelta(0), now=later)] == [
        "unconfirmed"
    ]


def test_a_search_that_matches_nothing_leaves_no_stack_on_the_page(viewer_client, connected):
    connected.rebuild_world(48, seed=7)
    viewer_client.get("/")  # a first look, so "since you last looked" could list changes
    connected.step()
    html = viewer_client.get("/", {"q": "no-stack-is-called-this"}).content.decode()
    for s in connected.world.stacks:
        assert f"/stacks/{s.id}/" not in html
        assert f">{s.name}<" not in html
    assert 'class="attention"' not in html
    tiles = re.findall(r'<span class="n">(\d+)</span>', html)
    assert tiles and all(n == "0" for n in tiles)
    assert "No stack matches these filters." in html


def test_the_queue_and_the_counts_follow_a_filter(viewer_client, connected):
    failed = [s for s in connected.world.stacks if s.state == "FAILED"]
    target = failed[0]
    html = viewer_client.get("/", {"q": target.id}).content.decode()
    queue = re.search(r'<section class="attention".*?</section>', html, re.S).group(0)
    linked = set(re.findall(r'href="/stacks/([^/]+)/"', queue))
    assert linked == {target.id}
    assert "matching the filters" in queue
    tiles = dict(
        (label.strip(), int(n))
        for n, label in re.findall(r'<span class="n">(\d+)</span>([^<]+)</a>', html)
    )
    assert tiles["Failing"] == 1 and sum(tiles.values()) == 1


def test_the_overview_shows_the_queue_for_the_simulator(viewer_client, connected):
    html = viewer_client.get("/").content.decode()
    queue = re.search(r'<section class="attention".*?</section>', html, re.S).group(0)
    linked = re.findall(r'href="/stacks/([^/]+)/"', queue)
    failed = {s.id for s in connected.world.stacks if s.state == "FAILED"}
    assert failed and set(linked[: len(failed)]) == failed  # failures first
    kinds = re.findall(r'class="attention-item attention-(\w+)"', queue)
    assert kinds[0] == "failed" and kinds == sorted(kinds, key=ATTENTION_ORDER.index)


def test_state_changes_are_recorded_and_shown_since_the_last_look(viewer_client, connected, clock):
    connected.rebuild_world(48, seed=7)
    viewer_client.get("/")  # the baseline, and the first look
    assert StackStateChange.objects.count() == 0
    moving = set(connected.world.active_stack_ids)
    connected.step()
    clock.advance(61)  # the interval ends, and a minute passes
    html = viewer_client.get("/").content.decode()
    changed = set(StackStateChange.objects.values_list("stack_id", flat=True))
    assert changed and changed <= moving
    assert "Since you last looked" in html
    since = parse(html).select_one("details.since")
    assert re.search(r"\d+ stacks? changed$", since.summary.get_text())
    lines = [li.a.get_text() for li in since.select("li.net-change")]
    assert lines and len(lines) == len(set(lines)) == len(changed)  # one line per stack
    again = viewer_client.get("/").content.decode()
    assert "Since you last looked" not in again  # the look was remembered: nothing new


def test_each_row_has_a_24_hour_strip(viewer_client, connected):
    rows = parse(viewer_client.get("/")).select("tr[data-stack]")
    assert rows
    assert all(row.select_one("td.strip-cell span.strip") for row in rows)
    assert any(row.select("i.seg.h24") for row in rows)


def test_grouping_by_space_and_label_prefix(viewer_client, connected):
    page = parse(viewer_client.get("/", {"group": "space", "per_page": 250}))
    headers = [row.th for row in page.select("tr.group-row")]
    groups = [th.find(string=True).strip() for th in headers]
    spaces = {s.space_details.name for s in connected.world.stacks}
    assert set(groups) == spaces
    counts = [int(th.span.get_text().strip("()")) for th in headers]
    assert sum(counts) == 48
    labelled = parse(viewer_client.get("/", {"group": "label:team"}))
    assert labelled.select("tr.group-row")
    assert labelled.select_one("#f-group option[selected]")["value"] == "label:team"


def test_the_title_counts_failing_stacks(viewer_client, connected):
    failing = sum(1 for s in connected.world.stacks if s.state == "FAILED")
    html = viewer_client.get("/").content.decode()
    assert f"<title>({failing} failing) Stacks" in html
    partial = viewer_client.get("/", **HTMX).content.decode()
    assert f'data-title="({failing} failing) Stacks' in partial


def test_status_json_follows_the_filters(viewer_client, connected):
    body = viewer_client.get("/status.json", {"health": "failing"}).json()
    assert body["stale"] is False and body["problem"] is None
    assert body["matched"] == body["counts"]["failing"] == len(body["stacks"])
    assert all(s["health"] == "failing" for s in body["stacks"])
    assert body["stacks"][0]["spacelift_url"].startswith(connected.url + "/stack/")


def test_status_json_needs_login(client, connected):
    assert client.get("/status.json").status_code == 302


def test_a_stack_badge_is_an_svg_with_its_state(viewer_client, connected):
    target = next(s for s in connected.world.stacks if s.state == "FAILED")
    response = viewer_client.get(f"/stacks/{target.id}/badge.svg")
    assert response["Content-Type"].startswith("image/svg+xml")
    assert b"Failed" in response.content and b"#c0292b" in response.content
    assert viewer_client.get("/stacks/nope-nope/badge.svg").status_code == 404


def test_metrics_need_login_or_the_token(client, connected, settings):
    assert client.get("/metrics").status_code == 401
    settings.PORTAL_METRICS_TOKEN = "scrape-me-123"
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer wrong").status_code == 401
    response = client.get("/metrics", HTTP_AUTHORIZATION="Bearer scrape-me-123")
    assert response.status_code == 200
    assert response["Content-Type"] == "text/plain; version=0.0.4; charset=utf-8"


def _parse_metrics(text: str) -> dict[str, list]:
    from prometheus_client.parser import text_string_to_metric_families

    return {family.name: family.samples for family in text_string_to_metric_families(text)}


def test_metrics_parse_as_prometheus_text_with_a_sample_per_stack(viewer_client, connected):
    awkward = 'ops "blue" \\ prod\nline two'
    target = connected.world.stacks[0]
    original = target.name
    target.name = awkward
    try:
        text = viewer_client.get("/metrics").content.decode()
    finally:
        target.name = original
    assert text.endswith("\n") and text.count("\n") > 48
    families = _parse_metrics(text)
    assert [s.value for s in families["spacelift_portal_up"]] == [1]
    by_health = families["spacelift_portal_stacks"]
    assert sum(s.value for s in by_health) == 48
    states = families["spacelift_stack_state"]
    assert len(states) == 48
    assert {s.labels["stack"] for s in states} == {s.id for s in connected.world.stacks}
    named = next(s for s in states if s.labels["stack"] == target.id)
    assert named.labels["name"] == awkward
    assert named.labels["state"] == target.state


def test_metrics_without_a_connection_say_the_portal_is_down(viewer_client, settings):
    settings.SPACELIFT_API_KEY_ENDPOINT = ""
    settings.SPACELIFT_API_KEY_ID = ""
    settings.SPACELIFT_API_KEY_SECRET = ""
    families = _parse_metrics(viewer_client.get("/metrics").content.decode())
    assert [s.value for s in families["spacelift_portal_up"]] == [0]
    assert "spacelift_stack_state" not in families


def test_metrics_cost_spacelift_no_query_of_their_own(viewer_client, connected):
    viewer_client.get("/")
    before = connected.stats()
    viewer_client.get("/metrics")
    assert connected.stats() == before


def test_the_strip_shows_time_before_anyone_watched_as_unknown():
    from dashboard.stacks import history

    fresh = stack("fresh", "FAILED", ago_minutes=90)  # Spacelift: failed since 90 min ago
    long_ago = stack("steady", "FINISHED", ago_minutes=3 * 24 * 60)
    strips = history.strips("no-history-yet", [fresh, long_ago])
    assert [(s.health, s.hours) for s in strips["steady"]] == [("healthy", 24)]
    fresh_strip = strips["fresh"]
    # Hours end at now, now - 1 h, ...: the last two fall after stateSetAt, 22 before it.
    assert [(s.health, s.hours) for s in fresh_strip] == [("unwatched", 22), ("failing", 2)]


def test_relative_times_carry_the_exact_time_with_its_zone(viewer_client, connected):
    html = viewer_client.get("/").content.decode()
    times = re.findall(r'<time datetime="([^"]+)" title="([^"]+)">', html)
    assert len(times) >= 48
    assert all(re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC", title) for _, title in times)


def test_the_row_link_to_spacelift_does_not_repeat_its_words(viewer_client, connected):
    html = viewer_client.get("/?per_page=250").content.decode()
    assert html.count("Spacelift ↗") <= 1  # the page's one "Open Spacelift ↗"
    assert html.count('class="visually-hidden">Open ') == 48


def test_a_look_within_a_minute_writes_no_visit(viewer_client, connected, clock, user):
    viewer_client.get("/")
    first = LastVisit.objects.get(user=user).seen_at
    clock.advance(30)
    viewer_client.get("/")
    assert LastVisit.objects.get(user=user).seen_at == first
    clock.advance(31)
    viewer_client.get("/")
    assert LastVisit.objects.get(user=user).seen_at > first


def test_a_database_that_refuses_the_bookkeeping_does_not_fail_the_page(
    viewer_client, connected, monkeypatch, caplog
):
    def locked(*args, **kwargs):
        raise OperationalError("database is locked")

    monkeypatch.setattr(LastVisit.objects, "update_or_create", locked)
    monkeypatch.setattr(StackStateChange.objects, "bulk_create", locked)
    monkeypatch.setattr(LastSeenState.objects, "bulk_create", locked)
    response = viewer_client.get("/")
    assert response.status_code == 200
    assert 'data-stack="' in response.content.decode()
    assert "Last visit of user" in caplog.text
    assert "Observed changes not recorded" in caplog.text


def test_since_the_last_look_is_one_net_change_per_stack_newest_failures_first():
    base = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)

    def changes(stack_id, *states, start_minute):
        for n, (before, after) in enumerate(pairwise(states)):
            StackStateChange.objects.create(
                connection="fp", stack_id=stack_id, from_state=before, to_state=after,
                observed_at=base + timedelta(minutes=start_minute + n),
            )  # fmt: skip

    changes("calm", "FINISHED", "PLANNING", "APPLYING", "FINISHED", start_minute=20)
    changes("bumpy", "FINISHED", "APPLYING", "FAILED", "PLANNING", "FINISHED", start_minute=10)
    changes("broke-early", "FINISHED", "APPLYING", "FAILED", start_minute=0)
    changes("broke-late", "UNCONFIRMED", "CONFIRMED", "APPLYING", "FAILED", start_minute=5)
    changes("new", "", "NONE", start_minute=30)
    StackStateChange.objects.create(
        connection="other", stack_id="calm", from_state="X", to_state="FAILED", observed_at=base
    )
    found = StackStateChange.objects.filter(connection="fp", observed_at__gt=base)
    lines, total = net_changes(found, limit=10)
    assert total == 5
    assert [(c.stack_id, c.from_state, c.to_state, c.failed_between) for c in lines] == [
        ("broke-late", "UNCONFIRMED", "FAILED", False),  # failing now, newest first
        ("broke-early", "APPLYING", "FAILED", False),  # its first change is at `base`: not after
        ("bumpy", "FINISHED", "FINISHED", True),  # failed on the way, then recovered
        ("new", "", "NONE", False),
        ("calm", "FINISHED", "FINISHED", False),
    ]
    assert lines[2].changes == 4
    shown, total = net_changes(found, limit=2)
    assert [c.stack_id for c in shown] == ["broke-late", "broke-early"] and total == 5


def test_states_and_durations_read_one_way_everywhere(viewer_client, connected):
    from dashboard.spacelift.types import state_label
    from dashboard.templatetags.portal import humanize_seconds

    assert state_label("NONE") == "Never run"
    assert state_label("REPLAN_REQUESTED") == "Replan requested"
    hours = 3600
    assert [humanize_seconds(s) for s in (45, 46 * hours + 49 * 60, 50 * hours, 48 * hours)] == [
        "45 s", "1 d 22 h", "2 d 2 h", "2 d",
    ]  # fmt: skip
    page = parse(viewer_client.get("/"))
    options = [o.get_text() for o in page.select("#f-state option")]
    assert "Applying" in options and "APPLYING" not in options and "Never run" in options
    tips = {i["title"] for i in page.select("i.seg")}
    assert tips and not any(re.match(r"[A-Z_]{3,} ", tip) for tip in tips)

"""The overview's attention queue, history, grouping, title; JSON, badge and metrics."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from django.db import OperationalError

from dashboard.models import LastSeenState, LastVisit, StackStateChange
from dashboard.overview import attention_queue
from dashboard.spacelift.types import Stack

pytestmark = pytest.mark.django_db
HTMX = {"HTTP_HX_REQUEST": "true"}


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
    ]
    items = attention_queue(stacks, stuck_after=timedelta(minutes=15))
    assert {(i.stack.id, i.kind) for i in items} == {
        ("plan", "unconfirmed"), ("broken", "failed"), ("ready-old", "stuck"),
        ("drift", "drifted"), ("held", "locked"),
    }  # fmt: skip
    assert [i.stack.id for i in items][:3] == ["broken", "ready-old", "plan"]  # longest first


def test_the_overview_shows_the_queue_for_the_simulator(viewer_client, connected):
    html = viewer_client.get("/").content.decode()
    queue = re.search(r'<section class="attention".*?</section>', html, re.S).group(0)
    unconfirmed = [s for s in connected.world.stacks if s.state == "UNCONFIRMED"]
    for s in unconfirmed[:3]:
        assert f'href="/stacks/{s.id}/"' in queue


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
    assert re.search(r"\d+ state changes?</summary>", html)
    again = viewer_client.get("/").content.decode()
    assert "Since you last looked" not in again  # the look was remembered: nothing new


def test_each_row_has_a_24_hour_strip(viewer_client, connected):
    html = viewer_client.get("/").content.decode()
    assert html.count('class="strip"') == html.count('<tr data-stack="')
    assert re.search(r'<i class="seg chip-\w+ h24"', html)


def test_grouping_by_space_and_label_prefix(viewer_client, connected):
    html = viewer_client.get("/", {"group": "space", "per_page": 250}).content.decode()
    groups = re.findall(r'<tr class="group-row"><th[^>]*>([^<]+) <span', html)
    spaces = {s.space_details.name for s in connected.world.stacks}
    assert set(groups) == spaces
    counts = [int(n) for n in re.findall(r'<tr class="group-row">.*?\((\d+)\)', html)]
    assert sum(counts) == 48
    labelled = viewer_client.get("/", {"group": "label:team"}).content.decode()
    assert '<tr class="group-row">' in labelled
    assert 'value="label:team" selected' in labelled


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
    text = response.content.decode()
    assert "spacelift_portal_up 1" in text
    total = sum(int(n) for n in re.findall(r'spacelift_portal_stacks\{health="\w+"\} (\d+)', text))
    assert total == 48
    assert text.count("spacelift_stack_state{") == 48


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

"""Notifications (issue 23): real Apprise against a real SMTP server and a local HTTP receiver.

The watcher's `tick()` is driven directly and the service clock moved, instead of waiting for
intervals; test_notifications_background.py runs the real background thread.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.test import Client

from dashboard.models import AuditEntry, NotificationRoute, OutboxMessage
from dashboard.notifications import lease, routes
from dashboard.notifications.watcher import Watcher
from dashboard.spacelift.types import Space
from tests.conftest import parse
from tests.notifications_support import (  # noqa: F401 - fixtures
    BASE_URL,
    healthy_stacks,
    receiver_fixture,
    route,
    set_state,
    smtp_fixture,
    space_id,
    world_fixture,
)


def intervals_until(watcher: Watcher, clock, settings, arrived, most: int = 3) -> int:
    """Move the clock one interval at a time and tick, until `arrived()`; how many it took."""
    for interval in range(1, most + 1):
        clock.advance(settings.PORTAL_POLL_SECONDS)
        watcher.tick()
        if arrived():
            return interval
    raise AssertionError(f"nothing arrived within {most} intervals")


def texts(received) -> list[str]:
    return [item.body.get("message") or item.body.get("text") for item in received]


# Configuration ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "named"),
    [
        ('[{"name": "x", "url": "json://h/x"', "not valid JSON"),
        ('{"name": "x"}', "JSON list"),
        (
            '[{"name": "ops", "url": "json://h/x", "kinds": ["exploded"]}]',
            'unknown kind "exploded"',
        ),
        ('[{"name": "ops", "url": "nosuchservice://abc"}]', 'route "ops": Apprise cannot use'),
        ('[{"name": "ops", "url": "slack://abcdef-token"}]', 'route "ops": Apprise cannot use'),
        ('[{"name": "ops"}]', 'route "ops" has no "url"'),
    ],
)
def test_bad_routes_are_refused_with_a_message_naming_what_is_wrong(raw, named, caplog):
    with pytest.raises(routes.RoutesError) as refused:
        routes.parse_routes(raw)
    assert named in str(refused.value)
    assert "abc" not in str(refused.value) + caplog.text  # never the URL, nor in a log


def test_bad_routes_stop_the_start_and_no_base_url_warns(tmp_path, db, settings):
    from dashboard.notifications import checks

    file = tmp_path / "notify.json"
    file.write_text('[{"name": "ops", "url": "json://h/x", "kinds": ["failed", "boom"]}]')
    environment = {k: v for k, v in os.environ.items() if not k.startswith("PORTAL_NOTIFY")}
    started = subprocess.run(
        [sys.executable, "manage.py", "check"],
        env=environment | {"DEBUG": "true", "PORTAL_ENV_FILE": "", "PORTAL_NOTIFY_FILE": str(file)},
        cwd=Path(__file__).resolve().parent.parent, capture_output=True, text=True,
    )  # fmt: skip
    assert started.returncode != 0
    assert "portal.E023" in started.stderr and 'unknown kind "boom"' in started.stderr

    settings.PORTAL_NOTIFY = '[{"name": "ops", "url": "json://127.0.0.1/x"}]'
    settings.PORTAL_BASE_URL = ""
    assert [w.id for w in checks.base_url_is_set_for_routes(None)] == ["portal.W023"]
    settings.PORTAL_BASE_URL = BASE_URL
    assert checks.base_url_is_set_for_routes(None) == []


def test_a_routes_spaces_cover_the_spaces_below_them_and_urls_show_only_scheme_and_host():
    tree = [Space("root", "root"), Space("a", "a", parent_space="root"),
            Space("a1", "a1", parent_space="a"), Space("b", "b", parent_space="root")]  # fmt: skip
    only_a = routes.Route("env:x", "x", "json://h", spaces=("a",))
    assert only_a.covered_spaces(tree) == {"a", "a1"}
    assert routes.Route("env:y", "y", "json://h").covered_spaces(tree) is None
    assert routes.shown_url("slack://T0AAA/B0BBB/secret-xyz/#ops") == "slack://…"
    assert (
        routes.shown_url("mailto://me:pw@mail.example.com?to=a@b.c") == "mailto://mail.example.com"
    )
    assert routes.shown_url("https://hooks.slack.com/services/T/B/secret") == (
        "https://hooks.slack.com"
    )


# What is sent -----------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_failure_in_a_routes_space_reaches_slack_and_email_once_then_its_recovery(
    world, clock, settings, receiver, smtp
):
    payments = space_id(world, "payments")
    settings.PORTAL_NOTIFY = json.dumps([
        route("payments chat", receiver.slack_shaped_url, spaces=[payments]),
        route("payments mail", smtp.url, spaces=[payments], kinds=["failed", "recovered"]),
    ])  # fmt: skip
    watcher = Watcher()
    watcher.tick()  # the first look: at most one summary of what is already wrong, per route
    summaries = receiver.take()
    assert len(summaries) <= 1 and len(smtp.mails) <= 1
    smtp.mails.clear()
    watcher.tick()
    assert receiver.take() == [] and smtp.mails == []  # nothing new: nothing sent

    mine = healthy_stacks(world, "payments")[0]
    theirs = healthy_stacks(world, "platform")[0]
    set_state(world, mine, "FAILED")
    set_state(world, theirs, "FAILED")
    took = intervals_until(watcher, clock, settings, lambda: receiver.received)
    assert took <= 3

    [chat] = receiver.take("/services/T0/B0/")
    assert set(chat.body) == {"text"}  # the Slack shape
    assert mine.name in chat.body["text"]
    assert f"{BASE_URL}/stacks/{mine.id}/" in chat.body["text"]
    assert f"/stack/{mine.id}" in chat.body["text"]  # and to Spacelift
    assert theirs.name not in chat.body["text"]  # another space's failure is not theirs
    [mail] = smtp.mails
    assert mail.recipients == ["oncall@example.com"] and "1 failed" in mail.subject
    assert mine.name in mail.text and f"{BASE_URL}/stacks/{mine.id}/" in mail.text
    assert theirs.name not in mail.text

    smtp.mails.clear()
    for _ in range(3):  # it stays failed: nothing more
        clock.advance(settings.PORTAL_POLL_SECONDS)
        watcher.tick()
    assert receiver.take() == [] and smtp.mails == []

    restarted = Watcher()  # a restart sends nothing twice
    clock.advance(3 * settings.PORTAL_POLL_SECONDS + 1)  # the old holder's lease runs out
    restarted.tick()
    assert receiver.take() == [] and smtp.mails == []

    set_state(world, mine, "FINISHED")
    intervals_until(restarted, clock, settings, lambda: receiver.received)
    [recovered] = receiver.take()
    assert "recovered" in recovered.body["text"] and mine.name in recovered.body["text"]
    assert [m.subject for m in smtp.mails] == ["Spacelift: 1 recovered"]


@pytest.mark.django_db
def test_ten_failures_at_once_arrive_as_one_digest_with_counts(world, clock, settings, receiver):
    settings.PORTAL_NOTIFY = json.dumps([route("everything", receiver.json_url)])
    watcher = Watcher()
    watcher.tick()
    receiver.take()
    ten = healthy_stacks(world)[:10]
    for stack in ten:
        set_state(world, stack, "FAILED")
    intervals_until(watcher, clock, settings, lambda: receiver.received)
    clock.advance(settings.PORTAL_POLL_SECONDS)
    watcher.tick()
    arrived = receiver.take()
    assert 1 <= len(arrived) <= 2
    assert arrived[0].body["title"] == "Spacelift: 10 failed"
    assert all(any(stack.name in text for text in texts(arrived)) for stack in ten)


@pytest.mark.django_db
def test_a_receiver_that_is_down_gets_what_it_missed_once_back_and_pages_answer_meanwhile(
    world, clock, settings, receiver, viewer_client, staff_client
):
    settings.PORTAL_NOTIFY = json.dumps([route("ops", receiver.json_url)])
    settings.PORTAL_NOTIFY_RETRY_HOURS = 0.02  # 72 seconds: given up at the second failure
    watcher = Watcher()
    watcher.tick()
    receiver.take()
    receiver.down = True
    stack = healthy_stacks(world)[0]
    set_state(world, stack, "FAILED")
    clock.advance(settings.PORTAL_POLL_SECONDS)
    watcher.tick()
    assert receiver.refused == 1
    waiting = OutboxMessage.objects.get(status="pending")
    assert "503" in waiting.last_error and "secret" not in waiting.last_error
    assert viewer_client.get("/").status_code == 200  # pages never send

    page = parse(staff_client.get("/administration/notifications/"))
    row = page.select_one(f'tr[data-message="{waiting.pk}"]')
    assert row["data-status"] == "pending" and "503" in row.get_text()

    receiver.down = False
    clock.advance(60)  # past the first retry's delay
    watcher.tick()
    [missed] = receiver.take()
    assert stack.name in missed.body["message"]
    assert OutboxMessage.objects.get(pk=waiting.pk).status == "sent"

    # Down for longer than PORTAL_NOTIFY_RETRY_HOURS: given up, on the page and in /metrics.
    receiver.down = True
    set_state(world, stack, "FINISHED")
    for _ in range(3):
        clock.advance(40)
        watcher.tick()
    given_up = OutboxMessage.objects.get(status="given_up")
    assert given_up.attempts == 2 and "1 recovered" in given_up.title
    page = parse(staff_client.get("/administration/notifications/"))
    assert given_up.title in page.select_one("[data-given-up]").get_text()
    metrics = staff_client.get("/metrics").content.decode()
    assert 'spacelift_portal_notifications{status="given_up"} 1.0' in metrics


@pytest.mark.django_db
@pytest.mark.usefixtures("each_database")  # the lease's atomic update on PostgreSQL too
def test_exactly_one_process_sends_and_another_takes_over_when_it_dies(
    world, clock, settings, receiver
):
    settings.PORTAL_NOTIFY = json.dumps([route("ops", receiver.json_url)])
    first, second = Watcher(), Watcher()
    assert first.tick().held and not second.tick().held
    receiver.take()
    written = OutboxMessage.objects.count()
    set_state(world, healthy_stacks(world)[0], "FAILED")
    clock.advance(settings.PORTAL_POLL_SECONDS)
    second.tick()  # not the holder: looks at nothing, sends nothing
    assert receiver.received == [] and OutboxMessage.objects.count() == written
    # The holder dies (no more ticks); its lease runs out and the other one sends.
    clock.advance(lease.lease_seconds() + 1)
    look = second.tick()
    assert look.held and look.delivered == 1 and len(receiver.take()) == 1
    assert not first.tick().held


@pytest.mark.django_db
def test_a_route_sees_only_its_spaces_and_kinds_and_labels(world, clock, settings, receiver):
    payments, data = space_id(world, "payments"), space_id(world, "data")
    target = healthy_stacks(world, "data")[0]
    label = target.labels[0] if target.labels else None
    settings.PORTAL_NOTIFY = json.dumps([
        route("payments drift", receiver.json_url + "/a", spaces=[payments], kinds=["drifted"]),
        route("data failures", receiver.json_url + "/b", spaces=[data], kinds=["failed"]),
        *([route("by label", receiver.json_url + "/c", labels=[label])] if label else []),
    ])  # fmt: skip
    watcher = Watcher()
    watcher.tick()
    receiver.take()
    set_state(world, target, "FAILED")
    intervals_until(watcher, clock, settings, lambda: receiver.received)
    clock.advance(settings.PORTAL_POLL_SECONDS)
    watcher.tick()
    assert receiver.take("/hooks/portal/a") == []
    [failure] = receiver.take("/hooks/portal/b")
    assert target.name in failure.body["message"]
    if label:
        assert len(receiver.take("/hooks/portal/c")) == 1


@pytest.mark.django_db
def test_a_newly_failed_stack_comes_with_its_why_line_and_the_first_summary_costs_no_query(
    scripted_failure, connected, still_time, clock, settings, receiver
):
    from tests.test_run_logs import WHY

    stack, _ = scripted_failure
    settings.PORTAL_BASE_URL = BASE_URL
    settings.PORTAL_NOTIFY = json.dumps([route("ops", receiver.json_url)])
    watcher = Watcher()
    watcher.tick()
    [summary] = receiver.take()
    assert summary.body["title"].startswith("Spacelift Portal is watching:")
    assert stack.name in summary.body["message"] and WHY not in summary.body["message"]
    watcher.tick()
    assert receiver.take() == []  # the summary once, and only once

    for state in ("FINISHED", "FAILED"):  # it recovers, then fails again: news
        set_state(connected, stack, state)
        intervals_until(watcher, clock, settings, lambda: receiver.received)
    [recovered, failed] = receiver.take()
    assert recovered.body["title"] == "Spacelift: 1 recovered"
    entry = failed.body["message"].split(f": {stack.name}")[1]
    assert f"Why: {WHY}" in entry and f"{BASE_URL}/stacks/{stack.id}/" in entry


# The page ---------------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_page_is_for_staff_only(viewer_client):
    assert Client().get("/administration/notifications/").status_code == 302
    assert viewer_client.get("/administration/notifications/").status_code == 403
    assert viewer_client.post("/administration/notifications/add/", {}).status_code == 403
    assert viewer_client.post("/administration/notifications/test/", {}).status_code == 403


@pytest.mark.django_db
def test_with_no_route_the_page_says_nothing_is_sent_not_that_no_process_sends(
    staff_client, settings
):
    settings.PORTAL_NOTIFY = ""
    page = parse(staff_client.get("/administration/notifications/"))
    line = page.select_one("[data-sender]").get_text(" ", strip=True)
    assert line == "Waiting: 0 · delivered: 0 · given up: 0."
    assert "No route yet: nothing is sent." in page.get_text(" ", strip=True)


@pytest.mark.django_db
def test_staff_add_edit_test_and_remove_a_route_audited_and_the_url_never_shown(
    staff_client, settings, receiver, smtp
):
    settings.PORTAL_NOTIFY = json.dumps([route("from env", smtp.url)])
    secret_url = receiver.json_url.replace("json://", "json://hook-user:pa55word@")
    refused = staff_client.post(
        "/administration/notifications/add/", {"name": "ops", "url": "slack://nope"}
    )
    assert refused.status_code == 400 and "Apprise cannot use" in refused.content.decode()
    added = staff_client.post(
        "/administration/notifications/add/",
        {"name": "ops", "url": secret_url, "spaces": "payments-1, data-2", "kinds": ["failed"]},
    )
    assert added.status_code == 302
    saved = NotificationRoute.objects.get()
    assert saved.spaces == ["payments-1", "data-2"] and saved.kinds == ["failed"]
    assert "pa55word" not in saved.url_encrypted and saved.url() == secret_url

    page = staff_client.get("/administration/notifications/").content.decode()
    tree = parse(page)
    assert "pa55word" not in page and "hook-user" not in page and "/hooks/portal" not in page
    assert tree.select_one('tr[data-route="ops"] code').get_text() == "json://127.0.0.1"
    assert tree.select_one('tr[data-route="from env"][data-from-environment]') is not None
    assert tree.select_one('a[href="/administration/notifications/"]') is not None  # the nav
    edit = staff_client.get(f"/administration/notifications/{saved.pk}/").content.decode()
    assert "pa55word" not in edit and "hooks/portal" not in edit

    changed = staff_client.post(
        f"/administration/notifications/{saved.pk}/", {"name": "ops", "url": "", "kinds": []}
    )
    assert changed.status_code == 302
    saved.refresh_from_db()
    assert saved.kinds == [] and saved.url() == secret_url  # an empty URL keeps the saved one

    for key in (f"db:{saved.pk}", "env:from env"):
        assert (
            staff_client.post("/administration/notifications/test/", {"route": key}).status_code
            == 302
        )
    Watcher().tick()
    [test] = receiver.take()
    assert test.body["title"] == "Test from the Spacelift Portal"
    assert [mail.subject for mail in smtp.mails] == ["Test from the Spacelift Portal"]

    assert staff_client.post(f"/administration/notifications/{saved.pk}/remove/").status_code == 302
    assert not NotificationRoute.objects.exists()
    audited = list(
        AuditEntry.objects.filter(action="notification")
        .order_by("id")
        .values_list("message", flat=True)
    )
    assert audited == [
        'Added route "ops" to json://127.0.0.1',
        'Changed route "ops"',
        'Sent a test to route "ops"',
        'Sent a test to route "from env"',
        'Removed route "ops"',
    ]
    assert all("pa55word" not in entry for entry in audited)

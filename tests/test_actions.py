"""Trigger, confirm and discard: permission, confirmation step, audit log, read-only mode."""

from __future__ import annotations

import pytest
from django.test import Client

from dashboard.accounts.roles import operators_group
from dashboard.models import AuditEntry
from tests.conftest import parse

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def fresh_world(sim):
    """Actions change the simulated account: each test starts from the same one."""
    sim.rebuild_world(48, seed=7)


def writable_stack(sim, state: str | None = None):
    stack = next(
        s for s in sim.world.stacks
        if s.can_write and not s.is_disabled and not s.locked_by
        and (state is None or s.state == state) and s.id not in sim.world.active_stack_ids
    )  # fmt: skip
    stack.ensure_history()
    return stack


def unconfirmed_run(stack):
    return next(r for r in stack.tracked if r.state == "UNCONFIRMED")


def test_viewers_cannot_act(viewer_client, connected):
    stack = writable_stack(connected)
    assert viewer_client.get(f"/stacks/{stack.id}/actions/trigger/").status_code == 403
    assert viewer_client.post(f"/stacks/{stack.id}/actions/trigger/").status_code == 403
    assert "runTrigger" not in connected.stats()["by_field"]
    html = viewer_client.get(f"/stacks/{stack.id}/").content.decode()
    assert "Trigger run" not in html
    assert AuditEntry.objects.count() == 0


def test_trigger_asks_for_confirmation_first(operator_client, connected):
    stack = writable_stack(connected)
    html = operator_client.get(f"/stacks/{stack.id}/").content.decode()
    assert f'href="/stacks/{stack.id}/actions/trigger/"' in html
    page = operator_client.get(f"/stacks/{stack.id}/actions/trigger/")
    assert page.status_code == 200
    assert b"Start a tracked run of this stack" in page.content
    assert "runTrigger" not in connected.stats()["by_field"]  # nothing done on GET


def test_an_operator_triggers_a_run_and_it_is_audited(operator_client, connected):
    stack = writable_stack(connected)
    runs_before = {r.id for r in stack.tracked}
    response = operator_client.post(f"/stacks/{stack.id}/actions/trigger/")
    assert response.status_code == 302
    new_runs = [r for r in stack.tracked if r.id not in runs_before]
    assert len(new_runs) == 1
    entry = AuditEntry.objects.get()
    assert (entry.username, entry.action, entry.stack_id, entry.succeeded) == (
        "olga",
        "trigger",
        stack.id,
        True,
    )
    assert entry.result_run_id == new_runs[0].id
    # The page shows the new run at once, without waiting for the interval.
    page = operator_client.get(f"/stacks/{stack.id}/").content.decode()
    assert f'data-run="{new_runs[0].id}"' in page


@pytest.mark.parametrize(("action", "final"), [("confirm", "CONFIRMED"), ("discard", "DISCARDED")])
def test_an_operator_confirms_or_discards_with_their_name_in_the_note(
    operator_client, connected, action, final
):
    stack = writable_stack(connected, "UNCONFIRMED")
    run = unconfirmed_run(stack)
    html = operator_client.get(f"/stacks/{stack.id}/").content.decode()
    assert f'href="/stacks/{stack.id}/runs/{run.id}/actions/{action}/"' in html
    url = f"/stacks/{stack.id}/runs/{run.id}/actions/{action}/"
    assert operator_client.get(url).status_code == 200
    assert run.state == "UNCONFIRMED"  # the confirmation page changes nothing
    assert operator_client.post(url).status_code == 302
    transition = next(t for t in run.transitions if t.state == final)
    assert "olga" in (transition.note or "")
    entry = AuditEntry.objects.get()
    assert (entry.action, entry.run_id, entry.result_run_id, entry.succeeded) == (
        action,
        run.id,
        run.id,
        True,
    )


def test_a_failed_action_is_audited_and_explained(operator_client, connected):
    stack = next(s for s in connected.world.stacks if not s.can_write)
    response = operator_client.post(f"/stacks/{stack.id}/actions/trigger/", follow=True)
    assert response.status_code == 200
    assert b"Trigger run failed" in response.content
    entry = AuditEntry.objects.get()
    assert not entry.succeeded and "forbidden" in entry.message


def test_read_only_mode_hides_and_refuses_every_action(operator_client, connected, settings):
    settings.PORTAL_READ_ONLY = True
    stack = writable_stack(connected, "UNCONFIRMED")
    run = unconfirmed_run(stack)
    html = operator_client.get(f"/stacks/{stack.id}/").content.decode()
    assert "Trigger run" not in html and "/actions/" not in html
    assert operator_client.post(f"/stacks/{stack.id}/actions/trigger/").status_code == 403
    url = f"/stacks/{stack.id}/runs/{run.id}/actions/confirm/"
    assert operator_client.post(url).status_code == 403
    assert run.state == "UNCONFIRMED"


def test_actions_need_csrf(django_user_model, connected):
    user = django_user_model.objects.create_user("csrf-op", password="pw-op-123")
    user.groups.add(operators_group())
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    stack = writable_stack(connected)
    assert client.post(f"/stacks/{stack.id}/actions/trigger/").status_code == 403


def test_malformed_ids_and_unknown_actions_are_404(operator_client, connected):
    assert operator_client.get("/stacks/x/runs/not-a-ulid/actions/confirm/").status_code == 404
    run_id = "01ARZ3NDEKTSV4RRFFQ69G5FAV"
    assert operator_client.get(f"/stacks/x/runs/{run_id}/actions/destroy/").status_code == 404


def test_the_audit_log_is_for_staff(operator_client, admin_client, connected):
    stack = writable_stack(connected)
    operator_client.post(f"/stacks/{stack.id}/actions/trigger/")
    assert operator_client.get("/administration/audit/").status_code == 403
    rows = parse(admin_client.get("/administration/audit/")).select("tbody tr")
    cells = [[td.get_text(strip=True) for td in row.select("td")] for row in rows]
    # Who (with the client address the audit log records), then what.
    assert any(
        row[i : i + 2] == ["olgafrom 127.0.0.1", "Trigger run"]
        for row in cells
        for i in range(len(row))
    ), cells


def test_the_confirmation_page_says_spacelift_will_show_the_api_key(operator_client, connected):
    stack = writable_stack(connected)
    html = operator_client.get(f"/stacks/{stack.id}/actions/trigger/").content.decode()
    assert f"api::{connected.key_id}" in html
    assert "not by you" in html


def test_runs_acted_on_in_the_portal_show_the_person_beside_the_api_key(operator_client, connected):
    stack = writable_stack(connected)
    before = {r.id for r in stack.tracked}
    operator_client.post(f"/stacks/{stack.id}/actions/trigger/")
    new_run = next(r for r in stack.tracked if r.id not in before)
    page = parse(operator_client.get(f"/stacks/{stack.id}/"))
    row = page.select_one(f'tr[data-run="{new_run.id}"]').get_text(" ", strip=True)
    assert f"api::{connected.key_id}" in row  # what Spacelift itself records
    assert "Triggered in the portal by olga" in row
    rows = page.select("tr[data-run]")
    assert len(rows) > 1
    assert sum("in the portal by" in r.get_text() for r in rows) == 1
    run_page = operator_client.get(f"/stacks/{stack.id}/runs/{new_run.id}/").content.decode()
    assert "Triggered in the portal by olga" in run_page


def test_an_operator_retries_a_failed_run_through_a_confirmation_and_it_is_audited(
    operator_client, viewer_client, connected, settings
):
    stack = writable_stack(connected, "FAILED")
    failed = next(r for r in stack.tracked if r.state == "FAILED")
    page = f"/stacks/{stack.id}/runs/{failed.id}/"
    url = f"{page}actions/retry/"
    # A viewer sees no Retry and is refused; so is an operator in read-only mode.
    assert url not in viewer_client.get(page).content.decode()
    assert viewer_client.post(url).status_code == 403
    settings.PORTAL_READ_ONLY = True
    assert url not in operator_client.get(page).content.decode()
    assert operator_client.post(url).status_code == 403
    settings.PORTAL_READ_ONLY = False
    runs_before = len(stack.tracked)
    # The operator's Retry leads to a confirmation that names the commit and changes nothing.
    assert f'href="{url}"' in operator_client.get(page).content.decode()
    confirmation = parse(operator_client.get(url))
    assert confirmation.select_one("form.actions")["action"] == url
    assert failed.commit.hash[:7] in confirmation.get_text()
    assert "Spacelift's note" not in confirmation.get_text(), "runRetry takes no note"
    assert len(stack.tracked) == runs_before
    response = operator_client.post(url)
    new = stack.tracked[0]
    assert len(stack.tracked) == runs_before + 1 and new.id != failed.id
    assert new.commit.hash == failed.commit.hash
    assert (
        response.status_code == 302 and response["Location"] == f"/stacks/{stack.id}/runs/{new.id}/"
    )
    entry = AuditEntry.objects.get()
    assert (entry.action, entry.run_id, entry.result_run_id, entry.succeeded) == (
        "retry", failed.id, new.id, True
    )  # fmt: skip
    new_page = operator_client.get(response["Location"]).content.decode()
    assert "Retried in the portal by olga" in new_page
    # A run that did not fail: no confirmation page; a POST is Spacelift's to refuse, audited.
    finished = next(r for r in stack.tracked if r.state == "FINISHED")
    other = f"/stacks/{stack.id}/runs/{finished.id}/actions/retry/"
    assert operator_client.get(other).status_code == 404
    assert "Retry run failed" in operator_client.post(other, follow=True).content.decode()
    refused = AuditEntry.objects.latest("created_at")
    assert (refused.action, refused.succeeded) == ("retry", False)
    assert "only a failed run" in refused.message

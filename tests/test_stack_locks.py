"""Locking a stack from the portal (issue 22): confirmation, audit, read-only, viewers."""

from __future__ import annotations

import json

import pytest
from django.contrib.auth.models import Group

from dashboard.accounts.roles import operators_group
from dashboard.models import AuditEntry
from tests.conftest import HTMX, parse, region_of

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def fresh_world(sim):
    """Locks change the simulated account: each test starts from the same one."""
    sim.rebuild_world(48, seed=7)


def unlocked_stack(sim):
    return next(
        s for s in sim.world.stacks
        if s.can_write and not s.locked_by and s.space_details.access_level == "ADMIN"
    )  # fmt: skip


def lock_region(client, stack_id: str):
    return region_of(client.get(f"/stacks/{stack_id}/health/lock/", **HTMX), "health-lock")


def test_an_operator_locks_with_a_note_sees_it_and_unlocks_each_audited(operator_client, connected):
    stack = unlocked_stack(connected)
    region = lock_region(operator_client, stack.id)
    assert "Not locked." in region.get_text()
    assert region.select_one(f'a[href="/stacks/{stack.id}/lock/"]')
    page = operator_client.get(f"/stacks/{stack.id}/lock/")
    assert page.status_code == 200 and parse(page).select_one("textarea[name=note]")
    assert "stackLock" not in connected.stats()["by_field"]  # nothing done on GET
    # A note is required.
    assert operator_client.post(f"/stacks/{stack.id}/lock/", {"note": " "}).status_code == 400
    assert stack.locked_by is None

    response = operator_client.post(f"/stacks/{stack.id}/lock/", {"note": "Moving the state"})
    assert response.status_code == 302
    assert stack.locked_by == f"api::{connected.key_id}"
    assert stack.lock_note == "Moving the state (locked in Spacelift Portal by olga)"
    region = lock_region(operator_client, stack.id)
    assert "olga, through the portal" in region.select_one("[data-lock]").get_text()
    assert "Moving the state" in region.select_one("[data-lock-note]").get_text()
    assert region.select_one("[data-lock] time")
    confirm = parse(operator_client.get(f"/stacks/{stack.id}/unlock/"))
    assert "You hold this lock." in confirm.get_text()
    assert operator_client.post(f"/stacks/{stack.id}/unlock/").status_code == 302
    assert stack.locked_by is None
    entries = list(AuditEntry.objects.order_by("created_at").values_list(
        "username", "action", "stack_id", "succeeded"))  # fmt: skip
    assert entries == [
        ("olga", "stack_lock", stack.id, True),
        ("olga", "stack_unlock", stack.id, True),
    ]


def test_unlocking_another_persons_lock_says_whose_it_is(operator_client, connected):
    stack = next(s for s in connected.world.stacks if s.locked_by and s.can_write)
    confirm = parse(operator_client.get(f"/stacks/{stack.id}/unlock/"))
    held = confirm.select_one("[data-held-by]").get_text(" ")
    assert stack.locked_by in held and "not by you" in held
    # Spacelift's refusal (a key with WRITE only) is shown and audited, not hidden.
    response = operator_client.post(f"/stacks/{stack.id}/unlock/", follow=True)
    entry = AuditEntry.objects.get()
    if stack.space_details.access_level == "ADMIN":
        assert entry.succeeded and stack.locked_by is None
    else:
        assert not entry.succeeded and "locked by" in entry.message
        assert b"Unlock stack failed" in response.content


def test_a_viewer_sees_no_lock_control_and_a_direct_post_does_nothing(viewer_client, connected):
    stack = unlocked_stack(connected)
    region = lock_region(viewer_client, stack.id)
    assert not region.select("a.button")
    for path in ("lock", "unlock"):
        assert viewer_client.get(f"/stacks/{stack.id}/{path}/").status_code == 403
        assert viewer_client.post(f"/stacks/{stack.id}/{path}/", {"note": "x"}).status_code == 403
    assert stack.locked_by is None
    assert "stackLock" not in connected.stats()["by_field"]
    assert AuditEntry.objects.count() == 0


def test_read_only_mode_hides_and_refuses_locks(operator_client, connected, settings):
    settings.PORTAL_READ_ONLY = True
    stack = unlocked_stack(connected)
    assert not lock_region(operator_client, stack.id).select("a.button")
    assert operator_client.post(f"/stacks/{stack.id}/lock/", {"note": "x"}).status_code == 403
    assert stack.locked_by is None


def test_an_operator_cannot_lock_outside_their_spaces(
    client, connected, django_user_model, settings
):
    data_space = next(s.id for s in connected.world.spaces if s.name == "data")
    settings.PORTAL_SPACE_ACCESS = json.dumps({"team-data": [data_space]})
    person = django_user_model.objects.create_user("dee", password="pw-dee-12345")
    person.groups.add(Group.objects.create(name="team-data"), operators_group())
    client.force_login(person)
    stack = next(s for s in connected.world.stacks if s.space_details.name != "data")
    assert client.get(f"/stacks/{stack.id}/lock/").status_code == 404
    assert client.post(f"/stacks/{stack.id}/lock/", {"note": "x"}).status_code == 404
    assert "stackLock" not in connected.stats()["by_field"]
    entry = AuditEntry.objects.get()
    assert (entry.action, entry.succeeded) == ("stack_lock", False)

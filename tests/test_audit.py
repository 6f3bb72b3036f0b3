"""The audit trail: connection changes (never the secret), filters, pages, CSV, retention."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone

from dashboard import audit
from dashboard.models import AuditEntry

pytestmark = pytest.mark.django_db


@pytest.fixture
def saved_connection(admin_client, sim):
    response = admin_client.post("/administration/spacelift/save/", {
        "host": sim.url, "key_id": sim.key_id, "secret": sim.key_secret,
    })  # fmt: skip
    assert response.status_code == 302
    return sim


def test_saving_the_connection_is_audited_without_the_secret(admin_client, saved_connection):
    entry = AuditEntry.objects.get(action=AuditEntry.Action.CONNECTION_SAVE)
    assert entry.username == "admin"
    assert entry.fields == "host, API key ID, API key secret"
    html = admin_client.get("/administration/audit/").content.decode()
    assert "Save connection" in html
    csv_text = b"".join(admin_client.get("/administration/audit/export.csv").streaming_content)
    for text in (html, csv_text.decode()):
        assert saved_connection.key_secret not in text


def test_connection_changes_and_sign_ins_name_the_client_address(admin_client, sim, settings):
    settings.PORTAL_TRUSTED_PROXY_COUNT = 1
    admin_client.post(
        "/administration/spacelift/test/",
        {"host": sim.url, "key_id": sim.key_id, "secret": sim.key_secret},
        HTTP_X_FORWARDED_FOR="203.0.113.9",
    )
    entry = AuditEntry.objects.get(action=AuditEntry.Action.CONNECTION_TEST)
    assert entry.client_address == "203.0.113.9"
    html = admin_client.get("/administration/audit/").content.decode()
    assert "from 203.0.113.9" in html


def test_a_save_names_only_the_fields_that_changed(admin_client, saved_connection):
    admin_client.post("/administration/spacelift/save/", {
        "host": saved_connection.url, "key_id": saved_connection.key_id,
        "secret": "",
    })  # fmt: skip
    latest = AuditEntry.objects.filter(action=AuditEntry.Action.CONNECTION_SAVE).first()
    assert latest.fields == ""
    admin_client.post("/administration/spacelift/save/", {
        "host": saved_connection.url, "key_id": saved_connection.key_id,
        "secret": "another-secret-value", "save_anyway": "on",
    })  # fmt: skip
    latest = AuditEntry.objects.filter(action=AuditEntry.Action.CONNECTION_SAVE).first()
    assert latest.fields == "API key secret"


def test_a_host_typed_another_way_is_not_a_change(admin_client, saved_connection):
    """The form reads the host as an address (`Form.changed_data` compares those)."""
    admin_client.post("/administration/spacelift/save/", {
        "host": saved_connection.url + "/graphql", "key_id": saved_connection.key_id.lower(),
        "secret": "",
    })  # fmt: skip
    latest = AuditEntry.objects.filter(action=AuditEntry.Action.CONNECTION_SAVE).first()
    assert latest.fields == ""


def test_testing_and_removing_the_connection_are_audited(admin_client, saved_connection):
    admin_client.post("/administration/spacelift/test-in-use/")
    admin_client.post("/administration/spacelift/remove/", {"confirm": "yes"})
    kinds = list(AuditEntry.objects.values_list("action", "succeeded"))
    assert (AuditEntry.Action.CONNECTION_TEST, True) in kinds
    assert (AuditEntry.Action.CONNECTION_REMOVE, True) in kinds


def test_a_password_sign_in_is_audited(client, django_user_model):
    django_user_model.objects.create_user("pat", password="pw-pat-123")
    client.post("/accounts/login/", {"username": "pat", "password": "pw-pat-123"})
    entry = AuditEntry.objects.get(action=AuditEntry.Action.SIGN_IN)
    assert entry.username == "pat" and "password" in entry.message


def make_entries(django_user_model):
    ann = django_user_model.objects.create_user("ann")
    bob = django_user_model.objects.create_user("bob")
    for i in range(120):
        audit.record(ann if i % 2 else bob, AuditEntry.Action.TRIGGER, stack_id=f"stack-{i % 3}")
    audit.record(ann, AuditEntry.Action.SIGN_IN, message="Signed in with a password")


def test_it_filters_by_person_stack_and_kind(admin_client, django_user_model):
    make_entries(django_user_model)
    page = admin_client.get("/administration/audit/", {"person": "ann", "stack": "stack-1"})
    assert page.context["page"].paginator.count == 20
    page = admin_client.get("/administration/audit/", {"person": "ann", "kind": "sign_in"})
    assert page.context["page"].paginator.count == 1


def test_it_filters_by_date(admin_client, django_user_model):
    make_entries(django_user_model)
    AuditEntry.objects.filter(stack_id="stack-0").update(
        created_at=timezone.now() - timedelta(days=10)
    )
    today = timezone.now().date()
    page = admin_client.get("/administration/audit/", {"since": today.isoformat()})
    assert page.context["page"].paginator.count == 81
    old = (today - timedelta(days=10)).isoformat()
    page = admin_client.get("/administration/audit/", {"since": old, "until": old})
    assert page.context["page"].paginator.count == 40


def test_a_bad_date_is_explained_and_ignored(admin_client, django_user_model):
    make_entries(django_user_model)
    page = admin_client.get("/administration/audit/", {"since": "yesterday"})
    assert page.status_code == 200
    assert page.context["page"].paginator.count == 121
    assert "Ignored: since" in page.content.decode()


def test_it_pages_through_everything(admin_client, django_user_model):
    make_entries(django_user_model)
    first = admin_client.get("/administration/audit/", {"person": "bob"})
    assert first.context["page"].paginator.num_pages == 2
    assert "person=bob&amp;page=2" in first.content.decode()
    second = admin_client.get("/administration/audit/", {"person": "bob", "page": 2})
    assert len(second.context["entries"]) == 10


def test_csv_exports_every_matching_entry(admin_client, django_user_model):
    make_entries(django_user_model)
    audit.record(django_user_model.objects.get(username="ann"), AuditEntry.Action.CONNECTION_SAVE,
                 message="=HYPERLINK(\"http://evil\")")  # fmt: skip
    response = admin_client.get("/administration/audit/export.csv", {"person": "ann"})
    assert response["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert rows[0][:3] == ["when", "who", "kind"]
    assert len(rows) == 1 + 62
    assert rows[1][-1].startswith("'=")  # no formula reaches a spreadsheet


def test_the_audit_log_and_export_are_for_staff(viewer_client):
    from django.test import Client

    assert Client().get("/administration/audit/").status_code == 302
    assert viewer_client.get("/administration/audit/").status_code == 403
    assert viewer_client.get("/administration/audit/export.csv").status_code == 403


def test_entries_older_than_the_retention_are_pruned_on_write(settings, django_user_model):
    settings.PORTAL_AUDIT_DAYS = 30
    make_entries(django_user_model)
    AuditEntry.objects.filter(stack_id="stack-0").update(
        created_at=timezone.now() - timedelta(days=31)
    )
    audit.record(None, AuditEntry.Action.SIGN_IN)
    assert not AuditEntry.objects.filter(stack_id="stack-0").exists()
    assert AuditEntry.objects.count() == 82


def test_the_prune_command_applies_the_retention(settings, django_user_model):
    make_entries(django_user_model)
    AuditEntry.objects.update(created_at=timezone.now() - timedelta(days=400))
    out = io.StringIO()
    call_command("prune_audit", stdout=out)
    assert "Deleted 121" in out.getvalue() and not AuditEntry.objects.exists()

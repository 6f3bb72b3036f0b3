"""The settings page's webhook part: URL and policy to paste, a write-only secret, what arrived."""

from __future__ import annotations

import json

import pytest

from dashboard.models import SpaceliftConnection
from dashboard.webhooks import hints, stats
from dashboard.webhooks.signature import sign
from tests.conftest import parse

pytestmark = pytest.mark.django_db(transaction=True)

PAGE = "/administration/spacelift/"
SAVE = "/administration/spacelift/webhook-secret/"
TEST_IN_USE = "/administration/spacelift/test-in-use/"
SECRET = "saved-webhook-secret-42"


@pytest.fixture
def saved(sim, settings):
    settings.PORTAL_WEBHOOK_SECRET = ""
    stats.reset()
    row = SpaceliftConnection(pk=SpaceliftConnection.SINGLETON_ID, base_url=sim.url,
                              key_id=sim.key_id)  # fmt: skip
    row.set_secret(sim.key_secret)
    row.save()
    yield row
    hints.rereader.wait_idle(10)


def deliver(client, secret: str, stack_id: str = "payments-api"):
    body = json.dumps({"account": "simulated", "stack": {"id": stack_id}}).encode()
    return client.post("/webhooks/spacelift/", body, content_type="application/json",
                       HTTP_X_SIGNATURE_256=sign(secret, body))  # fmt: skip


def test_staff_see_the_url_to_paste_and_a_notification_policy(staff_client, saved):
    panel = parse(staff_client.get(PAGE)).select_one("#webhooks")
    assert panel.select_one("#webhook-url").get_text() == "http://testserver/webhooks/spacelift/"
    policy = panel.select_one("#webhook-policy").get_text()
    assert "package spacelift" in policy and "webhook[" in policy
    assert "paid plans" in panel.get_text() and "every plan" in panel.get_text()


def test_a_saved_secret_is_encrypted_write_only_and_checks_deliveries(client, staff_client, saved):
    assert deliver(client, SECRET).status_code == 404  # no secret yet
    assert staff_client.post(SAVE, {"webhook_secret": SECRET}).status_code == 302
    row = SpaceliftConnection.load()
    assert SECRET not in row.webhook_secret_encrypted
    assert SECRET not in staff_client.get(PAGE).content.decode()
    assert deliver(client, "another-secret-entirely").status_code == 401
    assert deliver(client, SECRET).status_code == 202
    panel = parse(staff_client.get(PAGE)).select_one("#webhooks").get_text(" ", strip=True)
    assert "None yet" not in panel
    assert "Rejected deliveries 1" in panel


def test_a_short_secret_is_refused(staff_client, saved):
    staff_client.post(SAVE, {"webhook_secret": "short"})
    assert SpaceliftConnection.load().webhook_secret_encrypted == ""


def test_only_staff_may_save_the_secret(viewer_client, saved):
    assert viewer_client.post(SAVE, {"webhook_secret": SECRET}).status_code == 403
    assert SpaceliftConnection.load().webhook_secret_encrypted == ""


def test_test_connection_says_whether_webhooks_arrived(client, staff_client, saved):
    staff_client.post(SAVE, {"webhook_secret": SECRET})
    page = parse(staff_client.post(TEST_IN_USE)).get_text(" ", strip=True)
    assert "Webhooks: No signed delivery from Spacelift has arrived yet." in page
    deliver(client, SECRET)
    page = parse(staff_client.post(TEST_IN_USE)).get_text(" ", strip=True)
    assert "Webhooks: The last signed delivery arrived at" in page


def test_saving_the_secret_is_audited_by_name_never_by_value(staff_client, saved):
    from dashboard.models import AuditEntry

    staff_client.post(SAVE, {"webhook_secret": SECRET})
    entry = AuditEntry.objects.latest("created_at")
    assert entry.action == AuditEntry.Action.CONNECTION_SAVE
    assert "webhook_secret" in str(entry.fields)
    assert not any(SECRET in str(value) for value in vars(entry).values())

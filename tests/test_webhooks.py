"""The webhook receiver: signature first, answers at once, and the body is only a hint."""

from __future__ import annotations

import json

import pytest

from dashboard.spacelift.shared_cache import shared_cache
from dashboard.webhooks import hints, stats
from dashboard.webhooks.signature import sign
from tests.conftest import HTMX, parse

# The re-reads run in a thread of their own, which writes history: committed transactions.
pytestmark = pytest.mark.django_db(transaction=True)

URL = "/webhooks/spacelift/"
SECRET = "whsec-test-1234"


def delivery(stack_id: str, *, state="FINISHED", run_id="01RUN", version=1, account="simulated"):
    return {
        "account": account,
        "state": state,
        "stateVersion": version,
        "timestamp": 1764750000,
        "run": {"id": run_id, "type": "TRACKED", "triggeredBy": "", "delta": {}},
        "stack": {"id": stack_id, "name": stack_id, "description": "", "labels": []},
    }


def post(client, body: bytes | dict, signature: str | None = "sign", secret: str = SECRET):
    raw = json.dumps(body).encode() if isinstance(body, dict) else body
    headers = {}
    if signature == "sign":
        headers["HTTP_X_SIGNATURE_256"] = sign(secret, raw)
    elif signature is not None:
        headers["HTTP_X_SIGNATURE_256"] = signature
    return client.post(URL, raw, content_type="application/json", **headers)


@pytest.fixture
def webhooks(connected, settings):
    settings.PORTAL_WEBHOOK_SECRET = SECRET
    stats.reset()
    yield connected
    hints.rereader.wait_idle(10)
    hints.rereader.stop()


def stack_state_on_overview(client, stack_id: str) -> str:
    row = parse(client.get("/", **HTMX)).select_one(f'tr[data-stack="{stack_id}"]')
    assert row is not None
    return row.select_one(".chip").get_text(" ", strip=True)


def test_it_answers_404_without_a_secret(client, connected, settings):
    settings.PORTAL_WEBHOOK_SECRET = ""
    assert post(client, delivery("x")).status_code == 404


@pytest.mark.parametrize("signature", [None, "", "sha256=", "sha256=" + "0" * 64, "wrong"])
def test_it_refuses_unsigned_and_forged_deliveries_without_asking_spacelift(
    client, webhooks, signature
):
    before = webhooks.stats()["requests"]
    cache_before = shared_cache.get("spacelift:index")
    response = post(client, delivery(webhooks.world.stacks[0].id), signature=signature)
    assert response.status_code == 401
    assert hints.rereader.wait_idle(5)
    assert webhooks.stats()["requests"] == before
    assert shared_cache.get("spacelift:index") == cache_before
    assert stats.current().refused == 1


def test_it_refuses_a_body_signed_with_another_secret(client, webhooks):
    assert post(client, delivery("x"), secret="someone-else").status_code == 401


def test_it_refuses_a_signed_body_that_is_not_json(client, webhooks):
    assert post(client, b"not json at all").status_code == 400
    assert post(client, b"[1, 2]").status_code == 400
    assert stats.current().counts[stats.Outcome.NOT_JSON] == 2


def test_it_needs_no_session_or_csrf_token(webhooks):
    from django.test import Client

    strict = Client(enforce_csrf_checks=True)
    response = post(strict, delivery(webhooks.world.stacks[0].id))
    assert response.status_code == 202
    assert "sessionid" not in response.cookies


def test_a_delivery_rereads_the_stack_and_the_overview_shows_spacelifts_answer(
    client, viewer_client, webhooks
):
    stack = webhooks.world.stacks[3]
    viewer_client.get("/")  # the list is cached
    with webhooks.world.lock:
        stack.state, stack.state_set_at = "FAILED", stack.state_set_at
    assert "Failed" not in stack_state_on_overview(viewer_client, stack.id)  # still cached
    webhooks.reset_stats()
    assert post(client, delivery(stack.id, state="FAILED")).status_code == 202
    assert hints.rereader.wait_idle(10)
    assert webhooks.stats()["queries"] == 1  # the stack, not the list
    assert "Failed" in stack_state_on_overview(viewer_client, stack.id)


def test_a_delivery_claiming_a_state_spacelift_does_not_report_never_shows_it(
    client, viewer_client, webhooks
):
    stack = next(s for s in webhooks.world.stacks if s.state == "FINISHED")
    viewer_client.get("/")
    assert post(client, delivery(stack.id, state="FAILED")).status_code == 202
    assert hints.rereader.wait_idle(10)
    assert "Failed" not in stack_state_on_overview(viewer_client, stack.id)
    from dashboard.models import StackStateChange

    assert not StackStateChange.objects.filter(stack_id=stack.id, to_state="FAILED").exists()


def test_a_replayed_or_older_delivery_costs_no_read(client, viewer_client, webhooks):
    stack = webhooks.world.stacks[1]
    viewer_client.get("/")
    assert post(client, delivery(stack.id, version=5)).status_code == 202
    assert hints.rereader.wait_idle(10)
    webhooks.reset_stats()
    assert post(client, delivery(stack.id, version=5)).status_code == 202  # replayed
    assert post(client, delivery(stack.id, version=3)).status_code == 202  # out of order
    assert hints.rereader.wait_idle(10)
    assert webhooks.stats()["requests"] == 0
    assert stats.current().counts[stats.Outcome.DUPLICATE] == 2


def test_a_delivery_for_another_account_is_ignored_and_counted(client, viewer_client, webhooks):
    viewer_client.get("/")
    webhooks.reset_stats()
    response = post(client, delivery(webhooks.world.stacks[0].id, account="someone-else"))
    assert response.status_code == 202
    assert hints.rereader.wait_idle(10)
    assert webhooks.stats()["requests"] == 0
    assert stats.current().counts[stats.Outcome.OTHER_ACCOUNT] == 1


def test_many_stacks_at_once_cost_one_list_read(client, viewer_client, webhooks):
    viewer_client.get("/")
    webhooks.reset_stats()
    for index, stack in enumerate(webhooks.world.stacks[:40]):
        post(client, delivery(stack.id, run_id=f"01RUN{index}"))
    assert hints.rereader.wait_idle(10)
    assert webhooks.stats()["queries"] <= 3
    assert webhooks.stats()["by_field"]["searchStacks"] >= 1


def test_metrics_count_refusals(client, webhooks, settings):
    settings.PORTAL_METRICS_TOKEN = "scrape-token"
    post(client, delivery("x"), signature="sha256=bad")
    body = client.get("/metrics", HTTP_AUTHORIZATION="Bearer scrape-token").content.decode()
    assert 'spacelift_portal_webhook_deliveries_total{outcome="refused"} 1.0' in body

"""Notifications from the real background thread: no page open, a receiver that hangs, and a
webhook that wakes it at once. Its own file: the thread writes with a connection of its own, so
the test commits (and its flush must come after the tests that read what migrations wrote).
"""

from __future__ import annotations

import json
import threading
import time

import pytest

from dashboard.models import NotifiedProblem
from dashboard.notifications.watcher import watcher as the_watcher
from dashboard.webhooks import hints
from dashboard.webhooks.signature import sign
from tests.asgi_server import share_the_test_database_with_server_threads
from tests.notifications_support import (  # noqa: F401 - fixtures
    BASE_URL,
    healthy_stacks,
    receiver_fixture,
    route,
    set_state,
    world_fixture,
)

# The sender thread has a database connection of its own (see tests/asgi_server.py).
share_the_test_database_with_server_threads()

pytestmark = pytest.mark.django_db(transaction=True)


def test_with_no_page_open_the_background_thread_delivers_and_a_hung_receiver_slows_no_page(
    world, clock, settings, receiver, viewer_client
):
    settings.PORTAL_NOTIFY = json.dumps([route("ops", receiver.json_url)])
    settings.PORTAL_WEBHOOK_SECRET = WEBHOOK_SECRET
    # The thread's own interval outlasts every wait below: only a poke makes it look.
    settings.PORTAL_POLL_SECONDS = 60
    watcher = the_watcher  # the process's own, which webhooks wake
    watcher.start()
    try:
        ticks = watcher.ticks
        watcher.poke()
        wait_for(lambda: watcher.ticks > ticks, "the watcher did not look")
        receiver.take()
        receiver.hold = True  # the receiver hangs until released
        stack = healthy_stacks(world)[0]
        set_state(world, stack, "FAILED")
        clock.advance(settings.PORTAL_POLL_SECONDS)
        watcher.poke()
        assert receiver.arrived.wait(10), "nothing was sent"
        # The sender is stuck in the receiver; pages answer as usual.
        assert viewer_client.get("/").status_code == 200
        assert viewer_client.get(f"/stacks/{stack.id}/").status_code == 200
        receiver.release.set()
        wait_for(lambda: receiver.received, "the message did not arrive")
        [message] = receiver.take()
        assert stack.name in message.body["message"]
        assert f"{BASE_URL}/stacks/{stack.id}/" in message.body["message"]
        assert NotifiedProblem.objects.filter(stack_id=stack.id).exists()

        # A webhook: the watcher looks at once, without waiting for the list to expire.
        receiver.hold = False
        other = healthy_stacks(world)[1]
        set_state(world, other, "FAILED")
        assert post_webhook(viewer_client, other.id).status_code == 202
        wait_for(lambda: receiver.received, "the webhook's news did not arrive")
        [news] = receiver.take()
        assert other.name in news.body["message"] and stack.name not in news.body["message"]
    finally:
        watcher.stop()
        hints.rereader.wait_idle(10)
        hints.rereader.stop()
    assert not watcher.running


WEBHOOK_SECRET = "whsec-notify-42"


def post_webhook(client, stack_id: str):
    raw = json.dumps({"account": "simulated", "stateVersion": 7, "run": {"id": "01RUNNOTIFY"},
                      "stack": {"id": stack_id}}).encode()  # fmt: skip
    return client.post(
        "/webhooks/spacelift/",
        raw,
        content_type="application/json",
        HTTP_X_SIGNATURE_256=sign(WEBHOOK_SECRET, raw),
    )


def wait_for(condition, what: str, timeout: float = 10) -> None:
    """Wait for the background thread's work (a bound, never the measure)."""
    done = threading.Event()
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, what
        done.wait(0.02)

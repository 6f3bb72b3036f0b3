"""In a real browser, under the ASGI server: changes pushed to the open overview.

The page's own poll is set far beyond the test (PORTAL_POLL_SECONDS=300), so a change that
reaches the screen can only have been pushed: by a webhook, or by the list read ahead as it
expires (the service clock is moved past one interval, not waited for). How fast it arrives
is a figure for `make bench` (bench/live.py), not an assertion here.
"""

from __future__ import annotations

import random
import time

import pytest

from dashboard.live.broker import broker
from dashboard.spacelift import process_state
from dashboard.webhooks import hints
from simulator.webhooks import WebhookSender

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

SECRET = "whsec-browser-19"
# Longer than any test here: no poll can bring a change on screen.
NO_POLL_SECONDS = 300
NEW_STATES = ["FAILED", "UNCONFIRMED", "FINISHED", "DISCARDED", "APPLYING"]


def unexpected(errors: list[str]) -> list[str]:
    """Console errors, less htmx's note that a lazy "why" slot's load was cut short because
    its region was replaced meanwhile (the new region's slot loads it again)."""
    benign = ("htmx:sendAbort, [object HTMLSpanElement]", "htmx:afterRequest, [object HTMLSpan")
    return [error for error in errors if not error.startswith(benign)]


def chip_of(page, stack_id: str) -> str:
    return page.locator(f'tr[data-stack="{stack_id}"] .chip').get_attribute("title")


def wait_for_streams(count: int, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while broker.open_streams < count:
        assert time.monotonic() < deadline, "the page opened no event stream"
        time.sleep(0.05)


def wait_for_state(page, stack_id: str, state: str) -> None:
    page.wait_for_function(
        "([id, state]) => document.querySelector(`tr[data-stack='${id}'] .chip`)?.title === state",
        arg=[stack_id, state],
        timeout=60_000,  # a generous bound for a loaded CI machine, not a figure
    )


def change(world, stack, state: str) -> None:
    """What Spacelift does: the stack's newest run takes a new state (a new stateVersion)."""
    with world.lock:
        stack.tracked[0].transition(state, int(time.time()))
        stack.refresh_state()


@pytest.fixture(autouse=True)
def _nothing_left_running():
    """The re-reader, the list watcher and the streams end with each test."""
    yield
    hints.rereader.wait_idle(10)
    process_state.reset_all()


@pytest.fixture
def quiet_stacks(connected):
    world = connected.world
    return [s for s in world.stacks if s.id not in world.active_stack_ids and s.tracked]


def test_with_webhooks_eight_changes_at_random_moments_reach_the_open_overview(
    login, connected, settings, live_server, quiet_stacks
):
    settings.PORTAL_POLL_SECONDS = NO_POLL_SECONDS
    settings.PORTAL_WEBHOOK_SECRET = SECRET
    url = live_server.url + "/webhooks/spacelift/"
    sender = WebhookSender(connected.world, url, SECRET, advance=False).start()
    try:
        page = login()
        page.goto("/?per_page=250")
        wait_for_streams(1)
        rng = random.Random(19)
        for _ in range(8):
            page.wait_for_timeout(rng.uniform(0, 1500))  # a random moment
            stack = rng.choice(quiet_stacks)
            state = rng.choice([s for s in NEW_STATES if s != chip_of(page, stack.id)])
            change(connected.world, stack, state)
            wait_for_state(page, stack.id, state)
        assert sender.failed == 0
        assert unexpected(page.watch.errors) == []
    finally:
        sender.stop()
        hints.rereader.wait_idle(10)


def test_a_delivery_claiming_a_state_spacelift_does_not_report_never_shows_it(
    login, connected, settings, live_server, quiet_stacks
):
    settings.PORTAL_POLL_SECONDS = NO_POLL_SECONDS
    settings.PORTAL_WEBHOOK_SECRET = SECRET
    page = login()
    page.goto("/?per_page=250")
    wait_for_streams(1)
    liar, truthful = quiet_stacks[0], quiet_stacks[1]
    sender = WebhookSender(connected.world, live_server.url + "/webhooks/spacelift/", SECRET)
    before = chip_of(page, liar.id)
    import json

    from simulator.webhooks import payload

    lie = {**payload(liar), "state": "FAILED" if before != "FAILED" else "FINISHED"}
    assert sender.send(json.dumps(lie).encode()) == 202
    truth = "FAILED" if chip_of(page, truthful.id) != "FAILED" else "FINISHED"
    change(connected.world, truthful, truth)
    assert sender.send(json.dumps(payload(truthful)).encode()) == 202
    hints.rereader.wait_idle(10)
    wait_for_state(page, truthful.id, truthful.state)  # both were handled by now
    assert hints.rereader.wait_idle(10)
    assert chip_of(page, liar.id) == before


def test_without_webhooks_a_change_is_pushed_once_the_list_expires(
    login, connected, settings, live_server, quiet_stacks, clock
):
    settings.PORTAL_POLL_SECONDS = NO_POLL_SECONDS
    settings.PORTAL_WEBHOOK_SECRET = ""
    page = login()
    page.goto("/?per_page=250")
    wait_for_streams(1)
    stack = quiet_stacks[2]
    state = "FAILED" if chip_of(page, stack.id) != "FAILED" else "FINISHED"
    change(connected.world, stack, state)
    clock.advance(NO_POLL_SECONDS)  # one interval later: the cached list has expired
    wait_for_state(page, stack.id, state)
    assert unexpected(page.watch.errors) == []

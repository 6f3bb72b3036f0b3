"""Live pages over real HTTP under uvicorn: the event stream, and webhooks that feed it."""

from __future__ import annotations

import json
import socket
import time
from contextlib import closing

import pytest
import requests
from django.test import Client

from dashboard.live import ahead
from dashboard.live import broker as broker_module
from dashboard.live import views as live_views
from dashboard.live.broker import broker
from dashboard.webhooks import hints
from dashboard.webhooks.signature import sign
from tests.asgi_server import asgi_server, share_the_test_database_with_server_threads

share_the_test_database_with_server_threads()

SECRET = "whsec-live-5678"
pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(scope="module")
def server():
    with asgi_server() as running:
        yield running


@pytest.fixture
def live(connected, settings, server):
    settings.PORTAL_WEBHOOK_SECRET = SECRET
    settings.PORTAL_EVENT_STREAMS_PER_PERSON = 2
    yield server
    hints.rereader.wait_idle(10)
    ahead.watcher.stop()
    broker.reset()


@pytest.fixture
def session_cookie(django_user_model):
    user = django_user_model.objects.create_user("streamer", password="pw-streamer-1")
    client = Client()
    client.force_login(user)
    return {"sessionid": client.cookies["sessionid"].value}


class Stream:
    """An open GET /events/ read line by line, on a plain socket with a read timeout."""

    def __init__(self, url: str, cookies: dict[str, str]) -> None:
        self.response = requests.get(url + "/events/", cookies=cookies, stream=True, timeout=10)
        self.lines = self.response.iter_lines(decode_unicode=True)

    def next_event(self) -> str:
        """The name of the next event (comments and retry lines skipped)."""
        for line in self.lines:
            if line.startswith("event: "):
                return line.removeprefix("event: ")
        raise AssertionError("the stream ended")

    def close(self) -> None:
        self.response.close()


def deliver(url: str, body: dict, signature: str | None = None) -> requests.Response:
    raw = json.dumps(body).encode()
    headers = {"Content-Type": "application/json"}
    headers["X-Signature-256"] = signature if signature is not None else sign(SECRET, raw)
    return requests.post(url + "/webhooks/spacelift/", data=raw, headers=headers, timeout=10)


def test_the_stream_needs_a_session(live):
    response = requests.get(live.url + "/events/", timeout=10)
    assert response.status_code == 403


def test_a_signed_delivery_tells_open_pages_which_regions_changed(live, session_cookie, connected):
    stack = connected.world.stacks[5]
    requests.get(live.url + "/", cookies=session_cookie, timeout=10).raise_for_status()
    stream = Stream(live.url, session_cookie)
    try:
        assert stream.response.status_code == 200
        assert stream.response.headers["Content-Type"] == "text/event-stream"
        assert stream.response.headers["X-Accel-Buffering"] == "no"
        with connected.world.lock:
            stack.tracked[0].transition("FAILED", int(time.time()))
            stack.refresh_state()
        body = {"account": "simulated", "stateVersion": 99, "run": {"id": "01RUNLIVE"},
                "stack": {"id": stack.id}}  # fmt: skip
        assert deliver(live.url, body).status_code == 202
        seen = {stream.next_event(), stream.next_event()}
        assert seen == {"stacks", f"stack-{stack.id}"}
    finally:
        stream.close()


def test_forged_deliveries_over_http_are_refused_and_send_no_event(live, session_cookie, connected):
    before = connected.stats()["requests"]
    for signature in ("", "sha256=" + "0" * 64, "sha1=abc"):
        assert deliver(live.url, {"stack": {"id": "x"}}, signature).status_code == 401
    assert hints.rereader.wait_idle(5)
    assert connected.stats()["requests"] == before
    assert broker.published == 0


def test_a_person_holds_a_bounded_number_of_streams(live, session_cookie):
    streams = [Stream(live.url, session_cookie) for _ in range(2)]
    try:
        assert [s.response.status_code for s in streams] == [200, 200]
        third = requests.get(live.url + "/events/", cookies=session_cookie, timeout=10)
        assert third.status_code == 429
    finally:
        for stream in streams:
            stream.close()


def test_the_stream_sends_heartbeats_and_a_reconnect_delay(live, session_cookie, monkeypatch):
    monkeypatch.setattr(live_views, "HEARTBEAT_SECONDS", 0.2)
    stream = Stream(live.url, session_cookie)
    try:
        first = [next(stream.lines) for _ in range(2)]
        assert first[0].startswith("retry: ")
        assert 1000 <= int(first[0].removeprefix("retry: ")) <= 4000
        heartbeats = [line for line in (next(stream.lines) for _ in range(6)) if line]
        assert ": heartbeat" in heartbeats
    finally:
        stream.close()


def test_closing_the_broker_ends_every_stream(live, session_cookie):
    stream = Stream(live.url, session_cookie)
    assert stream.response.status_code == 200
    broker.close()
    assert list(stream.lines)[-1:] in ([], [""], [": connected"])  # the stream ended
    stream.close()


def test_healthz_answers_while_streams_are_open(live, session_cookie):
    streams = [Stream(live.url, session_cookie) for _ in range(2)]
    try:
        with closing(socket.create_connection(("127.0.0.1", live.port), timeout=5)):
            pass
        assert requests.get(live.url + "/healthz", timeout=5).status_code == 200
    finally:
        for stream in streams:
            stream.close()


@pytest.mark.redis
def test_with_redis_events_from_another_process_reach_this_ones_streams(
    live, session_cookie, settings
):
    import redis

    from tests.servers import redis_server

    with redis_server() as server:
        url = server.location()
        settings.CACHES = {
            "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": url}
        }
        stream = Stream(live.url, session_cookie)
        try:
            assert stream.response.status_code == 200
            other_process = redis.Redis.from_url(url)
            deadline = time.monotonic() + 10
            while other_process.pubsub_numsub(broker_module.CHANNEL)[0][1] < 1:
                assert time.monotonic() < deadline, "no process listens"
                time.sleep(0.05)
            other_process.publish(broker_module.CHANNEL, json.dumps(["stacks", None]))
            assert stream.next_event() == "stacks"
        finally:
            stream.close()
            broker.reset()


def wait_until(condition, what: str, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, what
        time.sleep(0.02)


def test_open_pages_cost_one_list_read_per_interval(
    live, session_cookie, connected, clock, settings
):
    requests.get(live.url + "/", cookies=session_cookie, timeout=10).raise_for_status()
    streams = [Stream(live.url, session_cookie) for _ in range(2)]
    try:
        connected.reset_stats()
        for interval in range(1, 4):
            clock.advance(settings.PORTAL_POLL_SECONDS)
            wait_until(
                lambda n=interval: connected.list_reads() >= n,
                "the list was not read ahead",
            )
            looks = ahead.watcher.looks
            wait_until(lambda n=looks: ahead.watcher.looks >= n + 5, "the watcher stopped")
        assert connected.list_reads() == 3
    finally:
        for stream in streams:
            stream.close()

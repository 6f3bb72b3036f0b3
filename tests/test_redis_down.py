"""Redis is a cache, not a dependency: stopped, the pages answer from memory; back, it is used."""

from __future__ import annotations

import logging
import tempfile

import pytest

from dashboard.spacelift.shared_cache import RETRY_SECONDS, shared_cache
from tests.servers import redis_server

pytestmark = [pytest.mark.django_db, pytest.mark.redis]
UNREACHABLE = "The cache cannot be reached"


def redis_cache(url: str) -> dict:
    return {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": url,
            "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1},
        }
    }


def test_pages_answer_from_memory_while_redis_is_away_and_use_it_again_when_back(
    viewer_client, connected, settings, clock, caplog
):
    # Its own server, to stop and start again at the same address (a socket in its directory).
    directory = tempfile.TemporaryDirectory(prefix="portal-redis-")
    with redis_server(directory.name) as server:
        settings.CACHES = redis_cache(server.location())
        stack_id = connected.world.stacks[0].id
        pages = ["/", f"/stacks/{stack_id}/", "/status.json"]
        for path in pages:
            assert viewer_client.get(path).status_code == 200
        assert viewer_client.get("/healthz").json()["cache"] == "ok"
    # Redis is gone, the interval has ended, and Spacelift fails too: only memory has data.
    clock.advance(settings.PORTAL_POLL_SECONDS + 1)
    connected.set_faults(mode="http500")
    with caplog.at_level(logging.WARNING, logger="dashboard.spacelift.shared_cache"):
        answers = {path: viewer_client.get(path) for path in pages}
        health = viewer_client.get("/healthz")
    assert {path: r.status_code for path, r in answers.items()} == dict.fromkeys(pages, 200)
    assert 'data-stack="' in answers["/"].content.decode()
    assert "Stale:" in answers["/"].content.decode()
    assert "<dt>Repository</dt>" in answers[f"/stacks/{stack_id}/"].content.decode()
    assert len(answers["/status.json"].json()["stacks"]) > 0
    assert health.status_code == 200 and health.json() == {"status": "ok", "cache": "degraded"}
    assert caplog.text.count(UNREACHABLE) == 1  # logged once, not per call
    connected.set_faults(mode=None)
    with directory, redis_server(directory.name):
        clock.advance(RETRY_SECONDS + 1)
        assert viewer_client.get("/healthz").json()["cache"] == "ok"
        assert not shared_cache.degraded
        assert viewer_client.get("/").status_code == 200

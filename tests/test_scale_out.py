"""Several processes sharing Redis. A real server, no mocks. (PostgreSQL: tests/postgres.py.)"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

# Each worker says "ready" once set up, then waits for "go" on its standard input: the test
# sends it to all of them at once, so they read at the same moment (no sleep until a time).
WORKER = textwrap.dedent(
    """
    import sys, django
    django.setup()
    from dashboard.connection.source import current_connection
    from dashboard.spacelift.service import SpaceliftService
    print("ready", flush=True)
    assert sys.stdin.readline() == "go\\n"
    snapshot = SpaceliftService(current_connection()).stacks()
    print(snapshot.version, len(snapshot.data or []))
    """
)


def portal_env(sim, **extra) -> dict[str, str]:
    return (
        os.environ
        | {
            "DJANGO_SETTINGS_MODULE": "spacelift_portal.settings",
            "PORTAL_ENV_FILE": "",
            "SECRET_KEY": "test-only-secret-key",
            "SPACELIFT_API_KEY_ENDPOINT": sim.url,
            "SPACELIFT_API_KEY_ID": sim.key_id,
            "SPACELIFT_API_KEY_SECRET": sim.key_secret,
            "PYTHONPATH": str(ROOT),
        }
        | extra
    )


@pytest.mark.redis
def test_processes_sharing_redis_make_one_upstream_query_and_one_exchange(sim, redis):
    sim.set_faults(latency=0.5)
    env = portal_env(sim, CACHE_URL=redis.cache_url())
    workers = [
        subprocess.Popen(
            [sys.executable, "-c", WORKER],
            env=env,
            cwd=ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(4)
    ]
    ready = [w.stdout.readline() for w in workers]
    for worker in workers:
        with contextlib.suppress(BrokenPipeError):  # one that died says why on stderr
            worker.stdin.write("go\n")
            worker.stdin.flush()
    outputs = [w.communicate(timeout=60) for w in workers]
    assert ready == ["ready\n"] * 4, [err for _, err in outputs]
    assert all(w.returncode == 0 for w in workers), [err for _, err in outputs]
    answers = {out.strip() for out, _ in outputs}
    assert len(answers) == 1 and answers.pop().endswith(" 48")
    stats = sim.stats()
    assert sim.list_reads() == 1
    assert stats["token_exchanges"] == 1


@pytest.mark.redis
def test_the_service_works_on_django_redis_cache(sim, settings, redis):
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": redis.location(),
        }
    }
    from dashboard.spacelift import service as service_module
    from dashboard.spacelift.account import Connection

    service_module.reset_process_state()
    svc = service_module.SpaceliftService(Connection(sim.url, sim.key_id, sim.key_secret), ttl=60)
    first = svc.stacks()
    service_module.reset_process_state()  # as another process would: decode from Redis
    second = svc.stacks()
    assert first.version == second.version and len(second.data) == 48
    assert sim.list_reads() == 1

"""Shared fixtures: a real simulator over real HTTP, and settings pointing the portal at it."""

from __future__ import annotations

import pytest
from django.conf import settings
from django.core.cache import cache

from dashboard import views
from dashboard.simulator.server import start_simulator
from dashboard.spacelift import service
from dashboard.spacelift.clock import clock as service_clock

# Django's default hasher costs about half a second per test user; the suite checks who may do
# what, not how passwords are stored, so it hashes with MD5 (as healthchecks' tests do).
settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(scope="session", autouse=True)
def collected_static(tmp_path_factory):
    """Static files collected as in production, so pages render with hashed names."""
    from django.conf import settings
    from django.core.management import call_command

    settings.STATIC_ROOT = tmp_path_factory.mktemp("static")
    call_command("collectstatic", interactive=False, verbosity=0)


@pytest.fixture(scope="session")
def simulator():
    handle = start_simulator(port=0, stacks=48, seed=7)
    yield handle
    handle.stop()


@pytest.fixture
def sim(simulator):
    """The shared simulator with no faults, fresh counters, and an empty portal cache."""
    simulator.set_faults(mode=None, latency=0, unauthorized_once=False, registry_no_access=False)
    simulator.reset_stats()
    cache.clear()
    service.reset_process_state()
    service_clock.reset()
    views._rendered_regions._items.clear()
    yield simulator
    service_clock.reset()
    simulator.set_faults(mode=None, latency=0, unauthorized_once=False, registry_no_access=False)


@pytest.fixture
def connected(sim, settings):
    """The portal's settings pointed at the simulator through the environment variables."""
    settings.SPACELIFT_API_KEY_ENDPOINT = sim.url
    settings.SPACELIFT_API_KEY_ID = sim.key_id
    settings.SPACELIFT_API_KEY_SECRET = sim.key_secret
    settings.SPACELIFT_TIMEOUT_SECONDS = 2.0
    settings.SPACELIFT_CONNECT_TIMEOUT_SECONDS = 1.0
    return sim


@pytest.fixture
def user(django_user_model):
    return django_user_model.objects.create_user("viewer", password="pw-viewer-123")


@pytest.fixture
def viewer_client(client, user):
    client.force_login(user)
    return client


@pytest.fixture
def clock():
    """The service's clock: `clock.advance(seconds)` instead of sleeping."""
    service_clock.reset()
    yield service_clock
    service_clock.reset()

"""Shared fixtures: a real simulator over real HTTP, and settings pointing the portal at it."""

from __future__ import annotations

import json

import pytest
from bs4 import BeautifulSoup, Tag
from django.conf import settings
from django.contrib.auth.models import Group
from django.core.cache import cache
from django.test import Client

from dashboard.spacelift import process_state
from dashboard.spacelift.clock import clock as service_clock
from simulator.server import start_simulator

# The [postgres] copies of the tests of modules that use `each_database`: see tests/postgres.py.
from tests.postgres import (  # noqa: F401
    django_db_modify_db_settings,
    each_database,
    pytest_collection_modifyitems,
)

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


def fresh_portal_state() -> None:
    """What the portal holds between requests, as a newly started one has it: nothing."""
    cache.clear()
    process_state.reset_all()
    service_clock.reset()


@pytest.fixture
def sim(simulator):
    """The shared simulator as it started (its world built anew, no faults, zero counters, the
    first key), and an empty portal cache: no test sees what another did."""
    simulator.reset()
    fresh_portal_state()
    yield simulator
    service_clock.reset()


@pytest.fixture
def connected(sim, settings):
    """The portal's settings pointed at the simulator through the environment variables."""
    settings.SPACELIFT_API_KEY_ENDPOINT = sim.url
    settings.SPACELIFT_API_KEY_ID = sim.key_id
    settings.SPACELIFT_API_KEY_SECRET = sim.key_secret
    settings.SPACELIFT_TIMEOUT_SECONDS = 2.0
    settings.SPACELIFT_CONNECT_TIMEOUT_SECONDS = 1.0
    return sim


# What htmx sends with every request it makes (a poll): `client.get(url, **HTMX)`.
HTMX = {"HTTP_HX_REQUEST": "true"}


def parse(response_or_html) -> Tag:
    """A page or fragment as a tree, to assert on with CSS selectors."""
    if isinstance(response_or_html, Tag):
        return response_or_html
    content = getattr(response_or_html, "content", response_or_html)
    if isinstance(content, bytes):
        content = content.decode()
    return BeautifulSoup(content, "html.parser")


def region_of(response_or_html, name: str) -> Tag:
    """The polled `<section id=name>`; fails the test when there is none."""
    region = parse(response_or_html).select_one(f"section#{name}")
    assert region is not None, f"no region #{name}"
    return region


def poll_values(region: Tag) -> dict[str, str]:
    """What the region sends back with its poll (hx-vals): its name, version, and so on."""
    return json.loads(region["hx-vals"])


@pytest.fixture
def user(django_user_model):
    return django_user_model.objects.create_user("viewer", password="pw-viewer-123")


@pytest.fixture
def viewer_client(client, user):
    """Logged in, in no group: may look, may not act or administer."""
    client.force_login(user)
    return client


@pytest.fixture
def operator_client(django_user_model):
    """Logged in, in the operators group: may trigger, confirm and discard runs."""
    operator = django_user_model.objects.create_user("olga", password="pw-olga-123")
    operator.groups.add(Group.objects.get(name="operators"))
    client = Client()
    client.force_login(operator)
    return client


@pytest.fixture
def staff_client(django_user_model):
    """Logged in as staff (not a superuser): may administer the connection and read the audit."""
    staff = django_user_model.objects.create_user("ops", password="pw-ops-123", is_staff=True)
    client = Client()
    client.force_login(staff)
    return client


@pytest.fixture
def clock():
    """The service's clock: `clock.advance(seconds)` instead of sleeping."""
    service_clock.reset()
    yield service_clock
    service_clock.reset()

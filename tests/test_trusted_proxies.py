"""The login lockout and the client address behind (and without) trusted proxies."""

from __future__ import annotations

import pytest
from django.test import RequestFactory

from dashboard.accounts.client_address import client_address
from dashboard.accounts.roles import operators_group
from tests.test_actions import writable_stack

pytestmark = pytest.mark.django_db
PASSWORD = "the-right-password-1"


def attempt(client, password: str, forwarded: str, proxy: str = "10.0.0.2"):
    return client.post(
        "/accounts/login/",
        {"username": "dana", "password": password},
        REMOTE_ADDR=proxy,
        HTTP_X_FORWARDED_FOR=forwarded,
    )


@pytest.fixture
def dana(django_user_model):
    return django_user_model.objects.create_user("dana", password=PASSWORD)


def test_behind_one_proxy_a_stranger_cannot_lock_the_user_out(client, dana, settings):
    settings.PORTAL_TRUSTED_PROXY_COUNT = 1
    for _ in range(6):
        attempt(client, "wrong", forwarded="203.0.113.9")
    locked = attempt(client, PASSWORD, forwarded="203.0.113.9")
    assert locked.status_code == 429  # the attacker's address is locked out
    response = attempt(client, PASSWORD, forwarded="198.51.100.7")
    assert response.status_code == 302
    assert client.session["_auth_user_id"] == str(dana.pk)


def test_without_trusted_proxies_rotating_the_header_does_not_dodge_the_lockout(client, dana):
    for n in range(5):
        attempt(client, "wrong", forwarded=f"203.0.113.{n}")
    response = attempt(client, PASSWORD, forwarded="198.51.100.7")
    assert response.status_code == 429
    assert "_auth_user_id" not in client.session


@pytest.mark.parametrize(
    ("count", "forwarded", "expected"),
    [
        (0, "203.0.113.9", "10.0.0.2"),  # no proxy trusted: the header is the client's word
        (1, "6.6.6.6, 203.0.113.9", "203.0.113.9"),  # the client prepended a lie
        (2, "6.6.6.6, 203.0.113.9, 10.0.0.1", "203.0.113.9"),
        (2, "203.0.113.9", "10.0.0.2"),  # fewer hops than proxies: not the expected chain
        (1, "not-an-address", "10.0.0.2"),
        (1, "2001:db8::1", "2001:db8::1"),
    ],
)
def test_the_client_is_the_nth_address_from_the_right(settings, count, forwarded, expected):
    settings.PORTAL_TRUSTED_PROXY_COUNT = count
    request = RequestFactory().get("/", REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR=forwarded)
    assert client_address(request) == expected


def test_the_audit_log_records_the_client_behind_the_proxy(client, settings, connected):
    from django.contrib.auth.models import User

    from dashboard.models import AuditEntry

    settings.PORTAL_TRUSTED_PROXY_COUNT = 1
    olga = User.objects.create_user("olga", password="pw-olga-123", is_staff=True)
    olga.groups.add(operators_group())
    client.force_login(olga)
    stack = writable_stack(connected)
    client.post(
        f"/stacks/{stack.id}/actions/trigger/",
        REMOTE_ADDR="10.0.0.2",
        HTTP_X_FORWARDED_FOR="6.6.6.6, 203.0.113.9",
    )
    assert AuditEntry.objects.get().client_address == "203.0.113.9"
    html = client.get("/administration/audit/").content.decode()
    assert "from 203.0.113.9" in html

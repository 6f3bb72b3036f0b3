"""In a real browser, through a real OpenID Connect provider (node's oidc-provider): signing
in by group, what each role sees, the audit entry for a saved connection, and signing out."""

from __future__ import annotations

import pytest

from dashboard.accounts import oidc
from tests.oidc_provider import (
    oidc_provider,
    point_portal_at,
)

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.fixture(scope="module")
def provider(live_server):
    with oidc_provider(
        [f"{live_server.url}/accounts/sso/callback/"], (f"{live_server.url}/accounts/login/",)
    ) as running:
        yield running


@pytest.fixture
def sso(provider, settings):
    settings.CONTENT_SECURITY_POLICY = oidc.csp_allowing_provider(
        settings.CONTENT_SECURITY_POLICY, provider.issuer
    )
    return point_portal_at(provider, settings)


def sign_in(page, login: str):
    page.goto("/accounts/login/")
    page.get_by_role("link", name="Sign in with Test IdP").click()
    page.get_by_label("User").fill(login)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/")
    # What the browser logged on the test provider's pages is not the portal's concern.
    page.watch.clear()
    return page


def test_a_staff_member_signs_in_saves_the_connection_and_it_is_audited(page, sso, sim):
    sign_in(page, "ada-sub")
    page.goto("/administration/spacelift/")
    page.get_by_label("Host URL").fill(sim.url)
    page.get_by_label("API key ID").fill(sim.key_id)
    page.get_by_label("API key secret").fill(sim.key_secret)
    page.get_by_role("button", name="Save", exact=True).click()
    # Save tests the connection first, then reloads the page with the message.
    page.get_by_text("Saved. Every dashboard").wait_for()
    page.goto("/administration/audit/?kind=connection_save")
    row = page.locator("tr[data-audit]").first
    assert "ada" in row.text_content() and "Save connection" in row.text_content()
    assert sim.key_secret not in page.content()
    assert page.watch.errors == []


def test_an_operator_sees_trigger_run_and_not_the_settings(page, sso, connected):
    sign_in(page, "otto-sub")
    stack = next(s for s in connected.world.stacks if s.can_write and not s.is_disabled)
    page.goto(f"/stacks/{stack.id}/")
    assert page.get_by_role("link", name="Trigger run").is_visible()
    response = page.goto("/administration/spacelift/")
    assert response.status == 403


def test_a_viewer_sees_the_stacks_and_cannot_act(page, sso, connected):
    sign_in(page, "vera-sub")
    page.goto("/?per_page=250")
    assert page.locator("tr[data-stack]").count() == 48
    stack = connected.world.stacks[0]
    page.goto(f"/stacks/{stack.id}/")
    assert page.get_by_role("link", name="Trigger run").count() == 0


def test_signing_out_ends_the_provider_session(page, sso, live_server):
    sign_in(page, "vera-sub")
    page.get_by_role("button", name="Log out").click()
    page.get_by_role("button", name="Yes, sign me out").click()
    page.wait_for_url(f"{live_server.url}/accounts/login/")
    # The provider asks who is signing in again: its session ended too.
    page.get_by_role("link", name="Sign in with Test IdP").click()
    assert page.get_by_label("User").is_visible()

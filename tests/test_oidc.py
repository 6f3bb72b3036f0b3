"""Single sign-on against a real OpenID Connect provider (node's oidc-provider) over HTTP:
roles from groups, and every refusal a clear page that signs no one in."""

from __future__ import annotations

import dataclasses
from urllib.parse import parse_qs, urlsplit

import pytest
from django.core.exceptions import ImproperlyConfigured

from dashboard.accounts import oidc
from dashboard.models import AuditEntry, SignInIdentity
from dashboard.spacelift import outbound, process_state
from tests.oidc_provider import (
    CLIENT_ID,
    USERS,
    oidc_provider,
    point_portal_at,
    walk_provider,
)

pytestmark = pytest.mark.django_db

CALLBACK = "http://testserver/accounts/sso/callback/"


@pytest.fixture(scope="module")
def provider():
    with oidc_provider([CALLBACK], ["http://testserver/accounts/login/"]) as running:
        yield running


@pytest.fixture
def sso(provider, settings):
    process_state.reset_all()  # no keys held from another test's sign-in
    point_portal_at(provider, settings)
    provider.sign_with("published")
    yield provider
    provider.sign_with("published")


def start(client) -> str:
    response = client.get("/accounts/sso/start/")
    assert response.status_code == 302, response.content[:300]
    return response["Location"]


def sign_in(client, login: str):
    callback = walk_provider(start(client), login, CALLBACK)
    return client.get(callback.removeprefix("http://testserver"))


def signed_in_user(client):
    return client.get("/").wsgi_request.user


def test_the_login_page_offers_single_sign_on(client, sso):
    html = client.get("/accounts/login/").content.decode()
    assert "Sign in with Test IdP" in html
    assert 'href="/accounts/sso/start/"' in html
    assert 'name="password"' in html


def test_it_sends_state_nonce_and_a_pkce_challenge(client, sso):
    query = parse_qs(urlsplit(start(client)).query)
    assert query["code_challenge_method"] == ["S256"]
    assert len(query["code_challenge"][0]) >= 43
    assert query["state"][0] and query["nonce"][0]
    assert query["client_id"] == [CLIENT_ID]


def test_a_staff_group_member_gets_the_settings_page(client, sso):
    response = sign_in(client, "ada-sub")
    assert response.status_code == 302 and response["Location"] == "/"
    user = signed_in_user(client)
    assert user.username == "ada" and user.is_staff
    assert SignInIdentity.objects.get(user=user).subject == "ada-sub"
    assert client.get("/administration/spacelift/").status_code == 200
    kinds = set(AuditEntry.objects.filter(username="ada").values_list("action", flat=True))
    assert kinds == {AuditEntry.Action.SIGN_IN, AuditEntry.Action.ROLE_CHANGE}


def test_an_operator_group_member_may_act_but_not_configure(client, sso):
    sign_in(client, "otto-sub")
    user = signed_in_user(client)
    assert user.has_perm("dashboard.operate_stacks") and not user.is_staff
    assert client.get("/administration/spacelift/").status_code == 403


def test_a_member_of_no_mapped_group_is_a_viewer(client, sso):
    sign_in(client, "vera-sub")
    user = signed_in_user(client)
    assert user.is_authenticated
    assert not user.is_staff and not user.has_perm("dashboard.operate_stacks")
    assert client.get("/administration/spacelift/").status_code == 403


def test_removal_from_the_staff_group_takes_staff_away_at_next_sign_in(client, sso):
    sign_in(client, "ada-sub")
    assert client.get("/administration/spacelift/").status_code == 200
    client.post("/accounts/logout/")
    sso.set_users({**USERS, "ada-sub": {**USERS["ada-sub"], "groups": ["everyone"]}})
    sign_in(client, "ada-sub")
    assert signed_in_user(client).username == "ada"  # the same person, by sub
    assert client.get("/administration/spacelift/").status_code == 403
    change = AuditEntry.objects.filter(action=AuditEntry.Action.ROLE_CHANGE).first()
    assert "staff to viewer" in change.message


def discovered_with(monkeypatch, **changes) -> None:
    """The provider as discovered, with some of what it publishes changed."""
    discover = oidc.discover
    monkeypatch.setattr(oidc, "discover", lambda: dataclasses.replace(discover(), **changes))


def test_groups_in_the_id_token_are_read_from_it(client, sso, settings, monkeypatch):
    with oidc_provider([CALLBACK], groups_in_id_token=True) as provider:
        settings.PORTAL_OIDC_ISSUER = provider.issuer
        callback = walk_provider(start(client), "otto-sub", CALLBACK)
        # No userinfo endpoint to fall back on: the groups can only come from the ID token.
        discovered_with(monkeypatch, userinfo_endpoint="")
        client.get(callback.removeprefix("http://testserver"))
    assert signed_in_user(client).has_perm("dashboard.operate_stacks")


def test_a_deactivated_person_is_not_signed_in(client, sso, django_user_model):
    sign_in(client, "vera-sub")
    django_user_model.objects.filter(username="vera").update(is_active=False)
    assert not signed_in_user(client).is_authenticated  # their open session ends too
    refused(sign_in(client, "vera-sub"), "deactivated")
    assert not signed_in_user(client).is_authenticated


def test_a_person_is_their_sub_not_their_email(client, sso, django_user_model):
    # A local account with the same e-mail is not taken over.
    django_user_model.objects.create_user("local-ada", email="ada@example.com", password="x-pw-123")
    sign_in(client, "ada-sub")
    assert signed_in_user(client).username == "ada"


def refused(response, reason: str) -> None:
    assert response.status_code in (400, 502)
    html = response.content.decode()
    assert "Sign-in failed" in html and reason in html
    assert "Traceback" not in html


def test_a_token_signed_by_an_unpublished_key_signs_no_one_in(client, sso):
    sso.sign_with("unpublished-key")
    refused(sign_in(client, "ada-sub"), "a key the provider does not publish")
    assert not signed_in_user(client).is_authenticated


def test_the_published_keys_are_fetched_once_for_several_sign_ins(client, sso, monkeypatch):
    fetched = []
    request = outbound.request
    monkeypatch.setattr(
        outbound,
        "request",
        lambda method, url, **kw: fetched.append(url) or request(method, url, **kw),
    )
    for login in ("ada-sub", "vera-sub", "ada-sub"):
        assert sign_in(client, login).status_code == 302
        client.post("/accounts/logout/")
    jwks = oidc.discover().jwks_uri
    assert fetched.count(jwks) == 1  # PyJWKClient's cache, through the one HTTP door


def test_a_token_with_a_forged_signature_signs_no_one_in(client, sso):
    sso.sign_with("published-kid-wrong-key")
    refused(sign_in(client, "ada-sub"), "signature does not verify")
    assert not signed_in_user(client).is_authenticated


def test_the_tampering_switch_keeps_a_valid_token_valid(client, sso):
    # The re-signing path itself, with nothing changed, still signs in: the refusals below are
    # the portal's checks, not the switch breaking tokens.
    sso.sign_with("published", {"email": "ada@example.com"})
    assert sign_in(client, "ada-sub").status_code == 302
    assert signed_in_user(client).username == "ada"


def test_a_token_for_another_client_signs_no_one_in(client, sso):
    sso.sign_with("published", {"aud": "another-client"})
    refused(sign_in(client, "ada-sub"), "issued to another client")
    assert not signed_in_user(client).is_authenticated


def test_a_token_from_another_issuer_signs_no_one_in(client, sso):
    sso.sign_with("published", {"iss": "https://evil.example.com"})
    refused(sign_in(client, "ada-sub"), "from another issuer")
    assert not signed_in_user(client).is_authenticated


def test_a_forged_callback_signs_no_one_in(client, sso):
    start(client)
    refused(client.get("/accounts/sso/callback/?code=forged&state=forged"), "already used")
    assert not signed_in_user(client).is_authenticated


def test_an_answer_naming_another_provider_signs_no_one_in(client, sso):
    callback = walk_provider(start(client), "ada-sub", CALLBACK)
    query = parse_qs(urlsplit(callback).query)
    assert query["iss"] == [sso.issuer]  # the provider names itself (RFC 9207)
    forged = {"code": query["code"][0], "state": query["state"][0], "iss": "https://evil.test"}
    refused(client.get("/accounts/sso/callback/", forged), "another provider")
    assert not signed_in_user(client).is_authenticated


def test_it_returns_to_the_page_asked_for(client, sso):
    response = client.get("/accounts/sso/start/", {"next": "/modules/"})
    callback = walk_provider(response["Location"], "vera-sub", CALLBACK)
    assert client.get(callback.removeprefix("http://testserver"))["Location"] == "/modules/"


def test_it_does_not_return_to_another_site(client, sso):
    response = client.get("/accounts/sso/start/", {"next": "https://evil.test/"})
    callback = walk_provider(response["Location"], "vera-sub", CALLBACK)
    assert client.get(callback.removeprefix("http://testserver"))["Location"] == "/"


def test_a_callback_without_a_started_sign_in_signs_no_one_in(client, sso):
    refused(client.get("/accounts/sso/callback/?code=forged&state=forged"), "already used")


def test_a_wrong_state_signs_no_one_in(client, sso):
    callback = walk_provider(start(client), "ada-sub", CALLBACK)
    query = parse_qs(urlsplit(callback).query)
    refused(
        client.get("/accounts/sso/callback/", {"code": query["code"][0], "state": "wrong"}),
        "does not belong",
    )
    assert not signed_in_user(client).is_authenticated


def test_a_replayed_callback_signs_no_one_in(client, sso, django_user_model):
    callback = walk_provider(start(client), "ada-sub", CALLBACK).removeprefix("http://testserver")
    assert client.get(callback).status_code == 302
    client.post("/accounts/logout/")
    refused(client.get(callback), "already used")
    assert not signed_in_user(client).is_authenticated


def test_a_stolen_code_in_another_browser_signs_no_one_in(client, sso, django_user_model):
    from django.test import Client

    callback = walk_provider(start(client), "ada-sub", CALLBACK).removeprefix("http://testserver")
    attacker = Client()
    refused(attacker.get(callback), "already used")
    assert not signed_in_user(attacker).is_authenticated


def test_an_expired_token_signs_no_one_in(client, sso, clock):
    clock.advance(2 * 3600)  # the service clock, which checks expiry
    refused(sign_in(client, "ada-sub"), "has expired")
    assert not signed_in_user(client).is_authenticated


def test_a_provider_that_is_down_gets_a_clear_page(client, sso, settings, closed_port):
    settings.PORTAL_OIDC_ISSUER = f"http://127.0.0.1:{closed_port}"
    response = client.get("/accounts/sso/start/")
    assert response.status_code == 502
    assert "did not answer" in response.content.decode()


def test_a_provider_going_down_mid_sign_in_gets_a_clear_page(client, sso, monkeypatch, closed_port):
    url = walk_provider(start(client), "ada-sub", CALLBACK)
    discovered_with(monkeypatch, token_endpoint=f"http://127.0.0.1:{closed_port}/token")
    response = client.get(url.removeprefix("http://testserver"))
    refused(response, "did not answer")
    assert not signed_in_user(client).is_authenticated


def test_the_provider_can_refuse(client, sso):
    start(client)
    response = client.get("/accounts/sso/callback/?error=access_denied&state=x")
    refused(response, "access_denied")


def test_password_sign_in_can_be_turned_off(client, sso, settings, django_user_model):
    django_user_model.objects.create_user("root", password="pw-root-123", is_staff=True)
    settings.PORTAL_LOCAL_LOGIN = False
    html = client.get("/accounts/login/").content.decode()
    assert "Sign in with Test IdP" in html and 'name="password"' not in html
    response = client.post("/accounts/login/", {"username": "root", "password": "pw-root-123"})
    assert response.status_code == 403
    assert not signed_in_user(client).is_authenticated
    # The Django admin's own login form is refused too.
    client.post("/admin/login/", {"username": "root", "password": "pw-root-123"})
    assert not signed_in_user(client).is_authenticated


def test_signing_out_ends_the_provider_session_too(client, sso):
    sign_in(client, "ada-sub")
    response = client.post("/accounts/logout/")
    location = response["Location"]
    assert location.startswith(f"{sso.issuer}/session/end?")
    query = parse_qs(urlsplit(location).query)
    assert query["post_logout_redirect_uri"] == ["http://testserver/accounts/login/"]
    assert query["id_token_hint"][0].count(".") == 2
    assert not signed_in_user(client).is_authenticated


def test_local_sign_out_without_single_sign_on(admin_client):
    response = admin_client.post("/accounts/logout/")
    assert response["Location"] == "/accounts/login/"


def test_sso_pages_are_404_when_not_configured(client, settings):
    settings.PORTAL_OIDC_ISSUER = ""
    assert client.get("/accounts/sso/start/").status_code == 404
    assert "Sign in with" not in client.get("/accounts/login/").content.decode()


@pytest.mark.parametrize(
    ("issuer", "error"),
    [
        ("http://id.example.com", "https://"),
        ("id.example.com", "must be a URL"),
    ],
)
def test_the_issuer_must_be_https_unless_loopback(issuer, error):
    with pytest.raises(ImproperlyConfigured, match=error):
        oidc.check_configuration(issuer, "id", "secret")
    oidc.check_configuration("http://127.0.0.1:9000", "id", "secret")
    oidc.check_configuration("https://id.example.com", "id", "secret")


def test_the_client_id_and_secret_are_required():
    with pytest.raises(ImproperlyConfigured, match="PORTAL_OIDC_CLIENT_SECRET"):
        oidc.check_configuration("https://id.example.com", "id", "")

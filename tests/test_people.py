"""The people page: staff only, how each person signs in, their role and why; local users
made operators there (POST, CSRF, audited)."""

from __future__ import annotations

import re

import pytest
from django.test import Client

from dashboard.accounts.roles import operators_group
from dashboard.models import AuditEntry, SignInIdentity

pytestmark = pytest.mark.django_db


def row(html: str, username: str) -> str:
    match = re.search(rf'<tr data-person="{re.escape(username)}">(.*?)</tr>', html, re.S)
    assert match, f"no row for {username}"
    return match.group(1)


@pytest.fixture
def people(django_user_model):
    olga = django_user_model.objects.create_user("olga", password="pw-olga-123")
    olga.groups.add(operators_group())
    django_user_model.objects.create_user("vic", password="pw-vic-123")
    sam = django_user_model.objects.create_user("sam")
    SignInIdentity.objects.create(user=sam, issuer="https://id.example.com", subject="s-1",
                                  groups=["portal-operators"])  # fmt: skip
    sam.groups.add(operators_group())
    return {"olga": olga, "sam": sam}


def test_it_requires_login(client):
    response = client.get("/administration/people/")
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_it_is_forbidden_to_non_staff(viewer_client):
    assert viewer_client.get("/administration/people/").status_code == 403
    assert viewer_client.post("/administration/people/1/operator/").status_code == 403


def test_it_lists_people_with_how_they_sign_in_and_why_their_role(admin_client, people):
    html = admin_client.get("/administration/people/").content.decode()
    olga = row(html, "olga")
    assert "password" in olga and "<td data-role>operator</td>" in olga
    assert "the operators group" in olga
    sam = row(html, "sam")
    assert "single sign-on" in sam and "portal-operators" in sam and "Make operator" not in sam
    assert "<td data-role>viewer</td>" in row(html, "vic")
    admin = row(html, "admin")
    assert "<td data-role>staff, operator</td>" in admin and "always (superuser)" in admin


def test_staff_make_a_local_user_an_operator_and_it_is_audited(
    admin_client, people, django_user_model
):
    vic = django_user_model.objects.get(username="vic")
    response = admin_client.post(f"/administration/people/{vic.pk}/operator/", {"operator": "yes"})
    assert response.status_code == 302
    assert vic.has_perm("dashboard.operate_stacks")
    entry = AuditEntry.objects.get(action=AuditEntry.Action.ROLE_CHANGE)
    assert entry.username == "admin" and "vic: viewer to operator" in entry.message
    admin_client.post(f"/administration/people/{vic.pk}/operator/", {"operator": "no"})
    vic = django_user_model.objects.get(username="vic")
    assert not vic.has_perm("dashboard.operate_stacks")


def test_single_sign_on_roles_are_not_changed_here(admin_client, people):
    sam = people["sam"]
    response = admin_client.post(
        f"/administration/people/{sam.pk}/operator/", {"operator": "no"}, follow=True
    )
    assert "Change their groups there" in response.content.decode()
    assert sam.groups.filter(name="operators").exists()


def test_it_needs_csrf(people, django_user_model):
    staff = django_user_model.objects.create_user("st", password="pw-st-123", is_staff=True)
    client = Client(enforce_csrf_checks=True)
    client.force_login(staff)
    olga = people["olga"]
    assert client.post(f"/administration/people/{olga.pk}/operator/").status_code == 403


def test_an_unknown_person_is_404(admin_client):
    assert admin_client.post("/administration/people/999999/operator/").status_code == 404


def test_staff_add_a_local_account_checked_by_the_password_validators_and_audited(
    staff_client, django_user_model
):
    url = "/administration/people/add/"
    weak = staff_client.post(url, {"username": "nina", "password1": "password",
                                   "password2": "password"})  # fmt: skip
    assert weak.status_code == 400
    assert "This password is too common." in weak.content.decode()
    assert not django_user_model.objects.filter(username="nina").exists()
    mismatch = staff_client.post(url, {"username": "nina", "password1": "Quartz-otter-91",
                                       "password2": "Quartz-otter-92"})  # fmt: skip
    assert mismatch.status_code == 400 and "Quartz-otter" not in mismatch.content.decode()
    taken = staff_client.post(url, {"username": "OPS", "password1": "Quartz-otter-91",
                                    "password2": "Quartz-otter-91"})  # fmt: skip
    assert taken.status_code == 400

    good = {"username": "nina", "password1": "Quartz-otter-91", "password2": "Quartz-otter-91"}
    created = staff_client.post(url, good | {"operator": "on"})
    assert created.status_code == 302
    nina = django_user_model.objects.get(username="nina")
    assert nina.check_password("Quartz-otter-91") and not nina.is_staff
    html = staff_client.get("/administration/people/").content.decode()
    assert "<td data-role>operator</td>" in row(html, "nina")
    assert "nina can now sign in with a password, as operator." in html
    entry = AuditEntry.objects.get(action=AuditEntry.Action.ACCOUNT_CREATE)
    assert entry.username == "ops" and "nina" in entry.message and "Quartz" not in entry.message
    signed_in = Client().post(
        "/accounts/login/", {"username": "nina", "password": "Quartz-otter-91"}
    )
    assert signed_in.status_code == 302


def test_only_staff_add_local_accounts(client, viewer_client, django_user_model):
    form = {"username": "mallory", "password1": "Quartz-otter-91", "password2": "Quartz-otter-91"}
    assert client.post("/administration/people/add/", form).status_code in (302, 403)
    assert viewer_client.post("/administration/people/add/", form).status_code == 403
    assert not django_user_model.objects.filter(username="mallory").exists()

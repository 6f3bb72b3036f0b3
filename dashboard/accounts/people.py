"""/administration/people/: who can use the portal, how they sign in and why they have
their role. Staff may add local accounts (a user name and a password that Django's password
validators accept, audited) and make local users operators here (single sign-on users take
their roles from the provider's groups at every sign-in, so the page does not offer it)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import get_user_model
from django.contrib.auth.forms import UserCreationForm
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.debug import sensitive_post_parameters, sensitive_variables
from django.views.decorators.http import require_GET, require_POST

from dashboard import audit
from dashboard.accounts import access, access_views, roles
from dashboard.decorators import staff_required
from dashboard.models import AuditEntry
from dashboard.spacelift.types import Space


@dataclass(frozen=True)
class Person:
    user_id: int
    username: str
    name: str
    single_sign_on: bool
    role: str
    role_source: str
    last_sign_in: datetime | None
    active: bool
    is_operator: bool
    superuser: bool
    groups: list[str]
    spaces: str  # the spaces this person sees, in words


def _role_source(user, role: str) -> str:
    identity = getattr(user, "sign_in_identity", None)
    if identity is not None:
        groups = ", ".join(identity.groups) or "none"
        return f"The provider's groups at last sign-in: {groups}"
    parts = []
    if user.is_superuser:
        parts.append("superuser")
    elif user.is_staff:
        parts.append("staff flag")
    if role.endswith("operator") and not user.is_superuser:
        parts.append(f"the {roles.OPERATORS_GROUP} group")
    return ("Set in the portal: " + ", ".join(parts)) if parts else "No role given"


def _spaces_in_words(seen: access.AccessSet, tree: list[Space]) -> str:
    names = {space.id: space.name for space in tree}
    if seen is None:
        return "every space"
    if not seen:
        return "no space"
    return ", ".join(sorted(names.get(space, space) for space in seen))


def _person(user, rules: access.Rules, tree: list[Space]) -> Person:
    role = roles.role_of(user)
    return Person(
        user_id=user.pk,
        username=user.get_username(),
        name=user.get_full_name(),
        single_sign_on=hasattr(user, "sign_in_identity"),
        role=role,
        role_source=_role_source(user, role),
        last_sign_in=user.last_login,
        active=user.is_active,
        is_operator=role.endswith("operator"),
        superuser=user.is_superuser,
        groups=access.groups_of(user),
        spaces=_spaces_in_words(access.access_with(user, rules, tree), tree),
    )


class LocalAccountForm(UserCreationForm):
    """A new local account: a user name (unique, case-insensitively), a password twice, checked
    by AUTH_PASSWORD_VALIDATORS, and whether the person is an operator."""

    operator = forms.BooleanField(
        label="Operator (may trigger, confirm and discard runs)", required=False
    )

    class Meta(UserCreationForm.Meta):
        model = get_user_model()

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        # The form is below the list: the page must not jump to it on load.
        self.fields["username"].widget.attrs.pop("autofocus", None)
        for name in ("password1", "password2"):
            self.fields[name].widget.attrs["autocomplete"] = "new-password"


@staff_required
@require_GET
def people(request: HttpRequest) -> HttpResponse:
    return _page(request, LocalAccountForm())


@sensitive_post_parameters("password1", "password2")
@staff_required
@require_POST
@sensitive_variables()
def add_local_account(request: HttpRequest) -> HttpResponse:
    """Create a local account; the page again with the form's errors when it is refused."""
    form = LocalAccountForm(request.POST)
    if not form.is_valid():
        return _page(request, form, status=400)
    with transaction.atomic():
        user = form.save()
        roles.set_operator(user, form.cleaned_data["operator"])
        role = roles.role_of(user)
        audit.record(
            request.user,
            AuditEntry.Action.ACCOUNT_CREATE,
            message=f"{user.get_username()}: a local account, as {role}, on the people page",
        )
    messages.success(request, f"{user.get_username()} can now sign in with a password, as {role}.")
    return redirect("dashboard:people")


def _page(request: HttpRequest, form: LocalAccountForm, status: int = 200) -> HttpResponse:
    users = (
        get_user_model()
        .objects.select_related("sign_in_identity")
        .prefetch_related("groups")
        .order_by("username")
    )
    rules = access.current_rules()
    tree = access.space_tree(access_views.service_or_none()) if rules else []
    people = [_person(user, rules, tree) for user in users]
    context = {
        "people": people,
        "rules": bool(rules),
        "form": form,
        "local_login": settings.PORTAL_LOCAL_LOGIN,
    }
    return render(request, "dashboard/people.html", context, status=status)


@staff_required
@require_POST
def set_operator(request: HttpRequest, user_id: int) -> HttpResponse:
    user = get_object_or_404(get_user_model(), pk=user_id)
    if hasattr(user, "sign_in_identity"):
        messages.error(
            request,
            f"{user.get_username()} signs in with single sign-on: their role comes from the "
            "provider's groups at each sign-in. Change their groups there.",
        )
        return redirect("dashboard:people")
    make_operator = request.POST.get("operator") == "yes"
    before = roles.role_of(user)
    roles.set_operator(user, make_operator)
    after = roles.role_of(user)
    if after != before:
        audit.record(
            request.user,
            AuditEntry.Action.ROLE_CHANGE,
            message=f"{user.get_username()}: {before} to {after}, on the people page",
        )
    verb = "is now an operator" if make_operator else "is no longer an operator"
    messages.success(request, f"{user.get_username()} {verb}.")
    return redirect("dashboard:people")

"""/administration/access/: the rules of who sees which spaces, for staff; and the page a
person in no mapped group gets instead of the overview.

Staff edit the rules as the same JSON PORTAL_SPACE_ACCESS takes; each save is audited. Where
the environment sets them, the page shows them read-only and says so. Where the API key may
read Spacelift's own IdP group mappings, the page offers to copy them (idp_mappings.py).
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from django.contrib import messages
from django.contrib.auth import get_user_model
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods, require_POST
from django_htmx.http import HttpResponseClientRefresh

from dashboard import audit
from dashboard.accounts import access, idp_mappings
from dashboard.connection.source import ConnectionProblem, current_service
from dashboard.decorators import staff_required
from dashboard.models import AuditEntry, SpaceAccessRule
from dashboard.spacelift.service import SpaceliftService
from dashboard.spacelift.types import Space

# Whom a person with no spaces is told to ask: at most this many staff are named.
CONTACTS_SHOWN = 5


def no_spaces(request: HttpRequest) -> HttpResponse:
    """What a person sees while rules exist and none of their groups has a space."""
    if request.htmx:
        return HttpResponseClientRefresh()  # a poll after the rules changed: reload the page
    staff = (
        get_user_model()
        .objects.filter(is_active=True, is_staff=True)
        .order_by("username")[:CONTACTS_SHOWN]
    )
    contacts = [person.get_full_name() or person.get_username() for person in staff]
    return render(request, "dashboard/no_spaces.html", {
        "groups": access.groups_of(request.user),
        "contacts": contacts,
    })  # fmt: skip


@dataclass(frozen=True)
class RuleRow:
    group: str
    spaces: list[tuple[str, str]]  # (ID, name) of the spaces the rule names
    below: int  # how many spaces below them it covers too


def service_or_none() -> SpaceliftService | None:
    try:
        return current_service()
    except ConnectionProblem:
        return None


def space_names(service: SpaceliftService | None) -> dict[str, str]:
    return {space.id: space.name for space in access.space_tree(service)}


def rule_rows(rules: access.Rules, tree: list[Space]) -> list[RuleRow]:
    names = {space.id: space.name for space in tree}
    rows = []
    for group, spaces in sorted(rules.items()):
        covered = access.close_downward(spaces, tree)
        named = [(space, names.get(space, "not a space this key can read")) for space in spaces]
        rows.append(RuleRow(group, named, len(covered - set(spaces))))
    return rows


def _as_json(rules: access.Rules) -> str:
    return json.dumps({group: list(spaces) for group, spaces in sorted(rules.items())}, indent=2)


def _save(request: HttpRequest, rules: access.Rules, how: str) -> None:
    before = access.current_rules()
    with transaction.atomic():
        SpaceAccessRule.objects.all().delete()
        SpaceAccessRule.objects.bulk_create(
            SpaceAccessRule(group=group, spaces=list(spaces)) for group, spaces in rules.items()
        )
    changed = sorted(
        group for group in set(before) | set(rules) if before.get(group) != rules.get(group)
    )
    audit.record(
        request.user,
        AuditEntry.Action.ACCESS_CHANGE,
        message=f"{how}: {len(rules)} rule{'s' if len(rules) != 1 else ''}; changed for "
        f"{', '.join(changed) or 'no group'}",
    )


@staff_required
@require_http_methods(["GET", "POST"])
def access_rules(request: HttpRequest) -> HttpResponse:
    from_environment = access.set_in_environment()
    rules = access.current_rules()
    text, error = _as_json(rules), ""
    if request.method == "POST" and not from_environment:
        text = request.POST.get("rules", "")
        try:
            wanted = access.parse_rules(text or "{}")
        except access.RulesError as exc:
            error = f"Not saved: {exc}."
        else:
            _save(request, wanted, "Saved on the Access page")
            messages.success(request, "Space access saved.")
            return redirect("dashboard:access")
    service = service_or_none()
    tree = access.space_tree(service)
    return render(request, "dashboard/access.html", {
        "rows": rule_rows(rules, tree),
        "spaces": sorted(tree, key=lambda s: s.name.lower()),
        "from_environment": from_environment,
        "text": text,
        "error": error,
        "mirror": None if from_environment else idp_mappings.offer(service),
    }, status=400 if error else 200)  # fmt: skip


@staff_required
@require_POST
def mirror_idp_mappings(request: HttpRequest) -> HttpResponse:
    """Copy Spacelift's IdP group mappings into the portal's rules (replacing them)."""
    if access.set_in_environment():
        messages.error(request, "PORTAL_SPACE_ACCESS sets the rules; nothing was copied.")
        return redirect("dashboard:access")
    offer = idp_mappings.offer(service_or_none())
    if offer.rules is None:
        messages.error(request, offer.note)
        return redirect("dashboard:access")
    _save(request, offer.rules, "Copied from Spacelift's IdP group mappings")
    messages.success(request, f"Copied {len(offer.rules)} group mapping(s) from Spacelift.")
    return redirect("dashboard:access")

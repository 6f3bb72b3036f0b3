"""The settings page's webhook part: the URL to paste, a notification policy, what arrived.

`panel()` builds the include's context (templates/dashboard/_webhooks.html); `check()` is the
line "Test connection" adds; `save_secret` stores the secret, encrypted and write-only like the
API key secret. PORTAL_WEBHOOK_SECRET, when set, wins and the form is not shown.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.views.decorators.debug import sensitive_post_parameters, sensitive_variables
from django.views.decorators.http import require_POST

from dashboard import audit
from dashboard.connection.diagnostics import Check
from dashboard.decorators import staff_required
from dashboard.models import SpaceliftConnection
from dashboard.webhooks import secret as webhook_secret
from dashboard.webhooks import stats

# A notification policy routing every run state change to a named webhook whose ID is
# "spacelift-portal" (Spacelift's notification policies: `webhook` rules, input.run_updated).
POLICY = """package spacelift

# Every run state change goes to the portal, so its pages show it at once.
webhook[{"endpoint_id": endpoint.id}] {
  endpoint := input.webhook_endpoints[_]
  endpoint.id == "spacelift-portal"
  input.run_updated != null
}
"""
MIN_SECRET_LENGTH = 16


@dataclass(frozen=True)
class Panel:
    url: str
    policy: str
    source: str  # "environment", "saved" or "" (none: the endpoint answers 404)
    can_save: bool
    last_valid_at: datetime | None
    refused: int
    other_account: int


def panel(request: HttpRequest) -> Panel:
    current = stats.current()
    if webhook_secret.from_environment():
        source = "environment"
    else:
        source = "saved" if webhook_secret.configured_secret() else ""
    return Panel(
        url=request.build_absolute_uri(reverse("dashboard:webhook")),
        policy=POLICY,
        source=source,
        can_save=not webhook_secret.from_environment() and SpaceliftConnection.load() is not None,
        last_valid_at=current.last_valid_at,
        refused=current.refused,
        other_account=current.counts[stats.Outcome.OTHER_ACCOUNT],
    )


def with_check(checks: list[Check] | None) -> list[Check] | None:
    """A test's results, with whether webhooks arrived once a webhook secret is set."""
    if not checks or not webhook_secret.configured_secret():
        return checks
    return [*checks, check()]


def check() -> Check:
    """Whether signed webhooks have reached the portal, for "Test connection"."""
    current = stats.current()
    if current.last_valid_at is None:
        fix = "Check the webhook's URL and secret in Spacelift, and that it can reach this URL."
        if current.refused:
            fix = (
                f"{current.refused} deliveries were rejected: the secret in Spacelift differs "
                "from the one here."
            )
        return Check("Webhooks", False, "No signed delivery from Spacelift has arrived yet.", fix)
    return Check(
        "Webhooks",
        True,
        f"The last signed delivery arrived at {current.last_valid_at:%Y-%m-%d %H:%M:%S} UTC.",
    )


@sensitive_post_parameters("webhook_secret")
@staff_required
@require_POST
@sensitive_variables()
def save_secret(request: HttpRequest) -> HttpResponse:
    """Store (or, empty, remove) the saved webhook secret; never shown again."""
    row = SpaceliftConnection.load()
    value = request.POST.get("webhook_secret", "").strip()
    if webhook_secret.from_environment():
        messages.error(request, "The webhook secret is set by PORTAL_WEBHOOK_SECRET.")
    elif row is None:
        messages.error(request, "Save a connection first, or set PORTAL_WEBHOOK_SECRET.")
    elif value and len(value) < MIN_SECRET_LENGTH:
        messages.error(request, f"Use a secret of at least {MIN_SECRET_LENGTH} characters.")
    else:
        row.set_webhook_secret(value)
        row.save(update_fields=["webhook_secret_encrypted", "updated_at"])
        # A save of the connection that touched one field, named and never its value.
        audit.record_connection(request.user, "save", fields=["webhook_secret"])
        messages.success(request, "Webhook secret saved." if value else "Webhook secret removed.")
    return redirect("dashboard:admin_connection")

"""/administration/spacelift/: the Spacelift connection, for staff only."""

from __future__ import annotations

import logging

from django.contrib import messages
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters, sensitive_variables
from django.views.decorators.http import require_http_methods
from django_htmx.http import HttpResponseClientRedirect

from dashboard import audit
from dashboard.connection import crypto
from dashboard.connection.diagnostics import run_checks
from dashboard.connection.forms import ConnectionForm
from dashboard.connection.source import (
    ConnectionProblem,
    current_connection,
    environment_connection,
    environment_is_set,
)
from dashboard.decorators import staff_required
from dashboard.models import SpaceliftConnection
from dashboard.spacelift.account import Connection
from dashboard.spacelift.service import SpaceliftService
from dashboard.webhooks import panel as webhook_panel

logger = logging.getLogger(__name__)


@sensitive_variables()
def _saved_secret(row: SpaceliftConnection | None) -> str | None:
    if row is None or not row.has_secret:
        return None
    try:
        return row.secret()
    except crypto.UndecryptableSecret:
        return None


@never_cache
@sensitive_post_parameters("secret")
@staff_required
@require_http_methods(["GET", "POST"])
@sensitive_variables()  # innermost: it marks the frame of the function it wraps
def spacelift_connection(request: HttpRequest) -> HttpResponse:
    row = SpaceliftConnection.load()
    saved_secret = _saved_secret(row)
    saved = (row.base_url, row.key_id) if row is not None and saved_secret is not None else None
    env_managed = environment_is_set()
    action = request.POST.get("action", "") if request.method == "POST" else ""
    checks = None
    checked = ""
    refused = ""
    form = None

    if action == "test_saved":
        try:
            connection = current_connection()
        except ConnectionProblem as exc:
            messages.error(request, str(exc))
        else:
            if connection is None:
                messages.error(request, "No connection is saved yet.")
            else:
                checks = run_checks(connection)
                checked = "saved"
                audit.record_connection(request.user, "test", checks)
    elif env_managed and action in ("save", "test", "delete"):
        messages.error(request, "The connection is managed by environment variables.")
        return redirect("dashboard:admin_connection")
    elif action == "delete":
        if request.POST.get("confirm") != "yes":
            messages.error(request, "Tick the box to confirm removing the connection.")
        elif row is not None:
            _forget(row, saved_secret)
            row.delete()
            audit.record_connection(request.user, "remove")
            logger.info("Spacelift connection removed by %s", request.user.get_username())
            messages.success(request, "The Spacelift connection was removed.")
        return redirect("dashboard:admin_connection")
    elif action in ("save", "test"):
        form = ConnectionForm(request.POST, saved=saved)
        if form.is_valid():
            data = form.cleaned_data
            secret = saved_secret if form.reuses_saved_secret else data["secret"]
            connection = Connection(data["host"], data["key_id"], secret or "")
            if action == "test" or not data["save_anyway"]:
                checks = run_checks(connection)
                checked = "form"
                if action == "test":
                    audit.record_connection(request.user, "test", checks)
            failed = next((check for check in checks or () if not check.passed), None)
            if action == "save" and failed:
                refused = f"Not saved: {failed.name} failed. {failed.message}"
            elif action == "save":
                _save(request, row, saved_secret, data["host"], data["key_id"], secret or "")
                messages.success(request, "Saved. Every dashboard now reads with this connection.")
                if request.htmx:
                    return HttpResponseClientRedirect(reverse("dashboard:admin_connection"))
                return redirect("dashboard:admin_connection")

    if form is None and not env_managed:
        initial = {"host": row.base_url, "key_id": row.key_id} if row else {}
        form = ConnectionForm(initial=initial, saved=saved)

    context = {
        "form": form,
        "row": row,
        "secret_saved": row is not None and row.has_secret,
        "secret_undecryptable": row is not None and row.has_secret and saved_secret is None,
        "env_managed": env_managed,
        "env_connection": _env_summary() if env_managed else None,
        "checks": webhook_panel.with_check(checks),
        "checked": checked,
        "webhooks": webhook_panel.panel(request),
        "refused": refused,
    }
    # Test and Save from the form swap in only the results: what was typed stays typed, and
    # the secret is never sent back into the page.
    template = "dashboard/admin_connection.html"
    if request.htmx and action in ("save", "test"):
        template += "#results"
    return render(request, template, context)


def _env_summary() -> dict[str, str]:
    try:
        connection = environment_connection()
    except ConnectionProblem as exc:
        return {"problem": str(exc)}
    return {"base_url": connection.base_url, "key_id": connection.key_id}


@sensitive_variables()
def _forget(row: SpaceliftConnection, saved_secret: str | None) -> None:
    """Drop the old connection's token and cached data, so nothing keeps using it."""
    if saved_secret is not None:
        SpaceliftService(Connection(row.base_url, row.key_id, saved_secret)).forget()


@transaction.atomic
@sensitive_variables()
def _save(request, row, saved_secret, host: str, key_id: str, secret: str) -> None:
    audit.record_connection(request.user, "save", fields=audit.changed(row, host, key_id, secret))
    if row is not None:
        _forget(row, saved_secret)
    else:
        row = SpaceliftConnection(pk=SpaceliftConnection.SINGLETON_ID)
    row.base_url = host
    row.key_id = key_id
    row.set_secret(secret)
    row.updated_by = request.user
    row.save()
    logger.info(
        "Spacelift connection set to %s (key %s) by %s", host, key_id, request.user.get_username()
    )

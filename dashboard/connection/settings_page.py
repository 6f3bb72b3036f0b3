"""/administration/spacelift/: the Spacelift connection settings page and its actions.

The page (GET) shows the form; each action is a small view of its own URL that the page's
forms post to. Save and remove answer with a redirect back to the page (post/redirect/get);
a test, or a save the form or the test refuses, renders the page with what it found.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from functools import wraps

from django.contrib import messages
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters, sensitive_variables
from django.views.decorators.http import require_GET, require_POST
from django_htmx.http import HttpResponseClientRedirect

from dashboard import audit
from dashboard.connection import crypto
from dashboard.connection.diagnostics import Check, run_checks
from dashboard.connection.forms import ConnectionForm
from dashboard.connection.source import (
    ConnectionProblem,
    current_connection,
    environment_connection,
    environment_is_set,
)
from dashboard.decorators import staff_required
from dashboard.models import AuditEntry, SpaceliftConnection
from dashboard.spacelift.account import Connection
from dashboard.spacelift.service import SpaceliftService
from dashboard.stacks import badges
from dashboard.webhooks import panel as webhook_panel

logger = logging.getLogger(__name__)

PAGE = "dashboard:admin_connection"
TEMPLATE = "dashboard/admin_connection.html"


def back_to_page(request: HttpRequest) -> HttpResponse:
    """After a POST, the page again (post/redirect/get); for htmx, the whole page reloads,
    so a message never lands inside the results region."""
    if request.htmx:
        return HttpResponseClientRedirect(reverse(PAGE))
    return redirect(PAGE)


def _staff_only(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    return never_cache(sensitive_post_parameters("secret")(staff_required(view)))


def settings_view(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """What every view of the page shares: staff only, never cached, and the typed secret
    kept off error reports (the POST field, and the view's own frame)."""
    return _staff_only(sensitive_variables()(view))


def settings_action(*, editable: bool) -> Callable[[Callable[..., HttpResponse]], Callable]:
    """A POST-only view of the page. `editable`: it changes or tests the saved connection,
    which is refused, with a message, while the environment manages the connection."""

    def decorate(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
        marked = sensitive_variables()(view)  # it marks only the function it wraps

        @wraps(view)
        def refuse_when_managed(request: HttpRequest, *args, **kwargs) -> HttpResponse:
            if editable and environment_is_set():
                messages.error(request, "The connection is managed by environment variables.")
                return back_to_page(request)
            return marked(request, *args, **kwargs)

        return _staff_only(require_POST(refuse_when_managed))

    return decorate


@sensitive_variables()
def _saved_secret(row: SpaceliftConnection | None) -> str | None:
    if row is None or not row.has_secret:
        return None
    try:
        return row.secret()
    except crypto.UndecryptableSecret:
        return None


@sensitive_variables()
def _saved_form(row: SpaceliftConnection | None, data=None) -> ConnectionForm:
    """The form over the saved row: what it holds is the form's initial, so `changed_data`
    names what a save changes; the secret is offered for reuse only when it can be read."""
    initial = {"host": row.base_url, "key_id": row.key_id} if row else {}
    readable = row is not None and _saved_secret(row) is not None
    saved = (row.base_url, row.key_id) if readable else None
    return ConnectionForm(data, initial=initial, saved=saved)


def _page(
    request: HttpRequest,
    *,
    form: ConnectionForm | None = None,
    checks: list[Check] | None = None,
    checked: str = "",
    refused: str = "",
    results_only: bool = False,
) -> HttpResponse:
    """The page, with what an action found. `results_only`: htmx's Test and Save swap in only
    the results, so what was typed stays typed and the secret never comes back in a page."""
    row = SpaceliftConnection.load()
    env_managed = environment_is_set()
    if form is None and not env_managed:
        form = _saved_form(row)
    context = {
        "form": form,
        "row": row,
        "secret_saved": row is not None and row.has_secret,
        "secret_undecryptable": row is not None and row.has_secret and _saved_secret(row) is None,
        "env_managed": env_managed,
        "env_connection": _env_summary() if env_managed else None,
        "checks": webhook_panel.with_check(checks),
        "checked": checked,
        "webhooks": webhook_panel.panel(request),
        "refused": refused,
        "badge_key": badges.last_rotation(),
    }
    return render(request, f"{TEMPLATE}#results" if results_only else TEMPLATE, context)


@settings_view
@require_GET
def connection_settings(request: HttpRequest) -> HttpResponse:
    return _page(request)


@settings_action(editable=True)
def test_typed_connection(request: HttpRequest) -> HttpResponse:
    """Test the values in the form without saving them."""
    row = SpaceliftConnection.load()
    form = _saved_form(row, request.POST)
    checks = None
    if form.is_valid():
        checks = run_checks(_typed_connection(form, row))
        audit.record_connection(request.user, "test", checks)
    return _page(request, form=form, checks=checks, checked="form", results_only=request.htmx)


@settings_action(editable=True)
def save_connection(request: HttpRequest) -> HttpResponse:
    """Test the values in the form, then save them; a failing test refuses the save unless
    "Save even if the test fails" is ticked. Both a refused save and one that went through
    despite a failing test are audited as such, and the page says which happened."""
    row = SpaceliftConnection.load()
    form = _saved_form(row, request.POST)
    if not form.is_valid():
        return _page(request, form=form, results_only=request.htmx)
    connection = _typed_connection(form, row)
    checks = run_checks(connection)
    failed = next((check for check in checks if not check.passed), None)
    if failed and not form.cleaned_data["save_anyway"]:
        refused = f"Not saved: {failed.name} failed. {failed.message}"
        audit.record(request.user, AuditEntry.Action.CONNECTION_SAVE, fields=form.changed_fields,
                     succeeded=False, message=refused)  # fmt: skip
        return _page(request, form=form, checks=checks, checked="form", refused=refused,
                     results_only=request.htmx)  # fmt: skip
    _save(request, row, connection, changed=form.changed_fields, failed=failed)
    if failed:
        messages.warning(request, (
            f"Saved despite a failing test: {failed.name} failed. {failed.message} "
            "Dashboards will show errors until the connection works; test it again below."
        ))  # fmt: skip
    else:
        messages.success(request, "Saved. Every dashboard now reads with this connection.")
    return back_to_page(request)


@settings_action(editable=False)
def test_connection_in_use(request: HttpRequest) -> HttpResponse:
    """Test the connection the portal reads with: the environment's, or the saved one."""
    try:
        connection = current_connection()
    except ConnectionProblem as exc:
        messages.error(request, str(exc))
        return back_to_page(request)
    if connection is None:
        messages.error(request, "No connection is saved yet.")
        return back_to_page(request)
    checks = run_checks(connection)
    audit.record_connection(request.user, "test", checks)
    return _page(request, checks=checks, checked="saved", results_only=request.htmx)


@settings_action(editable=True)
def remove_connection(request: HttpRequest) -> HttpResponse:
    row = SpaceliftConnection.load()
    if request.POST.get("confirm") != "yes":
        messages.error(request, "Tick the box to confirm removing the connection.")
    elif row is not None:
        _forget(row)
        row.delete()
        audit.record_connection(request.user, "remove")
        logger.info("Spacelift connection removed by %s", request.user.get_username())
        messages.success(request, "The Spacelift connection was removed.")
    return back_to_page(request)


@settings_action(editable=False)
def rotate_badge_key(request: HttpRequest) -> HttpResponse:
    """A new badge key: every signed badge URL handed out so far stops working (404)."""
    if request.POST.get("confirm") != "yes":
        messages.error(request, "Tick the box to confirm rotating the badge key.")
    else:
        badges.rotate_key(request.user)
        messages.success(request, "Badge key rotated: every badge URL handed out before now fails.")
    return back_to_page(request)


@sensitive_variables()
def _typed_connection(form: ConnectionForm, row: SpaceliftConnection | None) -> Connection:
    """The connection the valid form describes; a blank secret is the saved one."""
    data = form.cleaned_data
    secret = _saved_secret(row) if form.reuses_saved_secret else data["secret"]
    return Connection(data["host"], data["key_id"], secret or "")


def _env_summary() -> dict[str, str]:
    try:
        connection = environment_connection()
    except ConnectionProblem as exc:
        return {"problem": str(exc)}
    return {"base_url": connection.base_url, "key_id": connection.key_id}


@sensitive_variables()
def _forget(row: SpaceliftConnection) -> None:
    """Drop the old connection's token and cached data, so nothing keeps using it."""
    saved_secret = _saved_secret(row)
    if saved_secret is not None:
        SpaceliftService(Connection(row.base_url, row.key_id, saved_secret)).forget()


@transaction.atomic
@sensitive_variables()
def _save(
    request: HttpRequest,
    row: SpaceliftConnection | None,
    connection: Connection,
    *,
    changed: list[str],
    failed: Check | None = None,
) -> None:
    message = f"Saved despite a failing test: {failed.name} failed" if failed else ""
    audit.record(request.user, AuditEntry.Action.CONNECTION_SAVE, fields=changed, message=message)
    if row is not None:
        _forget(row)
    else:
        row = SpaceliftConnection(pk=SpaceliftConnection.SINGLETON_ID)
    row.base_url = connection.base_url
    row.key_id = connection.key_id
    row.set_secret(connection.secret)
    row.updated_by = request.user
    row.save()
    logger.info(
        "Spacelift connection set to %s (key %s) by %s",
        connection.base_url,
        connection.key_id,
        request.user.get_username(),
    )

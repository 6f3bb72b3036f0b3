"""Acting on Spacelift from the portal: trigger, confirm, discard, retry. Each behind a
confirmation.

Only users with `dashboard.operate_stacks` (the "operators" group) may act, never when
PORTAL_READ_ONLY is on, and every attempt is written to the audit log. The portal user's
name goes to Spacelift in the note where the mutation takes one (confirm and discard; trigger
and retry take none).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from functools import wraps

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods

from dashboard import audit
from dashboard.accounts import access as space_access
from dashboard.decorators import operator_required, with_service
from dashboard.models import AuditEntry
from dashboard.runs.why import plan_of
from dashboard.spacelift import errors
from dashboard.spacelift.service import SpaceliftService
from dashboard.spacelift.types import RunState

logger = logging.getLogger(__name__)


def require_stack_for_action(request, service, action, stack_id: str, run_id: str = "") -> None:
    """404, as for an unknown stack, outside the person's spaces; a POST is audited as refused
    and never reaches Spacelift."""
    if space_access.may_see_stack(request, service, stack_id):
        return
    if request.method == "POST":
        who = request.user.get_username()
        audit.record(request.user, action, stack_id=stack_id, run_id=run_id, succeeded=False,
                     message=f"Refused: the stack is outside the spaces {who} sees")  # fmt: skip
        logger.warning("%s on %s by %s refused: outside their spaces", action, stack_id, who)
    raise Http404("No such stack")


def acts_on_stack(
    action: str,
) -> Callable[[Callable[..., HttpResponse]], Callable[..., HttpResponse]]:
    """A view that does `action` to a stack: operators only, a confirmation page (GET) or the
    action (POST), with the service, inside the person's spaces (`require_stack_for_action`)."""

    def decorate(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
        @operator_required
        @require_http_methods(["GET", "POST"])
        @with_service
        @wraps(view)
        def checked(request: HttpRequest, service: SpaceliftService, stack_id: str) -> HttpResponse:
            require_stack_for_action(request, service, action, stack_id)
            return view(request, service, stack_id)

        return checked

    return decorate


def _note(request: HttpRequest, verb: str) -> str:
    return f"{verb} from Spacelift Portal by {request.user.get_username()}"


def action_failed(request, action, stack_id: str, exc: errors.SpaceliftError, run_id: str = ""):
    """What Spacelift refused or failed: audited, logged, said on the stack page it goes to."""
    audit.record(request.user, action, stack_id=stack_id, run_id=run_id,
                 message=exc.message, succeeded=False)  # fmt: skip
    logger.warning(
        "%s on %s by %s failed: %s", action, stack_id, request.user.get_username(), exc.message
    )
    messages.error(request, f"{AuditEntry.Action(action).label} failed: {exc.message}.")
    return redirect("dashboard:stack", stack_id)


def _perform(request, service, action, stack_id, run_id, call, *, to_run=False) -> HttpResponse:
    """Send the action, audit it, and go back to the stack (or to the new run, `to_run`)."""
    who = request.user.get_username()
    try:
        result_id, result_state = call()
    except errors.SpaceliftError as exc:
        return action_failed(request, action, stack_id, exc, run_id or "")
    audit.record(request.user, action, stack_id=stack_id, run_id=run_id or "",
                 result_run_id=result_id, result_state=result_state)  # fmt: skip
    logger.info("%s on %s by %s: run %s", action, stack_id, who, result_id)
    service.invalidate(
        "stacks", f"stack:{stack_id}", f"runs:{stack_id}:", f"run:{stack_id}:{run_id or ''}"
    )
    messages.success(
        request, f"{AuditEntry.Action(action).label}: run {result_id} is {result_state.lower()}."
    )
    if to_run:
        return redirect("dashboard:run", stack_id, result_id)
    return redirect("dashboard:stack", stack_id)


@acts_on_stack(AuditEntry.Action.TRIGGER)
def trigger_run(request: HttpRequest, service: SpaceliftService, stack_id: str) -> HttpResponse:
    if request.method == "POST":
        return _perform(
            request, service, AuditEntry.Action.TRIGGER, stack_id, "",
            lambda: service.client.trigger_run(stack_id),
        )  # fmt: skip
    stack = service.stack(stack_id)
    if stack.data is None and stack.problem is None:
        raise Http404("No such stack")
    return render(request, "dashboard/confirm_action.html", {
        "title": "Trigger a tracked run",
        "question": "Start a tracked run of this stack at its tracked commit?",
        "button": "Trigger run",
        "stack_id": stack_id,
        "stack": stack.data,
        "key_id": service.connection.key_id,
        "action_url": reverse("dashboard:trigger", args=[stack_id]),
    })  # fmt: skip


@operator_required
@require_http_methods(["GET", "POST"])
@with_service
def run_action(
    request: HttpRequest, service: SpaceliftService, stack_id: str, run_id: str, action: str
) -> HttpResponse:
    if action not in RUN_ACTIONS:
        raise Http404("No such action")
    require_stack_for_action(request, service, action, stack_id, run_id)
    client = service.client
    if request.method == "POST":
        if action == AuditEntry.Action.RETRY:
            # Spacelift decides whether the run may be retried; a refusal is audited as failed.
            return _perform(
                request, service, action, stack_id, run_id,
                lambda: client.retry_run(stack_id, run_id), to_run=True,
            )  # fmt: skip
        if action == AuditEntry.Action.CONFIRM:

            def call():
                return client.confirm_run(stack_id, run_id, _note(request, "Confirmed"))
        else:

            def call():
                return client.discard_run(stack_id, run_id, _note(request, "Discarded"))

        return _perform(request, service, action, stack_id, run_id, call)
    run = service.run(stack_id, run_id).data
    context = {
        "stack_id": stack_id,
        "run_id": run_id,
        "stack": service.stack(stack_id).data,
        "key_id": service.connection.key_id,
        "action_url": reverse("dashboard:run_action", args=[stack_id, run_id, action]),
    }
    if action == AuditEntry.Action.RETRY:
        if run is not None and run.state is not RunState.FAILED:
            raise Http404("Only a failed run can be retried")
        return render(request, "dashboard/confirm_action.html", {
            **context,
            "title": "Retry the run",
            "question": "Start this failed run again? Spacelift creates a new run "
                        "on the same commit.",
            "button": "Retry run",
            "run": run,
            "new_run": True,
        })  # fmt: skip
    confirm = action == AuditEntry.Action.CONFIRM
    # The same list of changes as the run page, above the button (dashboard/why.py).
    return render(request, "dashboard/confirm_action.html", {
        **context,
        "title": "Confirm the plan" if confirm else "Discard the plan",
        "question": (
            "Apply this run's plan? Spacelift will change the infrastructure as planned."
            if confirm
            else "Discard this run's plan? Nothing will be applied."
        ),
        "button": "Confirm and apply" if confirm else "Discard plan",
        "danger": confirm,
        "noted": True,
        "plan": plan_of(service, stack_id, run),
    })  # fmt: skip


# What an operator may do to one run.
RUN_ACTIONS = (AuditEntry.Action.CONFIRM, AuditEntry.Action.DISCARD, AuditEntry.Action.RETRY)

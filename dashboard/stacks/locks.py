"""Locking and unlocking a stack from the portal (issue 22), each behind a confirmation page.

The same rules as the run actions (dashboard/runs/actions.py): operators only, never when
PORTAL_READ_ONLY is on, inside the person's spaces, every attempt in the audit log. Spacelift
records the portal's API key as the lock's holder (`stackLock(id:, note:)`, spacectl
`stack/lock.go`); the note says which person locked it, and the audit log keeps it too, so the
page can name the person behind a lock taken through the portal.
"""

from __future__ import annotations

import logging

from django import forms
from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse

from dashboard import audit
from dashboard.models import AuditEntry
from dashboard.runs.actions import action_failed, acts_on_stack
from dashboard.spacelift import errors
from dashboard.spacelift.service import SpaceliftService
from dashboard.spacelift.types import Stack

logger = logging.getLogger(__name__)

NOTE_LENGTH = 500  # Spacelift documents no limit; a note is a sentence, not a document


class LockForm(forms.Form):
    note = forms.CharField(
        max_length=NOTE_LENGTH,
        required=True,
        strip=True,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="Why you lock it: others see this until it is unlocked.",
    )


def holder_of(stack: Stack, key_id: str) -> str:
    """Who holds the stack's lock, in words: the person, where the portal's key holds it."""
    if not stack.locked_by:
        return ""
    if stack.locked_by != f"api::{key_id}":
        return stack.locked_by
    entry = (
        AuditEntry.objects.filter(stack_id=stack.id, action=AuditEntry.Action.LOCK, succeeded=True)
        .order_by("-created_at")
        .first()
    )
    if entry is None:
        return f"{stack.locked_by} (the portal's API key)"
    return f"{entry.username}, through the portal"


def _stack_or_404(service: SpaceliftService, stack_id: str) -> Stack | None:
    stack = service.stack(stack_id)
    if stack.data is None and stack.problem is None:
        raise Http404("No such stack")
    return stack.data


@acts_on_stack(AuditEntry.Action.LOCK)
def lock_stack(request: HttpRequest, service: SpaceliftService, stack_id: str) -> HttpResponse:
    action = AuditEntry.Action.LOCK
    form = LockForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        note = f"{form.cleaned_data['note']} (locked in Spacelift Portal by {request.user})"
        return _perform(request, service, action, stack_id, note,
                        lambda: service.client.lock_stack(stack_id, note))  # fmt: skip
    stack = _stack_or_404(service, stack_id)
    return render(request, "dashboard/health/confirm_lock.html", {
        "title": "Lock this stack", "locking": True, "form": form, "stack_id": stack_id,
        "stack": stack, "holder": holder_of(stack, service.connection.key_id) if stack else "",
        "key_id": service.connection.key_id,
        "action_url": reverse("dashboard:stack_lock", args=[stack_id]),
    }, status=400 if request.method == "POST" else 200)  # fmt: skip


@acts_on_stack(AuditEntry.Action.UNLOCK)
def unlock_stack(request: HttpRequest, service: SpaceliftService, stack_id: str) -> HttpResponse:
    action = AuditEntry.Action.UNLOCK
    if request.method == "POST":
        return _perform(request, service, action, stack_id, "",
                        lambda: service.client.unlock_stack(stack_id))  # fmt: skip
    stack = _stack_or_404(service, stack_id)
    holder = holder_of(stack, service.connection.key_id) if stack else ""
    mine = holder == f"{request.user.get_username()}, through the portal"
    return render(request, "dashboard/health/confirm_lock.html", {
        "title": "Unlock this stack", "locking": False, "stack_id": stack_id, "stack": stack,
        "holder": holder, "someone_elses": bool(holder) and not mine,
        "key_id": service.connection.key_id,
        "action_url": reverse("dashboard:stack_unlock", args=[stack_id]),
    })  # fmt: skip


def _perform(request, service, action, stack_id: str, note: str, call) -> HttpResponse:
    try:
        call()
    except errors.SpaceliftError as exc:
        return action_failed(request, action, stack_id, exc)
    audit.record(request.user, action, stack_id=stack_id, message=note)
    logger.info("%s on %s by %s", action, stack_id, request.user.get_username())
    service.invalidate("stacks", f"stack:{stack_id}")
    done = "locked" if action == AuditEntry.Action.LOCK else "unlocked"
    messages.success(request, f"The stack is {done}.")
    return redirect("dashboard:stack", stack_id)

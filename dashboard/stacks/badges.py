"""Stack badges: the SVG behind a session, and the signed URL that can go in a README or wiki.

Both read the stack from the overview's own cached list (`service.stacks()`): one key, one
single-flight upstream read however many badges a page holds, so eight badges loaded at once
are as fresh as the overview. (Each badge once read its own `stack:<id>`: eight different keys,
each wanting a permit of PORTAL_SPACELIFT_CONCURRENCY, so all but four came back "(stale)".)

A signed badge URL carries an HMAC of the stack ID under the badge key: Django's `salted_hmac`
over SECRET_KEY, salted with the key's generation (models.BadgeKey). Staff rotate the key on the
settings page, which revokes every URL handed out before. The URL reveals that one stack's state
and nothing else; a tampered signature, another stack's, or an unknown stack is the same 404.
"""

from __future__ import annotations

import hmac

from django.contrib.auth.decorators import login_required
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.crypto import salted_hmac
from django.views.decorators.http import require_GET

from dashboard import audit
from dashboard.accounts import access as space_access
from dashboard.connection.source import current_service
from dashboard.decorators import with_service
from dashboard.models import AuditEntry, BadgeKey
from dashboard.spacelift.service import SpaceliftService
from dashboard.spacelift.snapshot import Snapshot
from dashboard.spacelift.types import Health, Stack

# Badge colours by health, as in the portal's chips (light theme).
BADGE_COLOURS = {
    Health.HEALTHY: "#1d7a45",
    Health.FAILING: "#c0292b",
    Health.NEEDS_ATTENTION: "#b35c00",
    Health.IN_PROGRESS: "#2463c9",
    Health.WAITING: "#6b5bb5",
    Health.NEVER_RUN: "#6b7280",
    Health.UNKNOWN: "#8a6d00",
}
# Roughly the width of one character of an 11 px sans-serif font.
BADGE_CHAR_WIDTH = 6.5
# A signed badge may be cached by a README's image proxy this long: about one poll interval.
SIGNED_BADGE_MAX_AGE_SECONDS = 60


class SignatureConverter:
    """A signature in a badge URL: 64 hex digits (SHA-256), else a 404 before any view runs."""

    regex = "[0-9a-f]{64}"

    def to_python(self, value: str) -> str:
        return value

    def to_url(self, value: str) -> str:
        return value


# The key ---------------------------------------------------------------------------------------


def key_generation() -> int:
    row = BadgeKey.objects.filter(pk=BadgeKey.SINGLETON_ID).first()
    return row.generation if row else 0


def signature_for(stack_id: str, generation: int | None = None) -> str:
    """The HMAC (SHA-256, hex) of `stack_id` under the badge key of `generation` (the current)."""
    generation = key_generation() if generation is None else generation
    salt = f"dashboard.stacks.badges:{generation}"
    return salted_hmac(salt, stack_id, algorithm="sha256").hexdigest()


def signature_ok(stack_id: str, signature: str) -> bool:
    return hmac.compare_digest(signature_for(stack_id), signature)


def rotate_key(user) -> int:
    """Count the badge key's generation up (every signed URL so far stops working); audited."""
    with transaction.atomic():
        row, _ = BadgeKey.objects.select_for_update().get_or_create(pk=BadgeKey.SINGLETON_ID)
        row.generation += 1
        row.rotated_at = timezone.now()
        row.rotated_by = user
        row.save()
    audit.record(
        user,
        AuditEntry.Action.BADGE_KEY_ROTATE,
        message="Rotated the badge key: every signed badge URL handed out before stops working",
    )
    return row.generation


def last_rotation() -> BadgeKey | None:
    return BadgeKey.objects.filter(pk=BadgeKey.SINGLETON_ID).select_related("rotated_by").first()


def signed_url(request: HttpRequest, stack_id: str) -> str:
    path = reverse("dashboard:signed_badge", args=[stack_id, signature_for(stack_id)])
    return request.build_absolute_uri(path)


# Reading and drawing ---------------------------------------------------------------------------


def badge_stack(service: SpaceliftService, stack_id: str) -> tuple[Stack | None, bool]:
    """The stack as the overview's list has it, and whether that is stale; 404 when unknown.

    Without any list (Spacelift failing from the start) the stack itself is read, as the
    stack page would.
    """
    listed = service.stacks()
    if listed.data is not None:
        stack = next((s for s in listed.data if s.id == stack_id), None)
        if stack is None:
            raise Http404("No such stack")
        return stack, listed.problem is not None
    single: Snapshot[Stack | None] = service.stack(stack_id)
    if single.data is None and single.problem is None:
        raise Http404("No such stack")
    return single.data, single.problem is not None


def render_badge(stack_id: str, stack: Stack | None, stale: bool) -> HttpResponse:
    label = stack.name if stack else stack_id
    value = (stack.state_label if stack else "unknown") + (" (stale)" if stale else "")
    colour = BADGE_COLOURS[stack.health if stack else Health.UNKNOWN]
    left = int(len(label) * BADGE_CHAR_WIDTH + 12)
    right = int(len(value) * BADGE_CHAR_WIDTH + 12)
    svg = render_to_string("dashboard/badge.svg", {
        "label": label, "value": value, "colour": colour, "left": left, "right": right,
        "width": left + right, "label_x": left / 2, "value_x": left + right / 2,
    })  # fmt: skip
    response = HttpResponse(svg, content_type="image/svg+xml; charset=utf-8")
    response["Content-Security-Policy"] = "default-src 'none'; style-src 'unsafe-inline'"
    return response


# The views -------------------------------------------------------------------------------------


@require_GET
@login_required
@with_service
def stack_badge(request: HttpRequest, service: SpaceliftService, stack_id: str) -> HttpResponse:
    """The stack's badge for someone signed in who may see the stack."""
    space_access.require_stack(request, service, stack_id)
    stack, stale = badge_stack(service, stack_id)
    response = render_badge(stack_id, stack, stale)
    response["Cache-Control"] = "private, no-cache"
    return response


@require_GET
def signed_badge(request: HttpRequest, stack_id: str, signature: str) -> HttpResponse:
    """The stack's badge for anyone holding its signed URL: no session, no space check (the
    signature is the permission, given by someone who could see the stack)."""
    if not signature_ok(stack_id, signature):
        raise Http404("No such badge")
    service = current_service()
    if service is None:
        raise Http404("No such badge")
    stack, stale = badge_stack(service, stack_id)
    response = render_badge(stack_id, stack, stale)
    # A stale badge is not kept by an image proxy: the next view asks again.
    response["Cache-Control"] = (
        "no-cache" if stale else f"public, max-age={SIGNED_BADGE_MAX_AGE_SECONDS}"
    )
    return response

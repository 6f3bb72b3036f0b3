"""The stack page's embeddable badge URL (dashboard/stacks/badges.py), for _badge_embed.html."""

from __future__ import annotations

from django import template
from django.urls import reverse

from dashboard.stacks import badges

register = template.Library()


@register.simple_tag(takes_context=True)
def signed_badge_url(context: template.Context, stack_id: str) -> str:
    """The signed badge URL of `stack_id`. The stack page is only rendered for someone whose
    space access lets them see the stack, so who sees the page is who sees this URL."""
    return badges.signed_url(context["request"], stack_id)


@register.simple_tag(takes_context=True)
def stack_page_url(context: template.Context, stack_id: str) -> str:
    """Where the badge links to: the stack's page here (which asks for a session)."""
    return context["request"].build_absolute_uri(reverse("dashboard:stack", args=[stack_id]))

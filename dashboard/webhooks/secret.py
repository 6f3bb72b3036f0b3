"""Which webhook secret the receiver checks: PORTAL_WEBHOOK_SECRET(_FILE), else the saved one."""

from __future__ import annotations

from django.conf import settings
from django.db import DatabaseError
from django.views.decorators.debug import sensitive_variables

from dashboard.models import SpaceliftConnection


def from_environment() -> bool:
    return bool(settings.PORTAL_WEBHOOK_SECRET)


@sensitive_variables()
def configured_secret() -> str:
    """The secret, or "" when none is configured (the receiver then answers 404)."""
    if settings.PORTAL_WEBHOOK_SECRET:
        return settings.PORTAL_WEBHOOK_SECRET.strip()
    try:
        row = SpaceliftConnection.load()
    except DatabaseError:
        return ""
    return row.webhook_secret() if row else ""

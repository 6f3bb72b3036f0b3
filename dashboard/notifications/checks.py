"""System checks of the notification settings, run at start (`manage.py migrate` runs them).

PORTAL_NOTIFY that cannot be used stops the start and says why (bad JSON, an unknown kind, a
URL Apprise cannot parse), as PORTAL_SPACE_ACCESS does (dashboard/checks.py): a mistyped route
must not quietly tell no one. Routes without PORTAL_BASE_URL only warn: messages then carry
paths, not links.
"""

from __future__ import annotations

from django.conf import settings
from django.core.checks import Error, Warning, register
from django.db import DatabaseError

from dashboard.checks import json_setting_is_readable


@register()
def notification_routes_are_usable(app_configs, **kwargs) -> list[Error]:
    from dashboard.notifications.routes import RoutesError, parse_routes

    return json_setting_is_readable(
        "PORTAL_NOTIFY",
        parse_routes,
        RoutesError,
        hint='A JSON list of routes: [{"name": "payments on-call", "url": '
        '"slack://…", "spaces": ["payments-01J8Z2M1XR"], "kinds": ["failed", '
        '"recovered"]}]. The kinds are failed, waiting, drifted, stuck and recovered.',
        id="portal.E023",
    )


def routes_exist() -> bool:
    if settings.PORTAL_NOTIFY.strip():
        return True
    from dashboard.models import NotificationRoute

    try:
        return NotificationRoute.objects.exists()
    except DatabaseError:  # before the first migration: no saved route yet
        return False


@register()
def base_url_is_set_for_routes(app_configs, **kwargs) -> list[Warning]:
    if settings.PORTAL_BASE_URL or not routes_exist():
        return []
    return [
        Warning(
            "Notification routes exist but PORTAL_BASE_URL is not set: messages link to "
            "paths (/stacks/…) instead of the portal's pages.",
            hint="Set PORTAL_BASE_URL to the portal's public address, e.g. "
            "https://portal.example.com.",
            id="portal.W023",
        )
    ]

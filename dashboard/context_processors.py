from django.conf import settings
from django.http import HttpRequest


def portal(request: HttpRequest) -> dict:
    from .action_views import can_operate

    user = getattr(request, "user", None)
    return {
        "poll_seconds_default": settings.PORTAL_POLL_SECONDS,
        "can_operate": bool(user is not None and can_operate(user)),
        "read_only": settings.PORTAL_READ_ONLY,
    }

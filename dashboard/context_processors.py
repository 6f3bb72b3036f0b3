from django.conf import settings
from django.http import HttpRequest


def portal(request: HttpRequest) -> dict:
    return {"poll_seconds_default": settings.PORTAL_POLL_SECONDS}

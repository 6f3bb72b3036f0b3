"""What every template may ask: whether the user may act on stacks (`can_operate`)."""

from django.http import HttpRequest


def portal(request: HttpRequest) -> dict:
    from dashboard.decorators import can_operate

    user = getattr(request, "user", None)
    return {"can_operate": bool(user is not None and can_operate(user))}

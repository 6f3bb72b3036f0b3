"""Every view decorator of the app: who may see a page, and the service it reads with.

Stack on a view top-down as: HTTP method, login and permission, `vary_on_headers`, then
`with_service` last, since it changes the view's arguments.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from http import HTTPStatus

from django.conf import settings
from django.contrib.auth.decorators import login_required, permission_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from dashboard.connection.source import ConnectionProblem, current_connection
from dashboard.spacelift.service import SpaceliftService

OPERATE_PERMISSION = "dashboard.operate_stacks"


def can_operate(user) -> bool:
    """May this user trigger, confirm and discard runs? (For templates; views use
    `operator_required`.)"""
    return (
        not settings.PORTAL_READ_ONLY
        and user.is_authenticated
        and user.has_perm(OPERATE_PERMISSION)
    )


def staff_required(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Anonymous users go to login; logged-in users who are not staff get 403.

    Not `user_passes_test`: it sends a logged-in user who fails the test back to the login
    page, where a 403 says what is wrong.
    """

    @wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        if not request.user.is_staff:
            raise PermissionDenied
        return view(request, *args, **kwargs)

    return login_required(wrapper)


def _not_read_only(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    @wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        if settings.PORTAL_READ_ONLY:
            raise PermissionDenied("The portal is read-only.")
        return view(request, *args, **kwargs)

    return wrapper


def operator_required(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Login, then 403 unless the portal may act and the user is in the operators group."""
    checked = permission_required(OPERATE_PERMISSION, raise_exception=True)(view)
    return login_required(_not_read_only(checked))


def with_service(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Call `view(request, service, ...)` with the current connection's service, or answer
    what is missing: no connection yet, or one that cannot be used as configured.

    The one answer every view that reads Spacelift gives without a connection (pages, JSON,
    badge, actions alike): the "not connected" page with status 503. A 503 is what a JSON
    client or a monitor should see, and htmx swaps no error response into a polled region.
    """

    @wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        try:
            connection = current_connection()
        except ConnectionProblem as exc:
            return not_connected(request, str(exc))
        if connection is None:
            return not_connected(request)
        return view(request, SpaceliftService(connection), *args, **kwargs)

    return wrapper


def not_connected(request: HttpRequest, problem: str = "") -> HttpResponse:
    """The page that says the portal cannot read Spacelift yet, and who can fix it."""
    return render(
        request,
        "dashboard/not_configured.html",
        {"problem": problem},
        status=HTTPStatus.SERVICE_UNAVAILABLE,
    )

"""Response rules for every page: no caching of signed-in pages, no login page in a table."""

from __future__ import annotations

from urllib.parse import quote, urlsplit

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import resolve_url
from django.utils.cache import patch_cache_control
from django_htmx.http import HttpResponseClientRedirect

from dashboard import audit
from dashboard.accounts.client_address import client_address


class PortalMiddleware:
    def __init__(self, get_response) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        # Every audit entry written while answering names the address it came from.
        with audit.from_address(client_address(request)):
            response = self.get_response(request)
        if getattr(request, "htmx", False) and self._is_login_redirect(response):
            # An expired session on a poll: send the whole page to login, back to where it was.
            current = request.htmx.current_url_abs_path or "/"
            response = HttpResponseClientRedirect(
                f"{resolve_url(settings.LOGIN_URL)}?next={quote(current, safe='/')}"
            )
        if getattr(request, "user", None) is not None and request.user.is_authenticated:
            # no-store: a shared or back-button cache must not keep what a signed-in person saw.
            patch_cache_control(response, private=True, no_store=True)
        return response

    @staticmethod
    def _is_login_redirect(response: HttpResponse) -> bool:
        if response.status_code not in (301, 302, 303):
            return False
        location = urlsplit(response.get("Location", "")).path
        return location == resolve_url(settings.LOGIN_URL)

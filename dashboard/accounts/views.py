"""Signing in and out: the login page, single sign-on's start and callback, and sign-out.

Every refusal renders registration/sign_in_failed.html with a sentence saying why and signs
no one in; the reasons go to the log too, never the tokens.
"""

from __future__ import annotations

import logging
from urllib.parse import urlencode

from django.conf import settings
from django.contrib import auth
from django.contrib.auth.views import LoginView
from django.core.exceptions import SuspiciousOperation
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render, resolve_url
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST
from django.views.generic import View
from mozilla_django_oidc.views import OIDCAuthenticationCallbackView, OIDCAuthenticationRequestView

from dashboard import audit
from dashboard.accounts import oidc

logger = logging.getLogger(__name__)

STATE_PROBLEM = (
    "This sign-in answer does not belong to a sign-in started in this browser, or it was "
    "already used. Start again from the login page."
)


def sign_in_failed(request: HttpRequest, reason: str, status: int = 400) -> HttpResponse:
    logger.warning("Single sign-on refused: %s", reason)
    return render(
        request,
        "registration/sign_in_failed.html",
        {"reason": reason, "provider_name": settings.PORTAL_OIDC_PROVIDER_NAME},
        status=status,
    )


class PortalLoginView(LoginView):
    """Django's login view, offering single sign-on and refusing passwords when they are off."""

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context["sso_enabled"] = oidc.enabled()
        context["provider_name"] = settings.PORTAL_OIDC_PROVIDER_NAME
        context["local_login"] = settings.PORTAL_LOCAL_LOGIN
        return context

    def form_valid(self, form):
        response = super().form_valid(form)
        audit.record_sign_in(form.get_user(), "a password")
        return response

    def post(self, request, *args, **kwargs):
        if not settings.PORTAL_LOCAL_LOGIN:
            response = self.get(request, *args, **kwargs)
            response.status_code = 403
            return response
        return super().post(request, *args, **kwargs)


class StartSignIn(OIDCAuthenticationRequestView):
    """Redirects to the provider with state, nonce and a PKCE challenge kept in the session."""

    get_settings = staticmethod(oidc.library_setting)

    def __init__(self, **kwargs) -> None:
        View.__init__(self, **kwargs)  # the library reads endpoints here; discovery does it

    def get(self, request):
        if not oidc.enabled():
            raise Http404("Single sign-on is not configured")
        try:
            provider = oidc.discover()
        except oidc.SignInError as exc:
            return sign_in_failed(request, exc.message, exc.status)
        self.OIDC_OP_AUTH_ENDPOINT = provider.authorization_endpoint
        self.OIDC_RP_CLIENT_ID = settings.PORTAL_OIDC_CLIENT_ID
        return super().get(request)


class FinishSignIn(OIDCAuthenticationCallbackView):
    """The provider's redirect back: the library checks state and nonce and sends the code
    verifier; SingleSignOnBackend checks the ID token. Any failure is a page, not a 500."""

    get_settings = staticmethod(oidc.library_setting)

    def get(self, request):
        if not oidc.enabled():
            raise Http404("Single sign-on is not configured")
        error = request.GET.get("error")
        try:
            # RFC 9207: a provider that names itself in the answer must be ours (mix-up attacks).
            if "iss" in request.GET and request.GET["iss"] != oidc.discover().issuer:
                return sign_in_failed(request, "This sign-in answer comes from another provider.")
            response = super().get(request)
        except oidc.SignInError as exc:
            return sign_in_failed(request, exc.message, exc.status)
        except oidc.SignInRefused as exc:
            return sign_in_failed(request, exc.message)
        except SuspiciousOperation as exc:
            logger.info("Single sign-on callback: %s", exc)
            return sign_in_failed(request, STATE_PROBLEM)
        if error:
            description = request.GET.get("error_description", "")[:200]
            return sign_in_failed(
                request, f"The sign-in provider refused: {error[:60]}. {description}".strip()
            )
        return response

    def login_success(self):
        response = super().login_success()
        audit.record_sign_in(self.user, settings.PORTAL_OIDC_PROVIDER_NAME)
        return response

    def login_failure(self):
        if self.request.GET.get("error"):
            return None  # get() explains the provider's own refusal
        user = getattr(self, "user", None)
        if user is not None and not user.is_active:
            return sign_in_failed(
                self.request, "This account is deactivated in the portal: ask an administrator."
            )
        return sign_in_failed(self.request, STATE_PROBLEM)


start_sign_in = never_cache(StartSignIn.as_view())
finish_sign_in = never_cache(FinishSignIn.as_view())
login_page = PortalLoginView.as_view()


@require_POST
def sign_out(request: HttpRequest) -> HttpResponse:
    """Ends the portal session, then the provider's where it offers end_session_endpoint
    (OpenID Connect RP-Initiated Logout 1.0)."""
    id_token = request.session.get("oidc_id_token")
    auth.logout(request)
    if id_token and oidc.enabled():
        try:
            provider = oidc.discover()
        except oidc.SignInError:
            provider = None
        if provider is not None and provider.end_session_endpoint:
            query = urlencode({
                "id_token_hint": id_token,
                "client_id": settings.PORTAL_OIDC_CLIENT_ID,
                "post_logout_redirect_uri": request.build_absolute_uri(
                    resolve_url(settings.LOGOUT_REDIRECT_URL)
                ),
            })  # fmt: skip
            return redirect(f"{provider.end_session_endpoint}?{query}")
    return redirect(settings.LOGOUT_REDIRECT_URL)

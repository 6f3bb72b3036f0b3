"""The OpenID Connect provider as the portal sees it: configuration checks, the discovery
document (in the shared cache) and the published keys (PyJWT's PyJWKClient and its cache), the
clock, and the errors a sign-in can meet.

mozilla-django-oidc runs the code flow (state, nonce, PKCE) but has no discovery; endpoints
come from `<issuer>/.well-known/openid-configuration` (OpenID Connect Discovery 1.0, section
4), fetched through outbound.request and cached, so the settings carry the issuer alone.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

import jwt
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured, SuspiciousOperation
from jwt import PyJWKClient

from dashboard.spacelift import errors, outbound, process_state
from dashboard.spacelift.account import is_loopback_host
from dashboard.spacelift.clock import clock
from dashboard.spacelift.shared_cache import shared_cache

# A provider's configuration and keys change rarely; an hour bounds how long a rotated-out
# key is still accepted, and an unknown key ID refetches the keys (at most every 30 s,
# PyJWKClient's cooldown).
DISCOVERY_SECONDS = 3600
JWKS_SECONDS = 3600
# (connect, read): a provider that is down must not hold a worker for long.
TIMEOUT = (5.0, 10.0)
# Clock skew allowed between the portal and the provider when checking exp and iat.
LEEWAY_SECONDS = 60
# Asymmetric algorithms only: HS* would make the client secret a signing key, and "none" no key.
SIGNING_ALGORITHMS = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384")


def now() -> float:
    """The clock that checks token expiry: the service's, which tests move instead of waiting."""
    return clock()


class SignInError(Exception):
    """A sign-in that cannot go on, with a sentence for the person trying."""

    status = 400

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class ProviderUnavailable(SignInError):
    status = 502


class SignInRefused(SuspiciousOperation):
    """The provider's answer failed a check: signature, issuer, audience, expiry, subject."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def check_configuration(issuer: str, client_id: str, client_secret: str) -> None:
    """Called from settings.py when PORTAL_OIDC_ISSUER is set: refuse to start half-configured."""
    parts = urlsplit(issuer)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise ImproperlyConfigured(
            "PORTAL_OIDC_ISSUER must be a URL such as https://id.example.com"
        )
    if parts.scheme == "http" and not is_loopback_host(parts.hostname or ""):
        raise ImproperlyConfigured(
            "PORTAL_OIDC_ISSUER must use https:// (http:// only on loopback)"
        )
    if not client_id or not client_secret:
        raise ImproperlyConfigured(
            "PORTAL_OIDC_ISSUER is set: set PORTAL_OIDC_CLIENT_ID and PORTAL_OIDC_CLIENT_SECRET too"
        )


def csp_allowing_provider(policy: dict, issuer: str) -> dict:
    """The policy with the provider's origin in form-action: signing out POSTs to the portal,
    which redirects to the provider's end_session_endpoint, and browsers apply form-action to
    that redirect too."""
    parts = urlsplit(issuer)
    directives = dict(policy["DIRECTIVES"])
    directives["form-action"] = [
        *directives.get("form-action", []),
        f"{parts.scheme}://{parts.netloc}",
    ]
    return {**policy, "DIRECTIVES": directives}


def enabled() -> bool:
    return bool(settings.PORTAL_OIDC_ISSUER)


@dataclass(frozen=True)
class Provider:
    issuer: str
    authorization_endpoint: str
    token_endpoint: str
    jwks_uri: str
    userinfo_endpoint: str = ""
    end_session_endpoint: str = ""
    signing_algorithms: tuple[str, ...] = ("RS256",)
    # client_secret_basic unless the provider only takes client_secret_post (Discovery 1.0:
    # an absent list means basic).
    secret_in_header: bool = True


def _get_json(url: str) -> dict:
    try:
        response = outbound.request("GET", url, who="the sign-in provider", timeout=TIMEOUT)
        errors.raise_for_status(response, "The sign-in provider")
        data = response.json()
    except (errors.SpaceliftError, ValueError) as exc:
        raise ProviderUnavailable(
            f"The sign-in provider did not answer ({type(exc).__name__}). Try again later, "
            "or sign in with a password if your administrator allows it."
        ) from exc
    if not isinstance(data, dict):
        raise ProviderUnavailable("The sign-in provider answered with something unexpected.")
    return data


def _cache_key(kind: str) -> str:
    return f"oidc:{kind}:{settings.PORTAL_OIDC_ISSUER}"


def discover() -> Provider:
    key = _cache_key("discovery")
    document = shared_cache.get(key)
    if document is None:
        issuer = settings.PORTAL_OIDC_ISSUER
        document = _get_json(issuer.rstrip("/") + "/.well-known/openid-configuration")
        # Discovery 1.0, section 4.3: the document's issuer must equal the configured one.
        if document.get("issuer") != issuer:
            raise ProviderUnavailable(
                "The sign-in provider's discovery document names a different issuer; "
                "check PORTAL_OIDC_ISSUER."
            )
        for name in ("authorization_endpoint", "token_endpoint", "jwks_uri"):
            if not isinstance(document.get(name), str):
                raise ProviderUnavailable(f"The sign-in provider publishes no {name}.")
        shared_cache.set(key, document, DISCOVERY_SECONDS)
    algorithms = document.get("id_token_signing_alg_values_supported") or ["RS256"]
    auth_methods = document.get("token_endpoint_auth_methods_supported") or []
    return Provider(
        issuer=document["issuer"],
        authorization_endpoint=document["authorization_endpoint"],
        token_endpoint=document["token_endpoint"],
        jwks_uri=document["jwks_uri"],
        userinfo_endpoint=document.get("userinfo_endpoint") or "",
        end_session_endpoint=document.get("end_session_endpoint") or "",
        signing_algorithms=tuple(a for a in algorithms if a in SIGNING_ALGORITHMS) or ("RS256",),
        secret_in_header=not auth_methods or "client_secret_basic" in auth_methods,
    )


class ProviderKeys(PyJWKClient):
    """PyJWT's JWKS client (its cache, one refetch for a key ID it does not know, then a
    cooldown), fetching through outbound.request like every call the portal makes."""

    def fetch_data(self) -> dict:
        return _get_json(self.uri)


# One key client per published key set and process (a provider, or two while one replaces
# another); each holds its keys for JWKS_SECONDS.
_key_clients: process_state.ProcessCache[str, ProviderKeys] = process_state.ProcessCache(
    "oidc signing keys", 4
)
forget_keys = _key_clients.clear


def signing_key(token: str) -> jwt.PyJWK:
    """The provider's published key that signed `token` (by its key ID)."""
    jwks_uri = discover().jwks_uri
    keys = _key_clients.get_or_make(jwks_uri, lambda: ProviderKeys(jwks_uri, lifespan=JWKS_SECONDS))
    try:
        return keys.get_signing_key_from_jwt(token)
    except jwt.PyJWTError as exc:
        raise SignInRefused(
            "The ID token is signed by a key the provider does not publish."
        ) from exc


def library_setting(name: str, *default):
    """mozilla-django-oidc's settings, derived from the PORTAL_OIDC_* ones."""
    values = {
        "OIDC_RP_CLIENT_ID": settings.PORTAL_OIDC_CLIENT_ID,
        "OIDC_RP_CLIENT_SECRET": settings.PORTAL_OIDC_CLIENT_SECRET,
        "OIDC_RP_SCOPES": settings.PORTAL_OIDC_SCOPES,
        "OIDC_USE_NONCE": True,
        "OIDC_USE_PKCE": True,
        "OIDC_PKCE_CODE_CHALLENGE_METHOD": "S256",
        "OIDC_STORE_ID_TOKEN": True,  # the hint for the provider's end_session_endpoint
        "OIDC_TIMEOUT": TIMEOUT,
        "OIDC_VERIFY_SSL": True,
        "OIDC_CREATE_USER": True,
        "OIDC_AUTHENTICATION_CALLBACK_URL": "sso_callback",
        # Discovered at sign-in (SingleSignOnBackend.authenticate), not at every request.
        "OIDC_OP_TOKEN_ENDPOINT": "",
        "OIDC_OP_USER_ENDPOINT": "",
        "OIDC_OP_JWKS_ENDPOINT": "",
        # Any asymmetric algorithm the provider announces; RS256 makes the library ask
        # retrieve_matching_jwk for a published key.
        "OIDC_RP_SIGN_ALGO": "RS256",
        "OIDC_RP_IDP_SIGN_KEY": None,
        "LOGIN_REDIRECT_URL": settings.LOGIN_REDIRECT_URL,
    }
    if name in values:
        return values[name]
    if name == "OIDC_TOKEN_USE_BASIC_AUTH":
        return discover().secret_in_header
    if default:
        return getattr(settings, name, default[0])
    return getattr(settings, name)

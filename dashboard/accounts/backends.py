"""Authentication backends: passwords (switchable) and single sign-on over OpenID Connect.

SingleSignOnBackend is mozilla-django-oidc's backend with the portal's rules:
- endpoints from discovery (accounts/oidc.py), read at sign-in rather than at start-up;
- the ID token's signature checked against the provider's published keys (PyJWT's
  PyJWKClient: cached, refetched for an unknown key ID), and its issuer, audience, expiry and
  issue time checked (the library checks expiry only), through the library's public hooks
  (retrieve_matching_jwk, get_payload_data; the library checks the nonce after them);
- a person is the provider's `sub` (SignInIdentity), never matched by e-mail;
- staff and operator roles recomputed from the groups claim at every sign-in.
"""

from __future__ import annotations

import logging

import jwt
import requests
from django.conf import settings
from django.contrib.auth.backends import ModelBackend
from django.db import transaction
from mozilla_django_oidc.auth import OIDCAuthenticationBackend

from dashboard import audit
from dashboard.accounts import oidc, roles
from dashboard.models import AuditEntry, SignInIdentity

logger = logging.getLogger(__name__)


class LocalPasswordBackend(ModelBackend):
    """Django's backend, refusing every password while PORTAL_LOCAL_LOGIN is false."""

    def authenticate(self, request, username=None, password=None, **kwargs):
        if not settings.PORTAL_LOCAL_LOGIN:
            return None
        return super().authenticate(request, username=username, password=password, **kwargs)


def groups_from(claims: dict) -> list[str]:
    value = claims.get(settings.PORTAL_OIDC_GROUPS_CLAIM)
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list):
        return []
    return sorted({str(group) for group in value})


class SingleSignOnBackend(OIDCAuthenticationBackend):
    get_settings = staticmethod(oidc.library_setting)

    def get_user(self, user_id):
        # The library's get_user skips is_active: a deactivated person would stay signed in.
        return ModelBackend.get_user(self, user_id)

    def authenticate(self, request, **kwargs):
        if not oidc.enabled() or request is None:
            return None
        if "code" not in request.GET or "state" not in request.GET:
            return None
        self.provider = oidc.discover()
        self.OIDC_OP_TOKEN_ENDPOINT = self.provider.token_endpoint
        self.OIDC_OP_USER_ENDPOINT = self.provider.userinfo_endpoint
        self.OIDC_OP_JWKS_ENDPOINT = self.provider.jwks_uri
        try:
            return super().authenticate(request, **kwargs)
        except requests.RequestException as exc:
            status = getattr(exc.response, "status_code", None)
            if status is not None and 400 <= status < 500:
                # RFC 6749 5.2: invalid_grant is an expired, used or forged code.
                raise oidc.SignInRefused(
                    "The sign-in provider refused the sign-in code (expired, already used, or "
                    "not issued to this portal)."
                ) from exc
            raise oidc.ProviderUnavailable(
                "The sign-in provider did not answer while finishing the sign-in. Try again later."
            ) from exc

    # The signature: a key the provider publishes (oidc.signing_key), an algorithm it announces.
    def retrieve_matching_jwk(self, token):
        return oidc.signing_key(token)

    def get_payload_data(self, token, key):
        algorithm = jwt.get_unverified_header(token).get("alg")
        if algorithm not in self.provider.signing_algorithms:
            raise oidc.SignInRefused(f"The ID token uses an algorithm not allowed: {algorithm}.")
        try:
            claims = jwt.decode(
                token,
                key,
                algorithms=[algorithm],
                audience=settings.PORTAL_OIDC_CLIENT_ID,
                issuer=self.provider.issuer,
                # Expiry is checked below against oidc.now(), the clock tests can move.
                options={"verify_exp": False, "verify_iat": False, "verify_nbf": False,
                         "require": ["exp", "iat", "iss", "aud", "sub"]},
            )  # fmt: skip
        except jwt.InvalidSignatureError as exc:
            raise oidc.SignInRefused("The ID token's signature does not verify.") from exc
        except jwt.InvalidAudienceError as exc:
            raise oidc.SignInRefused("The ID token was issued to another client.") from exc
        except jwt.InvalidIssuerError as exc:
            raise oidc.SignInRefused("The ID token comes from another issuer.") from exc
        except jwt.PyJWTError as exc:
            raise oidc.SignInRefused(f"The ID token failed a check: {exc}.") from exc
        moment = oidc.now()
        if float(claims["exp"]) + oidc.LEEWAY_SECONDS < moment:
            raise oidc.SignInRefused("The ID token has expired. Sign in again.")
        if float(claims["iat"]) - oidc.LEEWAY_SECONDS > moment:
            raise oidc.SignInRefused("The ID token was issued in the future; check the clocks.")
        audience = claims["aud"]
        several = isinstance(audience, list) and len(audience) > 1
        if several and claims.get("azp") != settings.PORTAL_OIDC_CLIENT_ID:
            raise oidc.SignInRefused("The ID token was issued to another client.")
        return claims

    def get_userinfo(self, access_token, id_token, payload):
        """The ID token's claims, completed from userinfo when the groups are not in it."""
        claims = dict(payload)
        if settings.PORTAL_OIDC_GROUPS_CLAIM not in claims and self.OIDC_OP_USER_ENDPOINT:
            info = super().get_userinfo(access_token, id_token, payload)
            # OpenID Connect Core 5.3.2: userinfo's sub must be the ID token's.
            if not isinstance(info, dict) or info.get("sub") != payload["sub"]:
                raise oidc.SignInRefused("The provider's user information names another person.")
            claims = {**info, **payload}
        return claims

    def verify_claims(self, claims) -> bool:
        return bool(claims.get("sub"))

    def describe_user_by_claims(self, claims) -> str:
        return f"subject {claims.get('sub')}"

    def filter_users_by_claims(self, claims):
        return self.UserModel.objects.filter(
            sign_in_identity__issuer=self.provider.issuer,
            sign_in_identity__subject=claims["sub"],
        )

    def _free_username(self, claims) -> str:
        wanted = claims.get("preferred_username") or claims.get("email") or claims["sub"]
        base = str(wanted)[:140]
        name, suffix = base, 1
        while self.UserModel.objects.filter(username=name).exists():
            suffix += 1
            name = f"{base}-{suffix}"
        return name

    @transaction.atomic
    def create_user(self, claims):
        user = self.UserModel(username=self._free_username(claims))
        user.set_unusable_password()
        user.save()
        SignInIdentity.objects.create(user=user, issuer=self.provider.issuer, subject=claims["sub"])
        return self.update_user(user, claims)

    @transaction.atomic
    def update_user(self, user, claims):
        groups = groups_from(claims)
        before = roles.role_of(user)
        user.is_staff = bool(set(groups) & set(settings.PORTAL_OIDC_STAFF_GROUPS))
        user.email = str(claims.get("email") or "")[:254]
        user.first_name = str(claims.get("given_name") or "")[:150]
        user.last_name = str(claims.get("family_name") or "")[:150]
        user.save()
        roles.set_operator(user, bool(set(groups) & set(settings.PORTAL_OIDC_OPERATOR_GROUPS)))
        SignInIdentity.objects.filter(user=user).update(groups=groups)
        after = roles.role_of(user)
        if after != before:
            audit.record(
                user,
                AuditEntry.Action.ROLE_CHANGE,
                message=f"{user.get_username()}: {before} to {after}, from the provider's groups "
                f"({', '.join(groups) or 'none'})",
            )
        return user

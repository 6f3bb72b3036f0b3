"""Encryption at rest for the stored API key secret (Fernet, from `cryptography`).

The key is PORTAL_ENCRYPTION_KEY (one or more Fernet keys, comma-separated, newest first:
rotation adds a new key in front, and old secrets still decrypt until re-saved), or, without
it, keys derived from SECRET_KEY and SECRET_KEY_FALLBACKS. Changing SECRET_KEY without keeping
the old one in SECRET_KEY_FALLBACKS makes stored secrets unreadable, which the settings page
reports as "re-enter the secret".
"""

from __future__ import annotations

import base64
import hashlib

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.views.decorators.debug import sensitive_variables


class UndecryptableSecret(Exception):
    """The stored secret was encrypted under a key this portal no longer has."""


@sensitive_variables()
def _fernet() -> MultiFernet:
    configured = [k.strip() for k in settings.PORTAL_ENCRYPTION_KEY.split(",") if k.strip()]
    if configured:
        keys = [Fernet(k.encode()) for k in configured]
    else:
        # SECRET_KEY_FALLBACKS still decrypt, so a Django-style key rotation keeps the secret.
        secrets = [settings.SECRET_KEY, *getattr(settings, "SECRET_KEY_FALLBACKS", [])]
        keys = [Fernet(_derive(secret)) for secret in secrets]
    return MultiFernet(keys)


def _derive(secret_key: str) -> bytes:
    digest = hashlib.sha256(b"spacelift-portal:secret-at-rest:" + secret_key.encode()).digest()
    return base64.urlsafe_b64encode(digest)


@sensitive_variables()
def encrypt(plaintext: str) -> str:
    return _fernet().encrypt(plaintext.encode()).decode()


@sensitive_variables()
def decrypt(token: str) -> str:
    try:
        return _fernet().decrypt(token.encode()).decode()
    except (InvalidToken, ValueError) as exc:
        raise UndecryptableSecret(
            "The saved API key secret cannot be decrypted with the current encryption key"
        ) from exc

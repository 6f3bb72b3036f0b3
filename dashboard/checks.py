"""System checks run at start (`manage.py migrate` in the entrypoint runs them)."""

from __future__ import annotations

from django.conf import settings
from django.core.checks import Error, Tags, register


@register(Tags.security)
def encryption_key_is_usable(app_configs, **kwargs) -> list[Error]:
    """An unusable PORTAL_ENCRYPTION_KEY stops the start, not the first save of a secret."""
    from cryptography.fernet import Fernet

    configured = [k.strip() for k in settings.PORTAL_ENCRYPTION_KEY.split(",") if k.strip()]
    problems = []
    for position, key in enumerate(configured, start=1):
        try:
            Fernet(key.encode())
        except (ValueError, TypeError):
            # Never the key itself in the message: it is a secret.
            problems.append(
                Error(
                    f"PORTAL_ENCRYPTION_KEY: key {position} of {len(configured)} is not a Fernet "
                    "key (32 url-safe base64-encoded bytes).",
                    hint='Generate one with: python -c "from cryptography.fernet import Fernet; '
                    'print(Fernet.generate_key().decode())"',
                    id="portal.E001",
                )
            )
    return problems

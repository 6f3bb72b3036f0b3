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


@register()
def space_access_rules_are_readable(app_configs, **kwargs) -> list[Error]:
    """PORTAL_SPACE_ACCESS that cannot be read stops the start, naming what is wrong: a
    mistyped rule must not quietly show everyone everything (or no one anything)."""
    from dashboard.accounts.access import RulesError, parse_rules

    raw = settings.PORTAL_SPACE_ACCESS
    if not raw.strip():
        return []
    try:
        parse_rules(raw)
    except RulesError as exc:
        return [
            Error(
                f"PORTAL_SPACE_ACCESS (or the file PORTAL_SPACE_ACCESS_FILE names): {exc}.",
                hint='A JSON object mapping a group to space IDs: {"team-payments": '
                '["payments-01J8Z2M1XR"], "sre": ["root"]}',
                id="portal.E002",
            )
        ]
    return []

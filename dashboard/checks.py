"""System checks run at start (`manage.py migrate` in the entrypoint runs them), and the reading
of the JSON settings they check (PORTAL_SPACE_ACCESS, PORTAL_NOTIFY)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.core.checks import Error, Tags, register


def load_json(raw: str, problem: type[ValueError], expected: type, must_be: str) -> Any:
    """`raw` as JSON of type `expected`; else raises `problem` saying what is wrong, as the
    person fixing the setting (or the form) reads it: "it is not valid JSON (…)" or "it must be
    `must_be`"."""
    try:
        value = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise problem(
            f"it is not valid JSON ({exc.msg} at line {exc.lineno}, column {exc.colno})"
        ) from None
    if not isinstance(value, expected):
        raise problem(f"it must be {must_be}")
    return value


def json_setting_is_readable(
    name: str, parse: Callable[[str], object], problem: type[ValueError], *, hint: str, id: str
) -> list[Error]:
    """The JSON setting `name` (or its _FILE) that `parse` refuses stops the start, saying why;
    unset is fine."""
    raw = getattr(settings, name)
    if not raw.strip():
        return []
    try:
        parse(raw)
    except problem as exc:
        return [Error(f"{name} (or the file {name}_FILE names): {exc}.", hint=hint, id=id)]
    return []


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

    return json_setting_is_readable(
        "PORTAL_SPACE_ACCESS",
        parse_rules,
        RulesError,
        hint='A JSON object mapping a group to space IDs: {"team-payments": '
        '["payments-01J8Z2M1XR"], "sre": ["root"]}',
        id="portal.E002",
    )

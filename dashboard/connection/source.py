"""Which Spacelift connection the portal uses right now.

Environment variables win; without them, the connection an administrator saved in the UI.
"""

from __future__ import annotations

from django.conf import settings
from django.views.decorators.debug import sensitive_variables

from dashboard.connection import crypto
from dashboard.models import SpaceliftConnection
from dashboard.spacelift.account import Connection, InvalidEndpoint, normalize_endpoint
from dashboard.spacelift.service import SpaceliftService


class ConnectionProblem(Exception):
    """The configured connection cannot be used as given (shown on the overview)."""


def environment_is_set() -> bool:
    return bool(
        settings.SPACELIFT_API_KEY_ENDPOINT
        or settings.SPACELIFT_API_KEY_ID
        or settings.SPACELIFT_API_KEY_SECRET
    )


@sensitive_variables()
def environment_connection() -> Connection | None:
    endpoint = settings.SPACELIFT_API_KEY_ENDPOINT
    key_id = settings.SPACELIFT_API_KEY_ID
    secret = settings.SPACELIFT_API_KEY_SECRET
    if not environment_is_set():
        return None
    if not (endpoint and key_id and secret):
        raise ConnectionProblem(
            "SPACELIFT_API_KEY_ENDPOINT, SPACELIFT_API_KEY_ID and SPACELIFT_API_KEY_SECRET "
            "must all be set; one of them is missing."
        )
    try:
        base_url = normalize_endpoint(endpoint)
    except InvalidEndpoint as exc:
        raise ConnectionProblem(f"SPACELIFT_API_KEY_ENDPOINT: {exc}") from None
    return Connection(base_url, key_id.strip(), secret.strip(), source="environment")


@sensitive_variables()
def saved_connection() -> Connection | None:
    row = SpaceliftConnection.load()
    if row is None:
        return None
    try:
        return row.as_connection()
    except crypto.UndecryptableSecret:
        raise ConnectionProblem(
            "The saved API key secret can no longer be decrypted (the encryption key or "
            "SECRET_KEY changed). An administrator must re-enter the secret."
        ) from None


def current_connection() -> Connection | None:
    """The environment's connection if any is set, else the saved one, else None."""
    if environment_is_set():
        return environment_connection()
    return saved_connection()


def current_service() -> SpaceliftService | None:
    """The service of the connection in use; None when there is none or it cannot be used."""
    try:
        connection = current_connection()
    except ConnectionProblem:
        return None
    return SpaceliftService(connection) if connection else None

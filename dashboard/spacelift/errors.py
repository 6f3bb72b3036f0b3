"""The errors the Spacelift client raises.

Each names one way a call can fail, so a page can tell the user what went wrong and what to
do about it. None of them ever carries the API key secret or a JWT.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import requests


class SpaceliftError(Exception):
    """Base of every failure talking to Spacelift. `message` is safe to show a user."""

    #: A short, plain-language cause for banners ("Spacelift did not answer in time").
    summary = "Spacelift could not be read"
    #: What the person reading the message can do about it.
    hint = ""

    def __init__(self, message: str = "", *, retry_after: float | None = None) -> None:
        super().__init__(message or self.summary)
        self.message = message or self.summary
        self.retry_after = retry_after


class NotConfigured(SpaceliftError):
    summary = "No Spacelift connection is configured"
    hint = "An administrator sets the host, API key ID and secret."


class ForbiddenHost(SpaceliftError):
    summary = "The Spacelift host now points at a forbidden address"
    hint = (
        "The host resolves to a link-local or cloud metadata address, so the API key secret "
        "is not sent there. Check the host's DNS, or save the account's real address."
    )


class Unreachable(SpaceliftError):
    summary = "Spacelift could not be reached"
    hint = "Check the host name, DNS and that this machine can reach it."


class Timeout(SpaceliftError):
    summary = "Spacelift did not answer in time"
    hint = "Spacelift or the network is slow; the portal will try again."


class HTTPStatusError(SpaceliftError):
    summary = "Spacelift answered with an HTTP error"
    hint = "A 5xx is Spacelift's side or a proxy's; 404 usually means a wrong host."

    def __init__(self, status: int, message: str = "", *, retry_after: float | None = None):
        super().__init__(message or f"Spacelift answered HTTP {status}", retry_after=retry_after)
        self.status = status


class RateLimited(HTTPStatusError):
    summary = "Spacelift asked the portal to slow down (HTTP 429)"
    hint = "The portal backs off and retries by itself."


class NotJSON(SpaceliftError):
    summary = "Spacelift's answer was not JSON"
    hint = "The host may be a proxy or login page rather than Spacelift's GraphQL API."


class UnknownKeyID(SpaceliftError):
    summary = "Spacelift does not know this API key ID"
    hint = "Copy the key ID again from Organization settings > API keys."


class RejectedSecret(SpaceliftError):
    summary = "Spacelift rejected the API key secret"
    hint = (
        "Re-enter the secret from the key's downloaded .config file, and check that the "
        "login policy admits api::<KEY_ID>."
    )


class Unauthorized(SpaceliftError):
    summary = "Spacelift refused the token (unauthorized)"
    hint = "The key may have been revoked or its role changed."


class PermissionDenied(SpaceliftError):
    """`unauthorized` for a live token: `viewer` answers, the action or stack is refused."""

    summary = "The API key's Spacelift role lacks the permission for this"
    hint = (
        "The key is signed in. Give its role the permission in Spacelift (a stack's own role "
        "may override space-level permissions), or use a key that has it."
    )


class GraphQLError(SpaceliftError):
    summary = "Spacelift rejected the query"
    hint = "The portal and this Spacelift may disagree on the API; see the server log."


class NotFound(SpaceliftError):
    summary = "Not found in Spacelift"
    hint = "It may have been deleted, or the key cannot see its space."


class TokenNotAccepted(SpaceliftError):
    """Spacelift answers an unaccepted token with empty lists and nulls, not an error."""

    summary = (
        "Spacelift no longer accepts this API key: it may have been revoked or its secret rotated"
    )
    hint = (
        "Create a new API key in Spacelift (Organization settings > API keys) and enter it in "
        "Settings. The portal shows the last data it read until then."
    )


def raise_for_status(response: requests.Response, who: str) -> None:
    """Redirects (never followed), 429 with its Retry-After, and other error statuses."""
    status = response.status_code
    if 300 <= status < 400:
        raise HTTPStatusError(
            status,
            f"{who} answered HTTP {status}, a redirect; the portal only talks to the "
            "configured host and does not follow it",
        )
    if status == 429:
        raise RateLimited(
            429, f"{who} answered HTTP 429: too many requests", retry_after=_retry_after(response)
        )
    if status >= 400:
        raise HTTPStatusError(
            status, f"{who} answered HTTP {status}", retry_after=_retry_after(response)
        )


def _retry_after(response: requests.Response) -> float | None:
    value = response.headers.get("Retry-After", "")
    try:
        return max(0.0, float(value))
    except ValueError:
        return None

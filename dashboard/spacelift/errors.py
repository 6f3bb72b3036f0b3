"""The errors the Spacelift client raises.

Each names one way a call can fail, so a page can tell the user what went wrong and what to
do about it. None of them ever carries the API key secret or a JWT.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import requests


# What each error says: a short, plain-language cause for banners (`summary`), and what the
# person reading it can do about it (`hint`), by class name. One table, so the words are read
# and edited together; the classes below only name the failures and their hierarchy.
WORDS: dict[str, tuple[str, str]] = {
    "SpaceliftError": ("Spacelift could not be read", ""),
    "NotConfigured": (
        "No Spacelift connection is configured",
        "An administrator sets the host, API key ID and secret.",
    ),
    "ForbiddenHost": (
        "The Spacelift host now points at a forbidden address",
        "The host resolves to a link-local or cloud metadata address, so the API key secret "
        "is not sent there. Check the host's DNS, or save the account's real address.",
    ),
    "Unreachable": (
        "Spacelift could not be reached",
        "Check the host name, DNS and that this machine can reach it.",
    ),
    "Timeout": (
        "Spacelift did not answer in time",
        "Spacelift or the network is slow; the portal will try again.",
    ),
    "HTTPStatusError": (
        "Spacelift answered with an HTTP error",
        "A 5xx is Spacelift's side or a proxy's; 404 usually means a wrong host.",
    ),
    "RateLimited": (
        "Spacelift asked the portal to slow down (HTTP 429)",
        "The portal backs off and retries by itself.",
    ),
    "NotJSON": (
        "Spacelift's answer was not JSON",
        "The host may be a proxy or login page rather than Spacelift's GraphQL API.",
    ),
    "UnknownKeyID": (
        "Spacelift does not know this API key ID",
        "Copy the key ID again from Organization settings > API keys.",
    ),
    "RejectedSecret": (
        "Spacelift rejected the API key secret",
        "Re-enter the secret from the key's downloaded .config file, and check that the "
        "login policy admits api::<KEY_ID>.",
    ),
    "Unauthorized": (
        "Spacelift refused the token (unauthorized)",
        "The key may have been revoked or its role changed.",
    ),
    "PermissionDenied": (
        "The API key's Spacelift role lacks the permission for this",
        "The key is signed in. Give its role the permission in Spacelift (a stack's own role "
        "may override space-level permissions), or use a key that has it.",
    ),
    "GraphQLError": (
        "Spacelift rejected the query",
        "The portal and this Spacelift may disagree on the API; see the server log.",
    ),
    "NotFound": (
        "Not found in Spacelift",
        "It may have been deleted, or the key cannot see its space.",
    ),
    "TokenNotAccepted": (
        "Spacelift no longer accepts this API key: it may have been revoked or its secret rotated",
        "Create a new API key in Spacelift (Organization settings > API keys) and enter it in "
        "Settings. The portal shows the last data it read until then.",
    ),
}


class SpaceliftError(Exception):
    """Base of every failure talking to Spacelift. `message` is safe to show a user.

    `summary` and `hint` come from WORDS by class name; a class not in it sets its own.
    """

    summary, hint = WORDS["SpaceliftError"]

    def __init_subclass__(cls, **kwargs: object) -> None:
        super().__init_subclass__(**kwargs)
        if cls.__name__ in WORDS:
            cls.summary, cls.hint = WORDS[cls.__name__]

    def __init__(self, message: str = "", *, retry_after: float | None = None) -> None:
        super().__init__(message or self.summary)
        self.message = message or self.summary
        self.retry_after = retry_after


class HTTPStatusError(SpaceliftError):
    def __init__(self, status: int, message: str = "", *, retry_after: float | None = None):
        super().__init__(message or f"Spacelift answered HTTP {status}", retry_after=retry_after)
        self.status = status


class RateLimited(HTTPStatusError):
    """HTTP 429, with the Retry-After Spacelift asked for, if any."""


class NotConfigured(SpaceliftError): ...


class ForbiddenHost(SpaceliftError):
    """Raised before anything is sent: the secret never goes to a metadata address."""


class Unreachable(SpaceliftError): ...


class Timeout(SpaceliftError): ...


class NotJSON(SpaceliftError): ...


class UnknownKeyID(SpaceliftError): ...


class RejectedSecret(SpaceliftError): ...


class Unauthorized(SpaceliftError): ...


class PermissionDenied(SpaceliftError):
    """`unauthorized` for a live token: `viewer` answers, the action or stack is refused."""


class GraphQLError(SpaceliftError): ...


class NotFound(SpaceliftError): ...


class TokenNotAccepted(SpaceliftError):
    """Spacelift answers an unaccepted token with empty lists and nulls, not an error."""


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

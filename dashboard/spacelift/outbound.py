"""Every HTTP request the portal sends out: one deadline, explicit timeouts, errors mapped.

As healthchecks' `hc.lib.curl.request`: the GraphQL exchange (exchange.py), the module
registry (registry.py), and OpenID Connect discovery and keys (accounts/oidc.py) call
`request()`, never requests itself. A page's calls share one deadline, held in a ContextVar
(`deadline()`): however many things a page reads, it waits on the outside once. Work handed to
the read pool carries it, since budget.submit runs it in a copy of the caller's context.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from http.cookiejar import DefaultCookiePolicy
from typing import Any
from urllib.parse import urlsplit

import requests

from . import errors, process_state

# The time.monotonic() by which every call of the current page (or read) must have ended.
_deadline: ContextVar[float | None] = ContextVar("outbound_deadline", default=None)
# One HTTP session per thread (requests' sessions are not thread-safe), for its connection
# pool; read and written only here.
_sessions = threading.local()


@contextmanager
def deadline(at: float) -> Iterator[float]:
    """Every request in this block ends by `at` (a time.monotonic()), or by the earlier
    deadline already in force; yields the one that holds."""
    current = _deadline.get()
    holds = at if current is None else min(current, at)
    token = _deadline.set(holds)
    try:
        yield holds
    finally:
        _deadline.reset(token)


def within(seconds: float) -> Any:
    """`deadline()` `seconds` from now."""
    return deadline(time.monotonic() + seconds)


def deadline_at() -> float | None:
    """The deadline in force (a time.monotonic()), if any."""
    return _deadline.get()


def request(
    method: str,
    url: str,
    *,
    who: str,
    timeout: tuple[float, float],
    headers: dict[str, str] | None = None,
    json: Any = None,
) -> requests.Response:
    """Send one request, bounded by `timeout` (connect, read) and the deadline in force.

    Redirects are never followed (the portal talks to the configured host only). Raises
    errors.Timeout or errors.Unreachable, naming `who` ("the module registry") and never the
    URL's path or query; the status is the caller's to judge (errors.raise_for_status).
    """
    connect, read = timeout
    if (at := _deadline.get()) is not None:
        left = at - time.monotonic()
        if left <= 0:
            raise _timeout(who, timeout[1])
        connect, read = min(connect, left), min(read, left)
    try:
        return _session().request(
            method,
            url,
            headers=headers,
            json=json,
            timeout=(connect, read),
            allow_redirects=False,
        )
    except requests.Timeout:
        raise _timeout(who, timeout[1]) from None
    except requests.RequestException:
        parts = urlsplit(url)
        raise errors.Unreachable(
            f"Could not connect to {who} at {parts.scheme}://{parts.netloc}"
        ) from None


def _timeout(who: str, seconds: float) -> errors.Timeout:
    return errors.Timeout(f"{who[:1].upper()}{who[1:]} did not answer within {seconds:g} seconds")


def _session() -> requests.Session:
    session = getattr(_sessions, "session", None)
    if session is None:
        session = requests.Session()
        # An API client keeps no cookies: nothing one answer sets is sent with the next.
        session.cookies.set_policy(DefaultCookiePolicy(allowed_domains=[]))
        _sessions.session = session
    return session


@process_state.forgets("outbound sessions")
def reset() -> None:
    """Drop this thread's HTTP session (other threads' go with their threads)."""
    session = getattr(_sessions, "session", None)
    if session is not None:
        session.close()
        _sessions.session = None

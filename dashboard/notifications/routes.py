"""Routes: where a notification goes (an Apprise URL) and what it carries (spaces, labels, kinds).

They come from PORTAL_NOTIFY (or PORTAL_NOTIFY_FILE), a JSON list checked at start-up
(checks.py), and from the Notifications page's rows. A route's spaces cover the spaces below
them, as the Access page's rules do (accounts/access.py); a route with no filter gets
everything. A URL holds tokens: it is only ever shown as its scheme and host.
"""

from __future__ import annotations

import ipaddress
import logging
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import lru_cache
from urllib.parse import urlsplit

from django.conf import settings

from dashboard.accounts.access import close_downward
from dashboard.checks import load_json
from dashboard.connection import crypto
from dashboard.spacelift.types import Space, Stack

logger = logging.getLogger(__name__)

# What a route may ask for. "recovered": a stack it was told about needs no one any more.
PROBLEM_KINDS = ("failed", "waiting", "drifted", "stuck")
KINDS = (*PROBLEM_KINDS, "recovered")
KIND_LABELS = {
    "failed": "failed",
    "waiting": "plan waiting for confirmation",
    "drifted": "drifted",
    "stuck": "stuck",
    "recovered": "recovered",
}


class RoutesError(ValueError):
    """PORTAL_NOTIFY (or a route typed on the page) cannot be used; the message says why."""


@dataclass(frozen=True)
class Route:
    """One route, wherever it was configured. `key` names it in the outbox: "env:<name>" or
    "db:<id>", so a message finds its URL when it is sent (and no URL is ever stored twice)."""

    key: str
    name: str
    url: str = field(repr=False)
    spaces: tuple[str, ...] = ()
    labels: tuple[str, ...] = ()
    kinds: tuple[str, ...] = ()
    from_environment: bool = False

    @property
    def shown_url(self) -> str:
        return shown_url(self.url)

    def wants(self, kind: str) -> bool:
        return not self.kinds or kind in self.kinds

    def covers(self, stack: Stack, covered_spaces: frozenset[str] | None) -> bool:
        """Whether `stack` lies in this route's spaces (None: every space) and labels."""
        if covered_spaces is not None and stack.space_id not in covered_spaces:
            return False
        return not self.labels or any(label in stack.labels for label in self.labels)

    def covered_spaces(self, tree: list[Space]) -> frozenset[str] | None:
        """The route's spaces with those below them; None for every space."""
        if not self.spaces or "root" in self.spaces:
            return None
        return close_downward(self.spaces, tree)


def url_problem(url: str) -> str:
    """Why Apprise cannot use `url` (without repeating it); "" when it can."""
    import apprise

    if not url.strip():
        return "the URL is empty"
    with apprise_quiet():
        plugin = apprise.Apprise.instantiate(url.strip(), asset=asset())
    if plugin is None:
        scheme = urlsplit(url.strip()).scheme or "(none)"
        return (
            f"Apprise cannot use a URL of the form {scheme}://… (an unknown service, or a "
            "token or address missing)"
        )
    return ""


class _ThisThreadOnly(logging.Filter):
    """Drops the records of the thread that made it."""

    def __init__(self) -> None:
        super().__init__()
        self.thread = threading.get_ident()

    def filter(self, record: logging.LogRecord) -> bool:
        return record.thread != self.thread


@contextmanager
def apprise_quiet() -> Iterator[None]:
    """Apprise's log records from this thread dropped: a URL it cannot load is logged whole
    ("Could not load Slack URL: slack://…"), tokens and all. Other threads keep theirs."""
    quiet = _ThisThreadOnly()
    apprise_logger = logging.getLogger("apprise")
    apprise_logger.addFilter(quiet)
    try:
        yield
    finally:
        apprise_logger.removeFilter(quiet)


def asset():
    """Apprise's settings for every URL the portal builds: URLs are masked in its logs."""
    import apprise

    return apprise.AppriseAsset(secure_logging=True)


def shown_url(url: str) -> str:
    """A URL as the page may show it: scheme and host, never a path, user or token.

    A host that is neither a domain name, an address nor "localhost" is a token (slack://
    puts one there): it is not shown either.
    """
    try:
        parts = urlsplit(url.strip())
        host = parts.hostname or ""
    except ValueError:
        return "(a URL that cannot be shown)"
    if not _looks_like_a_host(host):
        host = "…"
    return f"{parts.scheme}://{host}" if parts.scheme else "(a URL that cannot be shown)"


def _looks_like_a_host(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return "." in host
    return True


def _names(value, what: str, route: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise RoutesError(f'route "{route}": "{what}" must be a list of strings')
    return tuple(dict.fromkeys(v.strip() for v in value))


def check_kinds(kinds: Iterable[str], route: str) -> None:
    unknown = [kind for kind in kinds if kind not in KINDS]
    if unknown:
        raise RoutesError(
            f'route "{route}": unknown kind "{unknown[0]}" (the kinds are {", ".join(KINDS)})'
        )


def parse_routes(raw: str, *, check_urls: bool = True) -> list[Route]:
    """The routes in `raw` JSON; raises RoutesError naming what is wrong (never the URL)."""
    value = load_json(raw, RoutesError, list, 'a JSON list such as [{"name": "…", "url": "…"}]')
    routes: list[Route] = []
    for position, item in enumerate(value, start=1):
        if not isinstance(item, dict):
            raise RoutesError(f"route {position} is not a JSON object")
        name = item.get("name")
        if not isinstance(name, str) or not name.strip():
            raise RoutesError(f'route {position} has no "name"')
        name = name.strip()
        unknown = sorted(set(item) - {"name", "url", "spaces", "labels", "kinds"})
        if unknown:
            raise RoutesError(f'route "{name}": unknown field "{unknown[0]}"')
        url = item.get("url")
        if not isinstance(url, str):
            raise RoutesError(f'route "{name}" has no "url"')
        if check_urls and (problem := url_problem(url)):
            raise RoutesError(f'route "{name}": {problem}')
        kinds = _names(item.get("kinds"), "kinds", name)
        check_kinds(kinds, name)
        if any(route.name == name for route in routes):
            raise RoutesError(f'two routes are named "{name}"')
        routes.append(
            Route(
                key=f"env:{name}",
                name=name,
                url=url.strip(),
                spaces=_names(item.get("spaces"), "spaces", name),
                labels=_names(item.get("labels"), "labels", name),
                kinds=kinds,
                from_environment=True,
            )
        )
    return routes


@lru_cache(maxsize=4)
def _environment_routes(raw: str) -> tuple[Route, ...]:
    try:
        return tuple(parse_routes(raw, check_urls=False))
    except RoutesError as exc:  # the start-up check stops a bad value; this is a later change
        logger.error("PORTAL_NOTIFY: %s; its routes get nothing until it is fixed", exc)
        return ()


def environment_routes() -> tuple[Route, ...]:
    raw = settings.PORTAL_NOTIFY
    return _environment_routes(raw) if raw.strip() else ()


def saved_routes() -> list[Route]:
    """The Notifications page's routes; one whose URL no longer decrypts is left out (and the
    page says so)."""
    from dashboard.models import NotificationRoute

    routes = []
    for row in NotificationRoute.objects.all():
        try:
            url = row.url()
        except crypto.UndecryptableSecret:
            logger.warning('Notification route "%s": its URL cannot be decrypted', row.name)
            continue
        routes.append(
            Route(
                key=row.key,
                name=row.name,
                url=url,
                spaces=tuple(row.spaces),
                labels=tuple(row.labels),
                kinds=tuple(row.kinds),
            )
        )
    return routes


def all_routes() -> list[Route]:
    return [*environment_routes(), *saved_routes()]


def route_by_key(key: str) -> Route | None:
    for route in all_routes():
        if route.key == key:
            return route
    return None


def forget() -> None:
    _environment_routes.cache_clear()

"""Delivery: the outbox table, sent through Apprise by the lease holder, retried with backoff.

A message is written to the outbox in the same transaction as what it tells (watcher.py), so
nothing is lost across a restart. The lease holder sends what is due, oldest first; a failed
attempt is tried again after a growing delay, and given up once PORTAL_NOTIFY_RETRY_HOURS have
passed since it was written (the Notifications page and /metrics show those). A route that
fails is not tried again in the same round, so a receiver that is down costs one timeout per
round, in the background thread, never in a page.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Callable
from datetime import timedelta
from urllib.parse import parse_qsl, unquote, urlsplit

from django.conf import settings
from django.db.models import Count

from dashboard.models import OutboxMessage
from dashboard.notifications import lease
from dashboard.notifications.routes import Route, apprise_quiet, asset, route_by_key

logger = logging.getLogger(__name__)

# Retries wait 30 s, 1 min, 2 min, ... up to 15 minutes between attempts.
FIRST_RETRY_SECONDS = 30
LONGEST_RETRY_SECONDS = 15 * 60
# Messages one round sends at most: a long outbox drains over several rounds.
PER_ROUND = 50
# The longest one message may take to send, over every service's own timeouts.
SEND_TIMEOUT_SECONDS = 20

Status = OutboxMessage.Status


def send(url: str, title: str, body: str) -> str:
    """Send one message through Apprise; "" when it was delivered, else why not (no URL)."""
    import apprise

    sender = apprise.Apprise(asset=asset())
    with apprise_quiet():
        added = sender.add(url)
    if not added:
        return "Apprise cannot use this route's URL"
    options = {"body": body, "title": title, "body_format": apprise.NotifyFormat.TEXT}
    if "timeout" in inspect.signature(sender.notify).parameters:
        options["timeout"] = SEND_TIMEOUT_SECONDS
    with apprise.LogCapture(level=logging.WARNING, fmt="%(message)s") as captured:
        delivered = bool(sender.notify(**options))
    if delivered:
        return ""
    said = [line for line in captured.getvalue().splitlines() if line.strip()]
    return scrubbed(said[-1] if said else "the receiver did not accept it", url)


def scrubbed(text: str, url: str) -> str:
    """`text` without any part of `url` that may be a secret (user, password, path, query)."""
    try:
        parts = urlsplit(url)
        secrets = [parts.username, parts.password, *unquote(parts.path).split("/")]
        secrets += [value for _, value in parse_qsl(parts.query)]
    except ValueError:
        secrets = []
    for secret in sorted({s for s in secrets if s and len(s) >= 4}, key=len, reverse=True):
        text = text.replace(secret, "…")
    return text[:300]


def backoff(attempts: int) -> float:
    return min(FIRST_RETRY_SECONDS * 2 ** max(0, attempts - 1), LONGEST_RETRY_SECONDS)


def deliver_due(still_holding: Callable[[], bool]) -> int:
    """Send what is due, oldest first; returns how many were delivered."""
    now = lease.now()
    due = list(
        OutboxMessage.objects.filter(status=Status.PENDING, next_attempt_at__lte=now).order_by(
            "created_at", "id"
        )[:PER_ROUND]
    )
    failing: set[str] = set()
    routes: dict[str, Route | None] = {}
    delivered = 0
    for message in due:
        if message.route_key in failing:
            continue
        if not still_holding():
            break
        if message.route_key not in routes:
            routes[message.route_key] = route_by_key(message.route_key)
        route = routes[message.route_key]
        problem = send(route.url, message.title, message.body) if route else "the route is gone"
        moment = lease.now()
        message.attempts += 1
        message.last_attempt_at = moment
        if not problem:
            message.status = Status.SENT
            message.last_error = ""
            delivered += 1
        else:
            failing.add(message.route_key)
            message.last_error = problem
            retry_at = moment + timedelta(seconds=backoff(message.attempts))
            give_up_at = message.created_at + timedelta(hours=settings.PORTAL_NOTIFY_RETRY_HOURS)
            if route is None or retry_at > give_up_at:
                message.status = Status.GIVEN_UP
                logger.warning(
                    'Notification to route "%s" given up after %d attempts: %s',
                    message.route_name,
                    message.attempts,
                    problem,
                )
            else:
                message.next_attempt_at = retry_at
        message.save(
            update_fields=["attempts", "last_attempt_at", "status", "last_error", "next_attempt_at"]
        )
    return delivered


def prune() -> int:
    """Forget delivered and given-up messages older than PORTAL_NOTIFY_KEEP_DAYS."""
    cutoff = lease.now() - timedelta(days=settings.PORTAL_NOTIFY_KEEP_DAYS)
    deleted, _ = OutboxMessage.objects.filter(
        status__in=[Status.SENT, Status.GIVEN_UP], created_at__lt=cutoff
    ).delete()
    return deleted


def tally() -> dict[str, int]:
    """Messages kept, by status (for the page and /metrics)."""
    counted = dict(OutboxMessage.objects.values_list("status").annotate(n=Count("id")).order_by())
    return {status: counted.get(status, 0) for status in Status.values}


class OutboxCollector:
    """/metrics: the outbox by status, given-up messages above all (an alert's subject)."""

    def collect(self):
        from prometheus_client.core import GaugeMetricFamily

        try:
            counted = tally()
        except Exception:  # a scrape must answer even while the database does not
            logger.warning("The outbox could not be counted for /metrics", exc_info=True)
            return
        gauge = GaugeMetricFamily(
            "spacelift_portal_notifications",
            "Notification messages kept, by status (given_up: not delivered within "
            "PORTAL_NOTIFY_RETRY_HOURS).",
            labels=["status"],
        )
        for status, count in counted.items():
            gauge.add_metric([status], count)
        yield gauge

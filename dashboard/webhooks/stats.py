"""What the receiver saw, counted in the shared cache: one number per outcome, no log line each.

The settings page shows them (last valid delivery, refusals) and /metrics exports them as
`spacelift_portal_webhook_deliveries_total{outcome}`. Counters live in the shared cache so every
process and replica adds to the same numbers (per process while Redis is away).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum

from prometheus_client.core import CounterMetricFamily, Metric

from dashboard.spacelift.clock import clock
from dashboard.spacelift.shared_cache import shared_cache


class Outcome(StrEnum):
    ACCEPTED = "accepted"  # signed and JSON: answered 202, re-read after the response
    REFUSED = "refused"  # missing, empty or wrong signature: 401
    NOT_JSON = "not_json"  # signed, but not a JSON object: 400
    OTHER_ACCOUNT = "other_account"  # for an account other than the connected one: ignored
    DUPLICATE = "duplicate"  # a (run, stateVersion) already seen, or older: ignored
    DROPPED = "dropped"  # more stacks waiting than the re-reader holds: the list is re-read


_KEY = "webhooks:count:"
_LAST_VALID = "webhooks:last-valid-at"


def count(outcome: Outcome) -> None:
    shared_cache.incr(_KEY + outcome.value)


def note_valid_delivery() -> None:
    count(Outcome.ACCEPTED)
    shared_cache.set(_LAST_VALID, clock(), timeout=None)


@dataclass(frozen=True)
class WebhookStats:
    counts: dict[Outcome, int]
    last_valid_at: datetime | None

    @property
    def refused(self) -> int:
        return self.counts[Outcome.REFUSED]


def current() -> WebhookStats:
    counts = {outcome: int(shared_cache.get(_KEY + outcome.value) or 0) for outcome in Outcome}
    at = shared_cache.get(_LAST_VALID)
    return WebhookStats(counts, datetime.fromtimestamp(at, tz=UTC) if at else None)


def reset() -> None:
    shared_cache.delete_many([_KEY + outcome.value for outcome in Outcome] + [_LAST_VALID])


class WebhookCollector:
    """The counters for /metrics (dashboard/stacks/metrics.py renders them beside the stacks)."""

    def collect(self) -> Iterator[Metric]:
        stats = current()
        family = CounterMetricFamily(
            "spacelift_portal_webhook_deliveries",
            "Webhook deliveries received from Spacelift, by what became of them.",
            labels=["outcome"],
        )
        for outcome, value in stats.counts.items():
            family.add_metric([outcome.value], value)
        yield family

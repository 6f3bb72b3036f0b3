"""/metrics: the cached stack list as Prometheus metrics, built with prometheus_client.

The collector reads the snapshot the overview already holds, so a scrape never costs
Spacelift a query of its own, and prometheus_client writes the text format (escaping,
newlines, HELP and TYPE lines) so no hand-made string can break a scraper.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from prometheus_client.core import CollectorRegistry, GaugeMetricFamily, Metric
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4, generate_latest

from dashboard.spacelift.service import Snapshot
from dashboard.spacelift.types import Health, Stack

# The classic text format: what every Prometheus 2.x and 3.x scraper reads.
CONTENT_TYPE = CONTENT_TYPE_PLAIN_0_0_4


class SnapshotCollector:
    """Metrics of one stack snapshot (None: no connection is configured)."""

    def __init__(self, snapshot: Snapshot[list[Stack]] | None) -> None:
        self.snapshot = snapshot

    def collect(self) -> Iterator[Metric]:
        snapshot = self.snapshot
        up = GaugeMetricFamily(
            "spacelift_portal_up", "1 when the portal has current data from Spacelift."
        )
        up.add_metric([], 0 if snapshot is None or snapshot.problem else 1)
        yield up
        if snapshot is None:
            return
        if snapshot.fetched_at:
            age = GaugeMetricFamily(
                "spacelift_portal_data_age_seconds", "Seconds since Spacelift was last read."
            )
            age.add_metric([], (datetime.now(tz=UTC) - snapshot.fetched_at).total_seconds())
            yield age
        if snapshot.data is None:
            return
        by_health = GaugeMetricFamily(
            "spacelift_portal_stacks", "Stacks by health.", labels=["health"]
        )
        counts = dict.fromkeys(Health, 0)
        for stack in snapshot.data:
            counts[stack.health] += 1
        for health, count in counts.items():
            by_health.add_metric([health.value], count)
        yield by_health
        states = GaugeMetricFamily(
            "spacelift_stack_state",
            "1 for each stack, labelled with its current state.",
            labels=["stack", "name", "space", "state", "health"],
        )
        for s in snapshot.data:
            states.add_metric([s.id, s.name, s.space_name, s.state_raw, s.health.value], 1)
        yield states


def render(snapshot: Snapshot[list[Stack]] | None, *others: Any) -> bytes:
    """The Prometheus text exposition of `snapshot`, and of any other collectors given."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(SnapshotCollector(snapshot))
    for collector in others:
        registry.register(collector)
    return generate_latest(registry)

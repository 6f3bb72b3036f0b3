"""What changed: the stack states the portal observes, kept for PORTAL_HISTORY_DAYS.

Each new version of the stack list is compared with the last states seen, once per version
(guarded in the shared cache, so one process and one viewer do it), and the differences are
stored. The overview shows them as "since you last looked" and as a 24-hour strip per stack.

These are the only writes on the read path, and neither may fail a page: a database that is
busy or away costs a log line and, at worst, one version's changes or one visit's mark.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.db import DatabaseError, transaction
from django.db.models import Case, Count, Max, OuterRef, Q, QuerySet, Subquery, Value, When

from dashboard.models import LastSeenState, LastVisit, StackStateChange
from dashboard.spacelift.clock import clock
from dashboard.spacelift.service import Snapshot
from dashboard.spacelift.shared_cache import shared_cache
from dashboard.spacelift.types import STACK_HEALTH, Health, Stack, StackState, state_label

STRIP_HOURS = 24
# Purging old history is cheap but needless on every change: at most once an hour.
PURGE_EVERY_SECONDS = 3600
# A person's last visit is written at most this often: a reload or a second tab writes nothing.
VISIT_WRITE_SECONDS = 60

logger = logging.getLogger(__name__)


def record_changes(fingerprint: str, snapshot: Snapshot[list[Stack]]) -> int:
    """Store the state changes in `snapshot` since the last one recorded; returns how many.

    Once per version of the data, whoever views it; never raises for a database error.
    """
    if not snapshot.ok or snapshot.data is None:
        return 0
    # Per version and read: a list that returns to an earlier version (FAILED, FINISHED, FAILED)
    # is a change too.
    read_at = snapshot.fetched_at.timestamp() if snapshot.fetched_at else 0
    guard = f"history:{fingerprint}:{snapshot.version}:{read_at}"
    if not shared_cache.add(guard, 1, timeout=24 * 3600):
        return 0
    try:
        return _record(fingerprint, snapshot.data)
    except DatabaseError as exc:
        logger.warning("Observed changes not recorded (%s); the next version catches up", exc)
        return 0


def _record(fingerprint: str, stacks: list[Stack]) -> int:
    now = datetime.fromtimestamp(clock(), tz=UTC)
    current = {stack.id: stack for stack in stacks}
    last = dict(
        LastSeenState.objects.filter(connection=fingerprint).values_list("stack_id", "state")
    )
    changed = [s for s in current.values() if last.get(s.id) != s.state_raw]
    with transaction.atomic():
        if last:  # the very first look is a baseline, not a change
            StackStateChange.objects.bulk_create(
                StackStateChange(
                    connection=fingerprint,
                    stack_id=stack.id,
                    from_state=last.get(stack.id, ""),
                    to_state=stack.state_raw,
                    observed_at=now,
                )
                for stack in changed
            )
        LastSeenState.objects.bulk_create(
            [LastSeenState(connection=fingerprint, stack_id=s.id, state=s.state_raw)
             for s in changed],
            update_conflicts=True,
            unique_fields=["connection", "stack_id"],
            update_fields=["state"],
        )  # fmt: skip
    if shared_cache.add("history:purge", 1, timeout=PURGE_EVERY_SECONDS):
        cutoff = now - timedelta(days=settings.PORTAL_HISTORY_DAYS)
        StackStateChange.objects.filter(observed_at__lt=cutoff).delete()
    return len(changed) if last else 0


@dataclass(frozen=True)
class NetChange:
    """One stack's change since a look: where it was, where it is, and what happened between."""

    stack_id: str
    from_state: str  # "" when the portal first saw the stack during this time
    to_state: str
    observed_at: datetime  # of the latest change
    changes: int
    failed_between: bool  # it passed through FAILED on the way, and is not FAILED now

    @property
    def failed(self) -> bool:
        return self.to_state == StackState.FAILED


@dataclass(frozen=True)
class SinceLastLook:
    seen_at: datetime | None
    changes: list[NetChange]  # one per stack, newest failures first
    total: int  # stacks that changed

    def only(self, stack_ids: set[str], limit: int | None = None) -> SinceLastLook:
        """The same look, limited to the stacks a filtered overview shows (and `limit`)."""
        changes = [change for change in self.changes if change.stack_id in stack_ids]
        return SinceLastLook(self.seen_at, changes[:limit], len(changes))


def net_changes(found: QuerySet[StackStateChange], limit: int) -> tuple[list[NetChange], int]:
    """The changes in `found` as one net change per stack, and how many stacks changed.

    Stacks that are failing now come first, then those that failed on the way, each newest
    first, then the rest newest first. Counted and ordered in the database, so a look after
    a week away reads `limit` stacks, not every change.
    """
    per_stack = found.filter(stack_id=OuterRef("stack_id"))
    last_to = per_stack.order_by("-observed_at", "-id").values("to_state")[:1]
    first_from = per_stack.order_by("observed_at", "id").values("from_state")[:1]
    failed = StackState.FAILED.value
    grouped = (
        found.order_by()
        .values("stack_id")
        .annotate(
            last_at=Max("observed_at"),
            n=Count("id"),
            failures=Count("id", filter=Q(to_state=failed)),
        )
    )
    total = grouped.count()
    rows = (
        grouped.annotate(to=Subquery(last_to), start=Subquery(first_from))
        .annotate(
            rank=Case(
                When(to=failed, then=Value(0)),
                When(failures__gt=0, then=Value(1)),
                default=Value(2),
            )
        )
        .order_by("rank", "-last_at", "stack_id")[:limit]
    )
    changes = [
        NetChange(
            stack_id=row["stack_id"],
            from_state=row["start"] or "",
            to_state=row["to"],
            observed_at=row["last_at"],
            changes=row["n"],
            failed_between=row["failures"] > 0 and row["to"] != failed,
        )
        for row in rows
    ]
    return changes, total


def since_last_look(user, fingerprint: str, *, limit: int = 30) -> SinceLastLook:
    """The net change of each stack since this user last opened the overview; then remember
    this visit.

    Best-effort: the visit is written at most once a minute per person, and a database that
    cannot take the write costs a log line, not the page.
    """
    now = datetime.fromtimestamp(clock(), tz=UTC)
    visit = LastVisit.objects.filter(user=user).first()
    changes: list[NetChange] = []
    total = 0
    if visit is not None:
        found = StackStateChange.objects.filter(
            connection=fingerprint, observed_at__gt=visit.seen_at
        )
        changes, total = net_changes(found, limit)
    if visit is None or (now - visit.seen_at).total_seconds() >= VISIT_WRITE_SECONDS:
        try:
            LastVisit.objects.update_or_create(user=user, defaults={"seen_at": now})
        except DatabaseError as exc:
            logger.warning("Last visit of user %s not recorded (%s)", user.pk, exc)
    return SinceLastLook(visit.seen_at if visit else None, changes, total)


@dataclass(frozen=True)
class Segment:
    health: str
    state: str
    hours: int

    @property
    def label(self) -> str:
        """What the segment's tooltip calls its state, as the chips say it."""
        return state_label(self.state) if self.state else "Not known: before the portal watched"


def strips(fingerprint: str, stacks: list[Stack]) -> dict[str, list[Segment]]:
    """Each stack's last 24 hours as segments of hourly states, oldest first."""
    now = datetime.fromtimestamp(clock(), tz=UTC)
    start = now - timedelta(hours=STRIP_HOURS)
    changes: dict[str, list[StackStateChange]] = {}
    rows = StackStateChange.objects.filter(
        connection=fingerprint, stack_id__in=[s.id for s in stacks], observed_at__gte=start
    ).order_by("observed_at")
    for change in rows:
        changes.setdefault(change.stack_id, []).append(change)
    result = {}
    for stack in stacks:
        seen = changes.get(stack.id, [])
        hours = []
        for hour in range(STRIP_HOURS):
            end = start + timedelta(hours=hour + 1)
            hours.append(_state_at(end, seen, stack.state_raw, stack.state_set_at))
        result[stack.id] = _segments(hours)
    return result


# An hour nobody saw: before the portal watched, and before Spacelift's own stateSetAt.
NOT_WATCHED = ""


def _state_at(
    moment: datetime,
    changes: list[StackStateChange],
    current: str,
    current_since: datetime | None,
) -> str:
    """The state at `moment`, from what the portal observed or from Spacelift's stateSetAt;
    NOT_WATCHED when neither tells (the state before a first observed change is not known
    to have lasted: it may have begun a minute before the portal looked)."""
    before = [c for c in changes if c.observed_at <= moment]
    if before:
        return before[-1].to_state
    if current_since is not None and current_since <= moment:
        return current
    return NOT_WATCHED


def _segments(hours: list[str]) -> list[Segment]:
    segments: list[Segment] = []
    for state in hours:
        if state == NOT_WATCHED:
            health = "unwatched"
        else:
            health = STACK_HEALTH.get(StackState.parse(state), Health.UNKNOWN).value
        if segments and segments[-1].state == state:
            last = segments[-1]
            segments[-1] = Segment(last.health, last.state, last.hours + 1)
        else:
            segments.append(Segment(health, state, 1))
    return segments

"""What is news: each stack's problems now, against what was last told, and the digest of them.

A stack's problems are the "Needs a human" kinds (stacks/query.py's attention queue): failed,
waiting (a plan past its grace), drifted, stuck. A kind a stack did not have when last told is
news; a stack that had some and now has none has recovered. All the news of one look goes to a
route as one message: counts, then per stack what it is, why, and links to it.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.urls import reverse

from dashboard.notifications.routes import KIND_LABELS, PROBLEM_KINDS, Route
from dashboard.spacelift.account import Connection
from dashboard.spacelift.types import Stack
from dashboard.stacks.query import attention_queue

# The attention queue's kinds as a route names them ("locked" is not sent: someone chose it).
KIND_OF_ATTENTION = {
    "failed": "failed",
    "unconfirmed": "waiting",
    "drifted": "drifted",
    "stuck": "stuck",
}
# Stacks listed in one message; past it, a count and a link to the overview. A digest stays
# readable in a chat window and below every receiver's size limit.
STACKS_PER_MESSAGE = 25

Problems = dict[str, dict[str, str]]  # stack ID -> {kind: reason}


@dataclass(frozen=True)
class Change:
    stack: Stack
    kind: str  # one of PROBLEM_KINDS, or "recovered"
    reason: str
    was: tuple[str, ...] = ()  # for "recovered": the kinds it had

    def for_route(self, route: Route) -> bool:
        if self.kind != "recovered":
            return route.wants(self.kind)
        # A recovery goes where the problem went.
        return route.wants("recovered") and any(route.wants(kind) for kind in self.was)


def problems_of(stacks: list[Stack], now: datetime) -> Problems:
    stuck_after = timedelta(minutes=settings.PORTAL_STUCK_MINUTES)
    found: Problems = {}
    for item in attention_queue(stacks, stuck_after=stuck_after, now=now):
        kind = KIND_OF_ATTENTION.get(item.kind)
        if kind is not None:
            found.setdefault(item.stack.id, {})[kind] = item.reason
    return found


def news(previous: dict[str, list[str]], current: Problems, stacks: list[Stack]) -> list[Change]:
    """The changes from `previous` (what was told) to `current`, worst kind first."""
    changes = []
    for stack in stacks:
        had = set(previous.get(stack.id, ()))
        has = current.get(stack.id, {})
        for kind in PROBLEM_KINDS:
            if kind in has and kind not in had:
                changes.append(Change(stack, kind, has[kind]))
        if had and not has:
            was = tuple(kind for kind in PROBLEM_KINDS if kind in had)
            changes.append(Change(stack, "recovered", "Needs no one any more", was))
    return ordered(changes)


def everything_wrong(current: Problems, stacks: list[Stack]) -> list[Change]:
    """The first look's summary: every problem there is now."""
    return news({}, current, stacks)


def ordered(changes: list[Change]) -> list[Change]:
    order = (*PROBLEM_KINDS, "recovered")
    return sorted(changes, key=lambda c: (order.index(c.kind), c.stack.name.lower()))


def counts(changes: list[Change]) -> str:
    counted = Counter(change.kind for change in changes)
    order = (*PROBLEM_KINDS, "recovered")
    return ", ".join(f"{counted[kind]} {KIND_LABELS[kind]}" for kind in order if counted[kind])


def portal_link(path: str) -> str:
    """An absolute link at PORTAL_BASE_URL; the path alone without it (a system check warns)."""
    return settings.PORTAL_BASE_URL.rstrip("/") + path


def digest(changes: list[Change], connection: Connection, *, summary: bool) -> tuple[str, str]:
    """The title and plain-text body of one message with `changes`."""
    stacks = len({change.stack.id for change in changes})
    if summary:
        title = f"Spacelift Portal is watching: {stacks} stack{'s' if stacks != 1 else ''} "
        title += "need a human" if stacks != 1 else "needs a human"
    else:
        title = f"Spacelift: {counts(changes)}"
    lines = [f"{counts(changes)}." if not summary else f"Already wrong: {counts(changes)}."]
    for change in changes[:STACKS_PER_MESSAGE]:
        stack = change.stack
        space = f" in {stack.space_name}" if stack.space_name else ""
        lines += [
            "",
            f"{KIND_LABELS[change.kind].upper()}: {stack.name}{space}",
            f"  Why: {change.reason}",
            "  Portal: " + portal_link(reverse("dashboard:stack", args=[stack.id])),
            f"  Spacelift: {connection.stack_url(stack.id)}",
        ]
    if len(changes) > STACKS_PER_MESSAGE:
        more = len(changes) - STACKS_PER_MESSAGE
        lines += ["", f"And {more} more: " + portal_link(reverse("dashboard:overview"))]
    return title[:250], "\n".join(lines)

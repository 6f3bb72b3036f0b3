"""Spacelift's enums, and how the portal groups their states into `Health`.

Spacelift adds enum values over time (READY arrived in 2026), so every enum here has UNKNOWN,
and the raw value is kept beside it so a page can still show what Spacelift said.
See docs/spacelift-api.md, "Enums".
"""

from __future__ import annotations

import enum
from typing import Any


class _TolerantEnum(enum.StrEnum):
    @classmethod
    def parse(cls, value: Any):
        try:
            return cls(str(value).upper())
        except ValueError:
            return cls.UNKNOWN


class StackState(_TolerantEnum):
    APPLYING = "APPLYING"
    CONFIRMED = "CONFIRMED"
    DESTROYING = "DESTROYING"
    DISCARDED = "DISCARDED"
    FAILED = "FAILED"
    FINISHED = "FINISHED"
    INITIALIZING = "INITIALIZING"
    NONE = "NONE"
    PLANNING = "PLANNING"
    PREPARING = "PREPARING"
    PREPARING_APPLY = "PREPARING_APPLY"
    PREPARING_REPLAN = "PREPARING_REPLAN"
    READY = "READY"
    REPLAN_REQUESTED = "REPLAN_REQUESTED"
    STOPPED = "STOPPED"
    UNCONFIRMED = "UNCONFIRMED"
    UNKNOWN = "UNKNOWN"


class RunState(_TolerantEnum):
    QUEUED = "QUEUED"
    CANCELED = "CANCELED"
    INITIALIZING = "INITIALIZING"
    PLANNING = "PLANNING"
    FAILED = "FAILED"
    FINISHED = "FINISHED"
    UNCONFIRMED = "UNCONFIRMED"
    DISCARDED = "DISCARDED"
    CONFIRMED = "CONFIRMED"
    APPLYING = "APPLYING"
    PERFORMING = "PERFORMING"
    STOPPED = "STOPPED"
    DESTROYING = "DESTROYING"
    PREPARING = "PREPARING"
    PREPARING_APPLY = "PREPARING_APPLY"
    SKIPPED = "SKIPPED"
    REPLAN_REQUESTED = "REPLAN_REQUESTED"
    PENDING = "PENDING"
    READY = "READY"
    PREPARING_REPLAN = "PREPARING_REPLAN"
    PENDING_REVIEW = "PENDING_REVIEW"
    UNKNOWN = "UNKNOWN"

    @property
    def is_terminal(self) -> bool:
        return self in TERMINAL_RUN_STATES


TERMINAL_RUN_STATES = frozenset(
    {
        RunState.CANCELED,
        RunState.FAILED,
        RunState.FINISHED,
        RunState.DISCARDED,
        RunState.STOPPED,
        RunState.SKIPPED,
    }
)


class RunType(_TolerantEnum):
    PROPOSED = "PROPOSED"
    TRACKED = "TRACKED"
    TASK = "TASK"
    TESTING = "TESTING"
    DESTROY = "DESTROY"
    PARSE = "PARSE"
    UNKNOWN = "UNKNOWN"


class Health(enum.StrEnum):
    """How the overview groups stacks. Order is the order of the summary counts."""

    HEALTHY = "healthy"
    FAILING = "failing"
    NEEDS_ATTENTION = "needs_attention"
    IN_PROGRESS = "in_progress"
    WAITING = "waiting"
    NEVER_RUN = "never_run"
    UNKNOWN = "unknown"

    @property
    def label(self) -> str:
        return HEALTH_LABELS[self]


HEALTH_LABELS = {
    Health.HEALTHY: "Healthy",
    Health.FAILING: "Failing",
    # Not "needs attention": the overview's "Needs a human" queue counts more than these.
    Health.NEEDS_ATTENTION: "Stopped or unconfirmed",
    Health.IN_PROGRESS: "In progress",
    Health.WAITING: "Waiting",
    Health.NEVER_RUN: "Never run",
    Health.UNKNOWN: "Unknown state",
}

# Spacelift's own list puts UNCONFIRMED under "Needs attention" and leaves DISCARDED, STOPPED,
# READY and PREPARING in no tab. We place them: a discarded or stopped tracked run means the
# stack's code and its infrastructure disagree, which a human should look at; READY waits for a
# worker and REPLAN_REQUESTED for the scheduler, so both are "waiting"; CONFIRMED is about to
# apply, so it is "in progress".
STACK_HEALTH = {
    StackState.FINISHED: Health.HEALTHY,
    StackState.FAILED: Health.FAILING,
    StackState.UNCONFIRMED: Health.NEEDS_ATTENTION,
    StackState.DISCARDED: Health.NEEDS_ATTENTION,
    StackState.STOPPED: Health.NEEDS_ATTENTION,
    StackState.APPLYING: Health.IN_PROGRESS,
    StackState.CONFIRMED: Health.IN_PROGRESS,
    StackState.DESTROYING: Health.IN_PROGRESS,
    StackState.INITIALIZING: Health.IN_PROGRESS,
    StackState.PLANNING: Health.IN_PROGRESS,
    StackState.PREPARING: Health.IN_PROGRESS,
    StackState.PREPARING_APPLY: Health.IN_PROGRESS,
    StackState.PREPARING_REPLAN: Health.IN_PROGRESS,
    StackState.READY: Health.WAITING,
    StackState.REPLAN_REQUESTED: Health.WAITING,
    StackState.NONE: Health.NEVER_RUN,
}

RUN_HEALTH = {
    RunState.FINISHED: Health.HEALTHY,
    RunState.SKIPPED: Health.HEALTHY,
    RunState.FAILED: Health.FAILING,
    RunState.UNCONFIRMED: Health.NEEDS_ATTENTION,
    RunState.PENDING_REVIEW: Health.NEEDS_ATTENTION,
    RunState.DISCARDED: Health.NEEDS_ATTENTION,
    RunState.STOPPED: Health.NEEDS_ATTENTION,
    RunState.CANCELED: Health.NEVER_RUN,
    RunState.QUEUED: Health.WAITING,
    RunState.READY: Health.WAITING,
    RunState.PENDING: Health.WAITING,
    RunState.REPLAN_REQUESTED: Health.WAITING,
}


def run_health(state: RunState) -> Health:
    if state is RunState.UNKNOWN:
        return Health.UNKNOWN
    return RUN_HEALTH.get(state, Health.IN_PROGRESS)


# Where Spacelift's word, made plain, would mislead: a stack in NONE has never run.
STATE_LABELS = {"NONE": "Never run"}


def state_label(raw: str) -> str:
    """`PREPARING_APPLY` -> `Preparing apply`; what a chip says in plain words."""
    if not raw:
        return "Unknown"
    return STATE_LABELS.get(raw.upper()) or raw.replace("_", " ").capitalize()

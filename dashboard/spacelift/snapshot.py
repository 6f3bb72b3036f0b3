"""What the service hands views: data with its version and freshness, and why it is stale.

Failures are kept in the cache as plain data (exceptions with extra arguments do not survive
pickling); these helpers turn them into the `Problem` a page shows.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Generic, TypeVar

from . import errors
from .clock import clock

T = TypeVar("T")


@dataclass(frozen=True)
class Problem:
    """Why the data shown is stale (or missing), in words for the person looking at it."""

    summary: str
    detail: str
    hint: str
    since: datetime
    retry_after: float


@dataclass(frozen=True)
class Snapshot(Generic[T]):
    """What a view gets: data (None when there never was any), its version and freshness."""

    data: T | None
    version: str
    fetched_at: datetime | None
    problem: Problem | None = None

    @property
    def stale(self) -> bool:
        return self.problem is not None and self.data is not None

    @property
    def ok(self) -> bool:
        return self.problem is None


def problem_from(failure: dict[str, Any]) -> Problem:
    return Problem(
        **failure["error"],
        since=datetime.fromtimestamp(failure["since"], tz=UTC),
        retry_after=max(0.0, failure["retry_at"] - clock()),
    )


def timeout_failure(seconds: float) -> dict[str, Any]:
    now = clock()
    error = errors.Timeout(f"Spacelift did not answer within {seconds:g} seconds")
    return {"since": now, "retry_at": now, "error": error_fields(error)}


def busy_failure() -> dict[str, Any]:
    """Every permit is held by requests waiting on a slow Spacelift: answer without waiting."""
    now = clock()
    error = errors.Timeout(
        "Spacelift is slow to answer and the portal is already waiting on it for other pages"
    )
    return {"since": now, "retry_at": now, "error": error_fields(error)}


def in_flight_failure() -> dict[str, Any]:
    """Another request is reading this right now, and every permit to wait for it is taken."""
    now = clock()
    error = {
        "summary": "Still reading from Spacelift",
        "detail": "Another request is reading this from Spacelift right now.",
        "hint": "This page refreshes by itself.",
    }
    return {"since": now, "retry_at": now, "error": error}


def error_fields(exc: errors.SpaceliftError) -> dict[str, str]:
    """An error as plain data: exceptions with extra arguments do not survive pickling."""
    return {"summary": exc.summary, "detail": exc.message, "hint": exc.hint}

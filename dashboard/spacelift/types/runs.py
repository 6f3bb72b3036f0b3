"""Runs of a stack: their state history and what their plan would change."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from .stacks import Commit
from .states import Health, RunState, RunType, run_health, state_label
from .wire import _fields, _optional_bool, _str, _timestamp


@dataclass(frozen=True, slots=True)
class Delta:
    add: int = 0
    change: int = 0
    delete: int = 0
    resources: int = 0

    @classmethod
    def from_api(cls, data: dict[str, Any] | None) -> Delta | None:
        if not data:
            return None
        return cls(
            add=int(data.get("addCount") or 0),
            change=int(data.get("changeCount") or 0),
            delete=int(data.get("deleteCount") or 0),
            resources=int(data.get("resources") or 0),
        )


@dataclass(frozen=True, slots=True)
class StateTransition:
    state: RunState
    state_raw: str
    timestamp: datetime | None
    username: str = ""
    note: str = ""
    terminal: bool = False


@dataclass(frozen=True, slots=True)
class Run:
    id: str
    state: RunState
    state_raw: str
    type: RunType
    type_raw: str
    title: str = ""
    branch: str = ""
    triggered_by: str = ""
    created_at: datetime | None = None
    updated_at: datetime | None = None
    finished: bool | None = None  # None: the API has no Run.finished
    drift_detection: bool = False
    commit: Commit | None = None
    delta: Delta | None = None
    history: tuple[StateTransition, ...] = field(default_factory=tuple)

    @property
    def health(self) -> Health:
        return run_health(self.state)

    @property
    def state_label(self) -> str:
        return state_label(self.state_raw)

    @property
    def type_label(self) -> str:
        return state_label(self.type_raw)

    @property
    def duration_seconds(self) -> float | None:
        """From creation to the last transition (or the last update) for a finished run."""
        if not self.created_at:
            return None
        ends = [t.timestamp for t in self.history if t.timestamp]
        end = max(ends) if ends else self.updated_at
        if not self.finished and not self.state.is_terminal:
            end = datetime.now(tz=UTC)
        if not end:
            return None
        return max(0.0, (end - self.created_at).total_seconds())

    @classmethod
    def from_api(cls, data: dict[str, Any]) -> Run:
        state_raw = _str(data.get("state")) or "UNKNOWN"
        type_raw = _str(data.get("type")) or "UNKNOWN"
        history = tuple(
            StateTransition(
                **_fields(h, _str, "username", "note"),
                state=RunState.parse(h.get("state")),
                state_raw=_str(h.get("state")),
                timestamp=_timestamp(h.get("timestamp")),
                terminal=bool(h.get("terminal")),
            )
            for h in data.get("history") or ()
        )
        return cls(
            **_fields(data, _str, "id", "title", "branch", "triggered_by"),
            **_fields(data, _timestamp, "created_at", "updated_at"),
            state=RunState.parse(state_raw),
            state_raw=state_raw,
            type=RunType.parse(type_raw),
            type_raw=type_raw,
            finished=_optional_bool(data, "finished"),
            drift_detection=bool(data.get("driftDetection")),
            commit=Commit.from_api(data.get("commit")),
            delta=Delta.from_api(data.get("delta")),
            history=history,
        )

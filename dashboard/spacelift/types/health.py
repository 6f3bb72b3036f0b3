"""A stack's health beside its state: dependencies, drift detection, resources, worker pools."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from .stacks import Named
from .wire import _str, _timestamp


class StackRef(Named):
    """Another stack, as a dependency names it: its ID and name only."""

    __slots__ = ()


@dataclass(frozen=True, slots=True)
class DriftDetection:
    """A stack's drift-detection schedule: cron expressions (the Terraform provider reads
    `schedule` as a list), whether a drift is reconciled, and the next check where known."""

    schedule: tuple[str, ...]
    reconcile: bool
    timezone: str = "UTC"
    next_check: datetime | None = None  # None also where the API has no nextSchedule

    @classmethod
    def from_api(cls, data: dict[str, Any] | None) -> DriftDetection | None:
        if not data or not data.get("schedule"):
            return None  # no integration, or one without a schedule: drift is not checked
        return cls(
            schedule=tuple(str(s) for s in data["schedule"]),
            reconcile=bool(data.get("reconcile")),
            timezone=_str(data.get("timezone")) or "UTC",
            next_check=_timestamp(data.get("nextSchedule")),
        )


@dataclass(frozen=True, slots=True)
class StackHealth:
    """What `dependsOn`, `isDependedOnBy` and `integrations` say of one stack."""

    depends_on: tuple[StackRef, ...]
    needed_by: tuple[StackRef, ...]
    drift_detection: DriftDetection | None

    @classmethod
    def from_api(cls, data: dict[str, Any]) -> StackHealth:
        def refs(edges: Any, side: str) -> tuple[StackRef, ...]:
            found = {}
            for edge in edges or ():
                other = edge.get(side) or {}
                if other.get("id"):
                    found[str(other["id"])] = _str(other.get("name")) or str(other["id"])
            return tuple(StackRef(i, n) for i, n in found.items())

        integrations = data.get("integrations") or {}
        return cls(
            depends_on=refs(data.get("dependsOn"), "dependsOnStack"),
            needed_by=refs(data.get("isDependedOnBy"), "stack"),
            drift_detection=DriftDetection.from_api(integrations.get("driftDetection")),
        )


@dataclass(frozen=True, slots=True)
class Resource:
    """A resource a stack manages (`entities`); `drifted_at` when drift was found in it."""

    id: str
    address: str
    type: str
    name: str
    parent: str = ""
    drifted_at: datetime | None = None
    creator_run: str = ""
    updater_run: str = ""

    @classmethod
    def from_api(cls, data: dict[str, Any]) -> Resource:
        return cls(
            id=_str(data.get("id")),
            address=_str(data.get("address")) or _str(data.get("id")),
            type=_str(data.get("type")) or "unknown",
            name=_str(data.get("name")),
            parent=_str(data.get("parent")),
            drifted_at=_timestamp(data.get("drifted")),
            creator_run=_str((data.get("creator") or {}).get("id")),
            updater_run=_str((data.get("updater") or {}).get("id")),
        )


@dataclass(frozen=True, slots=True)
class PoolLoad:
    """How busy a worker pool is. `readable` False: the key may not read worker pools
    (Spacelift answers a Reader key `unauthorized` there). For Spacelift's public pool,
    `workers` is its parallelism and `drained` is unknown (None)."""

    id: str
    name: str
    pending_runs: int | None = None
    busy_workers: int | None = None
    workers: int | None = None
    drained: int | None = None
    public: bool = False
    readable: bool = True

    @classmethod
    def from_api(cls, data: dict[str, Any]) -> PoolLoad:
        workers = data.get("workers") or ()
        return cls(
            id=_str(data.get("id")),
            name=_str(data.get("name")) or _str(data.get("id")),
            pending_runs=int(data.get("pendingRuns") or 0),
            busy_workers=int(data.get("busyWorkers") or 0),
            workers=len(workers),
            drained=sum(1 for w in workers if w.get("drained")),
        )

    @classmethod
    def public_from_api(cls, data: dict[str, Any] | None) -> PoolLoad:
        data = data or {}

        def number(name: str) -> int | None:
            return int(data[name]) if data.get(name) is not None else None

        return cls(
            id="",
            name="Spacelift's public worker pool",
            pending_runs=number("pendingRuns"),
            busy_workers=number("busyWorkers"),
            workers=number("parallelism"),
            public=True,
        )

    @classmethod
    def unreadable(cls, pool_id: str, name: str) -> PoolLoad:
        return cls(id=pool_id, name=name, public=not pool_id, readable=False)

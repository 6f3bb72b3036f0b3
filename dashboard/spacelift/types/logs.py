"""What the client returns for run logs and plan changes: frozen dataclasses from the wire.

Shapes from spacectl (docs/spacelift-api.md, "Learned since"). Anything unexpected is
tolerated: an unknown change type is kept raw and shown as it came.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .states import RunState, state_label


@dataclass(frozen=True, slots=True)
class Phase:
    """One state a run passed through that wrote a log (`history` with `hasLogs`)."""

    state: RunState
    state_raw: str
    version: int
    ended: bool  # a later transition followed: the log will never change again
    at: float | None = None  # when the run entered this state (Unix s)

    @property
    def label(self) -> str:
        return state_label(self.state_raw)

    @property
    def key(self) -> str:
        return f"{self.state_raw}-{self.version}"


def phases_from_history(history: list[dict[str, Any]]) -> tuple[list[Phase], str | None]:
    """The phases with logs, oldest first, and the state the run ended in (None: moving).

    Spacelift lists history newest first; spacectl walks it backwards.
    """
    ordered = list(reversed(history or ()))
    phases = []
    for index, entry in enumerate(ordered):
        if not entry.get("hasLogs"):
            continue
        raw = str(entry.get("state") or "UNKNOWN")
        try:
            version = int(entry.get("stateVersion") or 0)
        except (TypeError, ValueError):
            version = 0
        try:
            at = float(entry["timestamp"]) if entry.get("timestamp") else None
        except (TypeError, ValueError):
            at = None
        ended = index < len(ordered) - 1
        phases.append(Phase(RunState.parse(raw), raw, version, ended=ended, at=at))
    last = ordered[-1] if ordered else {}
    terminal = str(last.get("state") or "") if last.get("terminal") else None
    return phases, terminal


@dataclass(frozen=True, slots=True)
class LogPage:
    lines: tuple[str, ...]
    exists: bool
    finished: bool
    has_more: bool
    next_token: str | None

    @classmethod
    def from_api(cls, data: dict[str, Any] | None) -> LogPage:
        data = data or {}
        lines: list[str] = []
        for message in data.get("messages") or ():
            text = str((message or {}).get("message") or "")
            # Each message ends with its own newline (spacectl prints them back to back);
            # one may also hold several lines, or carriage returns from progress output.
            text = text[:-1] if text.endswith("\n") else text
            lines.extend(part.rsplit("\r", 1)[-1] for part in text.split("\n"))
        return cls(
            lines=tuple(lines),
            exists=bool(data.get("exists", True)),
            finished=bool(data.get("finished")),
            has_more=bool(data.get("hasMore")),
            next_token=str(data["nextToken"]) if data.get("nextToken") else None,
        )


# The kinds of change, in the order a reviewer reads them. `metadata.type` is undocumented:
# these spellings are the likely ones (Terraform's own words and their past tenses), with
# those of Spacelift's notification-policy input (`added`, `changed`, `deleted`,
# `create-Before-destroy-replaced`, `destroy-Before-create-replaced`, `import`, `forget`:
# concepts/policy/notification-policy.md), compared without regard to case, `-` as `_`; any
# other value becomes its own group under its raw name.
CHANGE_KINDS = {
    "add": ("Add", ("ADD", "ADDED", "CREATE", "CREATED")),
    "import": ("Import", ("IMPORT", "IMPORTED")),
    "change": ("Change", ("CHANGE", "CHANGED", "UPDATE", "UPDATED", "MODIFY", "MODIFIED")),
    "replace": (
        "Replace",
        (
            "REPLACE",
            "REPLACED",
            "RECREATE",
            "DELETE_CREATE",
            "CREATE_DELETE",
            "CREATE_BEFORE_DESTROY_REPLACED",
            "DESTROY_BEFORE_CREATE_REPLACED",
        ),
    ),
    "move": ("Move", ("MOVE", "MOVED")),
    "delete": ("Delete", ("DELETE", "DELETED", "DESTROY", "DESTROYED", "REMOVE", "REMOVED")),
    "forget": ("Forget", ("FORGET", "FORGOTTEN", "FORGET_STATE")),
    "unchanged": ("No change", ("NOOP", "NO_OP", "UNCHANGED", "NONE", "READ")),
}
_KIND_OF = {raw: kind for kind, (_, raws) in CHANGE_KINDS.items() for raw in raws}


@dataclass(frozen=True, slots=True)
class ResourceChange:
    address: str
    previous_address: str
    type_raw: str

    @property
    def kind(self) -> str:
        return _KIND_OF.get(self.type_raw.upper().replace("-", "_"), "other")

    @classmethod
    def from_api(cls, data: dict[str, Any]) -> ResourceChange:
        return cls(
            address=str(data.get("address") or ""),
            previous_address=str(data.get("previousAddress") or ""),
            type_raw=str((data.get("metadata") or {}).get("type") or "UNKNOWN"),
        )


@dataclass(frozen=True, slots=True)
class ChangeGroup:
    kind: str
    label: str
    resources: tuple[ResourceChange, ...]


def group_changes(resources: tuple[ResourceChange, ...]) -> list[ChangeGroup]:
    """Resources that change, grouped by kind in reading order; unknown kinds by raw name."""
    groups: dict[tuple[str, str], list[ResourceChange]] = {}
    for resource in resources:
        if resource.kind == "unchanged":
            continue
        label = CHANGE_KINDS[resource.kind][0] if resource.kind != "other" else resource.type_raw
        groups.setdefault((resource.kind, label), []).append(resource)
    order = [*CHANGE_KINDS, "other"]
    return [
        ChangeGroup(kind, label, tuple(items))
        for (kind, label), items in sorted(groups.items(), key=lambda g: order.index(g[0][0]))
    ]

"""What the Spacelift client returns: frozen dataclasses, built from the wire by `from_api`.

Spacelift adds enum values over time (READY arrived in 2026), so every enum here has UNKNOWN,
and the raw value is kept beside it so a page can still show what Spacelift said.
See docs/spacelift-api.md, "Enums".
"""

from __future__ import annotations

import base64
import enum
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from packaging.version import InvalidVersion, Version


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


def state_label(raw: str) -> str:
    """`PREPARING_APPLY` -> `Preparing apply`; what a chip says in plain words."""
    return raw.replace("_", " ").capitalize() if raw else "Unknown"


def _timestamp(value: Any) -> datetime | None:
    """Spacelift gives Unix seconds; `updatedAt` has been seen in milliseconds."""
    if value in (None, "", 0):
        return None
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        return None
    if seconds > 1e11:  # milliseconds: 1e11 s is the year 5138
        seconds /= 1000
    return datetime.fromtimestamp(seconds, tz=UTC)


def _str(value: Any) -> str:
    return "" if value is None else str(value)


def _optional_bool(data: dict[str, Any], name: str) -> bool | None:
    """None when the answer lacks the field: the API has no such optional field."""
    return bool(data[name]) if name in data else None


def _optional_str(data: dict[str, Any], name: str) -> str | None:
    return _str(data[name]) if name in data else None


@dataclass(frozen=True, slots=True)
class Commit:
    hash: str
    message: str = ""
    author_login: str = ""
    author_name: str = ""
    timestamp: datetime | None = None
    url: str = ""
    tag: str | None = None  # None: the API has no Commit.tag

    @property
    def short_hash(self) -> str:
        return self.hash[:7]

    @property
    def title(self) -> str:
        """The commit message's first line."""
        return self.message.strip().splitlines()[0] if self.message.strip() else ""

    @property
    def author(self) -> str:
        return self.author_name or self.author_login

    @classmethod
    def from_api(cls, data: dict[str, Any] | None) -> Commit | None:
        if not data or not data.get("hash"):
            return None
        return cls(
            hash=_str(data.get("hash")),
            message=_str(data.get("message")),
            author_login=_str(data.get("authorLogin")),
            author_name=_str(data.get("authorName")),
            timestamp=_timestamp(data.get("timestamp")),
            url=_str(data.get("url")),
            tag=_optional_str(data, "tag"),
        )


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
class Space:
    id: str
    name: str
    description: str = ""
    parent_space: str = ""
    access_level: str = ""

    @classmethod
    def from_api(cls, data: dict[str, Any]) -> Space:
        return cls(
            id=_str(data.get("id")),
            name=_str(data.get("name")) or _str(data.get("id")),
            description=_str(data.get("description")),
            parent_space=_str(data.get("parentSpace")),
            access_level=_str(data.get("accessLevel")),
        )


@dataclass(frozen=True, slots=True)
class WorkerPool:
    id: str
    name: str


@dataclass(frozen=True, slots=True)
class Blocker:
    id: str
    state: RunState
    type: RunType
    title: str


@dataclass(frozen=True, slots=True)
class Stack:
    id: str
    name: str
    state: StackState
    state_raw: str
    state_set_at: datetime | None = None
    description: str = ""
    space_id: str = ""
    space_name: str = ""
    branch: str = ""
    repository: str = ""
    namespace: str = ""
    provider: str = ""
    repository_url: str = ""
    project_root: str = ""
    labels: tuple[str, ...] = ()
    administrative: bool = False
    autodeploy: bool = False
    is_disabled: bool = False
    locked_by: str = ""
    locked_at: datetime | None = None
    lock_note: str = ""
    # None: the API has no such optional field (documents.OPTIONAL_FIELDS).
    is_drifted: bool | None = None
    needs_approval: bool | None = None
    created_at: datetime | None = None
    tool: str = ""
    tool_version: str = ""
    worker_pool: WorkerPool | None = None
    tracked_commit: Commit | None = None
    blocker: Blocker | None = None

    @property
    def health(self) -> Health:
        return STACK_HEALTH.get(self.state, Health.UNKNOWN)

    @property
    def state_label(self) -> str:
        return state_label(self.state_raw)

    @property
    def provider_label(self) -> str:
        return PROVIDER_LABELS.get(self.provider, self.provider.replace("_", " ").title())

    @property
    def repository_full_name(self) -> str:
        return f"{self.namespace}/{self.repository}" if self.namespace else self.repository

    @classmethod
    def from_api(cls, data: dict[str, Any]) -> Stack:
        state_raw = _str(data.get("state")) or "UNKNOWN"
        space = data.get("spaceDetails") or {}
        pool = data.get("workerPool")
        blocker = data.get("blocker")
        tool, tool_version = _tool(data)
        return cls(
            id=_str(data.get("id")),
            name=_str(data.get("name")) or _str(data.get("id")),
            state=StackState.parse(state_raw),
            state_raw=state_raw,
            state_set_at=_timestamp(data.get("stateSetAt")),
            description=_str(data.get("description")),
            space_id=_str(data.get("space")) or _str(space.get("id")),
            space_name=_str(space.get("name")) or _str(data.get("space")),
            branch=_str(data.get("branch")),
            repository=_str(data.get("repository")),
            namespace=_str(data.get("namespace")),
            provider=_str(data.get("provider")),
            repository_url=_str(data.get("repositoryURL")),
            project_root=_str(data.get("projectRoot")),
            labels=tuple(str(label) for label in data.get("labels") or ()),
            administrative=bool(data.get("administrative")),
            autodeploy=bool(data.get("autodeploy")),
            is_disabled=bool(data.get("isDisabled")),
            locked_by=_str(data.get("lockedBy")),
            locked_at=_timestamp(data.get("lockedAt")),
            lock_note=_str(data.get("lockNote")),
            is_drifted=_optional_bool(data, "isDrifted"),
            needs_approval=_optional_bool(data, "needsApproval"),
            created_at=_timestamp(data.get("createdAt")),
            tool=tool,
            tool_version=tool_version,
            worker_pool=WorkerPool(_str(pool.get("id")), _str(pool.get("name"))) if pool else None,
            tracked_commit=Commit.from_api(data.get("trackedCommit")),
            blocker=Blocker(
                id=_str(blocker.get("id")),
                state=RunState.parse(blocker.get("state")),
                type=RunType.parse(blocker.get("type")),
                title=_str(blocker.get("title")),
            )
            if blocker
            else None,
        )


PROVIDER_LABELS = {
    "AZURE_DEVOPS": "Azure DevOps",
    "BITBUCKET_DATACENTER": "Bitbucket Data Center",
    "BITBUCKET_CLOUD": "Bitbucket Cloud",
    "GITHUB": "GitHub",
    "GITHUB_ENTERPRISE": "GitHub Enterprise",
    "GITLAB": "GitLab",
    "GIT": "Git",
    "SHOWCASE": "Showcase",
    "SPACELIFT": "Spacelift",
}

# vendorConfig's __typename -> the tool's name as people say it.
VENDOR_TOOLS = {
    "StackConfigVendorTerraform": "Terraform",
    "StackConfigVendorOpenTofu": "OpenTofu",
    "StackConfigVendorTerragrunt": "Terragrunt",
    "StackConfigVendorPulumi": "Pulumi",
    "StackConfigVendorCloudFormation": "CloudFormation",
    "StackConfigVendorKubernetes": "Kubernetes",
    "StackConfigVendorAnsible": "Ansible",
}


def _tool(data: dict[str, Any]) -> tuple[str, str]:
    vendor = data.get("vendorConfig") or {}
    typename = _str(vendor.get("__typename"))
    tool = VENDOR_TOOLS.get(typename, typename.removeprefix("StackConfigVendor"))
    version = _str(
        vendor.get("version")
        or vendor.get("terraformVersion")
        or data.get("effectiveTerraformVersion")
        or data.get("terraformVersion")
    )
    if tool == "Terraform" and vendor.get("workflowTool") == "OPEN_TOFU":
        tool = "OpenTofu"
    return tool, version


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
                state=RunState.parse(h.get("state")),
                state_raw=_str(h.get("state")),
                timestamp=_timestamp(h.get("timestamp")),
                username=_str(h.get("username")),
                note=_str(h.get("note")),
                terminal=bool(h.get("terminal")),
            )
            for h in data.get("history") or ()
        )
        return cls(
            id=_str(data.get("id")),
            state=RunState.parse(state_raw),
            state_raw=state_raw,
            type=RunType.parse(type_raw),
            type_raw=type_raw,
            title=_str(data.get("title")),
            branch=_str(data.get("branch")),
            triggered_by=_str(data.get("triggeredBy")),
            created_at=_timestamp(data.get("createdAt")),
            updated_at=_timestamp(data.get("updatedAt")),
            finished=_optional_bool(data, "finished"),
            drift_detection=bool(data.get("driftDetection")),
            commit=Commit.from_api(data.get("commit")),
            delta=Delta.from_api(data.get("delta")),
            history=history,
        )


class ConfigType(_TolerantEnum):
    ENVIRONMENT_VARIABLE = "ENVIRONMENT_VARIABLE"
    FILE_MOUNT = "FILE_MOUNT"
    UNKNOWN = "UNKNOWN"


@dataclass(frozen=True, slots=True)
class ConfigElement:
    """One environment variable or mounted file of a stack (Stack.config).

    `value` is None for a write-only element: Spacelift sends null then, and should it ever
    send something, it is dropped here so no page can show it.
    """

    id: str
    type: ConfigType
    value: str | None = None
    write_only: bool = False
    description: str = ""
    file_mode: str | None = None  # None: the API has no ConfigElement.fileMode
    runtime: bool = False

    @property
    def is_file(self) -> bool:
        return self.type is ConfigType.FILE_MOUNT

    @property
    def file_text(self) -> str | None:
        """A mounted file's content as text, or None when it is not readable text.

        The Terraform provider documents a mounted file's content as Base64 and reads it from
        this same field, so Base64 that decodes to UTF-8 is shown decoded; anything else as is.
        """
        if self.value is None:
            return None
        try:
            return base64.b64decode(self.value, validate=True).decode("utf-8")
        except ValueError:  # not Base64 (binascii.Error), or not UTF-8 text
            return self.value

    @classmethod
    def from_api(cls, data: dict[str, Any]) -> ConfigElement:
        write_only = bool(data.get("writeOnly"))
        value = data.get("value")
        return cls(
            id=_str(data.get("id")),
            type=ConfigType.parse(data.get("type")),
            value=None if write_only or value is None else str(value),
            write_only=write_only,
            description=_str(data.get("description")),
            file_mode=_optional_str(data, "fileMode"),
            runtime=bool(data.get("runtime")),
        )


@dataclass(frozen=True, slots=True)
class ModuleVersion:
    """One published version of a module, as `module(id) { versions }` gives it."""

    number: str
    id: str = ""
    state: str = ""
    created_at: datetime | None = None
    notes: str = ""
    yanked: bool = False

    @classmethod
    def from_api(cls, data: dict[str, Any]) -> ModuleVersion:
        return cls(
            number=_str(data.get("number")),
            id=_str(data.get("id")),
            state=_str(data.get("state")),
            created_at=_timestamp(data.get("createdAt")),
            notes=_str(data.get("notes")),
            yanked=bool(data.get("yanked")),
        )


@dataclass(frozen=True, slots=True)
class Module:
    """A module of the private registry. `terraform_provider` is the source's last part."""

    id: str
    name: str
    terraform_provider: str = ""
    description: str = ""
    space_id: str = ""
    space_name: str = ""
    labels: tuple[str, ...] = ()
    current: ModuleVersion | None = None  # the version consumers get; None before any

    @classmethod
    def from_api(cls, data: dict[str, Any]) -> Module:
        space = data.get("spaceDetails") or {}
        current = data.get("current")
        return cls(
            id=_str(data.get("id")),
            name=_str(data.get("name")) or _str(data.get("id")),
            terraform_provider=_str(data.get("terraformProvider")),
            description=_str(data.get("description")),
            space_id=_str(data.get("space")) or _str(space.get("id")),
            space_name=_str(space.get("name")),
            labels=tuple(str(label) for label in data.get("labels") or ()),
            current=ModuleVersion.from_api(current) if current else None,
        )


def version_key(version: str) -> tuple[Any, ...]:
    """Orders module versions: 1.10.0 after 1.9.0, and 1.0.0-rc1 before 1.0.0.

    `packaging` reads semantic versions the registry lists (a leading "v", "-rc.2", "-beta.1");
    anything it cannot read sorts before every version, by its text.
    """
    try:
        return (1, Version(version.strip()))
    except InvalidVersion:
        return (0, version)


@dataclass(frozen=True, slots=True)
class ModuleVersions:
    """What the registry lists for one module: its source and versions, newest first.

    An empty list is not "no versions" for sure: Spacelift's registry answers an empty list,
    not a 401, to a token that may not read the module's space.
    """

    source: str
    versions: tuple[str, ...] = ()

    @classmethod
    def from_registry(cls, data: dict[str, Any], source: str) -> ModuleVersions:
        """From the Terraform registry protocol's `{"modules": [{"source", "versions"}]}`."""
        modules = data["modules"]
        if not isinstance(modules, list):
            raise TypeError("modules is not a list")
        if not modules:
            return cls(source=source)
        entry = modules[0]
        found = {
            str(v["version"])
            for v in entry.get("versions") or ()
            if isinstance(v, dict) and v.get("version")
        }
        return cls(
            source=_str(entry.get("source")) or source,
            versions=tuple(sorted(found, key=version_key, reverse=True)),
        )

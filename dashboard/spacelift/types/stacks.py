"""Stacks, what they track (commits) and where they live (spaces, worker pools)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from .states import STACK_HEALTH, Health, RunState, RunType, StackState, state_label
from .wire import _fields, _optional_bool, _optional_str, _str, _timestamp


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
            **_fields(data, _str, "hash", "message", "author_login", "author_name", "url"),
            timestamp=_timestamp(data.get("timestamp")),
            tag=_optional_str(data, "tag"),
        )


@dataclass(frozen=True, slots=True)
class Named:
    """What Spacelift names by ID, with a display name (the ID when it has none)."""

    id: str
    name: str


@dataclass(frozen=True, slots=True)
class Space(Named):
    description: str = ""
    parent_space: str = ""
    access_level: str = ""

    @classmethod
    def from_api(cls, data: dict[str, Any]) -> Space:
        return cls(
            **_fields(data, _str, "id", "description", "parent_space", "access_level"),
            name=_str(data.get("name")) or _str(data.get("id")),
        )


@dataclass(frozen=True, slots=True)
class IdpGroupMapping:
    """An IdP group Spacelift maps to spaces (`managedUserGroups`): the group's name as the
    identity provider sends it, and each space with its access level (READ, WRITE, ADMIN)."""

    id: str
    group_name: str
    access_rules: tuple[tuple[str, str], ...] = ()

    @property
    def spaces(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(space for space, _ in self.access_rules if space))

    @classmethod
    def from_api(cls, data: dict[str, Any]) -> IdpGroupMapping:
        return cls(
            id=_str(data.get("id")),
            group_name=_str(data.get("groupName")),
            access_rules=tuple(
                (_str(rule.get("space")), _str(rule.get("spaceAccessLevel")))
                for rule in data.get("accessRules") or ()
            ),
        )


@dataclass(frozen=True, slots=True)
class Named:
    """Something Spacelift knows by its ID and a person by its name. Each kind is a subclass,
    so each keeps its own name (in pickles, reprs and equality)."""

    id: str
    name: str


class WorkerPool(Named):
    __slots__ = ()


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
    # Whether drift detection is scheduled (the Terraform provider's `integrations`); None:
    # not asked.
    drift_checked: bool | None = None
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
            **_fields(data, _str, "id", "description", "branch", "repository", "namespace"),
            **_fields(data, _str, "provider", "project_root", "locked_by", "lock_note"),
            **_fields(data, _timestamp, "state_set_at", "locked_at", "created_at"),
            **_fields(data, bool, "administrative", "autodeploy", "is_disabled"),
            name=_str(data.get("name")) or _str(data.get("id")),
            state=StackState.parse(state_raw),
            state_raw=state_raw,
            space_id=_str(data.get("space")) or _str(space.get("id")),
            space_name=_str(space.get("name")) or _str(data.get("space")),
            repository_url=_str(data.get("repositoryURL")),
            labels=tuple(str(label) for label in data.get("labels") or ()),
            is_drifted=_optional_bool(data, "isDrifted"),
            needs_approval=_optional_bool(data, "needsApproval"),
            drift_checked=_drift_checked(data),
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


def _drift_checked(data: dict[str, Any]) -> bool | None:
    if "integrations" not in data:
        return None
    detection = (data["integrations"] or {}).get("driftDetection") or {}
    return bool(detection.get("schedule"))


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

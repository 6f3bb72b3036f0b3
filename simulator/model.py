"""The simulated account's records: the enumerations and the dataclasses GraphQL reads.

Attribute names are the snake_case of the GraphQL field names; schema.py maps one onto the
other. A stack's older runs and its details (config, contexts, policies, outputs) are made
the first time they are asked for (generation.py), so a 10,000-stack world builds quickly.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

# Enumerations (docs/spacelift-api.md, "Enums")

STACK_STATES = (
    "APPLYING",
    "CONFIRMED",
    "DESTROYING",
    "DISCARDED",
    "FAILED",
    "FINISHED",
    "INITIALIZING",
    "NONE",
    "PLANNING",
    "PREPARING",
    "PREPARING_APPLY",
    "PREPARING_REPLAN",
    "READY",
    "REPLAN_REQUESTED",
    "STOPPED",
    "UNCONFIRMED",
)
RUN_STATES = (
    "QUEUED",
    "CANCELED",
    "INITIALIZING",
    "PLANNING",
    "FAILED",
    "FINISHED",
    "UNCONFIRMED",
    "DISCARDED",
    "CONFIRMED",
    "APPLYING",
    "PERFORMING",
    "STOPPED",
    "DESTROYING",
    "PREPARING",
    "PREPARING_APPLY",
    "SKIPPED",
    "REPLAN_REQUESTED",
    "PENDING",
    "READY",
    "PREPARING_REPLAN",
    "PENDING_REVIEW",
)
RUN_TYPES = ("PROPOSED", "TRACKED", "TASK", "TESTING", "DESTROY", "PARSE")
TERMINAL_RUN_STATES = frozenset(
    {"CANCELED", "FAILED", "FINISHED", "DISCARDED", "STOPPED", "SKIPPED"}
)
_STACK_STATE_SET = frozenset(STACK_STATES)
# States in which a run writes logs (RunStateTransition.hasLogs).
_STATES_WITH_LOGS = frozenset(
    {
        "PREPARING",
        "INITIALIZING",
        "PLANNING",
        "APPLYING",
        "PERFORMING",
        "DESTROYING",
        "PREPARING_APPLY",
        "PREPARING_REPLAN",
    }
)


class WorldError(Exception):
    """A mutation Spacelift would refuse; the message becomes the GraphQL error."""


@dataclass(slots=True, eq=False)
class Space:
    id: str
    name: str
    description: str | None
    parent_space: str | None
    access_level: str  # NONE, READ, WRITE, ADMIN: what this API key may do there


@dataclass(slots=True, eq=False)
class WorkerPool:
    id: str
    name: str


@dataclass(slots=True, eq=False)
class Commit:
    hash: str
    message: str
    author_login: str | None
    author_name: str
    timestamp: int
    url: str | None
    tag: str | None = None


@dataclass(slots=True, eq=False)
class Delta:
    add_count: int
    change_count: int
    delete_count: int
    resources: int


@dataclass(slots=True, eq=False)
class Transition:
    state: str
    timestamp: int
    state_version: int
    username: str | None = None
    note: str | None = None

    @property
    def has_logs(self) -> bool:
        return self.state in _STATES_WITH_LOGS

    @property
    def terminal(self) -> bool:
        return self.state in TERMINAL_RUN_STATES


@dataclass(slots=True, eq=False)
class Run:
    id: str
    stack: Stack
    type: str
    state: str
    title: str
    branch: str
    triggered_by: str | None
    created_at: int
    updated_at: int
    commit: Commit | None
    delta: Delta | None = None
    drift_detection: bool = False
    transitions: list[Transition] = field(default_factory=list)  # oldest first

    @property
    def finished(self) -> bool:
        return self.state in TERMINAL_RUN_STATES

    @property
    def history(self) -> list[Transition]:
        # Spacelift lists transitions newest first: spacectl walks them backwards
        # ("Unlike the GUI, we go earliest first").
        return self.transitions[::-1]

    @property
    def expired(self) -> bool:
        # A plan left unconfirmed for a week can no longer be applied.
        return self.state == "UNCONFIRMED" and self.updated_at < self.stack.anchor - 7 * 86400

    @property
    def needs_approval(self) -> bool:
        return self.stack.needs_approval and self.state == "UNCONFIRMED"

    @property
    def is_most_recent(self) -> bool:
        runs = self.stack.runs_of_type(self.type)
        return bool(runs) and runs[0] is self

    @property
    def can_retry(self) -> bool:
        """`runRetry` takes a failed run only (spacectl: "Retry a failed run")."""
        return (
            self.state == "FAILED"
            and self.type in ("TRACKED", "PROPOSED")
            and not self.stack.is_disabled
        )

    def transition(
        self, state: str, timestamp: int, username: str | None = None, note: str | None = None
    ) -> None:
        self.transitions.append(
            Transition(state, timestamp, len(self.transitions) + 1, username, note)
        )
        self.state = state
        self.updated_at = timestamp


@dataclass(slots=True, eq=False)
class StackConfigVendorTerraform:
    TYPENAME: ClassVar[str] = "StackConfigVendorTerraform"
    version: str | None
    workspace: str | None
    workflow_tool: str


@dataclass(slots=True, eq=False)
class StackConfigVendorOpenTofu:
    TYPENAME: ClassVar[str] = "StackConfigVendorOpenTofu"
    version: str | None
    workspace: str | None


@dataclass(slots=True, eq=False)
class StackConfigVendorTerragrunt:
    TYPENAME: ClassVar[str] = "StackConfigVendorTerragrunt"
    terraform_version: str
    terragrunt_version: str


@dataclass(slots=True, eq=False)
class StackConfigVendorPulumi:
    TYPENAME: ClassVar[str] = "StackConfigVendorPulumi"
    login_url: str
    stack_name: str


@dataclass(slots=True, eq=False)
class StackConfigVendorCloudFormation:
    TYPENAME: ClassVar[str] = "StackConfigVendorCloudFormation"
    region: str
    stack_name: str


@dataclass(slots=True, eq=False)
class StackConfigVendorKubernetes:
    TYPENAME: ClassVar[str] = "StackConfigVendorKubernetes"
    namespace: str | None
    kubectl_version: str | None


@dataclass(slots=True, eq=False)
class StackConfigVendorAnsible:
    TYPENAME: ClassVar[str] = "StackConfigVendorAnsible"
    playbook: str


@dataclass(slots=True, eq=False)
class ConfigElement:
    id: str
    type: str
    value: str | None
    checksum: str
    description: str | None
    runtime: bool
    write_only: bool
    file_mode: str | None


@dataclass(slots=True, eq=False)
class StackContextAttachment:
    id: str
    context_id: str
    context_name: str
    priority: int


@dataclass(slots=True, eq=False)
class PolicyAttachment:
    id: str
    policy_id: str
    policy_name: str
    policy_type: str


@dataclass(slots=True, eq=False)
class StackOutput:
    id: str
    value: str | None
    sensitive: bool
    description: str | None


@dataclass(slots=True, eq=False)
class StackDetails:
    config: list[ConfigElement]
    attached_contexts: list[StackContextAttachment]
    attached_policies: list[PolicyAttachment]
    outputs: list[StackOutput]


@dataclass(slots=True, eq=False)
class Stack:
    index: int
    id: str
    name: str
    description: str | None
    space_details: Space
    branch: str
    repository: str
    namespace: str
    project_root: str | None
    provider: str
    repository_url: str | None
    labels: list[str]
    vendor: str  # the search key: TERRAFORM, OPENTOFU, PULUMI, ...
    vendor_config: Any
    terraform_version: str | None
    effective_terraform_version: str | None
    runner_image: str | None
    worker_pool: WorkerPool | None
    created_at: int
    anchor: int  # when the world was built: lazily generated runs are older
    seed: str  # seeds what is generated lazily
    component: str = ""
    environment: str = ""
    administrative: bool = False
    autodeploy: bool = False
    autoretry: bool = False
    is_disabled: bool = False
    starred: bool = False
    needs_approval: bool = False
    is_drifted: bool = False
    deleted: bool = False
    deleting: bool = False
    locked_by: str | None = None
    locked_at: int | None = None
    lock_note: str | None = None
    entity_count: int = 0
    tracked_commit: Commit | None = None
    tracked_commit_set_by: str | None = None
    state: str = "NONE"
    state_set_at: int | None = None
    older_tracked_runs: int = 0  # how many the lazy history adds
    tracked: list[Run] = field(default_factory=list)  # newest first
    proposed: list[Run] = field(default_factory=list)
    tasks: list[Run] = field(default_factory=list)
    history_ready: bool = False
    details: StackDetails | None = None

    @property
    def space(self) -> str:
        return self.space_details.id

    @property
    def can_write(self) -> bool:
        return self.space_details.access_level in ("WRITE", "ADMIN")

    @property
    def blocker(self) -> Run | None:
        """The run holding the stack: the oldest unfinished tracked run that left the queue."""
        for run in reversed(self.tracked):
            if run.state not in TERMINAL_RUN_STATES and run.state != "QUEUED":
                return run
        return None

    def ensure_history(self) -> None:
        if not self.history_ready:
            self.history_ready = True
            from .generation import generate_history  # generation builds these records

            generate_history(self)

    def ensure_details(self) -> StackDetails:
        if self.details is None:
            from .generation import generate_details

            self.details = generate_details(self)
        return self.details

    @property
    def config(self) -> list[ConfigElement]:
        return self.ensure_details().config

    @property
    def attached_contexts(self) -> list[StackContextAttachment]:
        return self.ensure_details().attached_contexts

    @property
    def attached_policies(self) -> list[PolicyAttachment]:
        return self.ensure_details().attached_policies

    @property
    def outputs(self) -> list[StackOutput]:
        return self.ensure_details().outputs

    def runs_of_type(self, run_type: str) -> list[Run]:
        self.ensure_history()
        if run_type == "PROPOSED":
            return self.proposed
        if run_type == "TASK":
            return self.tasks
        return self.tracked

    def find_run(self, run_id: str) -> Run | None:
        self.ensure_history()
        for runs in (self.tracked, self.proposed, self.tasks):
            for run in runs:
                if run.id == run_id:
                    return run
        return None

    def refresh_state(self) -> None:
        """Take the state of the latest tracked run that has a stack state (QUEUED has not)."""
        for run in self.tracked:
            if run.state in _STACK_STATE_SET:
                self.state = run.state
                self.state_set_at = run.updated_at
                return
        if not self.history_ready and self.older_tracked_runs:
            self.ensure_history()
            self.refresh_state()
            return
        self.state = "NONE"
        self.state_set_at = self.created_at


@dataclass(slots=True, eq=False)
class Module:
    id: str
    name: str
    description: str | None
    labels: list[str]
    space_details: Space
    repository: str
    branch: str
    namespace: str
    provider: str
    project_root: str | None
    terraform_provider: str
    created_at: int
    administrative: bool = False
    is_disabled: bool = False
    # Published versions, oldest first: served by the registry, not by GraphQL.
    versions: list[str] = field(default_factory=list)

    @property
    def space(self) -> str:
        return self.space_details.id

"""A simulated Spacelift account: spaces, stacks and runs that move with the clock.

Everything is deterministic from a seed and a start time, so a test can rebuild the same
account. Behaviour follows docs/spacelift-api.md:

- a stack's state is the state of its latest tracked run whose state is also a stack state
  (QUEUED is not one: a queued run does not change the stack); NONE means it never ran;
- proposed runs, tasks and drift detection never change a stack's state;
- runs are listed newest first, ten a page, paged with `before` (the last ID received);
- run IDs are ULIDs, so they sort by creation time.

Time moves lazily: `advance(now)` (called before every request) plays every tick of
`step_seconds` that has passed. On each tick, every moving run takes one transition. A few
"active" stacks start a new run (a git push) a few ticks after the last one ended, and a
simulated colleague confirms their plans. Runs started through the API on other stacks
also move, but a plan there waits for `runConfirm` or `runDiscard`.

Older runs, proposed runs, tasks, config, contexts, policies and outputs are generated the
first time a stack is asked for them, from a per-stack seed, so a 10,000-stack world builds
in about a second.

Time and mutations take the world's lock (re-entrant); the server holds it while it
executes a query, so one answer always sees one consistent world.
"""

from __future__ import annotations

import base64
import binascii
import fnmatch
import hashlib
import random
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

# ---------------------------------------------------------------------------------------
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

RUNS_PAGE_SIZE = 10  # Spacelift does not document its page size; ten makes paging visible.
SEARCH_PAGE_MAX = 50  # The likely maximum of `first`; larger requests are clamped.
DEFAULT_SEED = 42
DEFAULT_STACK_COUNT = 48
DEFAULT_ACTIVE_STACKS = 6
# One transition per 7 s, so a page polling every 10 s sees something change each time.
DEFAULT_STEP_SECONDS = 7.0
# After a long pause the world replays at most this many ticks, then jumps to now.
MAX_CATCH_UP_TICKS = 500

CROCKFORD32 = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


class WorldError(Exception):
    """A mutation Spacelift would refuse; the message becomes the GraphQL error."""


# ---------------------------------------------------------------------------------------
# IDs


def encode_base32(value: int, length: int) -> str:
    chars = []
    for _ in range(length):
        chars.append(CROCKFORD32[value & 31])
        value >>= 5
    return "".join(reversed(chars))


def decode_base32(text: str) -> int | None:
    value = 0
    for char in text.upper():
        digit = CROCKFORD32.find(char)
        if digit < 0:
            return None
        value = value * 32 + digit
    return value


def make_ulid(timestamp_ms: int, rng: random.Random) -> str:
    """A ULID: 10 characters of millisecond time, then 16 random ones."""
    return encode_base32(timestamp_ms, 10) + encode_base32(rng.getrandbits(80), 16)


def _index_mask(timestamp_ms: int) -> int:
    return (timestamp_ms * 2654435761 >> 11) & 0xFFFFF


def make_run_id(timestamp_ms: int, stack_index: int, rng: random.Random) -> str:
    """A ULID whose first 20 random bits carry the stack index (scrambled by the time), so
    `runStack` finds the stack without a global index of lazily generated runs."""
    return (
        encode_base32(timestamp_ms, 10)
        + encode_base32(stack_index ^ _index_mask(timestamp_ms), 4)
        + encode_base32(rng.getrandbits(60), 12)
    )


def stack_index_of_run(run_id: str) -> int | None:
    if len(run_id) != 26:
        return None
    timestamp_ms = decode_base32(run_id[:10])
    tag = decode_base32(run_id[10:14])
    if timestamp_ms is None or tag is None:
        return None
    return tag ^ _index_mask(timestamp_ms)


def _hex(rng: random.Random, length: int = 40) -> str:
    return f"{rng.getrandbits(length * 4):0{length}x}"


# ---------------------------------------------------------------------------------------
# Records. Attribute names are the snake_case of the GraphQL field names; the server maps
# one onto the other.


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
        return (
            self.state in ("FAILED", "STOPPED")
            and self.type in ("TRACKED", "PROPOSED")
            and self.is_most_recent
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
            _generate_history(self)

    def ensure_details(self) -> StackDetails:
        if self.details is None:
            self.details = _generate_details(self)
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


# ---------------------------------------------------------------------------------------
# Pools the generator draws from

_PEOPLE = (
    ("alice.nguyen", "Alice Nguyen"),
    ("bmartin", "Bruno Martin"),
    ("chen-wei", "Chen Wei"),
    ("dkowalski", "Dorota Kowalski"),
    ("emma-okafor", "Emma Okafor"),
    ("fgarcia", "Fernando García"),
    ("gsingh", "Gurpreet Singh"),
    ("hannah.b", "Hannah Becker"),
    ("ivan-petrov", "Ivan Petrov"),
    ("jsmith", "Jordan Smith"),
    ("renovate[bot]", "renovate[bot]"),
)
_COMPONENTS = (
    # component, space key, team, folder
    ("network-core", "platform", "platform", "networking"),
    ("dns", "platform", "platform", "networking"),
    ("k8s-cluster", "platform", "sre", "kubernetes"),
    ("iam-baseline", "platform", "security", "security"),
    ("observability", "platform", "sre", "observability"),
    ("ci-runners", "platform", "devex", "ci"),
    ("secrets", "platform", "security", "security"),
    ("edge-cdn", "platform", "platform", "networking"),
    ("vpn-gateway", "platform", "platform", "networking"),
    ("payments", "payments", "payments", "payments"),
    ("billing", "payments", "billing", "payments"),
    ("checkout", "payments", "payments", "storefront"),
    ("fraud-detection", "payments", "risk", "risk"),
    ("ledger", "payments", "billing", "payments"),
    ("card-vault", "payments", "security", "payments"),
    ("invoicing", "payments", "billing", "payments"),
    ("data-lake", "data", "data-eng", "data"),
    ("kafka", "data", "data-eng", "streaming"),
    ("warehouse", "data", "analytics", "data"),
    ("ml-platform", "data", "ml", "ml"),
    ("airflow", "data", "data-eng", "data"),
    ("search", "data", "search", "search"),
    ("analytics-api", "data", "analytics", "data"),
)
_ENVS = ("prod", "staging", "dev", "sandbox", "eu-prod", "us-prod", "qa")
_REGIONS = ("", "-eu-west-1", "-us-east-1", "-ap-southeast-2")
# The first stacks always exist, so demos and tests can name them.
_HEAD_STACKS = (
    "payments-prod",
    "network-core-staging",
    "network-core-prod",
    "payments-staging",
    "data-lake-prod",
    "k8s-cluster-prod",
    "checkout-dev",
    "kafka-staging",
)
_REPOS = {
    "platform": ("infra-platform", "terraform-live", "network"),
    "payments": ("payments-infra", "terraform-live"),
    "data": ("data-platform", "terraform-live", "analytics-infra"),
}
_COMMIT_MESSAGES = (
    "feat({c}): add NAT gateway for private subnets",
    "fix({c}): pin aws provider to ~> 5.31",
    "chore(deps): update terraform-aws-modules/vpc/aws to v5.5.1",
    "Merge pull request #{n} from acme/ops-{n}-rotate-keys\n\nRotate the KMS keys used by {c}",
    "feat({c}): enable deletion protection in {e}",
    "refactor({c}): move security groups into their own module",
    "fix: increase RDS storage for {c}-{e}",
    "chore: bump OpenTofu to 1.7.3",
    'Revert "feat({c}): enable IPv6 on public subnets"',
    "docs({c}): explain the blue/green cutover\n\nSee the runbook for the order of applies.",
    "feat({c}): add alarms for 5xx rates > 1%",
    "fix({c}): tag all resources with cost-center",
    "Update {c} autoscaling limits (min 3, max 12)",
    "chore(deps): update helm release ingress-nginx to v4.10.1",
)
_XSS_COMMIT_MESSAGE = (
    "Render the status badge <img src=x onerror=alert(1)>\n\n"
    "Body with <script>alert('commit')</script> & an ampersand."
)
_XSS_DESCRIPTION = (
    "Webhook consumers for <b>card</b> payments.\n\n"
    "<script>alert(1)</script>\n\n"
    '**Do not** apply on Fridays. <a href="javascript:alert(2)">runbook</a>'
)
_DESCRIPTIONS = (
    "Core resources for **{c}** in `{e}`.\n\nOwner: `@acme/{t}`. "
    "Runbook: [wiki](https://wiki.acme.example/runbooks/{c}).",
    "Manages `{c}` ({e}).\n\n- State in S3, locked with DynamoDB\n- Applies need a second "
    "reviewer from #{t}",
    "Legacy stack, being migrated to OpenTofu. See "
    "[ADR-042](https://github.com/acme/adr/blob/main/042.md).",
    "# {c}\n\nEverything {t} runs in {e}. _Ask in #{t} before locking._",
    "{c} for {e}",
)
_LOCK_NOTES = (
    "Migrating state to the new backend",
    "Incident INC-2231: hands off until the postmortem",
    None,
    "Testing a provider upgrade locally",
)
_OTHER_API_KEY = "api::01HQ3Z8K7W2M4N6P8R0T2V4X6Y"
_WORKER_POOLS = (
    ("01HV8Q1ZJ3M5N7P9R1T3V5X7Y9", "aws-private-eu"),
    ("01HV8Q2A4C6E8G0J2K4M6P8R0T", "aws-private-us"),
    ("01HW1B3D5F7H9K1M3N5Q7S9V1X", "onprem-datacenter"),
)
_RUNNER_IMAGES = (
    None,
    None,
    None,
    "public.ecr.aws/spacelift/runner-terraform:latest",
    "ghcr.io/acme/spacelift-runner:2024.05",
)
_TASK_COMMANDS = (
    "terraform state list",
    "terraform force-unlock -force 6f2c1a0e",
    "tofu state rm module.legacy_bucket",
    "terraform import aws_s3_bucket.logs acme-logs",
    "ls -la /mnt/workspace",
)
_FEATURE_BRANCHES = (
    "feature/ops-1432-nat",
    "renovate/aws-5.x",
    "fix/tags",
    "feature/ipv6",
    "chore/bump-providers",
)
_CONTEXTS = (
    ("aws-prod-credentials", "AWS prod credentials"),
    ("aws-nonprod-credentials", "AWS non-prod credentials"),
    ("datadog", "Datadog"),
    ("common-tags", "Common tags"),
    ("github-token", "GitHub token"),
)
_POLICIES = (
    ("plan-require-tags", "Plan: require tags", "PLAN"),
    ("approval-two-reviewers", "Approval: two reviewers", "APPROVAL"),
    ("trigger-dependents", "Trigger dependents", "TRIGGER"),
    ("notify-slack", "Notify Slack", "NOTIFICATION"),
    ("push-ignore-docs", "Ignore docs-only pushes", "GIT_PUSH"),
)
# Vendor mix of a typical account, and the first seven stacks get one of each.
_VENDORS = (
    ("TERRAFORM", 45),
    ("OPENTOFU", 22),
    ("TERRAGRUNT", 8),
    ("PULUMI", 8),
    ("CLOUDFORMATION", 6),
    ("KUBERNETES", 7),
    ("ANSIBLE", 4),
)
_PROVIDERS = (
    ("GITHUB", 60),
    ("GITLAB", 12),
    ("GITHUB_ENTERPRISE", 8),
    ("BITBUCKET_CLOUD", 6),
    ("BITBUCKET_DATACENTER", 4),
    ("AZURE_DEVOPS", 4),
    ("GIT", 5),
    ("SHOWCASE", 1),
)
# How the non-coverage, non-active stacks are spread over states.
_STATE_WEIGHTS = (
    ("FINISHED", 55),
    ("FAILED", 10),
    ("UNCONFIRMED", 8),
    ("NONE", 5),
    ("DISCARDED", 5),
    ("STOPPED", 3),
    ("PLANNING", 2),
    ("APPLYING", 2),
    ("READY", 2),
    ("CONFIRMED", 2),
    ("REPLAN_REQUESTED", 1),
    ("PREPARING", 1),
    ("INITIALIZING", 1),
    ("PREPARING_APPLY", 1),
    ("PREPARING_REPLAN", 1),
    ("DESTROYING", 1),
)
_ACTIVE_START_STATES = ("READY", "PREPARING", "INITIALIZING", "PLANNING", "APPLYING")


def _weighted(rng: random.Random, pairs: Sequence[tuple[str, int]]) -> str:
    return rng.choices([p[0] for p in pairs], weights=[p[1] for p in pairs])[0]


_COMMIT_URLS = {
    "GITHUB": "https://github.com/{ns}/{repo}/commit/{sha}",
    "GITHUB_ENTERPRISE": "https://github.acme.internal/{ns}/{repo}/commit/{sha}",
    "GITLAB": "https://gitlab.com/{ns}/{repo}/-/commit/{sha}",
    "BITBUCKET_CLOUD": "https://bitbucket.org/{ns}/{repo}/commits/{sha}",
    "BITBUCKET_DATACENTER": (
        "https://bitbucket.acme.internal/projects/{ns}/repos/{repo}/commits/{sha}"
    ),
    "AZURE_DEVOPS": "https://dev.azure.com/{ns}/infra/_git/{repo}/commit/{sha}",
}


def _commit_url(stack: Stack, commit_hash: str) -> str | None:
    template = _COMMIT_URLS.get(stack.provider)
    if template is None:
        return None
    return template.format(ns=stack.namespace, repo=stack.repository, sha=commit_hash)


def _random_commit(
    stack: Stack, rng: random.Random, timestamp: int, message: str | None = None
) -> Commit:
    login, name = rng.choice(_PEOPLE)
    if message is None:
        message = rng.choice(_COMMIT_MESSAGES).format(
            c=stack.component, e=stack.environment, n=rng.randint(100, 2999)
        )
    commit_hash = _hex(rng)
    tag = f"v1.{rng.randint(0, 40)}.{rng.randint(0, 9)}" if rng.random() < 0.08 else None
    return Commit(
        hash=commit_hash,
        message=message,
        author_login=None if stack.provider == "GIT" else login,
        author_name=name,
        timestamp=timestamp,
        url=_commit_url(stack, commit_hash),
        tag=tag,
    )


def _path_to(final: str, rng: random.Random, autodeploy: bool, run_type: str) -> list[str]:
    """The states a run went through to reach `final`, oldest first."""
    start = ["QUEUED", "READY", "PREPARING", "INITIALIZING"]
    if run_type == "TASK":
        if final in ("QUEUED", "READY", "PREPARING", "INITIALIZING"):
            return start[: start.index(final) + 1]
        return [*start, "PERFORMING"] if final == "PERFORMING" else [*start, "PERFORMING", final]
    if final in start:
        return start[: start.index(final) + 1]
    plan = [*start, "PLANNING"]
    if final == "PLANNING":
        return plan
    if run_type != "TRACKED":
        return [*plan, final]
    confirm = [*plan, "UNCONFIRMED", "CONFIRMED"]
    apply = ([*plan] if autodeploy else [*confirm, "PREPARING_APPLY"]) + ["APPLYING"]
    match final:
        case "UNCONFIRMED":
            return [*plan, "UNCONFIRMED"]
        case "CONFIRMED":
            return confirm
        case "PREPARING_APPLY":
            return [*confirm, "PREPARING_APPLY"]
        case "APPLYING":
            return apply
        case "DISCARDED":
            return [*plan, "UNCONFIRMED", "DISCARDED"]
        case "REPLAN_REQUESTED":
            return [*plan, "UNCONFIRMED", "REPLAN_REQUESTED"]
        case "PREPARING_REPLAN":
            return [*plan, "UNCONFIRMED", "REPLAN_REQUESTED", "PREPARING_REPLAN"]
        case "DESTROYING":
            return [*confirm, "PREPARING_APPLY", "DESTROYING"]
        case "STOPPED":
            return [*plan, "STOPPED"] if rng.random() < 0.5 else [*apply, "STOPPED"]
        case "FAILED":
            return [*plan, "FAILED"] if rng.random() < 0.6 else [*apply, "FAILED"]
        case "FINISHED":
            return [*plan, "FINISHED"] if rng.random() < 0.2 else [*apply, "FINISHED"]
        case _:
            return [*plan, final]


# Seconds a run typically spends in a state before the next one (low, high).
_DWELL = {
    "QUEUED": (1, 40),
    "READY": (1, 25),
    "PREPARING": (8, 40),
    "INITIALIZING": (5, 30),
    "PLANNING": (20, 300),
    "UNCONFIRMED": (60, 7200),
    "CONFIRMED": (1, 10),
    "PREPARING_APPLY": (5, 30),
    "APPLYING": (30, 900),
    "PERFORMING": (5, 120),
    "REPLAN_REQUESTED": (1, 20),
    "PREPARING_REPLAN": (5, 30),
    "DESTROYING": (60, 600),
}
_HUMAN_STATES = frozenset({"CONFIRMED", "DISCARDED", "STOPPED", "REPLAN_REQUESTED"})
_CONFIRM_NOTES = (None, None, "LGTM", "Approved in CAB-118", "ship it")


def _build_run(
    stack: Stack,
    rng: random.Random,
    *,
    run_type: str,
    final: str,
    ended_at: int,
    commit: Commit,
    triggered_by: str | None = "",
    branch: str | None = None,
    drift: bool = False,
) -> Run:
    """A run whose last transition (into `final`) happened at `ended_at`."""
    path = _path_to(final, rng, stack.autodeploy, run_type)
    dwell = [rng.randint(*_DWELL.get(state, (5, 60))) for state in path[:-1]]
    created = ended_at - sum(dwell)
    ms = created * 1000 + rng.randrange(1000)
    title = commit.message.splitlines()[0] if commit.message else ""
    if run_type == "TASK":
        title = rng.choice(_TASK_COMMANDS)
    run = Run(
        id=make_run_id(ms, stack.index, rng),
        stack=stack,
        type=run_type,
        state=path[0],
        title=title,
        branch=branch or stack.branch,
        triggered_by=triggered_by,
        created_at=created,
        updated_at=created,
        commit=commit,
        drift_detection=drift,
    )
    at = created
    for i, state in enumerate(path):
        if i:
            at += dwell[i - 1]
        username = note = None
        if state in _HUMAN_STATES:
            username = rng.choice(_PEOPLE[:-1])[0]
            if state == "CONFIRMED":
                note = rng.choice(_CONFIRM_NOTES)
        run.transition(state, at, username, note)
    if run_type == "TASK" or "PLANNING" not in path or path[-1] == "PLANNING":
        return run
    if run_type == "TRACKED" and path[-2:] == ["PLANNING", "FINISHED"]:
        run.delta = Delta(0, 0, 0, max(stack.entity_count, 1))  # a plan with no changes
    elif path[-2:] not in (["PLANNING", "FAILED"], ["PLANNING", "STOPPED"]):
        run.delta = _random_delta(rng, stack)
    return run


def _random_delta(rng: random.Random, stack: Stack) -> Delta:
    resources = max(stack.entity_count, rng.randint(3, 40))
    return Delta(rng.randint(0, 6), rng.randint(1, 9), rng.randint(0, 3), resources)


def _generate_history(stack: Stack) -> None:
    """Older tracked runs, proposed runs and tasks: made on first use, same every time."""
    rng = random.Random(f"{stack.seed}:history")
    if stack.tracked:
        at = stack.tracked[-1].created_at
        for _ in range(stack.older_tracked_runs):
            at -= rng.randint(1800, 4 * 86400)
            final = _weighted(
                rng, (("FINISHED", 80), ("FAILED", 10), ("DISCARDED", 7), ("STOPPED", 3))
            )
            commit = _random_commit(stack, rng, at - rng.randint(60, 3600))
            trigger = rng.choice(("", "", "", rng.choice(_PEOPLE[:-1])[0], _OTHER_API_KEY))
            stack.tracked.append(
                _build_run(
                    stack,
                    rng,
                    run_type="TRACKED",
                    final=final,
                    ended_at=at,
                    commit=commit,
                    triggered_by=trigger,
                )
            )
            at = stack.tracked[-1].created_at
    if stack.state == "NONE" and not stack.tracked:
        return
    upper = stack.tracked[0].created_at if stack.tracked else stack.anchor - 3600
    proposed: list[Run] = []
    at = upper - rng.randint(60, 3600)
    if stack.is_drifted:
        drift = _build_run(
            stack,
            rng,
            run_type="PROPOSED",
            final="FINISHED",
            ended_at=at,
            commit=stack.tracked_commit or _random_commit(stack, rng, at),
            triggered_by=None,
            drift=True,
        )
        drift.delta = Delta(0, rng.randint(1, 5), 0, max(stack.entity_count, 1))
        drift.title = "Drift detection"
        proposed.append(drift)
        at = drift.created_at - rng.randint(600, 7200)
    for _ in range(rng.randint(0, 8)):
        branch = rng.choice(_FEATURE_BRANCHES)
        final = _weighted(rng, (("FINISHED", 80), ("FAILED", 20)))
        commit = _random_commit(stack, rng, at - rng.randint(60, 3600))
        run = _build_run(
            stack,
            rng,
            run_type="PROPOSED",
            final=final,
            ended_at=at,
            commit=commit,
            triggered_by="",
            branch=branch,
        )
        proposed.append(run)
        at = run.created_at - rng.randint(600, 3 * 86400)
    stack.proposed.extend(proposed)
    at = upper - rng.randint(600, 86400)
    for _ in range(rng.randint(0, 4)):
        final = _weighted(rng, (("FINISHED", 85), ("FAILED", 15)))
        run = _build_run(
            stack,
            rng,
            run_type="TASK",
            final=final,
            ended_at=at,
            commit=stack.tracked_commit or _random_commit(stack, rng, at),
            triggered_by=rng.choice(_PEOPLE[:-1])[0],
        )
        stack.tasks.append(run)
        at = run.created_at - rng.randint(3600, 5 * 86400)


def _module_versions(rng: random.Random) -> list[str]:
    """A release history, oldest first: mostly patches, some minors, a rare major."""
    major, minor, patch = rng.randint(0, 1), rng.randint(0, 3), 0
    versions = [f"{major}.{minor}.{patch}"]
    for _ in range(rng.randint(2, 11)):
        bump = rng.random()
        if bump < 0.1:
            major, minor, patch = major + 1, 0, 0
        elif bump < 0.4:
            minor, patch = minor + 1, 0
        else:
            patch += 1
        versions.append(f"{major}.{minor}.{patch}")
    return versions


def _checksum(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def _generate_details(stack: Stack) -> StackDetails:
    rng = random.Random(f"{stack.seed}:details")
    env = stack.environment
    config: list[ConfigElement] = []
    variables = [
        ("TF_VAR_region", rng.choice(("eu-west-1", "us-east-1", "eu-central-1")), False, None),
        ("TF_VAR_environment", env, False, "Deployment environment"),
        (
            "AWS_ROLE_ARN",
            f"arn:aws:iam::{rng.randint(10**11, 10**12 - 1)}:role/spacelift",
            False,
            None,
        ),
        ("DATADOG_API_KEY", _hex(rng, 32), True, "Rotated quarterly"),
        ("TF_LOG", "INFO", False, None),
    ]
    for name, value, write_only, description in variables[: rng.randint(2, len(variables))]:
        config.append(
            ConfigElement(
                id=name,
                type="ENVIRONMENT_VARIABLE",
                value=None if write_only else value,
                checksum=_checksum(value),
                description=description,
                runtime=False,
                write_only=write_only,
                file_mode=None,
            )
        )
    if rng.random() < 0.5:
        content = f'environment = "{env}"\ncomponent = "{stack.component}"\n'
        path = "/".join(p for p in ("/mnt/workspace/source", stack.project_root) if p)
        config.append(
            ConfigElement(
                id=f"{path}/spacelift.auto.tfvars",
                type="FILE_MOUNT",
                # Base64, as the Terraform provider reads a mounted file's content from it.
                value=base64.b64encode(content.encode()).decode("ascii"),
                checksum=_checksum(content),
                description=None,
                runtime=False,
                write_only=False,
                file_mode="0644",
            )
        )
    contexts = [
        StackContextAttachment(
            id=make_ulid(stack.created_at * 1000 + i, rng),
            context_id=context_id,
            context_name=context_name,
            priority=i,
        )
        for i, (context_id, context_name) in enumerate(rng.sample(_CONTEXTS, rng.randint(0, 3)))
    ]
    policies = [
        PolicyAttachment(
            id=make_ulid(stack.created_at * 1000 + 10 + i, rng),
            policy_id=policy_id,
            policy_name=policy_name,
            policy_type=policy_type,
        )
        for i, (policy_id, policy_name, policy_type) in enumerate(
            rng.sample(_POLICIES, rng.randint(0, 3))
        )
    ]
    outputs: list[StackOutput] = []
    if stack.state not in ("NONE",) and stack.vendor != "ANSIBLE":
        outputs = [
            StackOutput("vpc_id", f"vpc-{_hex(rng, 17)}", False, "The VPC everything lives in"),
            StackOutput("endpoint", f"https://{stack.id}.acme.example", False, None),
            StackOutput("db_password", None, True, "Generated; read it from the state"),
        ][: rng.randint(1, 3)]
    return StackDetails(config, contexts, policies, outputs)


def _vendor_for(kind: str, rng: random.Random, stack_id: str) -> tuple[Any, str | None, str | None]:
    """The vendor config, terraformVersion and effectiveTerraformVersion of a stack."""
    tf = rng.choice(("1.5.7", "1.5.5", "1.4.6", "1.3.9"))
    tofu = rng.choice(("1.6.2", "1.7.3", "1.8.5"))
    match kind:
        case "TERRAFORM":
            pinned = rng.random() < 0.85
            workspace = rng.choice((None, None, None, "default", stack_id))
            tool = "CUSTOM" if rng.random() < 0.05 else "TERRAFORM_FOSS"
            version = tf if pinned else None
            return StackConfigVendorTerraform(version, workspace, tool), version, tf
        case "OPENTOFU":
            return StackConfigVendorOpenTofu(tofu, None), tofu, tofu
        case "TERRAGRUNT":
            tg = rng.choice(("0.55.1", "0.58.4", "0.67.0"))
            return StackConfigVendorTerragrunt(tf, tg), tf, tf
        case "PULUMI":
            return (
                StackConfigVendorPulumi("s3://acme-pulumi-state", f"acme/{stack_id}"),
                None,
                None,
            )
        case "CLOUDFORMATION":
            region = rng.choice(("eu-west-1", "us-east-1"))
            return StackConfigVendorCloudFormation(region, stack_id), None, None
        case "KUBERNETES":
            return (
                StackConfigVendorKubernetes(
                    stack_id.split("-")[0], rng.choice(("1.28.4", "1.29.2"))
                ),
                None,
                None,
            )
        case _:
            return StackConfigVendorAnsible("site.yml"), None, None


def _stack_ids(count: int, rng: random.Random) -> list[tuple[str, tuple[str, str, str, str], str]]:
    """(slug, component, environment): the head names, shuffled combinations, then numbered."""
    combos = [(f"{c[0]}-{e}{r}", c, e) for r in _REGIONS for c in _COMPONENTS for e in _ENVS]
    by_id = {combo[0]: combo for combo in combos}
    head = [by_id[stack_id] for stack_id in _HEAD_STACKS]
    rest = [combo for combo in combos if combo[0] not in _HEAD_STACKS]
    rng.shuffle(rest)
    ids = (head + rest)[:count]
    suffix = 2
    while len(ids) < count:
        ids.extend((f"{i}-{suffix}", c, e) for i, c, e in combos[: count - len(ids)])
        suffix += 1
    return ids


# ---------------------------------------------------------------------------------------
# The world


class World:
    """The simulated account. Deterministic from `seed` and the clock's time at build."""

    def __init__(
        self,
        stack_count: int = DEFAULT_STACK_COUNT,
        seed: int | str = DEFAULT_SEED,
        *,
        clock: Callable[[], float] = time.time,
        step_seconds: float = DEFAULT_STEP_SECONDS,
        active_stacks: int = DEFAULT_ACTIVE_STACKS,
    ) -> None:
        if stack_count < 0:
            raise ValueError("stack_count must be 0 or more")
        self.seed = seed
        self.clock = clock
        self.step_seconds = float(step_seconds)
        self.lock = threading.RLock()
        self.anchor = int(clock())
        self._rng = random.Random(f"{seed}:world")
        self._tick_rng = random.Random(f"{seed}:ticks")
        self._last_run_ms = self.anchor * 1000
        self._moving: dict[str, Run] = {}  # run ID -> run that advances each tick
        self._idle: dict[str, int] = {}  # active stack ID -> ticks until its next push
        self._waits: dict[str, int] = {}  # run ID -> ticks a simulated colleague waits
        self._next_tick_at = self.anchor + self.step_seconds
        self.ticks = 0
        self.spaces = self._build_spaces()
        self._spaces_by_id = {space.id: space for space in self.spaces}
        self.worker_pools = [WorkerPool(pid, name) for pid, name in _WORKER_POOLS]
        self.stacks: list[Stack] = []
        self._stacks_by_id: dict[str, Stack] = {}
        self.active_stack_ids: list[str] = []
        self._build_stacks(stack_count, active_stacks)
        self.modules = self._build_modules()
        self._modules_by_id = {module.id: module for module in self.modules}

    # -- building ------------------------------------------------------------------------

    def _build_spaces(self) -> list[Space]:
        rng = random.Random(f"{self.seed}:spaces")
        created_ms = 1_684_000_000_000  # May 2023: the account's spaces are old
        root = Space("root", "root", "The account's root space.", None, "ADMIN")
        spaces = [root]
        for name, description, access in (
            ("platform", "Networking, Kubernetes and shared services.", "ADMIN"),
            ("payments", "Everything that **moves money**.", "WRITE"),
            ("data", "Data platform. Read-only for this key.", "READ"),
        ):
            space_id = f"{name}-{make_ulid(created_ms + len(spaces), rng)}"
            spaces.append(Space(space_id, name, description, "root", access))
        return spaces

    def _space_named(self, name: str) -> Space:
        return next(space for space in self.spaces if space.name == name)

    def _build_stacks(self, count: int, active_count: int) -> None:
        rng = self._rng
        ids = _stack_ids(count, rng)
        # Every stack state occurs at least once: one stack each, after the head stacks.
        coverage = list(STACK_STATES)
        rng.shuffle(coverage)
        active_count = max(0, min(active_count, count - len(coverage)))
        coverage_start = max(0, min(len(_HEAD_STACKS), count - len(coverage) - active_count))
        active_start = coverage_start + len(coverage)
        plain_start = active_start + active_count
        spaces = {name: self._space_named(name) for name in ("platform", "payments", "data")}
        vendors = [v[0] for v in _VENDORS]
        for index, (stack_id, (component, space_key, team, folder), env) in enumerate(ids):
            repo = rng.choice(_REPOS[space_key])
            provider = _weighted(rng, _PROVIDERS)
            namespace = {"AZURE_DEVOPS": "acme-corp", "BITBUCKET_DATACENTER": "INFRA"}.get(
                provider, "acme"
            )
            kind = vendors[index] if index < len(vendors) else _weighted(rng, _VENDORS)
            vendor_config, tf_version, effective = _vendor_for(kind, rng, stack_id)
            labels = []
            if rng.random() < 0.85:
                labels.append(f"folder:{folder}")
            if rng.random() < 0.8:
                labels.append(f"team:{team}")
            labels.append(f"env:{env.split('-')[-1]}")
            if rng.random() < 0.15:
                labels.append(
                    rng.choice(("infracost", "compliance:pci", "feature:add_plan_pr_comment"))
                )
            if index == 5:
                labels = []
            root_dir = rng.choice(
                (f"stacks/{component}/{env}", f"environments/{env}/{component}", "", component)
            )
            if provider == "SHOWCASE":
                repo, namespace = "terraform-starter", "spacelift-io"
            description: str | None = None
            if index == 2:
                description = _XSS_DESCRIPTION
            elif rng.random() < 0.7:
                description = rng.choice(_DESCRIPTIONS).format(c=component, e=env, t=team)
            name = stack_id
            if rng.random() < 0.35:
                name = " ".join(part.capitalize() for part in stack_id.split("-"))
            pool = rng.choice((None, None, *self.worker_pools))
            created_at = self.anchor - rng.randint(30, 900) * 86400
            stack = Stack(
                index=index,
                id=stack_id,
                name=name,
                description=description,
                space_details=spaces[space_key],
                branch="main" if "prod" in env or rng.random() < 0.4 else env,
                repository=repo,
                namespace=namespace,
                project_root=root_dir or None,
                provider=provider,
                repository_url=(
                    f"https://git.acme.example/{namespace}/{repo}.git"
                    if provider == "GIT"
                    else None
                ),
                labels=labels,
                vendor=kind,
                vendor_config=vendor_config,
                terraform_version=tf_version,
                effective_terraform_version=effective,
                runner_image=rng.choice(_RUNNER_IMAGES),
                worker_pool=pool,
                created_at=created_at,
                anchor=self.anchor,
                seed=f"{self.seed}:{stack_id}",
                component=component,
                environment=env,
                administrative=component in ("iam-baseline", "ci-runners") and rng.random() < 0.6,
                autodeploy=rng.random() < 0.4,
                autoretry=rng.random() < 0.1,
                starred=rng.random() < 0.1,
                needs_approval=rng.random() < 0.06,
                entity_count=rng.randint(3, 400),
                older_tracked_runs=rng.randint(3, 30),
            )
            if index == 0:
                stack.older_tracked_runs = 34  # enough for four pages of runs
            is_active = active_start <= index < plain_start
            if coverage_start <= index < active_start:
                state = coverage[index - coverage_start]
            elif is_active:
                state = rng.choice(_ACTIVE_START_STATES)
            else:
                # The demo stack (payments-prod) looks healthy; the others vary.
                state = "FINISHED" if index == 0 else _weighted(rng, _STATE_WEIGHTS)
                # The first plain stacks are locked, disabled and drifted, so each exists.
                nth = index - plain_start
                if nth == 0 or rng.random() < 0.07:
                    stack.locked_by = rng.choice((rng.choice(_PEOPLE[:-1])[0], _OTHER_API_KEY))
                    stack.locked_at = self.anchor - rng.randint(600, 20 * 86400)
                    stack.lock_note = _LOCK_NOTES[0] if nth == 0 else rng.choice(_LOCK_NOTES)
                elif nth == 1 or rng.random() < 0.05:
                    stack.is_disabled = True
                    state = "FINISHED"
                if nth == 2 or (state in ("FINISHED", "FAILED") and rng.random() < 0.15):
                    state = "FINISHED" if nth == 2 else state
                    stack.is_drifted = True
            if state == "DESTROYING":
                stack.deleting = True
            self._give_runs(stack, state, index, is_active)
            self.stacks.append(stack)
            self._stacks_by_id[stack_id] = stack
            if is_active:
                self.active_stack_ids.append(stack_id)

    def _give_runs(self, stack: Stack, state: str, index: int, is_active: bool) -> None:
        rng = self._rng
        commit_time = self.anchor - rng.randint(600, 10 * 86400)
        message = _XSS_COMMIT_MESSAGE if index == 1 else None
        stack.tracked_commit = _random_commit(stack, rng, commit_time, message)
        if rng.random() < 0.1:
            stack.tracked_commit_set_by = rng.choice(_PEOPLE[:-1])[0]
        if state == "NONE":
            stack.older_tracked_runs = 0
            stack.entity_count = 0
            stack.refresh_state()
            return
        if is_active:
            ended = self.anchor - rng.randint(0, int(self.step_seconds))
        elif state in TERMINAL_RUN_STATES:
            ended = max(commit_time + 120, self.anchor - rng.randint(300, 3 * 86400))
        else:
            ended = self.anchor - rng.randint(120, 6 * 3600)  # a run stuck in this state
        trigger = rng.choice(("", "", "", rng.choice(_PEOPLE[:-1])[0], _OTHER_API_KEY))
        run = _build_run(
            stack,
            rng,
            run_type="TRACKED",
            final=state,
            ended_at=ended,
            commit=stack.tracked_commit,
            triggered_by=trigger,
        )
        stack.tracked.append(run)
        # A busy stack has a run queued behind the one holding it.
        if state not in TERMINAL_RUN_STATES and not is_active and rng.random() < 0.3:
            queued_at = ended + rng.randint(1, 60)
            queued_commit = _random_commit(stack, rng, queued_at - 30)
            queued = Run(
                id=make_run_id(queued_at * 1000, stack.index, rng),
                stack=stack,
                type="TRACKED",
                state="QUEUED",
                title=queued_commit.message.splitlines()[0],
                branch=stack.branch,
                triggered_by="",
                created_at=queued_at,
                updated_at=queued_at,
                commit=queued_commit,
            )
            queued.transition("QUEUED", queued_at)
            stack.tracked.insert(0, queued)
            stack.tracked_commit = queued_commit
        if is_active:
            self._moving[run.id] = run
        stack.refresh_state()

    def _build_modules(self) -> list[Module]:
        rng = random.Random(f"{self.seed}:modules")
        modules = []
        for name, provider, space_key, description in (
            ("vpc", "aws", "platform", "An opinionated **VPC** with three tiers of subnets."),
            ("eks-cluster", "aws", "platform", "EKS with managed node groups."),
            ("rds-postgres", "aws", "payments", "PostgreSQL on RDS with encryption and backups."),
            ("s3-bucket", "aws", "data", None),
            ("gke-cluster", "google", "platform", "GKE Autopilot cluster."),
        ):
            modules.append(
                Module(
                    id=f"terraform-{name}-{provider}",
                    name=name,
                    description=description,
                    labels=[f"folder:{space_key}", "module"],
                    space_details=self._space_named(space_key),
                    repository=f"terraform-{provider}-{name}",
                    branch="main",
                    namespace="acme",
                    provider="GITHUB",
                    project_root=None,
                    terraform_provider=provider,
                    created_at=self.anchor - rng.randint(100, 700) * 86400,
                    versions=_module_versions(random.Random(f"{self.seed}:versions:{name}")),
                )
            )
        return modules

    # -- reading -------------------------------------------------------------------------

    def get_stack(self, stack_id: str) -> Stack | None:
        return self._stacks_by_id.get(stack_id)

    def get_space(self, space_id: str) -> Space | None:
        return self._spaces_by_id.get(space_id)

    def get_module(self, module_id: str) -> Module | None:
        return self._modules_by_id.get(module_id)

    def stack_of_run(self, run_id: str) -> Stack | None:
        index = stack_index_of_run(run_id)
        if index is None or index >= len(self.stacks):
            return None
        stack = self.stacks[index]
        return stack if stack.find_run(run_id) else None

    def runs_page(self, stack: Stack, run_type: str, before: str | None) -> list[Run]:
        """One page of a stack's runs, newest first; an empty page ends the list."""
        runs = stack.runs_of_type(run_type)
        if before:
            # Run IDs are ULIDs: a smaller ID is an older run.
            runs = [run for run in runs if run.id < before]
        return runs[:RUNS_PAGE_SIZE]

    # -- time ----------------------------------------------------------------------------

    def advance(self, now: float | None = None) -> int:
        """Play every tick due by `now`; return how many were played."""
        with self.lock:
            now = self.clock() if now is None else now
            played = 0
            while self._next_tick_at <= now and played < MAX_CATCH_UP_TICKS:
                self._tick(int(self._next_tick_at))
                self._next_tick_at += self.step_seconds
                played += 1
            if self._next_tick_at <= now:
                self._next_tick_at = now + self.step_seconds
            return played

    def step(self) -> None:
        """Force one tick now: every moving run takes one transition (for tests and demos)."""
        with self.lock:
            self._tick(int(self.clock()))

    def _tick(self, at: int) -> None:
        self.ticks += 1
        for run in sorted(self._moving.values(), key=lambda r: r.id):
            self._advance_run(run, at)
        for stack_id in self.active_stack_ids:
            if stack_id in self._idle:
                self._idle[stack_id] -= 1
                if self._idle[stack_id] <= 0:
                    del self._idle[stack_id]
                    self._push_commit(self._stacks_by_id[stack_id], at)

    def _new_run_ms(self, at: int) -> int:
        ms = max(at * 1000 + self._tick_rng.randrange(1000), self._last_run_ms + 1)
        self._last_run_ms = ms
        return ms

    def _new_run(
        self,
        stack: Stack,
        run_type: str,
        commit: Commit,
        at: int,
        triggered_by: str | None,
        branch: str | None = None,
    ) -> Run:
        stack.ensure_history()
        run = Run(
            id=make_run_id(self._new_run_ms(at), stack.index, self._tick_rng),
            stack=stack,
            type=run_type,
            state="QUEUED",
            title=commit.message.splitlines()[0] if commit.message else "",
            branch=branch or stack.branch,
            triggered_by=triggered_by,
            created_at=at,
            updated_at=at,
            commit=commit,
        )
        run.transition("QUEUED", at)
        stack.runs_of_type(run_type).insert(0, run)
        self._moving[run.id] = run
        return run

    def _push_commit(self, stack: Stack, at: int) -> None:
        rng = self._tick_rng
        commit = _random_commit(stack, rng, at - rng.randint(20, 600))
        stack.tracked_commit = commit
        stack.tracked_commit_set_by = None
        self._new_run(stack, "TRACKED", commit, at, "")
        if rng.random() < 0.25:
            feature = _random_commit(stack, rng, at - rng.randint(20, 600))
            self._new_run(stack, "PROPOSED", feature, at, "", rng.choice(_FEATURE_BRANCHES))

    def _set_state(
        self, run: Run, state: str, at: int, username: str | None = None, note: str | None = None
    ) -> None:
        run.transition(state, at, username, note)
        stack = run.stack
        if run.type == "TRACKED":
            stack.refresh_state()
        if state in TERMINAL_RUN_STATES:
            self._moving.pop(run.id, None)
            self._waits.pop(run.id, None)
            if state == "FINISHED" and run.type == "TRACKED" and run.delta:
                delta = run.delta
                stack.entity_count = max(
                    0, stack.entity_count + delta.add_count - delta.delete_count
                )
                stack.is_drifted = False
            if (
                run.type == "TRACKED"
                and stack.id in self.active_stack_ids
                and stack.blocker is None
                and not any(r.state == "QUEUED" for r in stack.tracked[:3])
            ):
                self._idle[stack.id] = self._tick_rng.randint(2, 4)

    def _has_older_unfinished(self, run: Run) -> bool:
        for other in run.stack.tracked:
            if other.id < run.id and other.state not in TERMINAL_RUN_STATES:
                return True
        return False

    def _advance_run(self, run: Run, at: int) -> None:
        rng = self._tick_rng
        stack = run.stack
        state = run.state
        nxt: str | None = None
        match state:
            case "QUEUED":
                if run.type == "TRACKED" and self._has_older_unfinished(run):
                    return
                nxt = "READY"
            case "READY":
                nxt = "PREPARING"
            case "PREPARING":
                nxt = "INITIALIZING"
            case "INITIALIZING":
                nxt = "PERFORMING" if run.type == "TASK" else "PLANNING"
            case "PERFORMING":
                nxt = "FINISHED" if rng.random() < 0.9 else "FAILED"
            case "PLANNING":
                roll = rng.random()
                if roll < 0.08:
                    nxt = "FAILED"
                elif run.type != "TRACKED":
                    run.delta = _random_delta(rng, stack)
                    nxt = "FINISHED"
                elif roll < 0.25:
                    run.delta = Delta(0, 0, 0, max(stack.entity_count, 1))
                    nxt = "FINISHED"
                else:
                    run.delta = _random_delta(rng, stack)
                    nxt = "APPLYING" if stack.autodeploy else "UNCONFIRMED"
            case "UNCONFIRMED":
                if stack.id not in self.active_stack_ids:
                    self._moving.pop(run.id, None)  # waits for runConfirm or runDiscard
                    return
                left = self._waits.get(run.id, rng.randint(1, 3)) - 1
                if left > 0:
                    self._waits[run.id] = left
                    return
                person = rng.choice(_PEOPLE[:-1])[0]
                if rng.random() < 0.85:
                    self._set_state(run, "CONFIRMED", at, person, rng.choice(_CONFIRM_NOTES))
                else:
                    self._set_state(run, "DISCARDED", at, person, None)
                return
            case "CONFIRMED":
                nxt = "PREPARING_APPLY"
            case "PREPARING_APPLY":
                nxt = "APPLYING"
            case "APPLYING" | "DESTROYING":
                nxt = "FINISHED" if rng.random() < 0.93 else "FAILED"
            case "REPLAN_REQUESTED":
                nxt = "PREPARING_REPLAN"
            case "PREPARING_REPLAN":
                nxt = "PLANNING"
            case _:
                self._moving.pop(run.id, None)
                return
        self._set_state(run, nxt, at)

    # -- mutations -------------------------------------------------------------------------

    def _writable_stack(self, stack_id: str) -> Stack:
        stack = self._stacks_by_id.get(stack_id)
        if stack is None:
            raise WorldError(f"stack {stack_id} not found")
        if not stack.can_write:
            raise WorldError(
                f"forbidden: this API key has {stack.space_details.access_level} access to "
                f"space {stack.space_details.name}; this action needs WRITE"
            )
        return stack

    def _run_of(self, stack: Stack, run_id: str) -> Run:
        run = stack.find_run(run_id)
        if run is None:
            raise WorldError(f"run {run_id} not found in stack {stack.id}")
        return run

    def trigger_run(
        self,
        stack_id: str,
        actor: str,
        commit_sha: str | None = None,
        run_type: str | None = None,
    ) -> Run:
        with self.lock:
            stack = self._writable_stack(stack_id)
            run_type = run_type or "TRACKED"
            if run_type not in ("TRACKED", "PROPOSED"):
                raise WorldError(f"runType {run_type} cannot be triggered; use TRACKED or PROPOSED")
            if stack.is_disabled:
                raise WorldError(f"stack {stack_id} is disabled")
            if stack.locked_by and stack.locked_by != actor:
                raise WorldError(f"stack {stack_id} is locked by {stack.locked_by}")
            now = int(self.clock())
            commit = stack.tracked_commit
            if commit_sha:
                sha = commit_sha.strip().lower()
                if not (7 <= len(sha) <= 40) or any(c not in "0123456789abcdef" for c in sha):
                    raise WorldError(f"invalid commit SHA {commit_sha!r}")
                if commit is None or not commit.hash.startswith(sha):
                    commit = _random_commit(stack, self._tick_rng, now - 60)
                    commit.hash = sha.ljust(40, "0")
                    commit.url = _commit_url(stack, commit.hash)
            if commit is None:
                commit = _random_commit(stack, self._tick_rng, now - 60)
                stack.tracked_commit = commit
            run = self._new_run(stack, run_type, commit, now, actor)
            # Whatever holds the stack moves again, so the new run is not stuck behind it.
            for other in stack.tracked:
                if other.state not in TERMINAL_RUN_STATES and other.state != "UNCONFIRMED":
                    self._moving.setdefault(other.id, other)
            return run

    def _pending_run(self, stack: Stack, run_id: str | None) -> Run:
        if run_id:
            return self._run_of(stack, run_id)
        for run in stack.tracked:
            if run.state == "UNCONFIRMED":
                return run
        raise WorldError(f"stack {stack.id} has no run awaiting confirmation")

    def confirm_run(
        self, stack_id: str, run_id: str | None, actor: str, note: str | None = None
    ) -> Run:
        with self.lock:
            stack = self._writable_stack(stack_id)
            run = self._pending_run(stack, run_id)
            if run.state != "UNCONFIRMED":
                raise WorldError(f"run {run.id} is {run.state}, not UNCONFIRMED")
            self._set_state(run, "CONFIRMED", int(self.clock()), actor, note)
            self._moving[run.id] = run
            return run

    def discard_run(
        self, stack_id: str, run_id: str | None, actor: str, note: str | None = None
    ) -> Run:
        with self.lock:
            stack = self._writable_stack(stack_id)
            run = self._pending_run(stack, run_id)
            if run.state != "UNCONFIRMED":
                raise WorldError(f"run {run.id} is {run.state}, not UNCONFIRMED")
            self._set_state(run, "DISCARDED", int(self.clock()), actor, note)
            return run

    def cancel_run(self, stack_id: str, run_id: str, actor: str, note: str | None = None) -> Run:
        with self.lock:
            stack = self._writable_stack(stack_id)
            run = self._run_of(stack, run_id)
            if run.state not in ("QUEUED", "READY"):
                raise WorldError(f"run {run.id} is {run.state}; only a queued run can be canceled")
            self._set_state(run, "CANCELED", int(self.clock()), actor, note)
            return run

    def retry_run(self, stack_id: str, run_id: str, actor: str) -> Run:
        with self.lock:
            stack = self._writable_stack(stack_id)
            run = self._run_of(stack, run_id)
            if not run.can_retry:
                raise WorldError(f"run {run.id} cannot be retried")
            return self._new_run(
                stack,
                run.type,
                run.commit or stack.tracked_commit,
                int(self.clock()),
                actor,
                run.branch,
            )

    def lock_stack(self, stack_id: str, actor: str, note: str | None = None) -> Stack:
        with self.lock:
            stack = self._writable_stack(stack_id)
            if stack.locked_by and stack.locked_by != actor:
                raise WorldError(f"stack {stack_id} is already locked by {stack.locked_by}")
            stack.locked_by = actor
            stack.locked_at = int(self.clock())
            stack.lock_note = note
            return stack

    def unlock_stack(self, stack_id: str, actor: str) -> Stack:
        with self.lock:
            stack = self._writable_stack(stack_id)
            stack.locked_by = stack.locked_at = stack.lock_note = None
            return stack

    # -- search ----------------------------------------------------------------------------

    def search_stacks(self, search_input: dict[str, Any]) -> tuple[list[tuple[str, Stack]], dict]:
        return _search(self.stacks, search_input, _STACK_FIELDS, "id")

    def search_modules(self, search_input: dict[str, Any]) -> tuple[list[tuple[str, Module]], dict]:
        return _search(self.modules, search_input, _MODULE_FIELDS, "id")


# Predicate fields (docs/spacelift-api.md, "Queries"): field -> (kind, values of a stack)
_STACK_FIELDS: dict[str, tuple[str, Callable[[Any], Iterable[Any]]]] = {
    "administrative": ("boolean", lambda s: [s.administrative]),
    "locked": ("boolean", lambda s: [s.locked_by is not None]),
    "branch": ("string", lambda s: [s.branch]),
    "commit": ("prefix", lambda s: [s.tracked_commit.hash] if s.tracked_commit else []),
    "label": ("string", lambda s: s.labels),
    "name": ("string", lambda s: [s.name]),
    "projectRoot": ("string", lambda s: [s.project_root or ""]),
    "repository": ("string", lambda s: [s.repository]),
    "workerPool": (
        "string",
        lambda s: [s.worker_pool.id, s.worker_pool.name] if s.worker_pool else [],
    ),
    "space": ("string", lambda s: [s.space]),
    "state": ("enum", lambda s: [s.state]),
    "vendor": ("enum", lambda s: [s.vendor]),
}
_MODULE_FIELDS: dict[str, tuple[str, Callable[[Any], Iterable[Any]]]] = {
    "administrative": ("boolean", lambda m: [m.administrative]),
    "branch": ("string", lambda m: [m.branch]),
    "label": ("string", lambda m: m.labels),
    "name": ("string", lambda m: [m.name]),
    "repository": ("string", lambda m: [m.repository]),
    "space": ("string", lambda m: [m.space]),
    "terraformProvider": ("string", lambda m: [m.terraform_provider]),
}
_ORDER_KEYS: dict[str, Callable[[Any], Any]] = {
    "id": lambda x: x.id,
    "name": lambda x: x.name.lower(),
    "state": lambda x: getattr(x, "state", ""),
    "stateSetAt": lambda x: getattr(x, "state_set_at", 0) or 0,
    "createdAt": lambda x: x.created_at or 0,
    "starred": lambda x: getattr(x, "starred", False),
    "space": lambda x: x.space,
}


def _norm_enum(value: Any) -> str:
    return "".join(ch for ch in str(value).upper() if ch.isalnum())


def _matches(kind: str, constraint: dict[str, Any], values: list[Any], field_name: str) -> bool:
    if kind == "boolean":
        wanted = constraint.get("booleanEquals")
        if wanted is None:
            raise WorldError(f"predicate {field_name} needs booleanEquals")
        return any(value in wanted for value in values)
    if kind == "enum":
        wanted = constraint.get("enumEquals")
        if wanted is None:
            raise WorldError(f"predicate {field_name} needs enumEquals")
        wanted_norm = {_norm_enum(w) for w in wanted}
        return any(_norm_enum(value) in wanted_norm for value in values)
    patterns = constraint.get("stringMatches")
    if patterns is None:
        raise WorldError(f"predicate {field_name} needs stringMatches")
    for pattern in patterns:
        for value in values:
            if kind == "prefix" and value.startswith(pattern.lower()):
                return True
            if value == pattern or ("*" in pattern and fnmatch.fnmatchcase(value, pattern)):
                return True
    return False


def _encode_cursor(position: int) -> str:
    return base64.urlsafe_b64encode(f"position:{position}".encode()).decode()


def _decode_cursor(cursor: str) -> int:
    try:
        text = base64.urlsafe_b64decode(cursor.encode()).decode()
        prefix, _, number = text.partition(":")
        if prefix != "position":
            raise ValueError(cursor)
        return int(number)
    except (ValueError, binascii.Error, UnicodeDecodeError) as exc:
        raise WorldError(f"invalid cursor {cursor!r}") from exc


def _search(
    items: Sequence[Any],
    search_input: dict[str, Any],
    fields: dict[str, tuple[str, Callable[[Any], Iterable[Any]]]],
    default_order: str,
) -> tuple[list[tuple[str, Any]], dict[str, Any]]:
    first = search_input.get("first")
    first = SEARCH_PAGE_MAX if first is None else max(0, min(int(first), SEARCH_PAGE_MAX))
    after = search_input.get("after")
    start = _decode_cursor(after) if after else 0
    results = list(items)
    text = (search_input.get("fullTextSearch") or "").strip().lower()
    if text:
        results = [
            item
            for item in results
            if text in item.id.lower()
            or text in item.name.lower()
            or text in (item.description or "").lower()
            or any(text in label.lower() for label in item.labels)
        ]
    for predicate in search_input.get("predicates") or ():
        field_name = predicate["field"]
        if field_name not in fields:
            raise WorldError(f"unknown predicate field {field_name!r}")
        kind, values_of = fields[field_name]
        exclude = bool(predicate.get("exclude"))
        constraint = predicate.get("constraint") or {}
        results = [
            item
            for item in results
            if _matches(kind, constraint, list(values_of(item)), field_name) != exclude
        ]
    orders = search_input.get("orderBy") or [{"field": default_order, "direction": "ASC"}]
    # Sort by the last key first; Python's sort is stable, so earlier keys win.
    results.sort(key=lambda x: x.id)
    for order in reversed(orders):
        key = _ORDER_KEYS.get(order["field"])
        if key is None:
            raise WorldError(f"unknown order field {order['field']!r}")
        results.sort(key=key, reverse=order.get("direction") == "DESC")
    page = results[start : start + first]
    edges = [(_encode_cursor(start + i + 1), item) for i, item in enumerate(page)]
    page_info = {
        "end_cursor": edges[-1][0] if edges else None,
        "has_next_page": start + first < len(results),
        "has_previous_page": start > 0,
    }
    return edges, page_info

"""Building a seeded world: stacks with their latest runs, and what is made on first use.

The pools it draws from come first; a stack's older runs and its details are made the first
time the stack is asked for them.

Everything is deterministic from a seed and the time the world is built at (its anchor), so
a test can rebuild the same account: `generate()` makes it, and `move_in_time()` turns a
world built earlier into the one `generate()` would make now, for the simulator's reset.
"""

from __future__ import annotations

import base64
import hashlib
import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from .ids import HEAD_STACKS, make_run_id, make_ulid, random_hex, run_id_moved, stack_slugs
from .model import (
    STACK_STATES,
    TERMINAL_RUN_STATES,
    Commit,
    ConfigElement,
    Delta,
    Module,
    PolicyAttachment,
    Run,
    Space,
    Stack,
    StackConfigVendorAnsible,
    StackConfigVendorCloudFormation,
    StackConfigVendorKubernetes,
    StackConfigVendorOpenTofu,
    StackConfigVendorPulumi,
    StackConfigVendorTerraform,
    StackConfigVendorTerragrunt,
    StackContextAttachment,
    StackDetails,
    StackOutput,
    WorkerPool,
)

# -- pools the generator draws from -----------------------------------------------------

PEOPLE = (
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
FEATURE_BRANCHES = (
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


def commit_url(stack: Stack, commit_hash: str) -> str | None:
    template = _COMMIT_URLS.get(stack.provider)
    if template is None:
        return None
    return template.format(ns=stack.namespace, repo=stack.repository, sha=commit_hash)


def random_commit(
    stack: Stack, rng: random.Random, timestamp: int, message: str | None = None
) -> Commit:
    login, name = rng.choice(PEOPLE)
    if message is None:
        message = rng.choice(_COMMIT_MESSAGES).format(
            c=stack.component, e=stack.environment, n=rng.randint(100, 2999)
        )
    commit_hash = random_hex(rng)
    tag = f"v1.{rng.randint(0, 40)}.{rng.randint(0, 9)}" if rng.random() < 0.08 else None
    return Commit(
        hash=commit_hash,
        message=message,
        author_login=None if stack.provider == "GIT" else login,
        author_name=name,
        timestamp=timestamp,
        url=commit_url(stack, commit_hash),
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
CONFIRM_NOTES = (None, None, "LGTM", "Approved in CAB-118", "ship it")


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
            username = rng.choice(PEOPLE[:-1])[0]
            if state == "CONFIRMED":
                note = rng.choice(CONFIRM_NOTES)
        run.transition(state, at, username, note)
    if run_type == "TASK" or "PLANNING" not in path or path[-1] == "PLANNING":
        return run
    if run_type == "TRACKED" and path[-2:] == ["PLANNING", "FINISHED"]:
        run.delta = Delta(0, 0, 0, max(stack.entity_count, 1))  # a plan with no changes
    elif path[-2:] not in (["PLANNING", "FAILED"], ["PLANNING", "STOPPED"]):
        run.delta = random_delta(rng, stack)
    return run


def random_delta(rng: random.Random, stack: Stack) -> Delta:
    resources = max(stack.entity_count, rng.randint(3, 40))
    return Delta(rng.randint(0, 6), rng.randint(1, 9), rng.randint(0, 3), resources)


def generate_history(stack: Stack) -> None:
    """Older tracked runs, proposed runs and tasks: made on first use, same every time."""
    rng = random.Random(f"{stack.seed}:history")
    if stack.tracked:
        at = stack.tracked[-1].created_at
        for _ in range(stack.older_tracked_runs):
            at -= rng.randint(1800, 4 * 86400)
            final = _weighted(
                rng, (("FINISHED", 80), ("FAILED", 10), ("DISCARDED", 7), ("STOPPED", 3))
            )
            commit = random_commit(stack, rng, at - rng.randint(60, 3600))
            trigger = rng.choice(("", "", "", rng.choice(PEOPLE[:-1])[0], _OTHER_API_KEY))
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
            commit=stack.tracked_commit or random_commit(stack, rng, at),
            triggered_by=None,
            drift=True,
        )
        drift.delta = Delta(0, rng.randint(1, 5), 0, max(stack.entity_count, 1))
        drift.title = "Drift detection"
        proposed.append(drift)
        at = drift.created_at - rng.randint(600, 7200)
    for _ in range(rng.randint(0, 8)):
        branch = rng.choice(FEATURE_BRANCHES)
        final = _weighted(rng, (("FINISHED", 80), ("FAILED", 20)))
        commit = random_commit(stack, rng, at - rng.randint(60, 3600))
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
            commit=stack.tracked_commit or random_commit(stack, rng, at),
            triggered_by=rng.choice(PEOPLE[:-1])[0],
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


def generate_details(stack: Stack) -> StackDetails:
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
        ("DATADOG_API_KEY", random_hex(rng, 32), True, "Rotated quarterly"),
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
            StackOutput(
                "vpc_id", f"vpc-{random_hex(rng, 17)}", False, "The VPC everything lives in"
            ),
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


# -- a whole world ------------------------------------------------------------------------


@dataclass(eq=False)
class Account:
    """What `generate()` makes: a world's records as built at `anchor`, before any tick."""

    anchor: int
    spaces: list[Space]
    worker_pools: list[WorkerPool]
    stacks: list[Stack]
    active_stack_ids: list[str]  # stacks that get new pushes and whose runs move from the start
    moving: list[Run]  # the runs that take a transition on each tick
    modules: list[Module]


def generate(
    seed: int | str, stack_count: int, active_stacks: int, anchor: int, step_seconds: float
) -> Account:
    """The account of `seed` as it is at `anchor` (Unix seconds)."""
    builder = _Builder(seed, anchor, step_seconds)
    builder.build_stacks(stack_count, active_stacks)
    return Account(
        anchor=anchor,
        spaces=builder.spaces,
        worker_pools=builder.worker_pools,
        stacks=builder.stacks,
        active_stack_ids=builder.active_stack_ids,
        moving=builder.moving,
        modules=builder.build_modules(),
    )


class _Builder:
    """One account in the making: the world's random stream and what is built so far."""

    def __init__(self, seed: int | str, anchor: int, step_seconds: float) -> None:
        self.seed = seed
        self.anchor = anchor
        self.step_seconds = step_seconds
        self.rng = random.Random(f"{seed}:world")
        self.spaces = self.build_spaces()
        self.worker_pools = [WorkerPool(pid, name) for pid, name in _WORKER_POOLS]
        self.stacks: list[Stack] = []
        self.active_stack_ids: list[str] = []
        self.moving: list[Run] = []

    def build_spaces(self) -> list[Space]:
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

    def build_stacks(self, count: int, active_count: int) -> None:
        rng = self.rng
        ids = stack_slugs(count, rng)
        # Every stack state occurs at least once: one stack each, after the head stacks.
        coverage = list(STACK_STATES)
        rng.shuffle(coverage)
        active_count = max(0, min(active_count, count - len(coverage)))
        coverage_start = max(0, min(len(HEAD_STACKS), count - len(coverage) - active_count))
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
                    stack.locked_by = rng.choice((rng.choice(PEOPLE[:-1])[0], _OTHER_API_KEY))
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
            if is_active:
                self.active_stack_ids.append(stack_id)

    def _give_runs(self, stack: Stack, state: str, index: int, is_active: bool) -> None:
        rng = self.rng
        commit_time = self.anchor - rng.randint(600, 10 * 86400)
        message = _XSS_COMMIT_MESSAGE if index == 1 else None
        stack.tracked_commit = random_commit(stack, rng, commit_time, message)
        if rng.random() < 0.1:
            stack.tracked_commit_set_by = rng.choice(PEOPLE[:-1])[0]
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
        trigger = rng.choice(("", "", "", rng.choice(PEOPLE[:-1])[0], _OTHER_API_KEY))
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
            queued_commit = random_commit(stack, rng, queued_at - 30)
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
            self.moving.append(run)
        stack.refresh_state()

    def build_modules(self) -> list[Module]:
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


def move_in_time(account: Account, seconds: int) -> None:
    """Make `account` the one `generate()` builds `seconds` later: every time it holds moves,
    and so does the time part of every run ID. Only for an account as `generate()` left it
    (no tick played, nothing made lazily): that is all it knows to move."""
    moved_commits: set[int] = set()

    def move_commit(commit: Commit | None) -> None:
        if commit is not None and id(commit) not in moved_commits:
            moved_commits.add(id(commit))  # a stack's tracked commit is also its run's
            commit.timestamp += seconds

    account.anchor += seconds
    for stack in account.stacks:
        assert not stack.history_ready and stack.details is None, "not as generate() left it"
        stack.anchor += seconds
        stack.created_at += seconds
        if stack.locked_at is not None:
            stack.locked_at += seconds
        if stack.state_set_at is not None:
            stack.state_set_at += seconds
        move_commit(stack.tracked_commit)
        for run in stack.tracked:
            run.id = run_id_moved(run.id, seconds * 1000)
            run.created_at += seconds
            run.updated_at += seconds
            move_commit(run.commit)
            for transition in run.transitions:
                transition.timestamp += seconds
    for module in account.modules:
        module.created_at += seconds

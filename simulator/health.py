"""A stack's health as the simulator serves it: dependencies, resources, drift, workers, locks.

Shapes follow Spacelift's own clients (docs/spacelift-api.md, "Stack health"):
`dependsOn`/`isDependedOnBy` (spacectl `stack/dependencies.go`), `entities` with `drifted`
(spacectl `stack/resources.go`), `integrations { driftDetection }` (the Terraform provider),
`workerPools`, `workerPool(id)` and `publicWorkerPool` (spacectl `workerpools/`, the Prometheus
exporter), and `stackLock`/`stackUnlock` (spacectl `stack/lock.go`).

The data shows each case: a chain of dependencies (network-core-prod, k8s-cluster-prod,
payments-prod), one crossing into a space the key reads only, a stack whose queued run waits
on an upstream still running, drifted resources on the drifted stacks, drift-detection
schedules on some stacks and none on others, a worker pool with runs waiting, all its live
workers busy and one drained, and locks. It is derived from the world's records with a random
stream of its own (`<seed>:health`), so the rest of the world is as it was.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .model import TERMINAL_RUN_STATES, Run, Stack, WorldError

if TYPE_CHECKING:
    from .world import World

# The chain each account with these stacks shows (downstream, upstream).
CHAIN = (
    ("k8s-cluster-prod", "network-core-prod"),
    ("payments-prod", "k8s-cluster-prod"),
    ("payments-staging", "network-core-staging"),
    ("data-lake-prod", "network-core-prod"),
)
# Stacks that never get drift detection, so the "off" case is always there.
NO_DRIFT_DETECTION = frozenset({"network-core-prod", "checkout-dev"})
SCHEDULES = ("0 */6 * * *", "0 3 * * *", "30 */12 * * *", "15 * * * *")
# Workers of each pool: (how many, how many drained). The public pool has a parallelism.
POOL_WORKERS = {
    "aws-private-eu": (4, 1),
    "aws-private-us": (3, 1),
    "onprem-datacenter": (3, 2),
}
PUBLIC_PARALLELISM = 2
# Run states that hold a worker.
_ON_A_WORKER = frozenset(
    {"PREPARING", "INITIALIZING", "PLANNING", "APPLYING", "PERFORMING", "DESTROYING",
     "PREPARING_APPLY", "PREPARING_REPLAN"}
)  # fmt: skip
_RESOURCE_TYPES = (
    ("aws_s3_bucket", "bucket"),
    ("aws_iam_role", "role"),
    ("aws_iam_policy", "policy"),
    ("aws_security_group", "sg"),
    ("aws_route53_record", "record"),
    ("aws_lambda_function", "fn"),
    ("kubernetes_deployment", "deploy"),
    ("random_id", "suffix"),
)
_MODULES = ("", "", "module.network", "module.storage", "module.app")


@dataclass(slots=True, eq=False)
class StackDependency:
    id: str
    stack: Stack
    depends_on_stack: Stack


@dataclass(slots=True, eq=False)
class Entity:
    id: str
    address: str
    type: str
    name: str
    parent: str
    drifted: int | None
    creator: Run | None
    updater: Run | None


@dataclass(slots=True, eq=False)
class DriftDetection:
    schedule: list[str]
    reconcile: bool
    timezone: str = "UTC"
    ignore_state: bool = False
    deleted: bool = False
    next_schedule: int | None = None


@dataclass(slots=True, eq=False)
class Worker:
    id: str
    busy: bool
    drained: bool
    metadata: str = "{}"


@dataclass(slots=True, eq=False)
class Pool:
    id: str
    name: str
    workers: list[Worker] = field(default_factory=list)
    pending_runs: int = 0
    busy_workers: int = 0
    waiting: list[Run] = field(default_factory=list)  # READY, oldest first
    parallelism: int = 0

    @property
    def workers_count(self) -> int:
        return len(self.workers)


class HealthModel:
    """The health records of one world, derived from its stacks."""

    def __init__(self, world: World) -> None:
        self.world = world
        self.rng = random.Random(f"{world.seed}:health")
        self.upstreams: dict[str, list[StackDependency]] = {}
        self.downstreams: dict[str, list[StackDependency]] = {}
        self.drift: dict[str, DriftDetection | None] = {}
        self._entities: dict[str, list[Entity]] = {}
        self._build_dependencies()
        self._build_drift_detection()

    # -- dependencies ----------------------------------------------------------------------

    def _reaches(self, start: str, goal: str) -> bool:
        seen, todo = set(), [start]
        while todo:
            current = todo.pop()
            if current == goal:
                return True
            if current not in seen:
                seen.add(current)
                todo.extend(d.depends_on_stack.id for d in self.upstreams.get(current, ()))
        return False

    def depend(self, down: Stack, up: Stack) -> bool:
        """`down` depends on `up`, unless that would make a cycle or repeat an edge."""
        if down is up or self._reaches(up.id, down.id):
            return False
        if any(d.depends_on_stack is up for d in self.upstreams.get(down.id, ())):
            return False
        dependency = StackDependency(f"{down.id}--{up.id}", down, up)
        self.upstreams.setdefault(down.id, []).append(dependency)
        self.downstreams.setdefault(up.id, []).append(dependency)
        return True

    def _build_dependencies(self) -> None:
        by_id = {stack.id: stack for stack in self.world.stacks}
        for down, up in CHAIN:
            if down in by_id and up in by_id:
                self.depend(by_id[down], by_id[up])
        # A stack whose queued run waits on an upstream still running.
        running = [s for s in self.world.stacks if s.state in _ON_A_WORKER]
        queued = [s for s in self.world.stacks if s.tracked and s.tracked[0].state == "QUEUED"]
        for down in queued:
            up = next((s for s in running if s.id not in NO_DRIFT_DETECTION), None)
            if up is not None and self.depend(down, up):
                break
        # And a few more within an environment: an earlier stack of the same suffix.
        stacks = self.world.stacks
        for index, stack in enumerate(stacks[8:], start=8):
            if self.rng.random() < 0.2:
                same = [s for s in stacks[8:index] if s.environment == stack.environment]
                if same:
                    self.depend(stack, self.rng.choice(same))

    def depends_on(self, stack: Stack) -> list[StackDependency]:
        return list(self.upstreams.get(stack.id, ()))

    def depended_on_by(self, stack: Stack) -> list[StackDependency]:
        return list(self.downstreams.get(stack.id, ()))

    # -- drift detection -------------------------------------------------------------------

    def _build_drift_detection(self) -> None:
        for stack in self.world.stacks:
            wanted = stack.is_drifted or stack.id == "payments-prod" or self.rng.random() < 0.35
            if stack.id in NO_DRIFT_DETECTION or not wanted:
                self.drift[stack.id] = None
                continue
            schedule = SCHEDULES[0] if stack.id == "payments-prod" else self.rng.choice(SCHEDULES)
            self.drift[stack.id] = DriftDetection([schedule], reconcile=self.rng.random() < 0.3)

    def drift_detection(self, stack: Stack) -> DriftDetection | None:
        found = self.drift.get(stack.id)
        if found is not None:
            found.next_schedule = next_run(found.schedule, int(self.world.clock()))
        return found

    # -- resources -------------------------------------------------------------------------

    def entities(self, stack: Stack) -> list[Entity]:
        """The stack's resources, made on first use: `entity_count` of them, the drifted
        stacks' few marked with when the drift was found."""
        if stack.id in self._entities:
            return self._entities[stack.id]
        stack.ensure_history()
        rng = random.Random(f"{stack.seed}:entities")
        runs = [r for r in stack.tracked if r.state == "FINISHED"] or stack.tracked
        drift_run = next((r for r in stack.proposed if r.drift_detection), None)
        found_at = drift_run.updated_at if drift_run else stack.anchor - 3600
        drifted = set()
        if stack.is_drifted and stack.entity_count:
            drifted = set(rng.sample(range(stack.entity_count), min(3, stack.entity_count)))
        made = []
        for index in range(stack.entity_count):
            kind, short = _RESOURCE_TYPES[index % len(_RESOURCE_TYPES)]
            parent = _MODULES[(index // len(_RESOURCE_TYPES)) % len(_MODULES)]
            name = f"{short}_{index}"
            address = f"{parent}.{kind}.{name}" if parent else f"{kind}.{name}"
            creator = runs[-1 - rng.randrange(len(runs))] if runs else None
            made.append(
                Entity(address, address, kind, name, parent,
                       found_at if index in drifted else None, creator, runs[0] if runs else None)
            )  # fmt: skip
        self._entities[stack.id] = made
        return made

    # -- worker pools ----------------------------------------------------------------------

    def _runs_on(self, pool_id: str | None) -> list[Run]:
        found = []
        for stack in self.world.stacks:
            if (stack.worker_pool.id if stack.worker_pool else None) == pool_id:
                found.extend(r for r in stack.tracked if r.state not in TERMINAL_RUN_STATES)
        return found

    def pool(self, pool_id: str) -> Pool | None:
        record = next((p for p in self.world.worker_pools if p.id == pool_id), None)
        if record is None:
            return None
        count, drained = POOL_WORKERS.get(record.name, (2, 0))
        runs = self._runs_on(pool_id)
        waiting = sorted((r for r in runs if r.state == "READY"), key=lambda r: r.created_at)
        pending = len(waiting)
        live = count - drained
        # A run waits READY only while every live worker is busy.
        busy = live if pending else min(live, sum(1 for r in runs if r.state in _ON_A_WORKER))
        workers = [
            Worker(f"{record.id[:20]}W{i:05d}", busy=i < busy, drained=i >= live)
            for i in range(count)
        ]
        return Pool(record.id, record.name, workers, pending, busy, waiting, count)

    def public_pool(self) -> Pool:
        runs = self._runs_on(None)
        waiting = sorted((r for r in runs if r.state == "READY"), key=lambda r: r.created_at)
        working = sum(1 for r in runs if r.state in _ON_A_WORKER)
        busy = PUBLIC_PARALLELISM if waiting else min(PUBLIC_PARALLELISM, working)
        return Pool("", "public", [], len(waiting), busy, waiting, PUBLIC_PARALLELISM)

    # -- locks -----------------------------------------------------------------------------

    def lock(self, stack_id: str, actor: str, note: str | None) -> Stack:
        with self.world.lock:
            stack = self.world._writable_stack(stack_id)
            if stack.locked_by:
                raise WorldError(f"stack {stack_id} is already locked by {stack.locked_by}")
            stack.locked_by, stack.locked_at = actor, int(self.world.clock())
            stack.lock_note = note or None
            return stack

    def unlock(self, stack_id: str, actor: str) -> Stack:
        """Only the holder, or a key with ADMIN on the stack's space, may take a lock off."""
        with self.world.lock:
            stack = self.world._writable_stack(stack_id)
            if not stack.locked_by:
                raise WorldError(f"stack {stack_id} is not locked")
            if stack.locked_by != actor and stack.space_details.access_level != "ADMIN":
                raise WorldError(f"stack {stack_id} is locked by {stack.locked_by}")
            stack.locked_by = stack.locked_at = stack.lock_note = None
            return stack


def next_run(schedule: list[str], now: int) -> int | None:
    """The next time any of these cron expressions fires, for the forms SCHEDULES uses:
    `M */N * * *`, `M H * * *` and `M * * * *` (UTC)."""
    times = [t for t in (_next_of(expr, now) for expr in schedule) if t is not None]
    return min(times) if times else None


def _next_of(expression: str, now: int) -> int | None:
    parts = expression.split()
    if len(parts) != 5 or parts[2:] != ["*", "*", "*"] or not parts[0].isdigit():
        return None
    minute, hour = int(parts[0]), parts[1]
    if hour == "*":
        hours = list(range(24))
    elif hour.startswith("*/") and hour[2:].isdigit():
        hours = list(range(0, 24, int(hour[2:])))
    elif hour.isdigit():
        hours = [int(hour)]
    else:
        return None
    day = now - now % 86400
    for offset in (0, 86400):
        for h in hours:
            at = day + offset + h * 3600 + minute * 60
            if at > now:
                return at
    return None


def _world(info: Any) -> World:
    return info.context.world


def _pools_readable(info: Any) -> None:
    """Spacelift lets a Reader key see stacks but not worker pools: it answers unauthorized."""
    if info.context.simulator.faults.no_worker_pools:
        raise WorldError("unauthorized")


def query_resolvers() -> dict[str, Any]:
    def pools(_: Any, info: Any) -> list[Pool]:
        _pools_readable(info)
        health = _world(info).health
        return [p for p in (health.pool(r.id) for r in _world(info).worker_pools) if p]

    def one_pool(_: Any, info: Any, id: str) -> Pool | None:
        _pools_readable(info)
        return _world(info).health.pool(id)

    def public(_: Any, info: Any) -> Pool:
        _pools_readable(info)
        return _world(info).health.public_pool()

    return {"workerPools": pools, "workerPool": one_pool, "publicWorkerPool": public}


def schedulable_runs(pool: Pool, info: Any, input: dict[str, Any]) -> dict[str, Any]:
    """The pool's waiting runs in line, `first` of them (no further pages: a line is short)."""
    first = input.get("first") or 50
    edges = [
        {"cursor": run.id, "node": {"stack_id": run.stack.id, "run": run, "position": i + 1}}
        for i, run in enumerate(pool.waiting[:first])
    ]
    page = {"end_cursor": edges[-1]["cursor"] if edges else None,
            "has_next_page": len(pool.waiting) > first, "has_previous_page": False}  # fmt: skip
    return {"edges": edges, "page_info": page}


def mutation_resolvers() -> dict[str, Any]:
    return {
        "stackLock": lambda _, info, id, note=None: _world(info).health.lock(
            id, info.context.actor, note
        ),
        "stackUnlock": lambda _, info, id: _world(info).health.unlock(id, info.context.actor),
    }


def stack_resolvers() -> dict[str, Any]:
    return {
        "dependsOn": lambda stack, info: _world(info).health.depends_on(stack),
        "isDependedOnBy": lambda stack, info: _world(info).health.depended_on_by(stack),
        "entities": lambda stack, info: _world(info).health.entities(stack),
        "integrations": lambda stack, info: {
            "drift_detection": _world(info).health.drift_detection(stack)
        },
    }

"""Reading a stack's health from Spacelift, and locking it: documents, client and service parts.

Where each field comes from (docs/spacelift-api.md, "Stack health"):
- `dependsOn`/`isDependedOnBy { id stack { id name } dependsOnStack { id name } }`: spacectl
  `internal/cmd/stack/dependencies.go` (the edge's `id`: the Terraform provider's
  `structs/stack_dependency.go`).
- `proposedRuns(before:)`: spacectl `stack/run_list.go`, paged like `runs`.
- `entities { id address type name parent drifted creator { id } updater { id } }`: spacectl
  `stack/resources.go`; `drifted` is Unix seconds or null.
- `integrations { driftDetection { reconcile schedule timezone } }`: the Terraform provider
  (`structs/integrations.go`, `schedule` a list of cron expressions). `nextSchedule` is named
  by Spacelift's Flows app only: optional.
- `workerPool(id) { id name pendingRuns busyWorkers workers { id drained } }`: spacectl
  `workerpools/pool.go` and `worker.go`. `publicWorkerPool` is spacectl's too, but its
  `parallelism busyWorkers pendingRuns` only the Prometheus exporter's: optional.
- `stackLock(id:, note:)`, `stackUnlock(id:)`: spacectl `stack/lock.go`.

The mixins below join SpaceliftClient (client.py) and SpaceliftService (service.py): what a
stack page's health regions read is cached like every other read, one upstream query a key.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from . import errors
from .documents import _RUN, Document
from .types import Run
from .types.health import PoolLoad, Resource, StackHealth

if TYPE_CHECKING:
    from .snapshot import Snapshot

_EDGE = "id stack { id name } dependsOnStack { id name }"

# Dependencies and drift detection: small, and both change rarely, so one query serves the
# Dependencies, Drift detection and Waiting regions.
STACK_HEALTH = Document(f"""
query StackHealth($id: ID!) {{
  stack(id: $id) {{
    id
    dependsOn {{ {_EDGE} }}
    isDependedOnBy {{ {_EDGE} }}
    integrations {{
      driftDetection {{ schedule reconcile timezone ?DriftDetectionIntegration.nextSchedule }}
    }}
  }}
}}
""")

# Every resource at once: Spacelift pages no `entities`; the portal pages and searches them.
STACK_RESOURCES = """
query StackResources($id: ID!) {
  stack(id: $id) {
    id entities { id address type name parent drifted creator { id } updater { id } }
  }
}
"""

PROPOSED_RUNS = Document(f"""
query StackProposedRuns($id: ID!, $before: ID) {{
  stack(id: $id) {{ id proposedRuns(before: $before) {{ {_RUN} }} }}
}}
""")

WORKER_POOL = """
query WorkerPool($id: ID!) {
  workerPool(id: $id) { id name pendingRuns busyWorkers workers { id drained } }
}
"""

PUBLIC_WORKER_POOL = Document("""
query PublicWorkerPool {
  publicWorkerPool {
    __typename
    ?PublicWorkerPool.parallelism ?PublicWorkerPool.busyWorkers ?PublicWorkerPool.pendingRuns
  }
}
""")

STACK_LOCK = """
mutation StackLock($stack: ID!, $note: String) { stackLock(id: $stack, note: $note) { id } }
"""

STACK_UNLOCK = "mutation StackUnlock($stack: ID!) { stackUnlock(id: $stack) { id } }"


class HealthClient:
    """Mixed into SpaceliftClient, whose `read_stack`, `execute` and `_parse` it uses."""

    def get_stack_health(self, stack_id: str) -> StackHealth | None:
        data = self.read_stack(STACK_HEALTH, {"id": stack_id}, stack_id)
        stack = data.get("stack")
        return self._parse(lambda: StackHealth.from_api(stack)) if stack else None

    def list_resources(self, stack_id: str) -> tuple[Resource, ...] | None:
        data = self.read_stack(STACK_RESOURCES, {"id": stack_id}, stack_id)
        stack = data.get("stack")
        if not stack:
            return None
        return self._parse(lambda: tuple(Resource.from_api(e) for e in stack["entities"] or ()))

    def list_proposed_runs(self, stack_id: str, before: str | None = None) -> list[Run] | None:
        """One page of pull-request previews, newest first; None when the stack is gone."""
        data = self.read_stack(PROPOSED_RUNS, {"id": stack_id, "before": before}, stack_id)
        stack = data.get("stack")
        if not stack:
            return None
        return self._parse(lambda: [Run.from_api(r) for r in stack["proposedRuns"] or ()])

    def worker_pool_load(self, pool_id: str, name: str) -> PoolLoad | None:
        """How busy a pool is (`pool_id` "" for the public one); None when it is gone.

        A Reader key is answered `unauthorized` here. The exchange then asks `viewer`, as
        spacectl does, and a live token's refusal comes back as PermissionDenied."""
        try:
            if pool_id:
                data = self.execute(WORKER_POOL, {"id": pool_id})
            else:
                data = self.execute(PUBLIC_WORKER_POOL)
        except errors.PermissionDenied:
            return PoolLoad.unreadable(pool_id, name)
        if pool_id:
            pool = data.get("workerPool")
            return self._parse(lambda: PoolLoad.from_api(pool)) if pool else None
        return self._parse(lambda: PoolLoad.public_from_api(data.get("publicWorkerPool")))

    # Actions: retried only on `unauthorized`, which means the first was not carried out.

    def lock_stack(self, stack_id: str, note: str) -> str:
        data = self.execute(STACK_LOCK, {"stack": stack_id, "note": note})
        return self._parse(lambda: str(data["stackLock"]["id"]))

    def unlock_stack(self, stack_id: str) -> str:
        data = self.execute(STACK_UNLOCK, {"stack": stack_id})
        return self._parse(lambda: str(data["stackUnlock"]["id"]))


class HealthReads:
    """Mixed into SpaceliftService: the stack page's health regions' reads, each cached."""

    def stack_health(self, stack_id: str) -> Snapshot[StackHealth | None]:
        return self._read(f"health:{stack_id}", lambda: self.client.get_stack_health(stack_id))

    def resources(self, stack_id: str) -> Snapshot[tuple[Resource, ...] | None]:
        return self._read(f"resources:{stack_id}", lambda: self.client.list_resources(stack_id))

    def proposed_runs(self, stack_id: str, before: str | None = None) -> Snapshot[Any]:
        return self._read(
            f"proposed:{stack_id}:{before or ''}",
            lambda: self.client.list_proposed_runs(stack_id, before),
        )

    def worker_pool(self, pool_id: str, name: str) -> Snapshot[PoolLoad | None]:
        """One read per pool, shared by every stack on it ("" is the public pool)."""
        return self._read(
            f"worker-pool:{pool_id or 'public'}",
            lambda: self.client.worker_pool_load(pool_id, name),
        )

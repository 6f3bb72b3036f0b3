"""The cached service every view reads Spacelift through: one method per thing a page shows.

Each is a client call (client.py) read through the cache (cached_reads.py), so one upstream
query serves everyone per poll interval. `budget` caps the requests waiting on Spacelift and
gives a page one deadline for all it reads.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import wait as wait_for_futures
from contextlib import contextmanager
from typing import Any

from cachetools import LRUCache
from django.conf import settings

from . import budget, errors, outbound, process_state
from .account import InvalidEndpoint, default_registry_org, normalize_endpoint
from .cached_reads import (
    MAX_BACKOFF_SECONDS,
    CachedReads,
    _version_of,
    client_for,
    reset_process_state,
)
from .clock import clock
from .health import HealthReads
from .snapshot import Problem, Snapshot, problem_from, timeout_failure
from .types import ConfigElement, IdpGroupMapping, Module, ModuleVersions, Run, Space, Stack

__all__ = [
    "MAX_BACKOFF_SECONDS",
    "Problem",
    "Snapshot",
    "SpaceliftService",
    "client_for",
    "reset_process_state",
]

# How long `read_many` waits past its deadline for reads to record their own timeout.
DEADLINE_GRACE_SECONDS = 0.5


class SpaceliftService(HealthReads, CachedReads):
    # What views call ----------------------------------------------------------------------

    def stacks(self) -> Snapshot[list[Stack]]:
        return self._read("stacks", self.client.list_stacks)

    def stack(self, stack_id: str) -> Snapshot[Stack | None]:
        return self._read(f"stack:{stack_id}", lambda: self.client.get_stack(stack_id))

    def runs(self, stack_id: str, before: str | None = None) -> Snapshot[list[Run] | None]:
        return self._read(
            f"runs:{stack_id}:{before or ''}", lambda: self.client.list_runs(stack_id, before)
        )

    def run(self, stack_id: str, run_id: str) -> Snapshot[Run | None]:
        return self._read(f"run:{stack_id}:{run_id}", lambda: self.client.get_run(stack_id, run_id))

    def stack_config(self, stack_id: str) -> Snapshot[list[ConfigElement] | None]:
        return self._read(f"config:{stack_id}", lambda: self.client.get_stack_config(stack_id))

    def spaces(self) -> Snapshot[list[Space]]:
        """The account's space tree (`parentSpace`), which who-sees-what follows."""
        return self._read("spaces", self.client.list_spaces)

    def idp_group_mappings(self) -> Snapshot[list[IdpGroupMapping] | None]:
        """Spacelift's IdP group mappings (an admin key's read), for the Access page."""
        return self._read("idp-group-mappings", self.client.list_idp_group_mappings)

    def modules(self) -> Snapshot[list[Module]]:
        return self._read("modules", self.client.list_modules)

    def module_version_lists(self, module_ids: list[str]) -> Snapshot[dict[str, Any]]:
        """Versions of these modules over GraphQL, read in one query (client.py)."""
        key = "module-version-lists:" + _version_of("\0".join(module_ids).encode())
        return self._read(key, lambda: self.client.list_module_versions(module_ids))

    def registry_org(self) -> str:
        """SPACELIFT_REGISTRY_ORG, else the account's name taken from its host."""
        return settings.SPACELIFT_REGISTRY_ORG or default_registry_org(self.connection.base_url)

    def module_versions(
        self, org: str, name: str, provider: str, *, cached_only: bool = False
    ) -> Snapshot[ModuleVersions] | None:
        """One module's versions from the registry; with `cached_only`, None unless cached."""
        key = f"module-versions:{org}/{name}/{provider}"
        if cached_only and self.head_version(key) is None:
            return None
        return self._read(
            key,
            lambda: self.client.module_versions(org, name, provider, registry_url=_registry_url()),
        )

    def head_version(self, name: str) -> str | None:
        """The version of the fresh result for `name`, without loading it; None if expired."""
        head = self._head(self.prefix + name)
        return head["version"] if head and head["fresh_until"] > clock() else None

    def may_exist(self, stack_id: str) -> bool:
        """False when the current stack list is known and lacks `stack_id`.

        A made-up ID then costs no upstream query (nor a cache entry) until the list itself
        is refreshed; without a list (Spacelift failing from the start) the stack is asked for.
        """
        listed = self.stacks()
        if listed.data is None:
            return True
        return stack_id in _stack_ids(listed.version, listed.data)

    @contextmanager
    def one_deadline(self) -> Iterator[None]:
        """Every read in this block (and its `read_many`) ends by one deadline, the read
        timeout from now: a page waits on Spacelift once, however many things it reads."""
        with outbound.within(self.client.timeout[1]):
            yield

    def read_many(self, **reads: Callable[[], Snapshot[Any]]) -> dict[str, Snapshot[Any]]:
        """Run a page's reads at once under one deadline (the read timeout) for them all.

        `reads` are calls of this service's methods, e.g. `stack=lambda: svc.stack(id)`. Those
        answered from the cache return at once; the others share one permit and one deadline,
        so a hung Spacelift holds the page no longer than SPACELIFT_TIMEOUT_SECONDS in all.
        """
        with outbound.within(self.client.timeout[1]) as deadline, budget.permit() as permitted:
            if not permitted or len(reads) == 1:
                return {name: read() for name, read in reads.items()}
            futures = {name: budget.submit(read) for name, read in reads.items()}
            wait_for_futures(
                futures.values(), timeout=deadline - time.monotonic() + DEADLINE_GRACE_SECONDS
            )
        results = {}
        for name, future in futures.items():
            if future.done():
                results[name] = future.result()
            else:  # past the deadline and the grace: the read ends on its own, unwaited for
                problem = problem_from(timeout_failure(self.client.timeout[1]))
                results[name] = Snapshot(None, "", None, problem)
        return results


# The IDs of the last few stack lists, by version, so `may_exist` is a set lookup.
_stack_id_sets: LRUCache[str, frozenset[str]] = LRUCache(maxsize=4)
_stack_id_sets_lock = threading.Lock()


@process_state.forgets("stack id sets")
def _forget_stack_ids() -> None:
    with _stack_id_sets_lock:
        _stack_id_sets.clear()


def _stack_ids(version: str, stacks: list[Stack]) -> frozenset[str]:
    with _stack_id_sets_lock:
        ids = _stack_id_sets.get(version)
        if ids is None:
            ids = _stack_id_sets[version] = frozenset(s.id for s in stacks)
        return ids


def _registry_url() -> str | None:
    """SPACELIFT_REGISTRY_URL, checked like the endpoint; None: the account's own host."""
    raw = settings.SPACELIFT_REGISTRY_URL
    if not raw:
        return None
    try:
        return normalize_endpoint(raw)
    except InvalidEndpoint as exc:
        raise errors.NotConfigured(f"SPACELIFT_REGISTRY_URL: {exc}") from None

"""What the portal reads from Spacelift and does on it: one method per read or action.

Each sends a document of documents.py and builds the types of types/ from the answer. How a
document reaches Spacelift (token exchange, timeouts, one retry, errors) is exchange.py; how
an empty answer is doubted, empty_answers.py.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from . import documents, errors, fields, registry
from .empty_answers import EmptyAnswerChecks
from .exchange import GraphQLExchange
from .health import HealthClient
from .types import (
    ConfigElement,
    IdpGroupMapping,
    Module,
    ModuleVersion,
    ModuleVersions,
    Run,
    Space,
    Stack,
)

T = TypeVar("T")


class SpaceliftClient(HealthClient, EmptyAnswerChecks, GraphQLExchange):
    # Reads --------------------------------------------------------------------------------

    def list_stacks(self) -> list[Stack]:
        data = self.read(documents.STACKS, None, empty=lambda d: not d.get("stacks"), seen="stacks")
        stacks = self._parse(lambda: [Stack.from_api(s) for s in data["stacks"] or ()])
        self._note_stacks({s.id for s in stacks})
        return stacks

    def get_stack(self, stack_id: str) -> Stack | None:
        data = self.read_stack(documents.STACK, {"id": stack_id}, stack_id)
        stack = self._parse(lambda: Stack.from_api(data["stack"]) if data["stack"] else None)
        if stack is not None:
            self._note_stack(stack.id)
        return stack

    def list_runs(self, stack_id: str, before: str | None = None) -> list[Run] | None:
        """One page of tracked runs, newest first; None when the stack is gone."""
        data = self.read_stack(documents.RUNS, {"id": stack_id, "before": before}, stack_id)
        if not data.get("stack"):
            return None
        return self._parse(lambda: [Run.from_api(r) for r in data["stack"]["runs"] or ()])

    def get_run(self, stack_id: str, run_id: str) -> Run | None:
        data = self.read_stack(documents.RUN, {"stack": stack_id, "run": run_id}, stack_id)
        stack = data.get("stack")
        if not stack or not stack.get("run"):
            return None
        return self._parse(lambda: Run.from_api(stack["run"]))

    def list_spaces(self) -> list[Space]:
        data = self.read(documents.SPACES, None, empty=lambda d: not d.get("spaces"), seen="spaces")
        return self._parse(lambda: [Space.from_api(s) for s in data["spaces"] or ()])

    def list_idp_group_mappings(self) -> list[IdpGroupMapping] | None:
        """Spacelift's IdP group mappings; None where the API has no `managedUserGroups`."""
        field = "Query.managedUserGroups"
        if field in self.known_fields().missing:
            return None
        try:
            data = self.execute(documents.MANAGED_USER_GROUPS)
        except errors.GraphQLError as exc:
            if fields.rejected_fields([{"message": exc.message}]) != {field}:
                raise
            self._learn_missing({field})  # the API has no such field: never asked again
            return None
        groups = data.get("managedUserGroups") or ()
        return self._parse(lambda: [IdpGroupMapping.from_api(g) for g in groups])

    def get_stack_config(self, stack_id: str) -> list[ConfigElement] | None:
        """The stack's own environment variables and mounted files; None when it is gone."""
        data = self.read_stack(documents.STACK_CONFIG, {"id": stack_id}, stack_id)
        stack = data.get("stack")
        if not stack:
            return None
        return self._parse(lambda: [ConfigElement.from_api(c) for c in stack["config"] or ()])

    def list_modules(self) -> list[Module]:
        data = self.read(
            documents.MODULES, None, empty=lambda d: not d.get("modules"), seen="modules"
        )
        return self._parse(lambda: [Module.from_api(m) for m in data["modules"] or ()])

    def list_module_versions(
        self, module_ids: list[str], *, include_failed: bool = False
    ) -> dict[str, tuple[ModuleVersion, ...] | None]:
        """Modules' versions over GraphQL, as spacectl reads them, all in one query.

        Each module is an alias of `module(id) { versions(includeFailed:) }` (spacectl
        `internal/cmd/module/mcp.go`); None for a module that is gone.
        """
        if not module_ids:
            return {}
        data = self.execute(
            documents.module_versions(len(module_ids)),
            {"includeFailed": include_failed} | {f"m{i}": m for i, m in enumerate(module_ids)},
        )

        def build() -> dict[str, tuple[ModuleVersion, ...] | None]:
            found: dict[str, tuple[ModuleVersion, ...] | None] = {}
            for i, module_id in enumerate(module_ids):
                module = data.get(f"m{i}")
                found[module_id] = (
                    tuple(ModuleVersion.from_api(v) for v in module.get("versions") or ())
                    if module
                    else None
                )
            return found

        return self._parse(build)

    def module_versions(
        self, org: str, name: str, provider: str, *, registry_url: str | None = None
    ) -> ModuleVersions:
        """A module's versions from a Terraform registry (registry.py)."""
        return registry.read_versions(self, org, name, provider, registry_url=registry_url)

    def probe(self) -> None:
        """Check the host answers GraphQL at all, without a token; raises what it finds."""
        data, errs = self._post(documents.PROBE, None)
        if data is None and not errs:
            raise errors.NotJSON("The answer was JSON but not a GraphQL response")

    # Actions ------------------------------------------------------------------------------
    # Retried only on `unauthorized`, which means the first attempt was not carried out.

    def trigger_run(self, stack_id: str) -> tuple[str, str]:
        """A tracked run of the tracked commit; returns the new run's ID and state."""
        data = self.execute(documents.RUN_TRIGGER, {"stack": stack_id})
        return self._run_result(data, "runTrigger")

    def confirm_run(self, stack_id: str, run_id: str, note: str) -> tuple[str, str]:
        data = self.execute(documents.RUN_CONFIRM, {"stack": stack_id, "run": run_id, "note": note})
        return self._run_result(data, "runConfirm")

    def discard_run(self, stack_id: str, run_id: str, note: str) -> tuple[str, str]:
        data = self.execute(documents.RUN_DISCARD, {"stack": stack_id, "run": run_id, "note": note})
        return self._run_result(data, "runDiscard")

    def retry_run(self, stack_id: str, run_id: str) -> tuple[str, str]:
        """A failed run again: returns the new run's ID and state."""
        data = self.execute(documents.RUN_RETRY, {"stack": stack_id, "run": run_id})
        return self._run_result(data, "runRetry")

    def _run_result(self, data: dict[str, Any], field: str) -> tuple[str, str]:
        run = data.get(field) or {}
        return self._parse(lambda: (str(run["id"]), str(run.get("state") or "")))

    @staticmethod
    def _parse(build: Callable[[], T]) -> T:
        try:
            return build()
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise errors.GraphQLError("Spacelift's answer did not have the expected shape") from exc

"""The GraphQL side of the simulator: schema.graphql with resolvers over a `World`.

`load_schema()` builds the schema once and attaches a resolver to every field: a camelCase
field reads the snake_case attribute of the record behind it (simulator/model.py), and the
root, Stack, Module and Run fields that compute something get their own. `prepare()` parses
and validates a query once per distinct text. Nothing here speaks HTTP (server.py does).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLObjectType,
    GraphQLSchema,
    GraphQLUnionType,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionSetNode,
    build_schema,
    parse,
    validate,
)

from . import health, idp_groups, realism
from .logs import run_resolvers

if TYPE_CHECKING:
    from .server import Simulator
    from .world import World

SCHEMA_PATH = Path(__file__).with_name("schema.graphql")
# Root fields that need no token: the exchange itself.
PUBLIC_ROOT_FIELDS = frozenset({"apiKeyUser", "__typename", "__type", "__schema"})


class AttrResolver:
    """Reads the snake_case attribute (or dict key) behind a camelCase field."""

    __slots__ = ("attr",)

    def __init__(self, attr: str) -> None:
        self.attr = attr

    def __call__(self, source: Any, info: Any, **_: Any) -> Any:
        if type(source) is dict:
            return source.get(self.attr)
        return getattr(source, self.attr)


def _snake(name: str) -> str:
    return re.sub(r"(?<=[a-z0-9])([A-Z])", r"_\1", name).lower()


@dataclass
class RequestContext:
    """What a resolver reads from `info.context`."""

    simulator: Simulator
    world: World
    actor: str | None  # "api::<key id>" once the token is checked


def _connection(edges: list[tuple[str, Any]], page_info: dict[str, Any]) -> dict[str, Any]:
    return {
        "edges": [{"cursor": cursor, "node": node} for cursor, node in edges],
        "page_info": page_info,
    }


def _query_resolvers() -> dict[str, Callable[..., Any]]:
    def world(info: Any) -> World:
        return info.context.world

    return {
        "stacks": lambda _, info: world(info).stacks,
        "searchStacks": lambda _, info, input: _connection(*world(info).search_stacks(input)),
        "stack": lambda _, info, id: world(info).get_stack(id),
        "runStack": lambda _, info, runId: world(info).stack_of_run(runId),
        "spaces": lambda _, info: world(info).spaces,
        "space": lambda _, info, id: world(info).get_space(id),
        "viewer": lambda _, info: {
            "id": info.context.actor,
            "name": "Spacelift portal (simulated API key)",
        },
        "modules": lambda _, info: world(info).modules,
        "module": lambda _, info, id: world(info).get_module(id),
        "searchModules": lambda _, info, input: _connection(*world(info).search_modules(input)),
    }


def _mutation_resolvers() -> dict[str, Callable[..., Any]]:
    def world(info: Any) -> World:
        return info.context.world

    def actor(info: Any) -> str:
        return info.context.actor

    return {
        "apiKeyUser": lambda _, info, id, secret: info.context.simulator.exchange(id, secret),
        # spacectl also sends `runtimeConfig` (a YAML) and `forceApply`: accepted, not modelled.
        "runTrigger": lambda _, info, stack, commitSha=None, runType=None, **__: world(
            info
        ).trigger_run(stack, actor(info), commitSha, runType),
        "runConfirm": lambda _, info, stack, run=None, note=None: world(info).confirm_run(
            stack, run, actor(info), note
        ),
        "runDiscard": lambda _, info, stack, run=None, note=None: world(info).discard_run(
            stack, run, actor(info), note
        ),
        "runRetry": lambda _, info, stack, run: world(info).retry_run(stack, run, actor(info)),
    }


def _stack_resolvers() -> dict[str, Callable[..., Any]]:
    def page(run_type: str) -> Callable[..., Any]:
        return lambda stack, info, before=None: info.context.world.runs_page(
            stack, run_type, before
        )

    return {
        "runs": page("TRACKED"),
        "proposedRuns": page("PROPOSED"),
        "tasks": page("TASK"),
        "run": lambda stack, info, id: stack.find_run(id),
    }


@functools.cache
def load_schema(lean: bool = False) -> GraphQLSchema:
    """The schema from schema.graphql with the simulator's resolvers attached; `lean`: without
    the optional fields (realism.py)."""
    schema = build_schema(SCHEMA_PATH.read_text(encoding="utf-8") + idp_groups.SDL)
    for type_ in schema.type_map.values():
        if isinstance(type_, GraphQLObjectType) and not type_.name.startswith("__"):
            for name, field_def in type_.fields.items():
                field_def.resolve = AttrResolver(_snake(name))
    for type_name, resolvers in (
        ("Query", _query_resolvers()),
        ("Mutation", _mutation_resolvers()),
        ("Stack", _stack_resolvers()),
        ("Module", _module_resolvers()),
        ("Run", run_resolvers()),
        ("Query", idp_groups.resolvers()),
        ("Query", health.query_resolvers()),
        ("Mutation", health.mutation_resolvers()),
        ("Stack", health.stack_resolvers()),
        ("WorkerPool", {"searchSchedulableRuns": health.schedulable_runs}),
        ("PublicWorkerPool", {"searchSchedulableRuns": health.schedulable_runs}),
    ):
        fields = schema.get_type(type_name).fields  # type: ignore[union-attr]
        for name, resolver in resolvers.items():
            fields[name].resolve = resolver
    vendor = schema.get_type("StackConfigVendor")
    assert isinstance(vendor, GraphQLUnionType)
    vendor.resolve_type = lambda value, info, abstract_type: value.TYPENAME
    realism.attach_client_fields(schema)
    realism.guard_root_fields(schema, PUBLIC_ROOT_FIELDS)
    return realism.lean_fields(schema) if lean else schema


def _module_resolvers() -> dict[str, Callable[..., Any]]:
    return {
        "versions": lambda module, info, includeFailed=False: realism.module_versions(
            module, bool(includeFailed)
        ),
        "current": lambda module, info: realism.current_version(module),
    }


@dataclass(frozen=True)
class Prepared:
    document: DocumentNode | None
    errors: list[dict[str, Any]]


@functools.lru_cache(maxsize=256)
def prepare(query: str, lean: bool = False) -> Prepared:
    """Parse and validate once per distinct query text (the portal sends constants)."""
    try:
        document = parse(realism.accept_empty_variables(query))
    except GraphQLError as error:
        return Prepared(None, [error.formatted])
    errors = validate(load_schema(lean), document)
    if errors:
        return Prepared(document, [realism.as_spacelift_words(e.formatted) for e in errors])
    return Prepared(document, [])


def root_fields_of(document: DocumentNode, operation: OperationDefinitionNode) -> list[str]:
    """The root fields an operation asks for, fragments included: what it counts and logs."""
    fragments = {
        d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
    }
    names: list[str] = []
    seen: set[str] = set()

    def visit(selection_set: SelectionSetNode) -> None:
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode):
                if selection.name.value not in names:
                    names.append(selection.name.value)
            elif isinstance(selection, InlineFragmentNode):
                visit(selection.selection_set)
            elif isinstance(selection, FragmentSpreadNode):
                name = selection.name.value
                if name not in seen and name in fragments:
                    seen.add(name)
                    visit(fragments[name].selection_set)

    visit(operation.selection_set)
    return names

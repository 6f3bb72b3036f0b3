"""Ways the real Spacelift API answers that a tidy GraphQL server would not.

Learned from Spacelift's own clients (docs/spacelift-api.md, "Learned since"):

- **Lean API.** Fields named by one unvalidated source only may be missing from an account's
  API (self-hosted Spacelift before 6.0.0 has no `workflowTool`). `lean_fields` removes them
  from the schema, so asking for one is rejected with graphql's own "Cannot query field"
  error, and introspection (`__type(name:)`) describes the lean types.
- **Unaccepted tokens get empty answers.** For a token Spacelift no longer accepts it answers
  `stacks: []`, `stack: null`, `modules: []`, `viewer: null`, without an error (spacectl
  661b675, 7a8ea4b). `empty_answer` gives that value for any root field.
- **A lenient parser.** Spacelift's Backstage plugin sends `query GetStacks () {` (an empty
  variable list, which graphql's grammar rejects) and Spacelift accepts it:
  `accept_empty_variables` rewrites it before parsing.
- **Search pages of at most 50** (spacectl's `maxPageSize`): a larger `first` is an error
  that names the limit (search.py). `no_search` plays an old self-hosted Spacelift that has
  no `searchStacks`.
- **A gateway's 401.** Some deployments put a gateway before the API that answers HTTP 401
  with no body (spacectl's `client/client.go` reads a 401 as unauthorized):
  `gateway_401_once`.
- **A later page fails.** A pass of search pages can fail part-way: `fail_search_page=N`
  answers the Nth page of a pass (counted from its cursor, so a refused larger page does not
  count) with an HTTP 500, once; the pages before it were answered.
- **Modules with versions** over GraphQL (`module(id) { versions(includeFailed:) }` and
  `current`), as spacectl reads them.
"""

from __future__ import annotations

import re
import zlib
from dataclasses import dataclass
from typing import Any

from graphql import (
    FieldNode,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLSchema,
    OperationDefinitionNode,
)
from graphql.utilities import value_from_ast_untyped

from .model import WorldError
from .search import SEARCH_PAGE_MAX, decode_cursor

# The optional fields of docs/spacelift-api.md (and anything else no validated client
# sends): a lean API lacks them all. The portal's documents.OPTIONAL_FIELDS names the same.
LEAN_MISSING_FIELDS = frozenset(
    {
        "Stack.isDrifted",
        "Stack.needsApproval",
        "Stack.repositoryURL",
        "Stack.lockedAt",
        "Stack.lockNote",
        "Stack.effectiveTerraformVersion",
        "Commit.tag",
        "Run.finished",
        "Run.updatedAt",
        "ConfigElement.fileMode",
        "ConfigElement.description",
        "StackConfigVendorTerraform.workflowTool",
        "Query.managedUserGroups",
        "DriftDetectionIntegration.nextSchedule",
        "PublicWorkerPool.parallelism",
        "PublicWorkerPool.busyWorkers",
        "PublicWorkerPool.pendingRuns",
    }
)

# What a GraphQL server without `searchStacks` (an old self-hosted Spacelift) answers.
NO_SEARCH = 'Cannot query field "searchStacks" on type "Query".'

# What Apollo Server answers when introspection is switched off.
NO_INTROSPECTION = (
    "GraphQL introspection is not allowed, but the query contained __schema or __type"
)

# `query Name () {` or `query () {`: the parentheses of an empty variable list.
_EMPTY_VARIABLES = re.compile(r"\b((?:query|mutation|subscription)(?:\s+[_A-Za-z]\w*)?)\s*\(\s*\)")
_INTROSPECTION_FIELD = re.compile(r"\b__(?:schema|type)\b")


def accept_empty_variables(query: str) -> str:
    """`query GetStacks () {` -> `query GetStacks {`, as Spacelift's parser accepts it."""
    return _EMPTY_VARIABLES.sub(r"\1", query)


_CORE_CANNOT_QUERY = re.compile(
    r"Cannot query field '(\w+)' on type '(\w+)'\.(?: Did you mean .*)?"
)


def as_spacelift_words(error: dict[str, Any]) -> dict[str, Any]:
    """graphql-core quotes names with ' and suggests others; Spacelift's server (gqlparser,
    like graphql-js) says `Cannot query field "x" on type "Y".` A client matches that text."""
    message = str(error.get("message", ""))
    match = _CORE_CANNOT_QUERY.fullmatch(message)
    if match is None:
        return error
    return {**error, "message": f'Cannot query field "{match[1]}" on type "{match[2]}".'}


def search_page_number(operation: OperationDefinitionNode, variables: dict[str, Any]) -> int | None:
    """Which page of a pass a `searchStacks` request asks for (1 = no `after`), from its
    cursor and page size; None when it asks for no searchStacks or the input is unreadable."""
    for selection in operation.selection_set.selections:
        if not (isinstance(selection, FieldNode) and selection.name.value == "searchStacks"):
            continue
        argument = next((a for a in selection.arguments if a.name.value == "input"), None)
        if argument is None:
            return None
        search_input = value_from_ast_untyped(argument.value, variables)
        if not isinstance(search_input, dict):
            return None
        try:
            first = int(search_input.get("first") or SEARCH_PAGE_MAX)
            after = search_input.get("after")
            position = decode_cursor(after) if after else 0
        except (TypeError, ValueError, WorldError):
            return None
        return position // max(first, 1) + 1
    return None


def asks_introspection(query: str) -> bool:
    return bool(_INTROSPECTION_FIELD.search(query))


def lean_fields(schema: GraphQLSchema) -> GraphQLSchema:
    """Remove the optional fields from `schema`'s types (a schema of its own, not shared)."""
    for name in LEAN_MISSING_FIELDS:
        type_name, field = name.split(".", 1)
        type_ = schema.get_type(type_name)
        if isinstance(type_, GraphQLObjectType):
            type_.fields.pop(field, None)
    return schema


def empty_answer(field_type: Any) -> Any:
    """What Spacelift gives an unaccepted token for a root field: [] for a list, an empty
    connection for a search, null for the rest."""
    inner = field_type.of_type if isinstance(field_type, GraphQLNonNull) else field_type
    if isinstance(inner, GraphQLList):
        return []
    if isinstance(inner, GraphQLObjectType) and "edges" in inner.fields:
        return {
            "edges": [],
            "page_info": {"end_cursor": None, "has_next_page": False, "has_previous_page": False},
        }
    return None


def guard_root_fields(schema: GraphQLSchema, public: frozenset[str]) -> None:
    """Make every non-public Query field answer `empty_answer` to a request with no actor.

    The server only lets such a request through in the `unaccepted_empty` mode; otherwise it
    has already answered `unauthorized`.
    """
    query = schema.query_type
    assert query is not None
    for name, field_def in query.fields.items():
        if name in public or field_def.resolve is None:
            continue
        resolve, empty = field_def.resolve, empty_answer(field_def.type)

        def guarded(source: Any, info: Any, _resolve=resolve, _empty=empty, **kwargs: Any) -> Any:
            if info.context.actor is None:
                return _empty
            return _resolve(source, info, **kwargs)

        field_def.resolve = guarded


@dataclass(frozen=True)
class ModuleVersion:
    """One published version of a simulated module."""

    id: str
    number: str
    state: str
    created_at: int
    notes: str | None
    yanked: bool
    module: Any = None


# Fields Spacelift's own clients ask for that the simulated world does not model: each gets
# a plain value (no hooks, no comments, nothing attached), so their documents are answered.
_HOOKS = ("Apply", "Init", "Plan", "Perform", "Destroy")
CLIENT_FIELD_VALUES: dict[str, dict[str, Any]] = {
    "Stack": {
        **{f"{when}{hook}": [] for hook in _HOOKS for when in ("after", "before")},
        "localPreviewEnabled": False,
        "managesStateFile": True,
        "additionalProjectGlobs": [],
        "moduleVersionsUsed": [],
    },
    "StackContextAttachment": {"config": [], "isAutoattached": False},
    "Run": {"comments": []},
    "Module": {
        "canWrite": True,
        "localPreviewEnabled": False,
        "starred": False,
        "workerPool": None,
    },
}


# What spacectl's `stack show` (6.0.0+, vendorConfigFull) asks of each vendor beyond what the
# world generates: plausible values derived from what it has (no draws of its own, so the
# world stays what its seed makes it). Names confirmed in spacectl 490d0dd (schema.graphql).
VENDOR_FIELD_VALUES: dict[str, dict[str, Any]] = {
    "StackConfigVendorTerraform": {
        "useSmartSanitization": lambda v: False,
        "externalStateAccessEnabled": lambda v: False,
    },
    "StackConfigVendorOpenTofu": {
        "useSmartSanitization": lambda v: True,
        "externalStateAccessEnabled": lambda v: False,
        "concise": lambda v: False,
        "workflowTool": lambda v: "OPEN_TOFU",
    },
    "StackConfigVendorTerragrunt": {
        "useRunAll": lambda v: False,
        "useSmartSanitization": lambda v: True,
        "tool": lambda v: "TERRAFORM_FOSS",
        "useStateManagement": lambda v: True,
    },
    "StackConfigVendorCloudFormation": {
        "entryTemplateFile": lambda v: "cloudformation/main.yaml",
        "templateBucket": lambda v: f"s3://acme-cfn-templates-{v.region}/{v.stack_name}",
    },
    "StackConfigVendorKubernetes": {
        "kubernetesWorkflowTool": lambda v: "KUBERNETES",
    },
}


def runtime_config(stack: Any, info: Any) -> list[dict[str, Any]]:
    """spacectl `stack environment list`'s `runtimeConfig`: the stack's own variables and
    files (context null; the world gives its contexts no environment of their own)."""
    return [{"context": None, "element": element} for element in stack.config]


def config_created_at(element: Any, info: Any) -> int:
    """When a variable was set: a stable day in the 90 before the world was built."""
    days = zlib.crc32(f"{element.id}:{element.checksum}".encode()) % 90
    return int(info.context.world.anchor) - (days + 1) * 86400


def attach_client_fields(schema: GraphQLSchema) -> None:
    """Answer CLIENT_FIELD_VALUES, VENDOR_FIELD_VALUES, spacectl's runtimeConfig, and the
    Module fields the world can derive."""
    for type_name, derived in VENDOR_FIELD_VALUES.items():
        type_ = schema.get_type(type_name)
        assert isinstance(type_, GraphQLObjectType)
        for name, derive in derived.items():
            type_.fields[name].resolve = lambda source, info, _derive=derive, **_: _derive(source)
    stack = schema.get_type("Stack")
    config = schema.get_type("ConfigElement")
    assert isinstance(stack, GraphQLObjectType) and isinstance(config, GraphQLObjectType)
    stack.fields["runtimeConfig"].resolve = runtime_config
    config.fields["createdAt"].resolve = config_created_at
    for type_name, values in CLIENT_FIELD_VALUES.items():
        type_ = schema.get_type(type_name)
        assert isinstance(type_, GraphQLObjectType)
        for name, value in values.items():
            type_.fields[name].resolve = lambda source, info, _value=value, **_: (
                list(_value) if isinstance(_value, list) else _value
            )
    module = schema.get_type("Module")
    assert isinstance(module, GraphQLObjectType)
    module.fields["owner"].resolve = lambda source, info: source.namespace
    module.fields["apiHost"].resolve = lambda source, info: info.context.simulator.base_url


def module_versions(module: Any, include_failed: bool = False) -> list[ModuleVersion]:
    """A module's versions, newest first: every published one (the registry's list), and,
    with `includeFailed`, a newer one whose build failed. Every fifth is yanked."""
    count = len(module.versions)
    found = [
        ModuleVersion(
            id=f"{module.id}-v{count - index}",
            number=number,
            state="ACTIVE",
            created_at=module.created_at + (count - index) * 7 * 86400,
            notes=f"Release {number}" if index % 2 == 0 else None,
            yanked=index % 5 == 4,
            module=module,
        )
        for index, number in enumerate(reversed(module.versions))
    ]
    if include_failed and found:
        major, _, rest = found[0].number.partition(".")
        failed = f"{major}.{rest.partition('.')[0]}.{int(rest.partition('.')[2] or 0) + 1}"
        failed_at = found[0].created_at + 86400
        found.insert(
            0,
            ModuleVersion(f"{module.id}-failed", failed, "FAILED", failed_at, None, False, module),
        )
    return found


def current_version(module: Any) -> ModuleVersion | None:
    """The newest version that is active and not yanked: what a consumer gets."""
    return next((v for v in module_versions(module) if v.state == "ACTIVE" and not v.yanked), None)

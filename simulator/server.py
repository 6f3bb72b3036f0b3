"""Spacelift's GraphQL API over real HTTP, served from `schema.graphql` and a `World`.

`POST /graphql` takes `{"query", "variables", "operationName"}`, parses and validates the
query against the schema (a field Spacelift lacks is rejected as a whole, with HTTP 200 and
no `data`, as a real GraphQL server does), checks the bearer token and executes it.
Authentication follows docs/spacelift-api.md, "Transport and authentication":
`apiKeyUser(id, secret)` needs no token and returns `null` for an unknown key ID and a
GraphQL error for a wrong secret; everything else needs `Authorization: Bearer <jwt>` of an
unexpired token this server issued, or it fails with an error whose message contains
`unauthorized`.

`GET /registry/modules/v1/<org>/<module>/<provider>/versions` is the private module registry
(the Terraform registry protocol, docs/spacelift-api.md, "Module registry"): the org is
`simulated`, the token the same JWT, and with `registry_no_access` it answers an empty
versions list, as Spacelift does to a token that may not read the module's space.

Faults (latency, HTTP 500, HTML instead of JSON, unauthorized, a hang, a GraphQL error,
HTTP 429) are switched at start or at runtime through `/_sim/faults`; they apply to
`/graphql` and, except the GraphQL error, to the registry. `/_sim/*` also reads and resets
counters, steps the world and rebuilds it. `realism.py` holds the ways the real API answers
that a tidy GraphQL server would not (a lean schema, empty answers to an unaccepted token, a
lenient parser), switched like the faults.

The log has one line per request: method, path, root fields, status, milliseconds. It never
holds the secret, the variables or the Authorization header.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import json
import logging
import re
import secrets
import select
import socket
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLBoolean,
    GraphQLError,
    GraphQLID,
    GraphQLInt,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLSchema,
    GraphQLString,
    GraphQLUnionType,
    InlineFragmentNode,
    OperationDefinitionNode,
    OperationType,
    SelectionSetNode,
    build_schema,
    execute,
    is_abstract_type,
    is_leaf_type,
    parse,
    validate,
)
from graphql.utilities import get_operation_ast

from . import idp_groups, realism
from .logs import run_resolvers
from .world import DEFAULT_ACTIVE_STACKS, DEFAULT_SEED, DEFAULT_STEP_SECONDS, World

logger = logging.getLogger(__name__)

SCHEMA_PATH = Path(__file__).with_name("schema.graphql")

# Fixed, so `make run` can hand the same key to the portal every time. Not a real secret.
DEFAULT_KEY_ID = "01J5SPACE1FTS1MKEY00000000"
DEFAULT_KEY_SECRET = "sim-secret-5f3a9c2e7b1d4e6f8a0c2e4b6d8f0a1c"
DEFAULT_TOKEN_LIFETIME = 3600  # seconds; Spacelift's docs say 1 h or 10 h, clients trust validUntil
DEFAULT_HANG_SECONDS = 60.0  # spacectl's HTTP timeout: a client has given up by then
RATE_LIMIT_RETRY_AFTER = 7  # seconds, sent as Retry-After with a 429
MAX_BODY_BYTES = 1_000_000
MAX_WORLD_STACKS = 100_000
FAULT_MODES = ("http500", "not_json", "unauthorized", "hang", "graphql_error", "rate_limit")
# Root fields that need no token: the exchange itself.
_PUBLIC_ROOT_FIELDS = frozenset({"apiKeyUser", "__typename", "__type", "__schema"})
_ULID = re.compile(r"^[0-9A-HJKMNP-TV-Z]{26}$")
# The registry's organisation: Spacelift's is the account name; the simulator has one.
REGISTRY_ORG = "simulated"
REGISTRY_PREFIX = "/registry/modules/v1/"

_HTML_500 = (
    "<!DOCTYPE html><html><head><title>500 Internal Server Error</title></head>"
    "<body><h1>Internal Server Error</h1><p>The server encountered an internal error.</p>"
    "</body></html>"
)
_HTML_PROXY = (
    "<!DOCTYPE html><html><head><title>Sign in - Acme Secure Web Gateway</title></head>"
    "<body><h1>Authentication required</h1><p>Your request to this site was intercepted by "
    'the corporate proxy. <a href="/login">Sign in</a> to continue.</p></body></html>'
)
_HTML_504 = (
    "<!DOCTYPE html><html><head><title>504 Gateway Time-out</title></head>"
    "<body><h1>504 Gateway Time-out</h1></body></html>"
)


# ---------------------------------------------------------------------------------------
# Schema and resolvers


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
        "runTrigger": lambda _, info, stack, commitSha=None, runType=None: world(info).trigger_run(
            stack, actor(info), commitSha, runType
        ),
        "runConfirm": lambda _, info, stack, run=None, note=None: world(info).confirm_run(
            stack, run, actor(info), note
        ),
        "runDiscard": lambda _, info, stack, run=None, note=None: world(info).discard_run(
            stack, run, actor(info), note
        ),
        "runCancel": lambda _, info, stack, run, note=None: world(info).cancel_run(
            stack, run, actor(info), note
        ),
        "runRetry": lambda _, info, stack, run: world(info).retry_run(stack, run, actor(info)),
        "stackLock": lambda _, info, id, note=None: world(info).lock_stack(id, actor(info), note),
        "stackUnlock": lambda _, info, id: world(info).unlock_stack(id, actor(info)),
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
    ):
        fields = schema.get_type(type_name).fields  # type: ignore[union-attr]
        for name, resolver in resolvers.items():
            fields[name].resolve = resolver
    vendor = schema.get_type("StackConfigVendor")
    assert isinstance(vendor, GraphQLUnionType)
    vendor.resolve_type = lambda value, info, abstract_type: value.TYPENAME
    realism.attach_client_fields(schema)
    realism.guard_root_fields(schema, _PUBLIC_ROOT_FIELDS)
    return realism.lean_fields(schema) if lean else schema


def _module_resolvers() -> dict[str, Callable[..., Any]]:
    return {
        "versions": lambda module, info, includeFailed=False: realism.module_versions(
            module, bool(includeFailed)
        ),
        "current": lambda module, info: realism.current_version(module),
    }


@dataclass(frozen=True)
class _Prepared:
    document: DocumentNode | None
    errors: list[dict[str, Any]]


@functools.lru_cache(maxsize=256)
def _prepare(query: str, lean: bool = False) -> _Prepared:
    """Parse and validate once per distinct query text (the portal sends constants)."""
    try:
        document = parse(realism.accept_empty_variables(query))
    except GraphQLError as error:
        return _Prepared(None, [error.formatted])
    errors = validate(load_schema(lean), document)
    if errors:
        return _Prepared(document, [realism.as_spacelift_words(e.formatted) for e in errors])
    return _Prepared(document, [])


def _root_fields(document: DocumentNode, operation: OperationDefinitionNode) -> list[str]:
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


# ---------------------------------------------------------------------------------------
# A fast path for large plain queries.
#
# graphql-core spends about 7 µs on every field it resolves, so `stacks` at 10,000 stacks
# took over two seconds. Queries without arguments or directives below the root (the stack
# list is one) are completed here instead, with the same field collection rules. Whenever
# anything unusual happens (an exception, a null in a non-null field) the request is run
# again by graphql-core, so errors are always graphql-core's own.


class _Fallback(Exception):
    pass


@dataclass
class _FastInfo:
    context: RequestContext


def fast_path_applies(document: DocumentNode, operation: OperationDefinitionNode) -> bool:
    if operation.operation != OperationType.QUERY or operation.directives:
        return False
    fragments = {
        d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
    }
    seen: set[str] = set()

    def plain(selection_set: SelectionSetNode) -> bool:
        for selection in selection_set.selections:
            if selection.directives:
                return False
            if isinstance(selection, FieldNode):
                if selection.arguments or selection.name.value in ("__schema", "__type"):
                    return False
                if selection.selection_set and not plain(selection.selection_set):
                    return False
            elif isinstance(selection, InlineFragmentNode):
                if not plain(selection.selection_set):
                    return False
            elif isinstance(selection, FragmentSpreadNode):
                name = selection.name.value
                if name not in seen:
                    seen.add(name)
                    if name not in fragments or not plain(fragments[name].selection_set):
                        return False
        return True

    return plain(operation.selection_set)


def _leaf_serializer(type_: Any) -> Callable[[Any], Any]:
    """The type's own serializer, skipping it where the value is already what it returns."""
    serialize = type_.serialize
    if type_ in (GraphQLString, GraphQLID):
        return lambda value: value if type(value) is str else serialize(value)
    if type_ is GraphQLBoolean:
        return lambda value: value if type(value) is bool else serialize(value)
    if type_ is GraphQLInt:
        # GraphQL's Int is 32-bit; anything else goes through graphql-core (and its error).
        return lambda value: (
            value if type(value) is int and -(2**31) <= value < 2**31 else serialize(value)
        )
    return serialize


class _FastExecutor:
    def __init__(self, schema: GraphQLSchema, document: DocumentNode, context: RequestContext):
        self.schema = schema
        self.fragments = {
            d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
        }
        self.info = _FastInfo(context)
        self.plans: dict[tuple[str, tuple[int, ...]], list[tuple[Any, ...]]] = {}

    def run(self, operation: OperationDefinitionNode) -> dict[str, Any]:
        root = self.schema.query_type
        assert root is not None
        return self.complete_object(root, None, (operation.selection_set,))

    def _applies(self, condition: Any, runtime_type: GraphQLObjectType) -> bool:
        if condition is None:
            return True
        condition_type = self.schema.get_type(condition.name.value)
        if condition_type is runtime_type:
            return True
        return is_abstract_type(condition_type) and self.schema.is_sub_type(
            condition_type,  # type: ignore[arg-type]
            runtime_type,
        )

    def plan(
        self, type_: GraphQLObjectType, selection_sets: tuple[SelectionSetNode, ...]
    ) -> list[tuple[Any, ...]]:
        """(response key, attribute or None, resolver, completer) per field, in the order
        graphql-core's field collection gives."""
        key = (type_.name, tuple(id(s) for s in selection_sets))
        plan = self.plans.get(key)
        if plan is not None:
            return plan
        grouped: dict[str, list[Any]] = {}
        visited: set[str] = set()

        def visit(selection_set: SelectionSetNode) -> None:
            for selection in selection_set.selections:
                if isinstance(selection, FieldNode):
                    response_key = (selection.alias or selection.name).value
                    entry = grouped.get(response_key)
                    if entry is None:
                        entry = grouped[response_key] = [selection.name.value, []]
                    if selection.selection_set:
                        entry[1].append(selection.selection_set)
                elif isinstance(selection, InlineFragmentNode):
                    if self._applies(selection.type_condition, type_):
                        visit(selection.selection_set)
                elif isinstance(selection, FragmentSpreadNode):
                    name = selection.name.value
                    if name in visited:
                        continue
                    visited.add(name)
                    fragment = self.fragments[name]
                    if self._applies(fragment.type_condition, type_):
                        visit(fragment.selection_set)

        for selection_set in selection_sets:
            visit(selection_set)
        plan = []
        for response_key, (name, subs) in grouped.items():
            if name == "__typename":
                type_name = type_.name
                plan.append((response_key, None, None, lambda _, t=type_name: t))
                continue
            field_def = type_.fields[name]
            resolve = field_def.resolve
            attr = resolve.attr if isinstance(resolve, AttrResolver) else None
            plan.append((response_key, attr, resolve, self.completer(field_def.type, tuple(subs))))
        self.plans[key] = plan
        return plan

    def completer(self, type_: Any, subs: tuple[SelectionSetNode, ...]) -> Callable[[Any], Any]:
        if isinstance(type_, GraphQLNonNull):
            inner = self.completer(type_.of_type, subs)

            def non_null(value: Any) -> Any:
                completed = inner(value)
                if completed is None:
                    raise _Fallback
                return completed

            return non_null
        if isinstance(type_, GraphQLList):
            item = self.completer(type_.of_type, subs)
            return lambda value: None if value is None else [item(v) for v in value]
        if is_leaf_type(type_):
            serialize = _leaf_serializer(type_)
            return lambda value: None if value is None else serialize(value)
        if is_abstract_type(type_):

            def abstract(value: Any) -> Any:
                if value is None:
                    return None
                runtime_name = type_.resolve_type(value, self.info, type_)
                return self.complete_object(self.schema.get_type(runtime_name), value, subs)

            return abstract
        return lambda value: None if value is None else self.complete_object(type_, value, subs)

    def complete_object(
        self, type_: GraphQLObjectType, source: Any, selection_sets: tuple[SelectionSetNode, ...]
    ) -> dict[str, Any]:
        result: dict[str, Any] = {}
        if type(source) is dict:
            for response_key, attr, resolve, complete in self.plan(type_, selection_sets):
                value = source.get(attr) if attr else resolve and resolve(source, self.info)
                result[response_key] = complete(value)
        else:
            for response_key, attr, resolve, complete in self.plan(type_, selection_sets):
                value = getattr(source, attr) if attr else resolve and resolve(source, self.info)
                result[response_key] = complete(value)
        return result


# ---------------------------------------------------------------------------------------
# The simulator, independent of HTTP


@dataclass
class Faults:
    latency: float = 0.0  # seconds added before every /graphql answer
    mode: str | None = None  # one of FAULT_MODES
    unauthorized_once: bool = False  # the next authenticated request fails, once
    hang_seconds: float = DEFAULT_HANG_SECONDS  # how long "hang" waits at most
    registry_no_access: bool = False  # the registry answers every module with no versions
    # The real API's ways (realism.py):
    lean: bool = False  # no optional fields: asking for one is rejected
    no_introspection: bool = False  # __type and __schema are refused
    unaccepted_empty: bool = False  # an unaccepted token gets [] and null, not `unauthorized`
    accept_no_tokens: bool = False  # tokens are issued but none is accepted (a revoked key)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _empty_stats(now: float) -> dict[str, Any]:
    return {
        "requests": 0,
        "token_exchanges": 0,
        "queries": 0,
        "by_field": Counter(),
        "by_operation": Counter(),
        "unauthorized": 0,
        "invalid": 0,
        "faults": 0,
        "registry": 0,
        "unaccepted": 0,  # requests answered with empty lists and nulls (unaccepted_empty)
        "since": now,
    }


@dataclass
class Reply:
    status: int
    body: bytes
    content_type: str = "application/json"
    headers: dict[str, str] = field(default_factory=dict)
    root_fields: list[str] = field(default_factory=list)


def _json_reply(payload: Any, status: int = 200, **kwargs: Any) -> Reply:
    body = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    return Reply(status, body, **kwargs)


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


# Fault settings that are plain on/off switches.
_SWITCHES = (
    "unauthorized_once",
    "registry_no_access",
    "lean",
    "no_introspection",
    "unaccepted_empty",
    "accept_no_tokens",
)


class Simulator:
    """Auth, faults, counters and GraphQL execution against a world."""

    def __init__(
        self,
        world: World,
        *,
        key_id: str = DEFAULT_KEY_ID,
        key_secret: str = DEFAULT_KEY_SECRET,
        token_lifetime: float = DEFAULT_TOKEN_LIFETIME,
        clock: Callable[[], float] = time.time,
        faults: Faults | None = None,
    ) -> None:
        _check_key_id(key_id)
        self.world = world
        self.key_id = key_id
        self.key_secret = key_secret
        self.token_lifetime = token_lifetime
        self.clock = clock
        self.faults = faults or Faults()
        self.base_url = "http://127.0.0.1"  # set once the server has a port
        self.stopping = threading.Event()
        self._lock = threading.Lock()
        self._signing_key = secrets.token_bytes(32)  # tokens die with the process
        self._stats = _empty_stats(clock())
        self.schema = load_schema()

    # -- tokens ----------------------------------------------------------------------------

    def exchange(self, key_id: str, secret: str) -> dict[str, Any] | None:
        with self._lock:
            known_id, known_secret = self.key_id, self.key_secret
        if key_id != known_id:
            return None  # Spacelift answers null for an unknown key ID
        if not hmac.compare_digest(secret.encode(), known_secret.encode()):
            raise GraphQLError("unauthorized: invalid API key secret")
        jwt, valid_until = self.issue_token()
        return {"id": key_id, "jwt": jwt, "valid_until": valid_until}

    def issue_token(self) -> tuple[str, int]:
        now = self.clock()
        valid_until = int(now + self.token_lifetime)
        header = {"alg": "HS256", "typ": "JWT"}
        payload = {
            "aud": self.base_url,
            "iss": self.base_url,
            "sub": f"api::{self.key_id}",
            "iat": int(now),
            "exp": valid_until,
            "jti": secrets.token_hex(8),
        }
        signing_input = ".".join(
            _b64url(json.dumps(part, separators=(",", ":")).encode()) for part in (header, payload)
        )
        signature = hmac.new(self._signing_key, signing_input.encode(), hashlib.sha256).digest()
        return f"{signing_input}.{_b64url(signature)}", valid_until

    def authenticate(self, authorization: str | None) -> tuple[str | None, str | None]:
        """(actor, None) for a good token, else (None, an `unauthorized` error message)."""
        scheme, _, token = (authorization or "").strip().partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return None, "unauthorized: missing bearer token"
        parts = token.strip().split(".")
        if len(parts) != 3:
            return None, "unauthorized: invalid token"
        signing_input = f"{parts[0]}.{parts[1]}".encode()
        expected = hmac.new(self._signing_key, signing_input, hashlib.sha256).digest()
        try:
            signature = _b64url_decode(parts[2])
            claims = json.loads(_b64url_decode(parts[1]))
        except (ValueError, TypeError):
            return None, "unauthorized: invalid token"
        if not hmac.compare_digest(signature, expected) or not isinstance(claims, dict):
            return None, "unauthorized: invalid token"
        if not isinstance(claims.get("exp"), int) or claims["exp"] <= self.clock():
            return None, "unauthorized: token expired"
        return str(claims.get("sub")), None

    def set_credentials(
        self, key_id: str | None = None, key_secret: str | None = None, revoke_tokens: bool = False
    ) -> None:
        if key_id is not None:
            _check_key_id(key_id)
        with self._lock:
            self.key_id = key_id or self.key_id
            self.key_secret = key_secret or self.key_secret
            if revoke_tokens:
                self._signing_key = secrets.token_bytes(32)

    # -- faults and counters -----------------------------------------------------------------

    def set_faults(self, **changes: Any) -> dict[str, Any]:
        """Change some fault settings (the others stay); return them all."""
        allowed = {"latency", "mode", "unauthorized_once", "hang_seconds", *_SWITCHES}
        unknown = set(changes) - allowed
        if unknown:
            raise ValueError(f"unknown fault settings: {', '.join(sorted(unknown))}")
        if "mode" in changes and changes["mode"] not in (None, *FAULT_MODES):
            raise ValueError(f"mode must be null or one of {', '.join(FAULT_MODES)}")
        for name in ("latency", "hang_seconds"):
            if name in changes:
                value = changes[name]
                if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
                    raise ValueError(f"{name} must be a number of seconds, 0 or more")
                changes[name] = float(value)
        for name in _SWITCHES:
            if name in changes and not isinstance(changes[name], bool):
                raise ValueError(f"{name} must be true or false")
        with self._lock:
            for name, value in changes.items():
                setattr(self.faults, name, value)
            return self.faults.as_dict()

    def clear_faults(self) -> dict[str, Any]:
        with self._lock:
            self.faults = Faults()
            return self.faults.as_dict()

    def get_faults(self) -> dict[str, Any]:
        with self._lock:
            return self.faults.as_dict()

    def stats(self) -> dict[str, Any]:
        with self._lock:
            stats = dict(self._stats)
            stats["by_field"] = dict(self._stats["by_field"])
            stats["by_operation"] = dict(self._stats["by_operation"])
            return stats

    def reset_stats(self) -> dict[str, Any]:
        with self._lock:
            self._stats = _empty_stats(self.clock())
        return self.stats()

    def _count(self, name: str, amount: int = 1) -> None:
        with self._lock:
            self._stats[name] += amount

    def _take_unauthorized_fault(self) -> bool:
        with self._lock:
            if self.faults.mode == "unauthorized":
                return True
            if self.faults.unauthorized_once:
                self.faults.unauthorized_once = False
                return True
            return False

    # -- the world -------------------------------------------------------------------------

    def rebuild_world(self, stacks: int, seed: int | str | None = None) -> World:
        if not 0 <= stacks <= MAX_WORLD_STACKS:
            raise ValueError(f"stacks must be between 0 and {MAX_WORLD_STACKS}")
        old = self.world
        world = World(
            stacks,
            old.seed if seed is None else seed,
            clock=old.clock,
            step_seconds=old.step_seconds,
            active_stacks=len(old.active_stack_ids) or DEFAULT_ACTIVE_STACKS,
        )
        self.world = world
        return world

    # -- GraphQL ---------------------------------------------------------------------------

    def handle_graphql(
        self, body: bytes, authorization: str | None, wait: Callable[[float], bool]
    ) -> Reply | None:
        """Answer one POST /graphql. `wait(seconds)` sleeps and says whether the client is
        still there; None means the client left and there is nobody to answer."""
        self._count("requests")
        request, request_error = _read_request(body)
        lean = self.faults.lean
        prepared = _prepare(request["query"], lean) if request and request_error is None else None
        operation = None
        root_fields: list[str] = []
        if prepared is not None and prepared.document is not None:
            operation = get_operation_ast(prepared.document, request.get("operationName"))
            if operation is not None:
                root_fields = _root_fields(prepared.document, operation)
        self._record_operation(request, operation, root_fields)

        faults = self.get_faults()
        if faults["latency"] and not wait(faults["latency"]):
            return None
        reply = self._transport_fault(faults, wait)
        if reply is not None or faults["mode"] == "hang":
            if reply is not None:
                reply.root_fields = root_fields
            return reply

        if request_error is not None:
            self._count("invalid")
            return _json_reply({"errors": [{"message": request_error}]}, 400)
        assert prepared is not None
        if prepared.errors:
            self._count("invalid")
            return _json_reply({"errors": prepared.errors}, root_fields=root_fields)
        if faults["no_introspection"] and realism.asks_introspection(request["query"]):
            self._count("invalid")
            message = realism.NO_INTROSPECTION
            return _json_reply({"errors": [{"message": message}]}, root_fields=root_fields)
        if operation is None:
            self._count("invalid")
            name = request.get("operationName")
            message = (
                f"Unknown operation named '{name}'."
                if name
                else "Must provide operation name if query contains multiple operations."
            )
            return _json_reply({"errors": [{"message": message}]}, root_fields=root_fields)

        actor = None
        if set(root_fields) - _PUBLIC_ROOT_FIELDS:
            actor, problem = self.authenticate(authorization)
            if problem is None and faults["accept_no_tokens"]:
                actor, problem = None, "unauthorized: token not accepted"
            if problem is None and self._take_unauthorized_fault():
                self._count("faults")
                problem = "unauthorized"
            reads = operation.operation == OperationType.QUERY
            if problem is not None and faults["unaccepted_empty"] and reads:
                self._count("unaccepted")  # Spacelift's way: empty lists and nulls, no error
            elif problem is not None:
                self._count("unauthorized")
                return _json_reply(
                    {"errors": [{"message": problem}], "data": None}, root_fields=root_fields
                )
        payload = self._execute(prepared.document, operation, request, actor, lean)
        return _json_reply(payload, root_fields=root_fields)

    # -- the module registry ---------------------------------------------------------------

    def handle_registry(
        self, path: str, authorization: str | None, wait: Callable[[float], bool]
    ) -> Reply | None:
        """Answer `GET /registry/modules/v1/<org>/<module>/<provider>/versions`."""
        self._count("registry")
        faults = self.get_faults()
        if faults["latency"] and not wait(faults["latency"]):
            return None
        if faults["mode"] not in ("graphql_error", "unauthorized"):
            reply = self._transport_fault(faults, wait)
            if reply is not None or faults["mode"] == "hang":
                return reply
        parts = path[len(REGISTRY_PREFIX) :].split("/")
        if len(parts) != 4 or parts[3] != "versions" or not all(parts[:3]):
            return _json_reply({"errors": ["Not Found"]}, 404)
        actor, problem = self.authenticate(authorization)
        if problem is None and faults["mode"] == "unauthorized":
            problem = "unauthorized"
        if actor is None or problem is not None:
            self._count("unauthorized")
            return _json_reply({"errors": [problem or "unauthorized"]}, 401)
        org, name, provider = parts[:3]
        with self.world.lock:
            module = next(
                (
                    m
                    for m in self.world.modules
                    if org == REGISTRY_ORG and m.name == name and m.terraform_provider == provider
                ),
                None,
            )
            versions = [] if module is None else list(module.versions)
        if module is None:
            return _json_reply({"errors": ["Not Found"]}, 404)
        if faults["registry_no_access"]:
            versions = []  # what Spacelift answers a token that may not read the space
        source = f"{org}/{name}/{provider}"
        return _json_reply(
            {"modules": [{"source": source, "versions": [{"version": v} for v in versions]}]}
        )

    def _record_operation(
        self,
        request: dict[str, Any] | None,
        operation: OperationDefinitionNode | None,
        root_fields: list[str],
    ) -> None:
        name = (request or {}).get("operationName") or (
            operation.name.value if operation is not None and operation.name else "anonymous"
        )
        with self._lock:
            stats = self._stats
            if "apiKeyUser" in root_fields:
                stats["token_exchanges"] += 1
            if not root_fields or set(root_fields) - _PUBLIC_ROOT_FIELDS:
                stats["queries"] += 1
            stats["by_operation"][str(name)] += 1
            for root_field in root_fields:
                stats["by_field"][root_field] += 1

    def _transport_fault(self, faults: dict[str, Any], wait: Callable[[float], bool]):
        mode = faults["mode"]
        if mode is None or mode == "unauthorized":
            return None
        self._count("faults")
        if mode == "http500":
            return Reply(500, _HTML_500.encode(), "text/html; charset=utf-8")
        if mode == "not_json":
            return Reply(200, _HTML_PROXY.encode(), "text/html; charset=utf-8")
        if mode == "rate_limit":
            return Reply(
                429,
                b"Too Many Requests",
                "text/plain; charset=utf-8",
                {"Retry-After": str(RATE_LIMIT_RETRY_AFTER)},
            )
        if mode == "graphql_error":
            return _json_reply({"errors": [{"message": "internal error"}], "data": None})
        # hang: until the client gives up, the server stops, or hang_seconds pass
        if not wait(faults["hang_seconds"]):
            return None
        return Reply(504, _HTML_504.encode(), "text/html; charset=utf-8")

    def _execute(
        self,
        document: DocumentNode,
        operation: OperationDefinitionNode,
        request: dict[str, Any],
        actor: str | None,
        lean: bool = False,
    ) -> dict[str, Any]:
        world = self.world
        context = RequestContext(self, world, actor)
        schema = load_schema(lean)
        with world.lock:
            world.advance()
            if fast_path_applies(document, operation):
                try:
                    data = _FastExecutor(schema, document, context).run(operation)
                except Exception:
                    logger.debug("fast path fell back to graphql-core", exc_info=True)
                else:
                    return {"data": data}
            result = execute(
                schema,
                document,
                context_value=context,
                variable_values=request.get("variables") or {},
                operation_name=request.get("operationName"),
            )
        return result.formatted  # type: ignore[union-attr]


def _check_key_id(key_id: str) -> None:
    if not _ULID.match(key_id or ""):
        raise ValueError("an API key ID is a 26-character ULID (Crockford base32, upper case)")


def _read_request(body: bytes) -> tuple[dict[str, Any] | None, str | None]:
    try:
        request = json.loads(body or b"")
    except (ValueError, UnicodeDecodeError):
        return None, "the request body is not JSON"
    if not isinstance(request, dict):
        return None, "the request body must be a JSON object (batches are not supported)"
    if not isinstance(request.get("query"), str) or not request["query"].strip():
        return None, "Must provide query string."
    if request.get("variables") is not None and not isinstance(request["variables"], dict):
        return None, "variables must be a JSON object"
    if request.get("operationName") is not None and not isinstance(request["operationName"], str):
        return None, "operationName must be a string"
    return request, None


# ---------------------------------------------------------------------------------------
# HTTP


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], simulator: Simulator) -> None:
        self.simulator = simulator
        super().__init__(address, _Handler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        logger.debug("connection from %s ended with an error", client_address, exc_info=True)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "SpaceliftSimulator/1.0"
    timeout = 120  # an idle keep-alive connection is closed after two minutes
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        pass  # _handle logs one line per request instead

    # -- plumbing --------------------------------------------------------------------------

    def _read_body(self) -> bytes | None:
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = -1
        if not 0 <= length <= MAX_BODY_BYTES:
            self._send(_json_reply({"errors": [{"message": "bad Content-Length"}]}, 413))
            return None
        return self.rfile.read(length) if length else b""

    def _send(self, reply: Reply) -> None:
        self._status = reply.status
        self.send_response(reply.status)
        self.send_header("Content-Type", reply.content_type)
        self.send_header("Content-Length", str(len(reply.body)))
        self.send_header("Cache-Control", "no-store")
        for name, value in reply.headers.items():
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(reply.body)

    def _wait(self, seconds: float) -> bool:
        """Sleep up to `seconds`; False as soon as the client hangs up or the server stops."""
        deadline = time.monotonic() + seconds
        stopping = self.server.simulator.stopping
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return True
            if stopping.is_set():
                return False
            try:
                readable, _, _ = select.select([self.connection], [], [], min(remaining, 0.1))
                if readable and not self.connection.recv(1, socket.MSG_PEEK):
                    return False  # the client closed the connection
            except (OSError, ValueError):
                return False
            if readable:
                time.sleep(min(remaining, 0.1))  # it sent more; keep waiting, without spinning

    def _handle(self, method: str) -> None:
        started = time.perf_counter()
        self._status = 0
        path = urlsplit(self.path).path
        root_fields: list[str] = []
        try:
            if path == "/graphql" and method == "POST":
                body = self._read_body()
                if body is None:
                    return
                reply = self.server.simulator.handle_graphql(
                    body, self.headers.get("Authorization"), self._wait
                )
                if reply is None:
                    self.close_connection = True
                    return
                root_fields = reply.root_fields
                self._send(reply)
            elif path == "/graphql":
                self._send(
                    _json_reply(
                        {"errors": [{"message": "use POST with a JSON body"}]},
                        405,
                        headers={"Allow": "POST"},
                    )
                )
            elif path.startswith(REGISTRY_PREFIX) and method == "GET":
                reply = self.server.simulator.handle_registry(
                    path, self.headers.get("Authorization"), self._wait
                )
                if reply is None:
                    self.close_connection = True
                    return
                self._send(reply)
            elif path.startswith("/_sim/") or path == "/":
                self._send(self._control(method, path))
            else:
                self._send(_json_reply({"error": "not found"}, 404))
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True
        finally:
            elapsed = (time.perf_counter() - started) * 1000
            logger.info(
                "%s %s %s %s %.1fms",
                method,
                path,
                ",".join(root_fields) or "-",
                self._status or "-",
                elapsed,
            )

    def do_POST(self) -> None:
        self._handle("POST")

    def do_GET(self) -> None:
        self._handle("GET")

    def do_DELETE(self) -> None:
        self._handle("DELETE")

    # -- /_sim -------------------------------------------------------------------------------

    def _control_body(self) -> dict[str, Any]:
        body = self._read_body()
        if body is None:
            raise _ControlError("bad Content-Length")
        if not body.strip():
            return {}
        try:
            data = json.loads(body)
        except ValueError as exc:
            raise _ControlError("the body is not JSON") from exc
        if not isinstance(data, dict):
            raise _ControlError("the body must be a JSON object")
        return data

    def _control(self, method: str, path: str) -> Reply:
        simulator = self.server.simulator
        try:
            route = (method, path.rstrip("/") or "/")
            if route in (("GET", "/"), ("GET", "/_sim")):
                return _json_reply(_describe(simulator))
            if route == ("GET", "/_sim/stats"):
                return _json_reply(simulator.stats())
            if route == ("POST", "/_sim/reset-stats"):
                return _json_reply(simulator.reset_stats())
            if route == ("GET", "/_sim/faults"):
                return _json_reply(simulator.get_faults())
            if route == ("POST", "/_sim/faults"):
                return _json_reply(simulator.set_faults(**self._control_body()))
            if route == ("DELETE", "/_sim/faults"):
                return _json_reply(simulator.clear_faults())
            if route == ("POST", "/_sim/step"):
                simulator.world.step()
                return _json_reply(_world_summary(simulator.world))
            if route == ("GET", "/_sim/world"):
                return _json_reply(_world_summary(simulator.world))
            if route == ("POST", "/_sim/world"):
                data = self._control_body()
                stacks = data.get("stacks", len(simulator.world.stacks))
                if isinstance(stacks, bool) or not isinstance(stacks, int):
                    raise _ControlError("stacks must be an integer")
                world = simulator.rebuild_world(stacks, data.get("seed"))
                return _json_reply(_world_summary(world))
            if route == ("POST", "/_sim/credentials"):
                data = self._control_body()
                simulator.set_credentials(
                    data.get("key_id"), data.get("key_secret"), bool(data.get("revoke_tokens"))
                )
                return _json_reply({"key_id": simulator.key_id})
        except _ControlError as exc:
            return _json_reply({"error": str(exc)}, 400)
        except (ValueError, TypeError) as exc:
            return _json_reply({"error": str(exc)}, 400)
        return _json_reply({"error": f"no route for {method} {path}"}, 404)


class _ControlError(Exception):
    pass


def _world_summary(world: World) -> dict[str, Any]:
    with world.lock:
        return {
            "stacks": len(world.stacks),
            "seed": world.seed,
            "ticks": world.ticks,
            "step_seconds": world.step_seconds,
            "active_stacks": {
                stack_id: world.get_stack(stack_id).state  # type: ignore[union-attr]
                for stack_id in world.active_stack_ids
            },
        }


def _describe(simulator: Simulator) -> dict[str, Any]:
    return {
        "simulator": "Spacelift GraphQL API",
        "graphql": f"{simulator.base_url}/graphql",
        "key_id": simulator.key_id,
        "registry": (
            f"{simulator.base_url}{REGISTRY_PREFIX}{REGISTRY_ORG}/<module>/<provider>/versions"
        ),
        "control": {
            "GET /_sim/stats": "request counters",
            "POST /_sim/reset-stats": "zero the counters",
            "GET /_sim/faults": "current faults",
            "POST /_sim/faults": 'change faults, e.g. {"mode": "http500", "latency": 0.5}, '
            'or {"registry_no_access": true}; the real API\'s ways (realism.py): '
            '{"lean": true} (no optional fields), {"no_introspection": true}, '
            '{"unaccepted_empty": true} (empty answers, not `unauthorized`, to a bad token), '
            '{"accept_no_tokens": true} (no token is accepted, as for a revoked key)',
            "DELETE /_sim/faults": "clear every fault",
            "POST /_sim/step": "move every active run one state forward",
            "GET /_sim/world": "size, seed and active stacks",
            "POST /_sim/world": 'rebuild the world, e.g. {"stacks": 10000}',
            "POST /_sim/credentials": '{"key_id", "key_secret", "revoke_tokens": true}',
        },
    }


# ---------------------------------------------------------------------------------------
# Python API


class SimulatorHandle:
    """A running simulator. Use it as a context manager, or call `stop()`."""

    def __init__(self, server: _Server, thread: threading.Thread) -> None:
        self._server = server
        self._thread = thread
        self.simulator = server.simulator
        host, port = server.server_address[:2]
        self.url = f"http://{host}:{port}"
        self.graphql_url = f"{self.url}/graphql"

    @property
    def key_id(self) -> str:
        return self.simulator.key_id

    @property
    def key_secret(self) -> str:
        return self.simulator.key_secret

    @property
    def world(self) -> World:
        return self.simulator.world

    def stats(self) -> dict[str, Any]:
        return self.simulator.stats()

    def reset_stats(self) -> dict[str, Any]:
        return self.simulator.reset_stats()

    def faults(self) -> dict[str, Any]:
        return self.simulator.get_faults()

    def set_faults(self, **changes: Any) -> dict[str, Any]:
        return self.simulator.set_faults(**changes)

    def clear_faults(self) -> dict[str, Any]:
        return self.simulator.clear_faults()

    def step(self) -> None:
        self.simulator.world.step()

    def rebuild_world(self, stacks: int, seed: int | str | None = None) -> World:
        return self.simulator.rebuild_world(stacks, seed)

    def set_credentials(
        self, key_id: str | None = None, key_secret: str | None = None, revoke_tokens: bool = False
    ) -> None:
        self.simulator.set_credentials(key_id, key_secret, revoke_tokens)

    def stop(self) -> None:
        self.simulator.stopping.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> SimulatorHandle:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def start_simulator(
    port: int = 0,
    stacks: int = 48,
    seed: int | str = DEFAULT_SEED,
    token_lifetime: float = DEFAULT_TOKEN_LIFETIME,
    key_id: str = DEFAULT_KEY_ID,
    key_secret: str = DEFAULT_KEY_SECRET,
    *,
    host: str = "127.0.0.1",
    latency: float = 0.0,
    fault: str | None = None,
    hang_seconds: float = DEFAULT_HANG_SECONDS,
    step_seconds: float = DEFAULT_STEP_SECONDS,
    active_stacks: int = DEFAULT_ACTIVE_STACKS,
    clock: Callable[[], float] = time.time,
) -> SimulatorHandle:
    """Build a world and serve it on `host:port` (0: a free port) from a daemon thread."""
    world = World(stacks, seed, clock=clock, step_seconds=step_seconds, active_stacks=active_stacks)
    simulator = Simulator(
        world,
        key_id=key_id,
        key_secret=key_secret,
        token_lifetime=token_lifetime,
        clock=clock,
    )
    simulator.set_faults(latency=latency, mode=fault, hang_seconds=hang_seconds)
    server = _Server((host, port), simulator)
    bound_host, bound_port = server.server_address[:2]
    simulator.base_url = f"http://{bound_host}:{bound_port}"
    thread = threading.Thread(
        target=server.serve_forever,
        kwargs={"poll_interval": 0.2},
        name=f"spacelift-simulator-{bound_port}",
        daemon=True,
    )
    thread.start()
    return SimulatorHandle(server, thread)

"""Spacelift's API without the HTTP: tokens, faults, counters, and what /graphql and the
module registry answer.

Authentication follows docs/spacelift-api.md, "Transport and authentication":
`apiKeyUser(id, secret)` needs no token and returns `null` for an unknown key ID and a
GraphQL error for a wrong secret; everything else needs `Authorization: Bearer <jwt>` of an
unexpired token this simulator issued, or it fails with an error whose message contains
`unauthorized`. A query is parsed and validated against the schema (a field Spacelift lacks
is rejected as a whole, with HTTP 200 and no `data`, as a real GraphQL server does).

`GET /registry/modules/v1/<org>/<module>/<provider>/versions` is the private module registry
(the Terraform registry protocol, docs/spacelift-api.md, "Module registry"): the org is
`simulated`, the token the same JWT, and with `registry_no_access` it answers an empty
versions list, as Spacelift does to a token that may not read the module's space.

Faults (latency, HTTP 500, HTML instead of JSON, unauthorized, a hang, a GraphQL error,
HTTP 429) apply to `/graphql` and, except the GraphQL error, to the registry. `realism.py`
holds the ways the real API answers that a tidy GraphQL server would not (a lean schema,
empty answers to an unaccepted token, a lenient parser), switched like the faults.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import secrets
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from graphql import (
    DocumentNode,
    GraphQLError,
    GraphQLSchema,
    OperationDefinitionNode,
    OperationType,
    execute,
)
from graphql.utilities import get_operation_ast

from . import realism
from .schema import PUBLIC_ROOT_FIELDS, RequestContext, load_schema, prepare, root_fields_of
from .world import DEFAULT_ACTIVE_STACKS, PristineWorld, World

# Fixed, so `make run` can hand the same key to the portal every time. Not a real secret.
DEFAULT_KEY_ID = "01J5SPACE1FTS1MKEY00000000"
DEFAULT_KEY_SECRET = "sim-secret-5f3a9c2e7b1d4e6f8a0c2e4b6d8f0a1c"
DEFAULT_TOKEN_LIFETIME = 3600  # seconds; Spacelift's docs say 1 h or 10 h, clients trust validUntil
DEFAULT_HANG_SECONDS = 60.0  # spacectl's HTTP timeout: a client has given up by then
RATE_LIMIT_RETRY_AFTER = 7  # seconds, sent as Retry-After with a 429
MAX_WORLD_STACKS = 100_000
# Another way to answer a query, tried before graphql-core: it returns the `data`, or None to
# leave the query to graphql-core. Only bench/ passes one (bench/fast_graphql.py), so that a
# 10,000-stack world answers in time to measure the portal; tests run graphql-core alone.
Shortcut = Callable[
    [GraphQLSchema, DocumentNode, OperationDefinitionNode, RequestContext], dict[str, Any] | None
]
FAULT_MODES = ("http500", "not_json", "unauthorized", "hang", "graphql_error", "rate_limit")
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
    no_worker_pools: bool = False  # a Reader key: worker pools are answered `unauthorized`
    no_search: bool = False  # an old self-hosted Spacelift: searchStacks is refused
    gateway_401_once: bool = False  # a gateway answers the next token-bearing request 401, no body
    read_only_key: bool = False  # the key's role may read but not act: mutations "unauthorized"
    logs_expired: bool = False  # every run is past the account's runLogRetentionDays
    fail_search_page: int = 0  # the Nth searchStacks page of a pass answers HTTP 500, once

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
        "search_pages": 0,  # searchStacks pages answered without an error
        "search_limit_refused": 0,  # searchStacks asked for more than a page holds
        "since": now,
    }


@dataclass
class Reply:
    status: int
    body: bytes
    content_type: str = "application/json"
    headers: dict[str, str] = field(default_factory=dict)
    root_fields: list[str] = field(default_factory=list)


def json_reply(payload: Any, status: int = 200, **kwargs: Any) -> Reply:
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
    "no_worker_pools",
    "no_search",
    "gateway_401_once",
    "read_only_key",
    "logs_expired",
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
        shortcut: Shortcut | None = None,
    ) -> None:
        _check_key_id(key_id)
        self.world = world
        self.key_id = key_id
        self.key_secret = key_secret
        self.token_lifetime = token_lifetime
        self.clock = clock
        self.faults = Faults()
        self.base_url = "http://127.0.0.1"  # set once the server has a port
        self.stopping = threading.Event()
        self._lock = threading.Lock()
        self._signing_key = secrets.token_bytes(32)  # tokens die with the process
        self._stats = _empty_stats(clock())
        # What reset() goes back to. The pristine world is made at the first reset, so a
        # simulator that is never reset (python -m simulator, bench) never builds it.
        self._start_faults = self.set_faults(**(faults or Faults()).as_dict())
        self._start_credentials = (key_id, key_secret, self._signing_key)
        self._start_world = (len(world.stacks), world.seed, len(world.active_stack_ids))
        self._pristine: PristineWorld | None = None
        self.schema = load_schema()
        self.shortcut = shortcut

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

    def reset(self) -> None:
        """Back to how the simulator started: its world built anew at the present (the same
        seed and size, whatever was rebuilt, mutated or scripted since), the first key and
        the tokens issued for it, the first faults, zero counters."""
        if self._pristine is None:
            stack_count, seed, active_stacks = self._start_world
            self._pristine = PristineWorld(
                stack_count,
                seed,
                clock=self.world.clock,
                step_seconds=self.world.step_seconds,
                active_stacks=active_stacks,
            )
        world = self._pristine.fresh()
        with self._lock:
            self.world = world
            self.key_id, self.key_secret, self._signing_key = self._start_credentials
            self.faults = Faults(**self._start_faults)
            self._stats = _empty_stats(self.clock())

    # -- faults and counters -----------------------------------------------------------------

    def set_faults(self, **changes: Any) -> dict[str, Any]:
        """Change some fault settings (the others stay); return them all."""
        allowed = {
            "latency",
            "mode",
            "unauthorized_once",
            "hang_seconds",
            "fail_search_page",
            *_SWITCHES,
        }
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
        page = changes.get("fail_search_page", 0)
        if isinstance(page, bool) or not isinstance(page, int) or page < 0:
            raise ValueError("fail_search_page must be a page number (1 = the first), or 0")
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

    def _take_search_page_fault(self, page: int | None) -> bool:
        with self._lock:
            if page is not None and page == self.faults.fail_search_page:
                self.faults.fail_search_page = 0
                return True
            return False

    def _take_gateway_401(self) -> bool:
        with self._lock:
            if self.faults.gateway_401_once:
                self.faults.gateway_401_once = False
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
        prepared = prepare(request["query"], lean) if request and request_error is None else None
        operation = None
        root_fields: list[str] = []
        if prepared is not None and prepared.document is not None:
            operation = get_operation_ast(prepared.document, request.get("operationName"))
            if operation is not None:
                root_fields = root_fields_of(prepared.document, operation)
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
            return json_reply({"errors": [{"message": request_error}]}, 400)
        assert prepared is not None
        if prepared.errors:
            self._count("invalid")
            return json_reply({"errors": prepared.errors}, root_fields=root_fields)
        if faults["no_introspection"] and realism.asks_introspection(request["query"]):
            self._count("invalid")
            message = realism.NO_INTROSPECTION
            return json_reply({"errors": [{"message": message}]}, root_fields=root_fields)
        if faults["no_search"] and "searchStacks" in root_fields:
            self._count("invalid")
            message = realism.NO_SEARCH
            return json_reply({"errors": [{"message": message}]}, root_fields=root_fields)
        if operation is None:
            self._count("invalid")
            name = request.get("operationName")
            message = (
                f"Unknown operation named '{name}'."
                if name
                else "Must provide operation name if query contains multiple operations."
            )
            return json_reply({"errors": [{"message": message}]}, root_fields=root_fields)

        actor = None
        if set(root_fields) - PUBLIC_ROOT_FIELDS and authorization and self._take_gateway_401():
            self._count("faults")
            return Reply(401, b"", "text/plain", root_fields=root_fields)  # a gateway's 401
        if set(root_fields) - PUBLIC_ROOT_FIELDS:
            actor, problem = self.authenticate(authorization)
            if problem is None and faults["accept_no_tokens"]:
                actor, problem = None, "unauthorized: token not accepted"
            if (
                problem is None
                and faults["read_only_key"]
                and operation.operation == OperationType.MUTATION
            ):
                problem = "unauthorized"  # Spacelift's word for a role without the permission
            if problem is None and self._take_unauthorized_fault():
                self._count("faults")
                problem = "unauthorized"
            reads = operation.operation == OperationType.QUERY
            if problem is not None and faults["unaccepted_empty"] and reads:
                self._count("unaccepted")  # Spacelift's way: empty lists and nulls, no error
            elif problem is not None:
                self._count("unauthorized")
                return json_reply(
                    {"errors": [{"message": problem}], "data": None}, root_fields=root_fields
                )
        if (
            faults["fail_search_page"]
            and "searchStacks" in root_fields
            and self._take_search_page_fault(
                realism.search_page_number(operation, request.get("variables") or {})
            )
        ):
            self._count("faults")  # a later page of a pass fails: the earlier ones were answered
            html = _HTML_500.encode()
            return Reply(500, html, "text/html; charset=utf-8", root_fields=root_fields)
        payload = self._execute(prepared.document, operation, request, actor, lean)
        if "searchStacks" in root_fields and not payload.get("errors"):
            self._count("search_pages")
        elif "searchStacks" in root_fields and "must be at most" in str(payload.get("errors")):
            self._count("search_limit_refused")
        return json_reply(payload, root_fields=root_fields)

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
            return json_reply({"errors": ["Not Found"]}, 404)
        actor, problem = self.authenticate(authorization)
        if problem is None and faults["mode"] == "unauthorized":
            problem = "unauthorized"
        if actor is None or problem is not None:
            self._count("unauthorized")
            return json_reply({"errors": [problem or "unauthorized"]}, 401)
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
            return json_reply({"errors": ["Not Found"]}, 404)
        if faults["registry_no_access"]:
            versions = []  # what Spacelift answers a token that may not read the space
        source = f"{org}/{name}/{provider}"
        return json_reply(
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
            if not root_fields or set(root_fields) - PUBLIC_ROOT_FIELDS:
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
            return json_reply({"errors": [{"message": "internal error"}], "data": None})
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
            if self.shortcut is not None:
                data = self.shortcut(schema, document, operation, context)
                if data is not None:
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

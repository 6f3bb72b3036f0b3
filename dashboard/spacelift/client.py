"""The only code that talks to Spacelift: gql over requests, token exchange, error mapping.

Facts relied on are in docs/spacelift-api.md: the API key is exchanged for a JWT with
`apiKeyUser` (null for an unknown key ID, a GraphQL error for a wrong secret); the JWT is
trusted until `validUntil` and re-exchanged 30 s before, as spacectl does; an expired token
shows up as a GraphQL error containing "unauthorized", answered by one re-exchange and one
retry, never a loop.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import quote, urlsplit

import requests
from django.views.decorators.debug import sensitive_variables
from gql import GraphQLRequest
from gql.transport.exceptions import (
    TransportConnectionFailed,
    TransportProtocolError,
    TransportServerError,
)
from gql.transport.requests import RequestsHTTPTransport

from . import documents, errors
from .account import Connection, InvalidEndpoint, refuse_internal_address
from .shared_cache import shared_cache
from .types import ConfigElement, Module, ModuleVersions, Run, Space, Stack

logger = logging.getLogger(__name__)

# spacectl re-exchanges this long before `validUntil`, so a token never expires in flight.
TOKEN_REFRESH_MARGIN_SECONDS = 30
DEFAULT_CONNECT_TIMEOUT_SECONDS = 5.0
DEFAULT_READ_TIMEOUT_SECONDS = 10.0
# How long one process waits for another's token exchange before doing its own.
EXCHANGE_LOCK_SECONDS = 15

T = TypeVar("T")


@dataclass(frozen=True)
class Token:
    jwt: str
    valid_until: float

    def fresh(self, now: float) -> bool:
        return now < self.valid_until - TOKEN_REFRESH_MARGIN_SECONDS


class _Transport(RequestsHTTPTransport):
    """gql's requests transport, made to report HTTP status codes and redirects itself.

    gql parses a JSON body before looking at the status, so a 5xx with JSON would pass as a
    GraphQL answer; and requests would follow a redirect to any host. Neither is wanted.
    """

    def _prepare_result(self, response: requests.Response):
        self.response_headers = response.headers
        _raise_for_status(response, "Spacelift")
        return super()._prepare_result(response)


def _raise_for_status(response: requests.Response, who: str) -> None:
    """Redirects (never followed), 429 with its Retry-After, and other error statuses."""
    status = response.status_code
    if 300 <= status < 400:
        raise errors.HTTPStatusError(
            status,
            f"{who} answered HTTP {status}, a redirect; the portal only talks to the "
            "configured host and does not follow it",
        )
    if status == 429:
        raise errors.RateLimited(
            429, f"{who} answered HTTP 429: too many requests", retry_after=_retry_after(response)
        )
    if status >= 400:
        raise errors.HTTPStatusError(
            status, f"{who} answered HTTP {status}", retry_after=_retry_after(response)
        )


def _retry_after(response: requests.Response) -> float | None:
    value = response.headers.get("Retry-After", "")
    try:
        return max(0.0, float(value))
    except ValueError:
        return None


class SpaceliftClient:
    def __init__(
        self,
        connection: Connection,
        *,
        cache=None,
        connect_timeout: float = DEFAULT_CONNECT_TIMEOUT_SECONDS,
        read_timeout: float = DEFAULT_READ_TIMEOUT_SECONDS,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.connection = connection
        self.cache = cache if cache is not None else shared_cache
        self.timeout = (connect_timeout, read_timeout)
        self.clock = clock
        self._local = threading.local()
        self._token_key = f"spacelift:{connection.fingerprint}:jwt"

    @contextmanager
    def deadline(self, at: float) -> Iterator[None]:
        """Bound every read in this block, on this thread, by one `time.monotonic()` deadline."""
        previous = getattr(self._local, "deadline", None)
        self._local.deadline = at
        try:
            yield
        finally:
            self._local.deadline = previous

    # Reads --------------------------------------------------------------------------------

    def list_stacks(self) -> list[Stack]:
        data = self.execute(documents.STACKS)
        return self._parse(lambda: [Stack.from_api(s) for s in data["stacks"] or ()])

    def get_stack(self, stack_id: str) -> Stack | None:
        data = self.execute(documents.STACK, {"id": stack_id})
        return self._parse(lambda: Stack.from_api(data["stack"]) if data["stack"] else None)

    def list_runs(self, stack_id: str, before: str | None = None) -> list[Run] | None:
        """One page of tracked runs, newest first; None when the stack is gone."""
        data = self.execute(documents.RUNS, {"id": stack_id, "before": before})
        if not data.get("stack"):
            return None
        return self._parse(lambda: [Run.from_api(r) for r in data["stack"]["runs"] or ()])

    def get_run(self, stack_id: str, run_id: str) -> Run | None:
        data = self.execute(documents.RUN, {"stack": stack_id, "run": run_id})
        stack = data.get("stack")
        if not stack or not stack.get("run"):
            return None
        return self._parse(lambda: Run.from_api(stack["run"]))

    def list_spaces(self) -> list[Space]:
        data = self.execute(documents.SPACES)
        return self._parse(lambda: [Space.from_api(s) for s in data["spaces"] or ()])

    def get_stack_config(self, stack_id: str) -> list[ConfigElement] | None:
        """The stack's own environment variables and mounted files; None when it is gone."""
        data = self.execute(documents.STACK_CONFIG, {"id": stack_id})
        stack = data.get("stack")
        if not stack:
            return None
        return self._parse(lambda: [ConfigElement.from_api(c) for c in stack["config"] or ()])

    def list_modules(self) -> list[Module]:
        data = self.execute(documents.MODULES)
        return self._parse(lambda: [Module.from_api(m) for m in data["modules"] or ()])

    def module_versions(
        self, org: str, name: str, provider: str, *, registry_url: str | None = None
    ) -> ModuleVersions:
        """A module's versions from the registry (Terraform registry protocol, not GraphQL).

        `GET <registry>/registry/modules/v1/<org>/<name>/<provider>/versions` with the same
        JWT. An empty list may mean the token may not read the module's space: Spacelift
        answers that way instead of a 401 (docs/spacelift-api.md, "Module registry").
        A 401 gets one re-exchange and one retry, like `unauthorized` on GraphQL.
        """
        source = f"{org}/{name}/{provider}"
        url = "/".join(
            (
                (registry_url or self.connection.base_url).rstrip("/"),
                "registry/modules/v1",
                *(quote(part, safe="") for part in (org, name, provider)),
                "versions",
            )
        )
        own_deadline = getattr(self._local, "deadline", None) is None
        if own_deadline:
            self._local.deadline = time.monotonic() + self.timeout[1]
        try:
            token = self.token()
            response = self._registry_get(url, token.jwt)
            if response.status_code == 401:
                logger.info("The module registry answered 401; exchanging the key again once")
                token = self._exchange_once(stale_jwt=token.jwt)
                response = self._registry_get(url, token.jwt)
        finally:
            if own_deadline:
                self._local.deadline = None
        return self._registry_answer(response, source)

    def _registry_get(self, url: str, jwt: str) -> requests.Response:
        session = getattr(self._local, "registry_session", None)
        if session is None:
            session = self._local.registry_session = requests.Session()
        connect, read = self.timeout
        deadline = getattr(self._local, "deadline", None)
        if deadline is not None:
            read = deadline - time.monotonic()
            if read <= 0:
                raise errors.Timeout(
                    f"The module registry did not answer within {self.timeout[1]:g} seconds"
                )
            connect = min(connect, read)
        try:
            return session.get(
                url,
                headers={"Authorization": f"Bearer {jwt}", "Accept": "application/json"},
                timeout=(connect, read),
                allow_redirects=False,
            )
        except requests.Timeout:
            raise errors.Timeout(
                f"The module registry did not answer within {self.timeout[1]:g} seconds"
            ) from None
        except requests.RequestException:
            raise errors.Unreachable(
                f"Could not connect to the module registry at {urlsplit(url).netloc}"
            ) from None

    @staticmethod
    def _registry_answer(response: requests.Response, source: str) -> ModuleVersions:
        status = response.status_code
        if status == 401:
            raise errors.Unauthorized("The module registry refused a fresh token (HTTP 401)")
        if status == 404:
            raise errors.NotFound(
                f"The module registry has no module {source}; check the organisation name "
                "(SPACELIFT_REGISTRY_ORG)"
            )
        _raise_for_status(response, "The module registry")
        try:
            return ModuleVersions.from_registry(response.json(), source)
        except (KeyError, TypeError, ValueError, AttributeError):
            raise errors.NotJSON(
                "The module registry answered with something that is not a Terraform registry "
                "versions list (a proxy or login page?)"
            ) from None

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

    def _run_result(self, data: dict[str, Any], field: str) -> tuple[str, str]:
        run = data.get(field) or {}
        return self._parse(lambda: (str(run["id"]), str(run.get("state") or "")))

    @staticmethod
    def _parse(build: Callable[[], T]) -> T:
        try:
            return build()
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise errors.GraphQLError("Spacelift's answer did not have the expected shape") from exc

    # Token --------------------------------------------------------------------------------

    def token(self) -> Token:
        """A JWT that is good for at least 30 more seconds, exchanged at most once for all."""
        cached = self.cache.get(self._token_key)
        if isinstance(cached, Token) and cached.fresh(self.clock()):
            return cached
        return self._exchange_once(stale_jwt=cached.jwt if isinstance(cached, Token) else None)

    def _exchange_once(self, stale_jwt: str | None) -> Token:
        """Exchange the key unless another request or process just did (single flight)."""
        lock_key = self._token_key + ":lock"
        deadline = getattr(self._local, "deadline", None) or (
            time.monotonic() + EXCHANGE_LOCK_SECONDS
        )
        while not self.cache.add(lock_key, 1, timeout=EXCHANGE_LOCK_SECONDS):
            cached = self.cache.get(self._token_key)
            if isinstance(cached, Token) and cached.jwt != stale_jwt and cached.fresh(self.clock()):
                return cached
            if time.monotonic() > deadline:
                break
            time.sleep(0.05)
        try:
            cached = self.cache.get(self._token_key)
            if isinstance(cached, Token) and cached.jwt != stale_jwt and cached.fresh(self.clock()):
                return cached
            token = self._exchange()
            ttl = token.valid_until - TOKEN_REFRESH_MARGIN_SECONDS - self.clock()
            if ttl >= 1:
                self.cache.set(self._token_key, token, timeout=int(ttl))
            return token
        finally:
            self.cache.delete(lock_key)

    @sensitive_variables()
    def _exchange(self) -> Token:
        conn = self.connection
        # The secret leaves only for a host that does not (now) resolve to a link-local or
        # metadata address: the form checked it when saved, DNS may have changed since.
        try:
            refuse_internal_address(conn.base_url)
        except InvalidEndpoint as exc:
            raise errors.ForbiddenHost(str(exc)) from None
        data, errs = self._post(documents.API_KEY_USER, {"id": conn.key_id, "secret": conn.secret})
        if errs:
            # A wrong secret (or a login policy that does not admit api::<KEY_ID>) is an error.
            raise errors.RejectedSecret(
                f"Spacelift refused API key {conn.key_id}: {self._error_text(errs)}"
            )
        user = (data or {}).get("apiKeyUser")
        if not user:
            raise errors.UnknownKeyID(
                f"Spacelift has no API key with ID {conn.key_id}; the key ID may be incorrect"
            )
        try:
            token = Token(jwt=str(user["jwt"]), valid_until=float(user["validUntil"]))
        except (KeyError, TypeError, ValueError) as exc:
            raise errors.GraphQLError("Spacelift's token answer had no usable JWT") from exc
        if not token.jwt:
            raise errors.GraphQLError("Spacelift's token answer had no usable JWT")
        logger.info(
            "Exchanged API key %s for a token valid until %d", conn.key_id, token.valid_until
        )
        return token

    def forget_token(self) -> None:
        self.cache.delete(self._token_key)

    # Transport ----------------------------------------------------------------------------

    def execute(self, document: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        """Run a query with a token; on `unauthorized`, one re-exchange and one retry.

        The exchange, the query and the retry share one time budget (the read timeout), so a
        hung Spacelift holds a page no longer than SPACELIFT_TIMEOUT_SECONDS in all.
        """
        if getattr(self._local, "deadline", None) is not None:
            return self._execute(document, variables)
        self._local.deadline = time.monotonic() + self.timeout[1]
        try:
            return self._execute(document, variables)
        finally:
            self._local.deadline = None

    def _execute(self, document: str, variables: dict[str, Any] | None) -> dict[str, Any]:
        token = self.token()
        data, errs = self._post(document, variables, token.jwt)
        if errs and _is_unauthorized(errs):
            logger.info("Spacelift said unauthorized; exchanging the key again once")
            token = self._exchange_once(stale_jwt=token.jwt)
            data, errs = self._post(document, variables, token.jwt)
            if errs and _is_unauthorized(errs):
                raise errors.Unauthorized(
                    f"Spacelift refused a fresh token for key {self.connection.key_id}"
                )
        if errs:
            raise errors.GraphQLError(f"Spacelift rejected the query: {self._error_text(errs)}")
        if not isinstance(data, dict):
            raise errors.NotJSON("Spacelift's answer had no data")
        return data

    def _transport(self) -> _Transport:
        transport = getattr(self._local, "transport", None)
        if transport is None:
            transport = _Transport(
                url=self.connection.graphql_url,
                timeout=self.timeout,
                allow_redirects=False,
            )
            transport.connect()
            self._local.transport = transport
        return transport

    def _post(
        self, document: str, variables: dict[str, Any] | None, jwt: str | None = None
    ) -> tuple[Any, list[dict[str, Any]]]:
        transport = self._transport()
        transport.headers = {"Authorization": f"Bearer {jwt}"} if jwt else None
        request = GraphQLRequest(document, variable_values=variables)
        deadline = getattr(self._local, "deadline", None)
        connect, read = self.timeout
        if deadline is not None:
            read = deadline - time.monotonic()
            if read <= 0:
                raise errors.Timeout(f"Spacelift did not answer within {self.timeout[1]:g} seconds")
            connect = min(connect, read)
        try:
            result = transport.execute(request, timeout=(connect, read))
        except errors.SpaceliftError:
            raise
        except TransportConnectionFailed as exc:
            cause = exc.__cause__
            if isinstance(cause, requests.Timeout):
                raise errors.Timeout(
                    f"Spacelift did not answer within {self.timeout[1]:g} seconds"
                ) from None
            raise errors.Unreachable(f"Could not connect to {self.connection.base_url}") from None
        except TransportServerError as exc:
            raise errors.HTTPStatusError(exc.code or 500) from None
        except (TransportProtocolError, TypeError, ValueError, AttributeError):
            raise errors.NotJSON(
                f"{self.connection.base_url} answered with something that is not a GraphQL "
                "response (a proxy or login page?)"
            ) from None
        raw_errors = result.errors or []
        if not isinstance(raw_errors, list):
            raw_errors = [{"message": str(raw_errors)}]
        return result.data, [e if isinstance(e, dict) else {"message": str(e)} for e in raw_errors]

    def _error_text(self, errs: list[dict[str, Any]]) -> str:
        text = "; ".join(str(e.get("message", "")) for e in errs)[:300]
        # Belt and braces: a server that echoes the request must not put the secret on a page.
        return text.replace(self.connection.secret, "[secret]") if self.connection.secret else text


def _is_unauthorized(errs: list[dict[str, Any]]) -> bool:
    return any("unauthorized" in str(e.get("message", "")).lower() for e in errs)

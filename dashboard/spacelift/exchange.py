"""How a GraphQL document reaches Spacelift: gql's client on a transport that posts through
outbound.request (deadline, timeouts, HTTP errors), token exchange, GraphQL errors.

Facts relied on are in docs/spacelift-api.md: the API key is exchanged for a JWT with
`apiKeyUser` (null for an unknown key ID, a GraphQL error for a wrong secret); the JWT is
trusted until `validUntil` and re-exchanged 30 s before, as spacectl does; an expired token
shows up as a GraphQL error containing "unauthorized", answered by one re-exchange and one
retry, never a loop. What is read and done with it is client.py.
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.views.decorators.debug import sensitive_variables
from gql import Client, GraphQLRequest
from gql.transport import Transport
from gql.transport.exceptions import TransportQueryError
from graphql import ExecutionResult, parse, print_ast

from . import documents, errors, fields, outbound
from .account import Connection, InvalidEndpoint, refuse_internal_address
from .clock import clock as service_clock
from .documents import Document
from .shared_cache import shared_cache

logger = logging.getLogger(__name__)

# spacectl re-exchanges this long before `validUntil`, so a token never expires in flight.
TOKEN_REFRESH_MARGIN_SECONDS = 30
DEFAULT_CONNECT_TIMEOUT_SECONDS = 5.0
DEFAULT_READ_TIMEOUT_SECONDS = 10.0
# How long one process waits for another's token exchange before doing its own.
EXCHANGE_LOCK_SECONDS = 15
# What Spacelift's answer must look like to be read as GraphQL (said when it does not).
NOT_GRAPHQL = "answered with something that is not a GraphQL response (a proxy or login page?)"


@dataclass(frozen=True)
class Token:
    jwt: str
    valid_until: float

    def fresh(self, now: float) -> bool:
        return now < self.valid_until - TOKEN_REFRESH_MARGIN_SECONDS


class _Request(GraphQLRequest):
    """A gql request for one of our documents, parsed and printed once per process: gql parses
    the text for every request and prints it again for every payload."""

    def __init__(self, document: str, variables: dict[str, Any] | None) -> None:
        node, self._printed = _prepared(document)
        super().__init__(node, variable_values=variables)

    @property
    def payload(self) -> dict[str, Any]:
        payload: dict[str, Any] = {"query": self._printed}
        if self.variable_values:
            payload["variables"] = self.variable_values
        return payload


@functools.lru_cache(maxsize=512)
def _prepared(document: str) -> tuple[Any, str]:
    node = parse(document)
    return node, print_ast(node)


class SpaceliftTransport(Transport):
    """gql's sync transport for Spacelift, posting through outbound.request.

    The status is judged before the body (a 5xx or a redirect is an HTTP error even with a
    JSON body), redirects are never followed, and the deadline in force bounds each post.
    """

    def __init__(self, connection: Connection, timeout: tuple[float, float]) -> None:
        self.connection = connection
        self.timeout = timeout

    def execute(self, request: GraphQLRequest, *args: Any, **kwargs: Any) -> ExecutionResult:
        jwt = kwargs.get("jwt")
        response = outbound.request(
            "POST",
            self.connection.graphql_url,
            who="Spacelift",
            timeout=self.timeout,
            headers={"Authorization": f"Bearer {jwt}"} if jwt else None,
            json=request.payload,
        )
        errors.raise_for_status(response, "Spacelift")
        try:
            body = response.json()
        except ValueError:
            body = None
        if not isinstance(body, dict) or (body.get("data") is None and not body.get("errors")):
            raise errors.NotJSON(f"{self.connection.base_url} {NOT_GRAPHQL}")
        return ExecutionResult(data=body.get("data"), errors=body.get("errors"))


class GraphQLExchange:
    """One Spacelift account over GraphQL: documents posted with a token it keeps fresh.

    SpaceliftClient (client.py) is this plus its reads and actions.
    """

    def __init__(
        self,
        connection: Connection,
        *,
        cache=None,
        connect_timeout: float = DEFAULT_CONNECT_TIMEOUT_SECONDS,
        read_timeout: float = DEFAULT_READ_TIMEOUT_SECONDS,
        clock: Callable[[], float] = service_clock,
    ) -> None:
        self.connection = connection
        self.cache = cache if cache is not None else shared_cache
        self.timeout = (connect_timeout, read_timeout)
        self.clock = clock
        self._gql = Client(transport=SpaceliftTransport(connection, self.timeout))
        self._token_key = f"spacelift:{connection.fingerprint}:jwt"
        self._fields_key = f"spacelift:{connection.fingerprint}:optional-fields"
        self._seen_key = f"spacelift:{connection.fingerprint}:seen:"

    # Token --------------------------------------------------------------------------------

    def token(self) -> Token:
        """A JWT that is good for at least 30 more seconds, exchanged at most once for all."""
        cached = self.cache.get(self._token_key)
        if isinstance(cached, Token) and cached.fresh(self.clock()):
            return cached
        return self._exchange_once(stale_jwt=cached.jwt if isinstance(cached, Token) else None)

    def renew_token(self, stale_jwt: str) -> Token:
        """A token other than `stale_jwt`, which was refused: one exchange for everyone."""
        return self._exchange_once(stale_jwt=stale_jwt)

    def _exchange_once(self, stale_jwt: str | None) -> Token:
        """Exchange the key unless another request or process just did (single flight)."""
        lock_key = self._token_key + ":lock"
        deadline = outbound.deadline_at() or time.monotonic() + EXCHANGE_LOCK_SECONDS
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

    def execute(
        self, document: str | Document, variables: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        """Run a query with a token; on `unauthorized`, one re-exchange and one retry.

        The exchange, the query and the retry share one time budget (the read timeout), so a
        hung Spacelift holds a page no longer than SPACELIFT_TIMEOUT_SECONDS in all.
        """
        with outbound.within(self.timeout[1]):
            return self._execute(document, variables)

    def _execute(self, document: str | Document, variables: dict[str, Any] | None) -> dict:
        if not isinstance(document, Document):
            return self._checked(*self._authorized_post(document, variables))
        optional = document.optional
        known = self.known_fields() if optional else None
        missing = known.missing & optional if known else frozenset()
        data, errs = self._authorized_post(document.render(missing), variables)
        rejected = fields.rejected_fields(errs) if errs else None
        if known is not None and rejected and rejected <= optional - missing:
            # The API lacks optional fields it was not known to lack: drop them, retry once.
            logger.warning(
                "Spacelift has no %s; leaving it out of queries from now on",
                ", ".join(sorted(rejected)),
            )
            known = self._learn_missing(rejected)
            data, errs = self._authorized_post(document.render(known.missing & optional), variables)
        return self._checked(data, errs)

    def _authorized_post(
        self, text: str, variables: dict[str, Any] | None
    ) -> tuple[Any, list[dict[str, Any]]]:
        """Post with the token; on `unauthorized` (or a gateway's bare HTTP 401), one fresh
        exchange and one retry. Still refused: `viewer` tells a live token (the key's role
        lacks the permission: PermissionDenied) from a dead one (Unauthorized). A token
        `viewer` vouched for is not exchanged again on the next refusal: `viewer` is asked
        first, as spacectl's `client/client.go` does."""
        token = self.token()
        data, errs = self._post_refusable(text, variables, token.jwt)
        if errs is _REFUSED or (errs and _is_unauthorized(errs)):
            if self.cache.get(self._token_key + ":live") == token.jwt and self._viewer(token.jwt):
                raise errors.PermissionDenied(self._permission_text())
            logger.info("Spacelift said unauthorized; exchanging the key again once")
            token = self.renew_token(token.jwt)
            data, errs = self._post_refusable(text, variables, token.jwt)
            if errs is _REFUSED or (errs and _is_unauthorized(errs)):
                if self._viewer(token.jwt):
                    self.cache.set(self._token_key + ":live", token.jwt, timeout=3600)
                    raise errors.PermissionDenied(self._permission_text())
                how = "a gateway answered HTTP 401" if errs is _REFUSED else "unauthorized"
                raise errors.Unauthorized(
                    f"Spacelift refused a fresh token for key {self.connection.key_id} ({how})"
                )
        return data, errs

    def _post_refusable(
        self, text: str, variables: dict[str, Any] | None, jwt: str
    ) -> tuple[Any, Any]:
        """`_post`, with a bare HTTP 401 (a gateway before the API) read as a refusal."""
        try:
            return self._post(text, variables, jwt)
        except errors.HTTPStatusError as exc:
            if exc.status != 401:
                raise
            logger.info("Spacelift (or a gateway before it) answered HTTP 401")
            return None, _REFUSED

    def _viewer(self, jwt: str) -> bool:
        """Whether `viewer` answers this token: it is live, whatever else it was refused."""
        try:
            data, errs = self._post(documents.VIEWER, None, jwt)
        except errors.SpaceliftError:
            return False
        return not errs and bool((data or {}).get("viewer"))

    def _permission_text(self) -> str:
        return (
            f"Spacelift signs API key {self.connection.key_id} in, but its role lacks the "
            "permission for this action or this stack"
        )

    def _checked(self, data: Any, errs: list[dict[str, Any]]) -> dict[str, Any]:
        if errs:
            raise errors.GraphQLError(f"Spacelift rejected the query: {self._error_text(errs)}")
        if not isinstance(data, dict):
            raise errors.NotJSON("Spacelift's answer had no data")
        return data

    # Optional fields ----------------------------------------------------------------------

    def known_fields(self) -> fields.KnownFields:
        """Which optional fields the API lacks; learned once per connection, in the cache."""
        known = self.cache.get(self._fields_key)
        if isinstance(known, fields.KnownFields):
            return known
        try:
            data, errs = self._authorized_post(fields.introspection_query(), None)
        except errors.HTTPStatusError as exc:
            if exc.status != 400:  # some servers refuse introspection with HTTP 400
                raise
            data, errs = None, [{"message": exc.message}]
        if errs or not isinstance(data, dict):
            logger.info("Spacelift answers no introspection; optional fields are learned by use")
            known = fields.without_introspection()
        else:
            known = fields.from_introspection(data)
        self.cache.set(self._fields_key, known, timeout=fields.KNOWN_FIELDS_SECONDS)
        return known

    def _learn_missing(self, rejected: set[str]) -> fields.KnownFields:
        current = self.cache.get(self._fields_key)
        if not isinstance(current, fields.KnownFields):
            current = fields.without_introspection()
        known = current.with_missing(rejected)
        self.cache.set(self._fields_key, known, timeout=fields.KNOWN_FIELDS_SECONDS)
        return known

    def _post(
        self, document: str, variables: dict[str, Any] | None, jwt: str | None = None
    ) -> tuple[Any, list[dict[str, Any]]]:
        """Post one document (with the JWT, if any): its data and its GraphQL errors."""
        request = _Request(document, variables)
        try:
            result = self._gql.execute(request, get_execution_result=True, jwt=jwt)
        except TransportQueryError as exc:
            raw = exc.errors if isinstance(exc.errors, list) else [{"message": str(exc.errors)}]
            return exc.data, [e if isinstance(e, dict) else {"message": str(e)} for e in raw]
        return result.data, []

    def _error_text(self, errs: list[dict[str, Any]]) -> str:
        text = "; ".join(str(e.get("message", "")) for e in errs)[:300]
        # Belt and braces: a server that echoes the request must not put the secret on a page.
        return text.replace(self.connection.secret, "[secret]") if self.connection.secret else text


# What `_post_refusable` gives for a gateway's bare HTTP 401, in place of GraphQL errors.
_REFUSED: list[dict[str, Any]] = [{"message": "unauthorized (HTTP 401)"}]


def _is_unauthorized(errs: list[dict[str, Any]]) -> bool:
    return any("unauthorized" in str(e.get("message", "")).lower() for e in errs)

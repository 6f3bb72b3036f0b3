""" "Test connection": the checks the troubleshooting pages walk a user through, run for them.

Each check is a line with pass or fail and, on failure, a fix in plain language. A later check
runs only when the ones before it passed, since it could not tell anything new otherwise.
"""

from __future__ import annotations

import contextlib
import copy
import itertools
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import BaseCache, InvalidCacheBackendError, caches
from django.views.decorators.debug import sensitive_variables

from dashboard.spacelift import errors, fields, process_state
from dashboard.spacelift.account import (
    Connection,
    InvalidEndpoint,
    is_loopback_url,
    normalize_endpoint,
)
from dashboard.spacelift.client import SpaceliftClient
from dashboard.spacelift.documents import OPTIONAL_FIELDS

# The LocMemCache a run keeps its token and what it learned of the API in (settings.CACHES).
DIAGNOSTICS_CACHE = "diagnostics"
HOST_CHECK = "Host answers with Spacelift's GraphQL API"


@dataclass(frozen=True)
class Check:
    name: str
    passed: bool
    message: str
    fix: str = ""
    details: tuple[str, ...] = ()  # one line each, shown as a list under the message


def _host_fix(exc: errors.SpaceliftError) -> str:
    if isinstance(exc, errors.Unreachable):
        return (
            "Check the host for typos (it looks like mycorp.app.spacelift.io), and that this "
            "machine can resolve and reach it (DNS, firewall, proxy)."
        )
    if isinstance(exc, errors.Timeout):
        return "The host accepted the connection but did not answer; check proxies and firewalls."
    if isinstance(exc, errors.NotJSON):
        return (
            "Something answered, but not Spacelift's GraphQL API: usually a proxy, a login page, "
            "or the wrong host. Use your account's address, as in the browser's address bar."
        )
    if isinstance(exc, errors.HTTPStatusError):
        if exc.status in (301, 302, 303, 307, 308):
            return "The host redirects elsewhere; enter the address it redirects to."
        if exc.status == 404:
            return "Nothing answers GraphQL there; the host is probably not a Spacelift account."
        return "Spacelift (or a proxy in front of it) is failing; try again in a few minutes."
    return exc.hint


def _named_simulator(base_url: str) -> bool:
    """Whether the administrator named `base_url` as the local simulator (PORTAL_SIMULATOR_URL)."""
    try:
        return bool(settings.PORTAL_SIMULATOR_URL) and (
            normalize_endpoint(settings.PORTAL_SIMULATOR_URL) == base_url
        )
    except InvalidEndpoint:
        return False


def _host_failure(connection: Connection, exc: errors.SpaceliftError) -> Check:
    # On this machine's own ports, "refused", "timed out" and "answered HTML" would map what
    # listens where for anyone with staff rights; only the named simulator is diagnosed.
    if is_loopback_url(connection.base_url) and not _named_simulator(connection.base_url):
        return Check(
            HOST_CHECK,
            False,
            "No Spacelift GraphQL API answered at this local address.",
            "Local addresses are only for a Spacelift simulator: give your account's "
            "https:// address, or name the simulator in PORTAL_SIMULATOR_URL to see why it "
            "does not answer.",
        )
    return Check(HOST_CHECK, False, exc.message, _host_fix(exc))


@sensitive_variables()
def run_checks(connection: Connection, *, timeout: float = 10.0) -> list[Check]:
    client = SpaceliftClient(
        connection,
        cache=_run_cache(),
        connect_timeout=min(5.0, timeout),
        read_timeout=timeout,
    )
    checks: list[Check] = []
    try:
        client.probe()
    except errors.SpaceliftError as exc:
        checks.append(_host_failure(connection, exc))
        return checks
    checks.append(
        Check(
            HOST_CHECK,
            True,
            f"{connection.graphql_url} answers GraphQL.",
        )
    )

    key = connection.key_id
    try:
        client.token()
    except errors.UnknownKeyID:
        checks.append(
            Check(
                "API key exchange",
                False,
                f"Spacelift has no API key with ID {key}.",
                "Copy the key ID again from Organization settings > API keys; the key may also "
                "have been deleted, or belong to another account.",
            )
        )
        return checks
    except errors.RejectedSecret:
        checks.append(
            Check(
                "API key exchange",
                False,
                f"Spacelift knows key {key} but refused to sign it in.",
                "Either the secret is wrong (re-enter it from the key's downloaded .config file), "
                f"or a login policy does not admit the key: it must allow "
                f'input.session.login == "api::{key}". Spacelift does not say which of the two.',
            )
        )
        return checks
    except errors.SpaceliftError as exc:
        checks.append(Check("API key exchange", False, exc.message, exc.hint))
        return checks
    checks.append(Check("API key exchange", True, f"Key {key} signed in."))

    try:
        spaces = client.list_spaces()
        stacks = client.list_stacks()
    except errors.SpaceliftError as exc:
        checks.append(Check("What the key can read", False, exc.message, exc.hint))
        return checks
    space_names = ", ".join(sorted(s.name for s in spaces)) or "none"
    try:
        # An empty answer may be Spacelift's way to answer a token it does not accept.
        signed_out = not (spaces and stacks) and not client.viewer_present()
    except errors.SpaceliftError as exc:
        checks.append(Check("What the key can read", False, exc.message, exc.hint))
        return checks
    if signed_out:
        checks.append(
            Check(
                "What the key can read",
                False,
                "Spacelift signed the key in, then answered its token as if signed out "
                "(viewer is null), with empty lists.",
                errors.TokenNotAccepted.hint,
            )
        )
        return checks
    if not spaces:
        checks.append(
            Check(
                "What the key can read",
                False,
                "The key can read no space.",
                "Give the key the Reader role in the spaces the team should see "
                "(Organization settings > API keys).",
            )
        )
    elif not stacks:
        checks.append(
            Check(
                "What the key can read",
                False,
                f"The key reads {len(spaces)} space(s) ({space_names}) but sees no stacks.",
                "Either there are no stacks in these spaces yet, or the key can read no space with "
                "stacks: give it the Reader role in the spaces that hold them.",
            )
        )
    else:
        checks.append(
            Check(
                "What the key can read",
                True,
                f"{len(stacks)} stack(s) in {len(spaces)} readable space(s): {space_names}.",
            )
        )
    checks.append(_optional_fields_check(client, stacks[0].id if stacks else None))
    return checks


def _optional_fields_check(client: SpaceliftClient, stack_id: str | None) -> Check:
    """Which optional fields this API has, and what the portal does without each."""
    name = "Optional fields of this Spacelift's API"
    try:
        if stack_id and client.known_fields().undetermined:
            # No introspection: the stack page's queries find the rest out.
            client.get_stack(stack_id)
            client.list_runs(stack_id)
            client.get_stack_config(stack_id)
        known = client.known_fields()
    except errors.SpaceliftError as exc:
        return Check(name, False, exc.message, exc.hint)
    total = len(OPTIONAL_FIELDS)
    has = len(known.present)
    how = (
        "asked by introspection"
        if known.method == fields.INTROSPECTION
        else ("found from the queries it rejects (it answers no introspection)")
    )
    details = [f"Has {field}." for field in sorted(known.present)]
    details += [f"No {field}: {OPTIONAL_FIELDS[field]}." for field in sorted(known.missing)]
    details += [
        f"Not known whether it has {field}: found out on first use."
        for field in sorted(known.undetermined)
    ]
    message = f"The API has {has} of the {total} optional fields the portal can use ({how})."
    if known.missing:
        message += " Pages still show; only the features of the missing fields are hidden."
    return Check(name, True, message, details=tuple(details))


# Each run reads and writes the diagnostics cache (settings.CACHES["diagnostics"], a LocMemCache
# of its own) under a version of its own: it exchanges the key and learns the API itself, and
# neither reuses what another run or the portal keeps nor replaces it.
_runs = itertools.count(1)


def _run_cache() -> BaseCache:
    run = copy.copy(caches[DIAGNOSTICS_CACHE])
    run.version = next(_runs)
    return run


@process_state.forgets("diagnostics")
def forget_diagnostics() -> None:
    # While a test replaces CACHES whole, there is no diagnostics cache of ours to clear.
    with contextlib.suppress(InvalidCacheBackendError):
        caches[DIAGNOSTICS_CACHE].clear()

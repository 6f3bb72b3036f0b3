"""Who sees which Spacelift spaces: the rules, a person's groups, and the set of spaces they see.

The rules map a group to space IDs (PORTAL_SPACE_ACCESS, else the Access page's rows). As in
Spacelift, a rule for a space covers every space below it (`parentSpace`). No rule at all:
everyone sees everything. Once one exists, staff still see everything and anyone else sees the
union of their groups' spaces, with the spaces below them; no matching group, nothing.

A person's access set is None (everything) or a frozenset of space IDs. Views filter what they
read with it (`visible_stacks`, `visible_modules`, `require_stack`); the space tree comes from
one cached read of the account's spaces, shared by every viewer like the stack list.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterable
from dataclasses import replace
from functools import lru_cache

from django.conf import settings
from django.http import Http404, HttpRequest

from dashboard.checks import load_json
from dashboard.models import SpaceAccessRule
from dashboard.spacelift import process_state
from dashboard.spacelift.service import Snapshot, SpaceliftService
from dashboard.spacelift.types import Module, Space, Stack

logger = logging.getLogger(__name__)

AccessSet = frozenset[str] | None
Rules = dict[str, tuple[str, ...]]

# Spacelift's root space: its ID is literally "root", and every space lies below it.
ROOT_SPACE = "root"
# Rules that could not be read (PORTAL_SPACE_ACCESS changed to bad JSON after the start-up
# check): rules exist, and they match no group, so only staff see anything.
UNREADABLE_RULES: Rules = {"": ()}
# Filtered stack lists kept per (list version, access set): a handful of sets per version.
VISIBLE_LISTS = 32


class RulesError(ValueError):
    """The rules are not a JSON object mapping a group name to a list of space IDs."""


def parse_rules(raw: str) -> Rules:
    """The rules in `raw` JSON; raises RulesError naming what is wrong."""
    value = load_json(
        raw, RulesError, dict, 'a JSON object such as {"team-payments": ["payments-01J8Z"]}'
    )
    rules: Rules = {}
    for group, spaces in value.items():
        if not group.strip():
            raise RulesError("a group name is empty")
        if not isinstance(spaces, list) or not all(
            isinstance(space, str) and space.strip() for space in spaces
        ):
            raise RulesError(f'the value for group "{group}" is not a list of space IDs (strings)')
        rules[group.strip()] = tuple(dict.fromkeys(space.strip() for space in spaces))
    return rules


def set_in_environment() -> bool:
    """True when PORTAL_SPACE_ACCESS (or its _FILE) sets the rules: the page only shows them."""
    return bool(settings.PORTAL_SPACE_ACCESS.strip())


@lru_cache(maxsize=4)
def _environment_rules(raw: str) -> Rules:
    try:
        return parse_rules(raw)
    except RulesError as exc:
        logger.error("PORTAL_SPACE_ACCESS: %s; only staff see stacks until it is fixed", exc)
        return UNREADABLE_RULES


def current_rules() -> Rules:
    """The rules in force: the environment's, else those saved on the Access page."""
    if set_in_environment():
        return _environment_rules(settings.PORTAL_SPACE_ACCESS)
    return {rule.group: tuple(rule.spaces) for rule in SpaceAccessRule.objects.all()}


def groups_of(user) -> list[str]:
    """Single sign-on: the groups claim of the last sign-in. Local accounts: Django groups."""
    identity = getattr(user, "sign_in_identity", None)
    if identity is not None:
        return [str(group) for group in identity.groups or ()]
    return sorted(group.name for group in user.groups.all())


def sees_everything(user) -> bool:
    return bool(user.is_staff or user.is_superuser)


def granted_spaces(user, rules: Rules) -> AccessSet:
    """The spaces the rules name for `user`'s groups (not yet those below); None: all."""
    if not rules or sees_everything(user):
        return None
    granted = frozenset(space for group in groups_of(user) for space in rules.get(group, ()))
    return None if ROOT_SPACE in granted else granted


def close_downward(granted: Iterable[str], spaces: Iterable[Space]) -> frozenset[str]:
    """`granted` with every space below them, following `parentSpace` down the tree."""
    children: dict[str, list[str]] = {}
    for space in spaces:
        if space.parent_space and space.parent_space != space.id:
            children.setdefault(space.parent_space, []).append(space.id)
    seen = set(granted)
    waiting = list(seen)
    while waiting:
        for child in children.get(waiting.pop(), ()):
            if child not in seen:
                seen.add(child)
                waiting.append(child)
    return frozenset(seen)


def access_for(user, service: SpaceliftService | None) -> AccessSet:
    """The spaces `user` sees, closed downward; None: everything."""
    if not user.is_authenticated:
        return frozenset()
    granted = granted_spaces(user, current_rules())
    if not granted:  # everything, or nothing: the space tree is not needed
        return granted
    return close_downward(granted, space_tree(service))


def access_with(user, rules: Rules, tree: list[Space]) -> AccessSet:
    """`access_for` with the rules and the space tree at hand (the People page's many rows)."""
    granted = granted_spaces(user, rules)
    if not granted:
        return granted
    return close_downward(granted, tree)


def space_tree(service: SpaceliftService | None) -> list[Space]:
    """The account's spaces from the shared cached read; [] when they cannot be read, which
    leaves each person the spaces their rules name and none below (never more)."""
    if service is None:
        return []
    return service.spaces().data or []


def access_of(request: HttpRequest, service: SpaceliftService | None) -> AccessSet:
    """The requesting person's access set, worked out once per request."""
    if not hasattr(request, "_portal_access"):
        request._portal_access = access_for(request.user, service)
    return request._portal_access


def fingerprint(access: AccessSet) -> str:
    """Names an access set, for cache keys and versions: equal sets, equal names."""
    if access is None:
        return "all"
    seed = "\0".join(sorted(access)).encode()
    return "s" + hashlib.blake2b(seed, digest_size=8).hexdigest()


# Filtered lists by (list version, access fingerprint): built once per version and set, and
# kept as the same object so the overview's per-version index (stacks/query.py) is reused.
_visible: process_state.ProcessCache[tuple[str, str], list[Stack]] = process_state.ProcessCache(
    "visible stacks", VISIBLE_LISTS
)
_space_of_stack: process_state.ProcessCache[str, dict[str, str]] = process_state.ProcessCache(
    "space of stack", 4
)


@process_state.forgets("space access")
def reset_process_state() -> None:
    _visible.clear()
    _space_of_stack.clear()
    _environment_rules.cache_clear()


def visible_stacks(snapshot: Snapshot[list[Stack]], access: AccessSet) -> Snapshot[list[Stack]]:
    """The stack list as `access` sees it, its version naming the access set too."""
    if access is None or snapshot.data is None:
        return snapshot
    key = (snapshot.version, fingerprint(access))
    stacks = _visible.get(key)
    if stacks is None:
        stacks = _visible.set(key, [stack for stack in snapshot.data if stack.space_id in access])
    return replace(snapshot, data=stacks, version=f"{snapshot.version}.{key[1]}")


def visible_modules(modules: list[Module] | None, access: AccessSet) -> list[Module] | None:
    """The modules whose space `access` covers."""
    if access is None or modules is None:
        return modules
    return [module for module in modules if module.space_id in access]


def require_stack(
    request: HttpRequest, service: SpaceliftService, stack_id: str, message: str = "No such stack"
) -> None:
    """404, as for an unknown stack, when the stack lies outside the person's spaces.

    Decided on the cached stack list, so it costs Spacelift no query that an unknown stack
    would not cost: without a list (Spacelift failing from the start) the stack itself is
    read, as `may_exist` would have it read for any ID.
    """
    if not stack_within(service, stack_id, access_of(request, service)):
        raise Http404(message)


def stack_within(service: SpaceliftService, stack_id: str, access: AccessSet) -> bool:
    """Whether the stack lies inside `access` (None: everything), decided as `require_stack`
    says: on the cached list, or on the stack itself when there is no list."""
    if access is None:
        return True
    listed = service.stacks()
    if listed.data is not None:
        space = _spaces_by_stack(listed).get(stack_id)
    else:
        stack = service.stack(stack_id).data
        space = stack.space_id if stack else None
    return space is not None and space in access


def _spaces_by_stack(listed: Snapshot[list[Stack]]) -> dict[str, str]:
    found = _space_of_stack.get(listed.version)
    if found is None:
        found = {stack.id: stack.space_id for stack in listed.data or ()}
        _space_of_stack.set(listed.version, found)
    return found


def may_see_stack(request: HttpRequest, service: SpaceliftService, stack_id: str) -> bool:
    """`require_stack` as a yes or no, for an action refused rather than answered 404."""
    try:
        require_stack(request, service, stack_id)
    except Http404:
        return False
    return True

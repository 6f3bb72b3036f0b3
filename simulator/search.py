"""searchStacks and searchModules: full text, predicates, order and cursor paging.

As docs/spacelift-api.md, "Queries", describes them; an unknown field is a WorldError.
"""

from __future__ import annotations

import base64
import binascii
import fnmatch
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from .model import Module, Stack, WorldError

# The largest `first` a search page takes (spacectl's `maxPageSize`, internal/cmd/stack/list.go);
# a larger one is an error that names the limit, so a client can learn it.
SEARCH_PAGE_MAX = 50


def search_stacks(
    stacks: Sequence[Stack], search_input: dict[str, Any]
) -> tuple[list[tuple[str, Stack]], dict[str, Any]]:
    """One page of (cursor, stack) edges and its pageInfo."""
    return _search(stacks, search_input, _STACK_FIELDS, "id")


def search_modules(
    modules: Sequence[Module], search_input: dict[str, Any]
) -> tuple[list[tuple[str, Module]], dict[str, Any]]:
    return _search(modules, search_input, _MODULE_FIELDS, "id")


# Predicate fields (docs/spacelift-api.md, "Queries"): field -> (kind, values of a stack)
_STACK_FIELDS: dict[str, tuple[str, Callable[[Any], Iterable[Any]]]] = {
    "administrative": ("boolean", lambda s: [s.administrative]),
    "locked": ("boolean", lambda s: [s.locked_by is not None]),
    "branch": ("string", lambda s: [s.branch]),
    "commit": ("prefix", lambda s: [s.tracked_commit.hash] if s.tracked_commit else []),
    "label": ("string", lambda s: s.labels),
    "name": ("string", lambda s: [s.name]),
    "projectRoot": ("string", lambda s: [s.project_root or ""]),
    "repository": ("string", lambda s: [s.repository]),
    "workerPool": (
        "string",
        lambda s: [s.worker_pool.id, s.worker_pool.name] if s.worker_pool else [],
    ),
    "space": ("string", lambda s: [s.space]),
    "state": ("enum", lambda s: [s.state]),
    "vendor": ("enum", lambda s: [s.vendor]),
}
_MODULE_FIELDS: dict[str, tuple[str, Callable[[Any], Iterable[Any]]]] = {
    "administrative": ("boolean", lambda m: [m.administrative]),
    "branch": ("string", lambda m: [m.branch]),
    "label": ("string", lambda m: m.labels),
    "name": ("string", lambda m: [m.name]),
    "repository": ("string", lambda m: [m.repository]),
    "space": ("string", lambda m: [m.space]),
    "terraformProvider": ("string", lambda m: [m.terraform_provider]),
}
_ORDER_KEYS: dict[str, Callable[[Any], Any]] = {
    "id": lambda x: x.id,
    "name": lambda x: x.name.lower(),
    "state": lambda x: getattr(x, "state", ""),
    "stateSetAt": lambda x: getattr(x, "state_set_at", 0) or 0,
    "createdAt": lambda x: x.created_at or 0,
    "starred": lambda x: getattr(x, "starred", False),
    "space": lambda x: x.space,
}


def _norm_enum(value: Any) -> str:
    return "".join(ch for ch in str(value).upper() if ch.isalnum())


def _matches(kind: str, constraint: dict[str, Any], values: list[Any], field_name: str) -> bool:
    if kind == "boolean":
        wanted = constraint.get("booleanEquals")
        if wanted is None:
            raise WorldError(f"predicate {field_name} needs booleanEquals")
        return any(value in wanted for value in values)
    if kind == "enum":
        wanted = constraint.get("enumEquals")
        if wanted is None:
            raise WorldError(f"predicate {field_name} needs enumEquals")
        wanted_norm = {_norm_enum(w) for w in wanted}
        return any(_norm_enum(value) in wanted_norm for value in values)
    patterns = constraint.get("stringMatches")
    if patterns is None:
        raise WorldError(f"predicate {field_name} needs stringMatches")
    for pattern in patterns:
        for value in values:
            if kind == "prefix" and value.startswith(pattern.lower()):
                return True
            if value == pattern or ("*" in pattern and fnmatch.fnmatchcase(value, pattern)):
                return True
    return False


def _encode_cursor(position: int) -> str:
    return base64.urlsafe_b64encode(f"position:{position}".encode()).decode()


def decode_cursor(cursor: str) -> int:
    try:
        text = base64.urlsafe_b64decode(cursor.encode()).decode()
        prefix, _, number = text.partition(":")
        if prefix != "position":
            raise ValueError(cursor)
        return int(number)
    except (ValueError, binascii.Error, UnicodeDecodeError) as exc:
        raise WorldError(f"invalid cursor {cursor!r}") from exc


def _search(
    items: Sequence[Any],
    search_input: dict[str, Any],
    fields: dict[str, tuple[str, Callable[[Any], Iterable[Any]]]],
    default_order: str,
) -> tuple[list[tuple[str, Any]], dict[str, Any]]:
    first = search_input.get("first")
    if first is not None and int(first) > SEARCH_PAGE_MAX:
        raise WorldError(f"first: must be at most {SEARCH_PAGE_MAX}, got {int(first)}")
    first = SEARCH_PAGE_MAX if first is None else max(0, int(first))
    after = search_input.get("after")
    start = decode_cursor(after) if after else 0
    results = list(items)
    text = (search_input.get("fullTextSearch") or "").strip().lower()
    if text:
        results = [
            item
            for item in results
            if text in item.id.lower()
            or text in item.name.lower()
            or text in (item.description or "").lower()
            or any(text in label.lower() for label in item.labels)
        ]
    for predicate in search_input.get("predicates") or ():
        field_name = predicate["field"]
        if field_name not in fields:
            raise WorldError(f"unknown predicate field {field_name!r}")
        kind, values_of = fields[field_name]
        exclude = bool(predicate.get("exclude"))
        constraint = predicate.get("constraint") or {}
        results = [
            item
            for item in results
            if _matches(kind, constraint, list(values_of(item)), field_name) != exclude
        ]
    orders = search_input.get("orderBy") or [{"field": default_order, "direction": "ASC"}]
    # Sort by the last key first; Python's sort is stable, so earlier keys win.
    results.sort(key=lambda x: x.id)
    for order in reversed(orders):
        key = _ORDER_KEYS.get(order["field"])
        if key is None:
            raise WorldError(f"unknown order field {order['field']!r}")
        results.sort(key=key, reverse=order.get("direction") == "DESC")
    page = results[start : start + first]
    edges = [(_encode_cursor(start + i + 1), item) for i, item in enumerate(page)]
    page_info = {
        "end_cursor": edges[-1][0] if edges else None,
        "has_next_page": start + first < len(results),
        "has_previous_page": start > 0,
    }
    return edges, page_info

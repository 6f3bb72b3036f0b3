"""Which optional fields this account's API has: learned once per connection, shared.

A field Spacelift lacks makes it reject the whole query (docs/spacelift-api.md, "Learned
since"). The documents mark such fields `?Type.field`; this module finds which of them the
API lacks, first by introspection (one query, `__type(name:)` per type), and where the API
answers no introspection, from the query itself: a "Cannot query field "x" on type "Y""
error names the field, the client drops it and retries once. Either way the answer is kept in
the shared cache under the connection's fingerprint, so no worker sends a rejected query
twice, and a changed connection (another host or key) learns afresh.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from .documents import OPTIONAL_FIELDS

# How long an answer is trusted: a self-hosted Spacelift that is upgraded gains fields, so the
# portal looks again once a day. Learning costs one query.
KNOWN_FIELDS_SECONDS = 24 * 3600

# How Spacelift (and graphql-js) words a field a type does not have; graphql-core quotes with '.
_CANNOT_QUERY = re.compile(
    r"""Cannot query field ["']([A-Za-z_]\w*)["'] on type ["']([A-Za-z_]\w*)["']"""
)

INTROSPECTION = "by introspection"
FROM_ERRORS = "from rejected queries"


@dataclass(frozen=True)
class KnownFields:
    """What is known of the optional fields: those missing, and how it was learned.

    `undetermined` holds fields introspection could not speak for (no introspection, or a
    type it did not describe); they are sent until a query is rejected for them.
    """

    missing: frozenset[str]
    method: str
    undetermined: frozenset[str] = frozenset()

    def with_missing(self, fields: set[str]) -> KnownFields:
        return KnownFields(
            self.missing | fields, self.method, self.undetermined - frozenset(fields)
        )

    @property
    def present(self) -> frozenset[str]:
        return frozenset(OPTIONAL_FIELDS) - self.missing - self.undetermined


def _types() -> list[str]:
    return sorted({name.split(".", 1)[0] for name in OPTIONAL_FIELDS})


def introspection_query() -> str:
    """One query asking for the fields of every type that has an optional field."""
    parts = " ".join(
        f't{i}: __type(name: "{name}") {{ name fields {{ name }} }}'
        for i, name in enumerate(_types())
    )
    return f"query OptionalFields {{ {parts} }}"


def from_introspection(data: dict[str, Any]) -> KnownFields:
    fields_of: dict[str, set[str]] = {}
    for answer in data.values():
        if isinstance(answer, dict) and isinstance(answer.get("fields"), list):
            fields_of[str(answer.get("name"))] = {
                str(f.get("name")) for f in answer["fields"] if isinstance(f, dict)
            }
    missing, undetermined = set(), set()
    for name in OPTIONAL_FIELDS:
        type_name, field = name.split(".", 1)
        if type_name not in fields_of:
            undetermined.add(name)
        elif field not in fields_of[type_name]:
            missing.add(name)
    return KnownFields(frozenset(missing), INTROSPECTION, frozenset(undetermined))


def without_introspection() -> KnownFields:
    return KnownFields(frozenset(), FROM_ERRORS, frozenset(OPTIONAL_FIELDS))


def rejected_fields(errs: list[dict[str, Any]]) -> set[str] | None:
    """The `Type.field`s named by "Cannot query field" errors; None if any error is another."""
    found = set()
    for error in errs:
        match = _CANNOT_QUERY.search(str(error.get("message", "")))
        if match is None:
            return None
        found.add(f"{match[2]}.{match[1]}")
    return found

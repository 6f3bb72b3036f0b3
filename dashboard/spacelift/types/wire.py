"""Reading the wire's loose values (Unix timestamps, nulls, optional fields) for the types."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, TypeVar

T = TypeVar("T")


def _timestamp(value: Any) -> datetime | None:
    """Spacelift gives Unix seconds; `updatedAt` has been seen in milliseconds."""
    if value in (None, "", 0):
        return None
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        return None
    if seconds > 1e11:  # milliseconds: 1e11 s is the year 5138
        seconds /= 1000
    return datetime.fromtimestamp(seconds, tz=UTC)


def _str(value: Any) -> str:
    return "" if value is None else str(value)


def _optional_bool(data: dict[str, Any], name: str) -> bool | None:
    """None when the answer lacks the field: the API has no such optional field."""
    return bool(data[name]) if name in data else None


def _optional_str(data: dict[str, Any], name: str) -> str | None:
    return _str(data[name]) if name in data else None


def _fields(data: dict[str, Any], read: Callable[[Any], T], *names: str) -> dict[str, T]:
    """Fields by their dataclass names, each `read` from the wire's camelCase key
    (`triggered_by` from "triggeredBy"): `cls(**_fields(data, _str, "title", "branch"))`."""
    return {name: read(data.get(_camel(name))) for name in names}


def _camel(name: str) -> str:
    first, *rest = name.split("_")
    return first + "".join(part.title() for part in rest)

"""Modules of the private registry and their versions."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from packaging.version import InvalidVersion, Version

from .stacks import Named
from .wire import _fields, _str, _timestamp


@dataclass(frozen=True, slots=True)
class ModuleVersion:
    """One published version of a module, as `module(id) { versions }` gives it."""

    number: str
    id: str = ""
    state: str = ""
    created_at: datetime | None = None
    notes: str = ""
    yanked: bool = False

    @classmethod
    def from_api(cls, data: dict[str, Any]) -> ModuleVersion:
        return cls(
            **_fields(data, _str, "number", "id", "state", "notes"),
            created_at=_timestamp(data.get("createdAt")),
            yanked=bool(data.get("yanked")),
        )


@dataclass(frozen=True, slots=True)
class Module(Named):
    """A module of the private registry. `terraform_provider` is the source's last part."""

    terraform_provider: str = ""
    description: str = ""
    space_id: str = ""
    space_name: str = ""
    labels: tuple[str, ...] = ()
    current: ModuleVersion | None = None  # the version consumers get; None before any

    @classmethod
    def from_api(cls, data: dict[str, Any]) -> Module:
        space = data.get("spaceDetails") or {}
        current = data.get("current")
        return cls(
            **_fields(data, _str, "id", "terraform_provider", "description"),
            name=_str(data.get("name")) or _str(data.get("id")),
            space_id=_str(data.get("space")) or _str(space.get("id")),
            space_name=_str(space.get("name")),
            labels=tuple(str(label) for label in data.get("labels") or ()),
            current=ModuleVersion.from_api(current) if current else None,
        )


def version_key(version: str) -> tuple[Any, ...]:
    """Orders module versions: 1.10.0 after 1.9.0, and 1.0.0-rc1 before 1.0.0.

    `packaging` reads semantic versions the registry lists (a leading "v", "-rc.2", "-beta.1");
    anything it cannot read sorts before every version, by its text.
    """
    try:
        return (1, Version(version.strip()))
    except InvalidVersion:
        return (0, version)


@dataclass(frozen=True, slots=True)
class ModuleVersions:
    """What the registry lists for one module: its source and versions, newest first.

    An empty list is not "no versions" for sure: Spacelift's registry answers an empty list,
    not a 401, to a token that may not read the module's space.
    """

    source: str
    versions: tuple[str, ...] = ()

    @classmethod
    def from_registry(cls, data: dict[str, Any], source: str) -> ModuleVersions:
        """From the Terraform registry protocol's `{"modules": [{"source", "versions"}]}`."""
        modules = data["modules"]
        if not isinstance(modules, list):
            raise TypeError("modules is not a list")
        if not modules:
            return cls(source=source)
        entry = modules[0]
        found = {
            str(v["version"])
            for v in entry.get("versions") or ()
            if isinstance(v, dict) and v.get("version")
        }
        return cls(
            source=_str(entry.get("source")) or source,
            versions=tuple(sorted(found, key=version_key, reverse=True)),
        )

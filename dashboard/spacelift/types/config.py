"""A stack's own environment: its environment variables and mounted files."""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import Any

from .states import _TolerantEnum
from .wire import _optional_str, _str


class ConfigType(_TolerantEnum):
    ENVIRONMENT_VARIABLE = "ENVIRONMENT_VARIABLE"
    FILE_MOUNT = "FILE_MOUNT"
    UNKNOWN = "UNKNOWN"


@dataclass(frozen=True, slots=True)
class ConfigElement:
    """One environment variable or mounted file of a stack (Stack.config).

    `value` is None for a write-only element: Spacelift sends null then, and should it ever
    send something, it is dropped here so no page can show it.
    """

    id: str
    type: ConfigType
    value: str | None = None
    write_only: bool = False
    description: str = ""
    file_mode: str | None = None  # None: the API has no ConfigElement.fileMode
    runtime: bool = False

    @property
    def is_file(self) -> bool:
        return self.type is ConfigType.FILE_MOUNT

    @property
    def file_text(self) -> str | None:
        """A mounted file's content as text, or None when it is not readable text.

        The Terraform provider documents a mounted file's content as Base64 and reads it from
        this same field, so Base64 that decodes to UTF-8 is shown decoded; anything else as is.
        """
        if self.value is None:
            return None
        try:
            return base64.b64decode(self.value, validate=True).decode("utf-8")
        except ValueError:  # not Base64 (binascii.Error), or not UTF-8 text
            return self.value

    @classmethod
    def from_api(cls, data: dict[str, Any]) -> ConfigElement:
        write_only = bool(data.get("writeOnly"))
        value = data.get("value")
        return cls(
            id=_str(data.get("id")),
            type=ConfigType.parse(data.get("type")),
            value=None if write_only or value is None else str(value),
            write_only=write_only,
            description=_str(data.get("description")),
            file_mode=_optional_str(data, "fileMode"),
            runtime=bool(data.get("runtime")),
        )

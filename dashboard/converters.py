"""Path converters for Spacelift IDs: a malformed ID is a 404 before any view runs.

Registered in `dashboard/urls.py` as `<stack_id:...>` and `<run_id:...>`.
"""

from __future__ import annotations

import re

# Spacelift stack IDs are slugs (docs/spacelift-api.md, "Stack fields").
STACK_ID_PATTERN = r"[A-Za-z0-9][A-Za-z0-9_.-]{0,127}"
# Run IDs are ULIDs: 26 characters of Crockford's base32.
RUN_ID_PATTERN = r"[0-9A-HJKMNP-TV-Za-hjkmnp-tv-z]{26}"

RUN_ID = re.compile(rf"^{RUN_ID_PATTERN}$")


class StackIdConverter:
    regex = STACK_ID_PATTERN

    def to_python(self, value: str) -> str:
        return value

    def to_url(self, value: str) -> str:
        return value


class RunIdConverter(StackIdConverter):
    regex = RUN_ID_PATTERN

"""Process-wide state in one place: each holder registers how to forget it; one call forgets all.

Memos, clients, permits, rendered regions: whatever a process keeps between requests registers
a reset here (`@forgets("name")`). `reset_all()` runs them; the app calls it when a setting
changes (Django's `setting_changed`, which tests send), so no test resets state by name.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

_resets: dict[str, Callable[[], None]] = {}
_lock = threading.Lock()


def forgets(name: str) -> Callable[[Callable[[], None]], Callable[[], None]]:
    """Register `reset` as the way to forget the state called `name` (one reset per name)."""

    def register(reset: Callable[[], None]) -> Callable[[], None]:
        with _lock:
            _resets[name] = reset
        return reset

    return register


def reset_all() -> None:
    """Forget everything this process holds between requests, as a newly started one has it."""
    with _lock:
        resets = list(_resets.values())
    for reset in resets:
        reset()

"""The time the cache logic reads. Tests move it instead of sleeping or deleting cache keys."""

from __future__ import annotations

import time


class Clock:
    """Wall-clock seconds (as `time.time()`), plus an offset only tests ever set."""

    def __init__(self) -> None:
        self.offset = 0.0

    def __call__(self) -> float:
        return time.time() + self.offset

    def advance(self, seconds: float) -> None:
        self.offset += seconds

    def reset(self) -> None:
        self.offset = 0.0


clock = Clock()

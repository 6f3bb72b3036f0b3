"""`python -m bench.stack_paging`: what listing stacks from searchStacks pages costs Spacelift.

For 120, 1,000 and 10,000 stacks, the simulator (real HTTP, pages of at most 50) and the
portal's cached service (in process) are run for SIMULATED_SECONDS of simulated time while one
viewer polls the overview every second. The pacing waits and the poll interval run on the
service clock, moved instead of slept, so a 40 s pass costs no 40 s of bench: the figures
are the portal's schedule, not the machine's speed. Printed: upstream searchStacks requests
per poll interval, the peak requests in any one second, how long a pass takes and how old
the list shown gets at worst. Figures only.
"""

from __future__ import annotations

import itertools
import os
import tempfile
import time
import types
from pathlib import Path

from bench.__main__ import KEY_ID, KEY_SECRET, portal_environment

SIZES = (120, 1_000, 10_000)
SIMULATED_SECONDS = 120
POLL_EVERY = 1.0
INTERVAL = 10


def main() -> None:
    with tempfile.TemporaryDirectory() as workdir:
        (Path(workdir) / "static").mkdir()
        os.environ.update(
            portal_environment(
                "http://127.0.0.1:1",
                Path(workdir),
                DATABASE_URL=f"sqlite:///{Path(workdir) / 'bench.sqlite3'}",
                PORTAL_POLL_SECONDS=str(INTERVAL),
                LOG_LEVEL="ERROR",
                # The simulator's own speed is not measured: a slow page must not fail a pass.
                SPACELIFT_TIMEOUT_SECONDS="300",
                DJANGO_SETTINGS_MODULE="spacelift_portal.settings",
            )
        )
        import django

        django.setup()
        print(
            f"Stack list from searchStacks pages (one viewer polling every {POLL_EVERY:.0f} s, "
            f"{SIMULATED_SECONDS} s simulated, interval {INTERVAL} s, at most "
            "5 pages a second)"
        )
        for size in SIZES:
            print("  " + measure(size))


def measure(size: int) -> str:
    from django.core.cache import cache

    from dashboard.spacelift import clock as clock_module
    from dashboard.spacelift import process_state, stack_search
    from dashboard.spacelift.account import Connection
    from dashboard.spacelift.clock import clock
    from dashboard.spacelift.service import SpaceliftService
    from simulator.server import start_simulator

    sim = start_simulator(port=0, stacks=size, seed=7, key_id=KEY_ID, key_secret=KEY_SECRET)
    sent: list[float] = []
    real_pace = stack_search.StackSearch._pace

    def pace(self) -> None:
        real_pace(self)
        sent.append(clock())

    # Simulated time only: the wall clock stands still, the bench moves the service clock.
    frozen = time.time()
    clock_module.time = types.SimpleNamespace(time=lambda: frozen)
    stack_search.StackSearch.monotonic = staticmethod(clock)
    stack_search.StackSearch.sleep = staticmethod(clock.advance)
    stack_search.StackSearch._pace = pace
    try:
        cache.clear()
        process_state.reset_all()
        clock.reset()
        svc = SpaceliftService(Connection(sim.url, KEY_ID, KEY_SECRET), ttl=INTERVAL)
        start = clock()
        worst_age = 0.0
        passes = 0
        while clock() - start < SIMULATED_SECONDS:
            shown = svc.stacks()
            assert shown.data is not None and len(shown.data) == size, shown.problem
            worst_age = max(worst_age, clock() - shown.fetched_at.timestamp())
            clock.advance(POLL_EVERY)
        elapsed = clock() - start
        passes = _passes(sent)
    finally:
        stack_search.StackSearch._pace = real_pace
        stack_search.StackSearch.monotonic = staticmethod(time.monotonic)
        stack_search.StackSearch.sleep = staticmethod(time.sleep)
        clock_module.time = time
        clock.reset()
        sim.stop()
    per_interval = len(sent) * INTERVAL / elapsed
    # Any one second (half-open, with room for float rounding of 5 slots 0.2 s apart).
    peak = max(sum(1 for t in sent if s <= t < s + 1 - 1e-6) for s in sent)
    pages = -(-size // stack_search.DEFAULT_PAGE_SIZE)
    pass_seconds = (pages - 1) / stack_search.PAGES_PER_SECOND
    return (
        f"{size:>6} stacks: {per_interval:6.1f} requests per interval, peak {peak} a second, "
        f"{pages} pages a pass (~{pass_seconds:.1f} s), {passes} passes, "
        f"list at most {worst_age:.0f} s old"
    )


def _passes(sent: list[float]) -> int:
    """Passes run: request bursts separated by more than a pacing gap."""
    gap = 1 / 5 + 0.5
    return 1 + sum(1 for a, b in itertools.pairwise(sent) if b - a > gap)


if __name__ == "__main__":
    main()
